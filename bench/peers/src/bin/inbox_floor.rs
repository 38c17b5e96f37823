//! The floor of an inbox-mode Calendence receiver: what acknowledging a
//! durably stored event costs when written by hand, in one process, with no
//! SDK. Per request: an axum 0.8 route reads the body, verifies
//! `X-Calendence-Signature` (raw HMAC-SHA256 with `hmac` + `sha2`, compared
//! in constant time with `subtle`), parses the envelope with serde into a
//! typed struct, and hands one `INSERT … ON CONFLICT DO NOTHING` to a writer
//! thread that commits the inserts of all waiting requests in one transaction
//! (group commit) and answers each once its transaction has committed. The
//! SQLite file has the pragmas of `bookhook-sqlite`: WAL, `synchronous=FULL`.
//!
//! It does not run handlers, keep headers, or maintain indexes beyond the
//! unique key: what bookhook's inbox does on top of this is what the load
//! harness (`bench/inbox.sh`) measures.
//!
//! ```text
//! BOOKHOOK_ADDR        listening address (default 127.0.0.1:18092)
//! BOOKHOOK_INBOX_FILE  the SQLite file (default inbox-floor.db)
//! BOOKHOOK_MAX_BATCH   most inserts per transaction (default 512; 1 = no group commit)
//! CALENDENCE_SECRET    the signing secret (default calendence-development-secret)
//! ```

/// The same allocator as bookhook's example servers (`bookhook-examples`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use bookhook_bench_peers::{accept, reply};
use hmac::{Hmac, Mac};
use rusqlite::{Connection, params};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};

const PATH: &str = "/webhook/calendence";

/// One insert waiting for the writer, and where to send its row id (`None`
/// for a key already stored, `Err` when the transaction failed).
struct Insert {
    key: String,
    event_type: String,
    body: Bytes,
    answer: oneshot::Sender<Result<Option<i64>, ()>>,
}

struct App {
    /// The HMAC key state, prepared once and cloned per request.
    mac: Hmac<Sha256>,
    writer: mpsc::Sender<Insert>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    body BLOB NOT NULL
)";

const INSERT: &str = "INSERT INTO events (key, event_type, received_at, body)
    VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO NOTHING";

async fn receive(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let envelope = match accept(&app.mac, &headers, &body) {
        Ok(envelope) => envelope,
        Err(refused) => return refused,
    };
    let key = envelope.key();
    let (answer, answered) = oneshot::channel();
    let insert = Insert {
        key,
        event_type: envelope.event,
        body,
        answer,
    };
    if app.writer.send(insert).await.is_err() {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"unavailable"}"#,
        );
    }
    match answered.await {
        Ok(Ok(Some(id))) => reply(
            StatusCode::OK,
            format!(r#"{{"status":"queued","id":{id}}}"#),
        ),
        Ok(Ok(None)) => reply(StatusCode::OK, r#"{"status":"duplicate"}"#),
        _ => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"unavailable"}"#,
        ),
    }
}

/// The writer thread: takes every insert waiting (up to `max_batch`),
/// commits them in one transaction, then answers each.
fn write_loop(conn: Connection, mut inserts: mpsc::Receiver<Insert>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = inserts.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match inserts.try_recv() {
                Ok(insert) => batch.push(insert),
                Err(_) => break,
            }
        }
        match commit(&conn, &batch) {
            Ok(ids) => {
                for (insert, id) in batch.drain(..).zip(ids) {
                    let _ = insert.answer.send(Ok(id));
                }
            }
            Err(err) => {
                eprintln!("commit failed: {err}");
                for insert in batch.drain(..) {
                    let _ = insert.answer.send(Err(()));
                }
            }
        }
    }
}

fn commit(conn: &Connection, batch: &[Insert]) -> rusqlite::Result<Vec<Option<i64>>> {
    let tx = conn.unchecked_transaction()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut ids = Vec::with_capacity(batch.len());
    {
        let mut insert = tx.prepare_cached(INSERT)?;
        for row in batch {
            let changed = insert.execute(params![row.key, row.event_type, now, &row.body[..]])?;
            ids.push((changed == 1).then(|| tx.last_insert_rowid()));
        }
    }
    tx.commit()?;
    Ok(ids)
}

fn open(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    assert_eq!(mode, "wal", "the file must be in WAL mode");
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY; \
         PRAGMA wal_autocheckpoint = 16384;",
    )?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let addr = env("BOOKHOOK_ADDR", "127.0.0.1:18092");
    let file = env("BOOKHOOK_INBOX_FILE", "inbox-floor.db");
    let max_batch: usize = env("BOOKHOOK_MAX_BATCH", "512").parse()?;
    let secret = env("CALENDENCE_SECRET", "calendence-development-secret");

    let conn = open(&file)?;
    let (writer, inserts) = mpsc::channel(4096);
    std::thread::spawn(move || write_loop(conn, inserts, max_batch.max(1)));
    let app = Arc::new(App {
        mac: Hmac::new_from_slice(secret.as_bytes())?,
        writer,
    });
    let router = Router::new().route(PATH, post(receive)).with_state(app);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "Listening on http://{} (storing in {file}, up to {max_batch} rows per transaction)",
        listener.local_addr()?
    );
    axum::serve(listener, router).await?;
    Ok(())
}
