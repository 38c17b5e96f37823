//! A webhook receiver in inbox mode on a SQLite inbox, and a worker for it:
//! the process the "nothing acknowledged is lost" tests kill with SIGKILL.
//!
//! ```text
//! inbox_receiver receive DB              serve POST /webhook on 127.0.0.1; print the port
//! inbox_receiver work DB LOG LEASE_MS    handle every row (append "id attempt" to LOG), then exit
//! ```
//!
//! The receiver verifies and parses each Calendence delivery, stores it with
//! one `enqueue`, and answers 200 only once that write committed (503 if it
//! did not). The worker's handler appends one line per attempt to LOG before
//! the row is completed, so a line can exist for an attempt whose completion
//! never committed, never the other way round.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use bookhook::inbox::{Enqueued, Inbox, NewEvent};
use bookhook::{Endpoint, Provider, Request};
use bookhook_sqlite::SqliteInbox;

/// The secret the tests sign with.
const SECRET: &str = "inbox-kill-secret";
/// The endpoint's namespace.
const NAMESPACE: &str = "calendence";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

struct Receiver {
    endpoint: Endpoint,
    inbox: SqliteInbox,
}

async fn receive(
    AxumState(receiver): AxumState<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let pairs: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let delivery = match receiver
        .endpoint
        .verify_and_parse(&Request::post(&pairs, body.clone()))
    {
        Ok(delivery) => delivery,
        Err(rejection) => return (StatusCode::BAD_REQUEST, format!("{rejection}")),
    };
    let event = NewEvent::new(
        NAMESPACE,
        delivery.idempotency_key(),
        delivery.appointment_id().map(str::to_owned),
        delivery.provider(),
        delivery.raw_event_type(),
        delivery.kind(),
        now_ms(),
        delivery.occurred_at().map(|at| at.unix_ms()),
        body,
        vec![("content-type".to_owned(), "application/json".to_owned())],
    );
    match receiver.inbox.enqueue(event).await {
        Ok(Enqueued::Queued(id)) => (
            StatusCode::OK,
            format!(r#"{{"status":"queued","id":{id}}}"#),
        ),
        Ok(Enqueued::Duplicate(id)) => (
            StatusCode::OK,
            format!(r#"{{"status":"duplicate","id":{id}}}"#),
        ),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, format!("{err}")),
    }
}

async fn run_receiver(db: PathBuf) {
    let inbox = SqliteInbox::open(&db).expect("open the inbox");
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .namespace(NAMESPACE)
        .build()
        .expect("endpoint");
    let app = axum::Router::new()
        .route("/webhook", axum::routing::post(receive))
        .with_state(Arc::new(Receiver { endpoint, inbox }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    println!("{}", listener.local_addr().expect("address").port());
    axum::serve(listener, app).await.expect("serve");
}

async fn run_worker(db: PathBuf, log: PathBuf, lease_ms: u64) {
    let inbox = SqliteInbox::open(&db).expect("open the inbox");
    let log = Arc::new(Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the log"),
    ));
    println!("working");
    let lease = Duration::from_millis(lease_ms);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (inbox, log) = (inbox.clone(), Arc::clone(&log));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let claimed = inbox
                    .claim(NAMESPACE, now_ms(), lease, 16)
                    .await
                    .expect("claim");
                if claimed.is_empty() {
                    let stats = inbox.stats().await.expect("stats");
                    if stats.pending == 0 && stats.processing == 0 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                for row in claimed {
                    let body: serde_json::Value =
                        serde_json::from_slice(&row.body).expect("stored body is json");
                    let id = body["data"]["id"].as_str().expect("data.id").to_owned();
                    // The handler: its effect is the line, written before completing.
                    writeln!(log.lock().expect("log"), "{id} {}", row.lease.attempt)
                        .expect("write the log");
                    tokio::time::sleep(Duration::from_micros(200)).await;
                    inbox
                        .complete(&row.lease, now_ms())
                        .await
                        .expect("complete");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker task");
    }
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
