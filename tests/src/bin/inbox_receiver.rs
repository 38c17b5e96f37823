//! A webhook receiver in inbox mode on a SQLite inbox, and a worker for it:
//! the processes the "nothing acknowledged is lost" tests kill with SIGKILL.
//!
//! ```text
//! inbox_receiver receive DB              serve POST /webhook on 127.0.0.1; print the port
//! inbox_receiver work DB LOG LEASE_MS    handle every row (append its data.id to LOG), then exit
//! ```
//!
//! The receiver is bookhook-axum's `InboxService` on an `Ingest`: verify,
//! parse, one `enqueue`, and 200 only once that write committed (503 if it
//! did not). The worker is bookhook's `Worker`; its handler appends one line
//! per run to LOG, and the worker completes the row after the handler
//! returns, so a line can exist for a run whose completion never committed,
//! never the other way round.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bookhook::inbox::{Inbox, Ingest, Worker};
use bookhook::{Context, Dispatcher, Endpoint, HandlerError, Kind, Provider};
use bookhook_axum::InboxService;
use bookhook_sqlite::SqliteInbox;

/// The secret the tests sign with.
const SECRET: &str = "inbox-kill-secret";

fn endpoint() -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .build()
        .expect("endpoint")
}

async fn run_receiver(db: PathBuf) {
    let inbox = SqliteInbox::open(&db).expect("open the inbox");
    let ingest = Ingest::new(endpoint(), Arc::new(inbox));
    let app = axum::Router::new().route_service("/webhook", InboxService::new(ingest));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    println!("{}", listener.local_addr().expect("address").port());
    axum::serve(listener, app).await.expect("serve");
}

async fn run_worker(db: PathBuf, log: PathBuf, lease_ms: u64) {
    let inbox = Arc::new(SqliteInbox::open(&db).expect("open the inbox"));
    let log = Arc::new(Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the log"),
    ));
    let dispatcher = Dispatcher::builder(endpoint())
        .on_kind(Kind::Created, move |ctx: Context| {
            let log = Arc::clone(&log);
            async move {
                let id = ctx.delivery().json()["data"]["id"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned();
                // The handler's effect: one line, written before the row completes.
                writeln!(log.lock().expect("log"), "{id}").expect("write the log");
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok::<_, HandlerError>(())
            }
        })
        .build()
        .expect("dispatcher");
    let worker = Worker::builder(dispatcher, inbox.clone())
        .concurrency(8)
        .lease(Duration::from_millis(lease_ms))
        .timeout(Duration::from_millis(lease_ms / 2))
        .build()
        .expect("worker");
    println!("working");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Drain what is due, then wait for the leases of a killed worker to
    // expire, until every row is done.
    while Instant::now() < deadline {
        worker.drain().await;
        let stats = inbox.stats().await.expect("stats");
        if stats.pending == 0 && stats.processing == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("the worker did not finish within its deadline");
    std::process::exit(1);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[1..] {
        ["receive", db] => run_receiver(db.into()).await,
        ["work", db, log, lease_ms] => {
            run_worker(
                db.into(),
                log.into(),
                lease_ms.parse().expect("lease in ms"),
            )
            .await;
        }
        _ => {
            eprintln!("usage: inbox_receiver receive DB | work DB LOG LEASE_MS");
            std::process::exit(2);
        }
    }
}
