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
//! What it stores comes in two sizes, `BOOKHOOK_FLOOR_ROW`:
//!
//! - `minimal` (the default): one 5-column row (key, type, time, body) with
//!   the unique key and no other index. It keeps no headers and no state.
//! - `inbox`: the row the inbox issue asks of every stored event, in the
//!   tables and indexes of `bookhook-sqlite`'s current schema, written by
//!   hand: the events row (namespace, key, appointment, provider, type,
//!   kind, received and event times, state and next run time) with its
//!   unique key, the claim index and the dashboard's two, and a `payloads`
//!   row with the body and the verified header, as JSON. This is the floor
//!   that does the same work as bookhook's acknowledgement path.
//!
//! Neither runs handlers: what bookhook's inbox does on top of this is what
//! the load harness (`bench/inbox.sh`) measures.
//!
//! ```text
//! BOOKHOOK_ADDR        listening address (default 127.0.0.1:18092)
//! BOOKHOOK_INBOX_FILE  the SQLite file (default inbox-floor.db)
//! BOOKHOOK_MAX_BATCH   most inserts per transaction (default 512; 1 = no group commit)
//! BOOKHOOK_FLOOR_ROW   minimal (default) or inbox: what each insert stores
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
    /// What the `inbox` row adds: appointment, event time, verified header.
    inbox: Option<InboxFields>,
    answer: oneshot::Sender<Result<Option<i64>, ()>>,
}

/// The columns of the `inbox` row that the `minimal` one does not have.
struct InboxFields {
    booking_id: String,
    kind: &'static str,
    occurred_at: Option<i64>,
    signature: String,
}

struct App {
    /// The HMAC key state, prepared once and cloned per request.
    mac: Hmac<Sha256>,
    writer: mpsc::Sender<Insert>,
    /// Whether each insert stores the `inbox` row.
    inbox_row: bool,
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

/// `bookhook-sqlite`'s tables and indexes as of its schema version 4.
const INBOX_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace       TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    ordering_key    TEXT,
    provider        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    received_at     INTEGER NOT NULL,
    occurred_at     INTEGER,
    state           INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_until     INTEGER,
    lease_token     BLOB,
    last_error      TEXT,
    trigger_next    INTEGER NOT NULL DEFAULT 0,
    finished_at     INTEGER,
    UNIQUE (namespace, key)
);
CREATE INDEX IF NOT EXISTS events_claim ON events (namespace, id) WHERE state IN (0, 1);
CREATE INDEX IF NOT EXISTS events_retention ON events (finished_at) WHERE state = 2;
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);
CREATE INDEX IF NOT EXISTS events_state_id ON events (state, id);
CREATE INDEX IF NOT EXISTS events_order_claimed ON events (namespace, ordering_key, id)
    WHERE ordering_key IS NOT NULL AND (state = 1 OR (state = 0 AND attempts > 0));
CREATE INDEX IF NOT EXISTS events_order_done ON events (namespace, ordering_key, occurred_at)
    WHERE ordering_key IS NOT NULL AND state = 2;
CREATE TABLE IF NOT EXISTS payloads (
    event_id INTEGER PRIMARY KEY,
    body     BLOB NOT NULL,
    headers  TEXT NOT NULL
);
";

const INBOX_INSERT: &str = "INSERT INTO events (namespace, key, ordering_key, provider, event_type, \
    kind, received_at, occurred_at, state, next_attempt_at) \
    VALUES ('calendence', ?1, ?2, 'calendence', ?3, ?4, ?5, ?6, 0, ?5) \
    ON CONFLICT (namespace, key) DO NOTHING";

const INBOX_PAYLOAD: &str = "INSERT INTO payloads (event_id, body, headers) VALUES (?1, ?2, ?3)";

/// The kind of a Calendence event type, as bookhook names it.
fn kind_of(event_type: &str) -> &'static str {
    match event_type {
        "booking.created" => "created",
        "booking.updated" => "updated",
        "booking.cancelled" | "booking.canceled" => "cancelled",
        "booking.completed" => "completed",
        _ => "other",
    }
}

/// Milliseconds since 1970 of an RFC 3339 time such as
/// `2026-03-24T14:30:00+00:00` or `2026-03-24T14:30:00Z` (whole seconds).
fn unix_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        std::str::from_utf8(b.get(range)?).ok()?.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let offset = match b.get(19)? {
        b'Z' => 0,
        sign @ (b'+' | b'-') => {
            let minutes = num(20..22)? * 60 + num(23..25)?;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset * 60;
    Some(seconds * 1_000)
}

async fn receive(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let envelope = match accept(&app.mac, &headers, &body) {
        Ok(envelope) => envelope,
        Err(refused) => return refused,
    };
    let key = envelope.key();
    let inbox = app.inbox_row.then(|| InboxFields {
        kind: kind_of(&envelope.event),
        occurred_at: unix_ms(&envelope.timestamp),
        booking_id: envelope.data.id,
        signature: headers
            .get("x-calendence-signature")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    });
    let (answer, answered) = oneshot::channel();
    let insert = Insert {
        key,
        event_type: envelope.event,
        body,
        inbox,
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
    for row in batch {
        let Some(inbox) = &row.inbox else {
            let changed = tx.prepare_cached(INSERT)?.execute(params![
                row.key,
                row.event_type,
                now,
                &row.body[..]
            ])?;
            ids.push((changed == 1).then(|| tx.last_insert_rowid()));
            continue;
        };
        let changed = tx.prepare_cached(INBOX_INSERT)?.execute(params![
            row.key,
            inbox.booking_id,
            row.event_type,
            inbox.kind,
            now,
            inbox.occurred_at,
        ])?;
        if changed == 0 {
            ids.push(None);
            continue;
        }
        let id = tx.last_insert_rowid();
        let headers = serde_json::json!([["x-calendence-signature", inbox.signature]]).to_string();
        tx.prepare_cached(INBOX_PAYLOAD)?
            .execute(params![id, &row.body[..], headers])?;
        ids.push(Some(id));
    }
    tx.commit()?;
    Ok(ids)
}

fn open(path: &str, inbox_row: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    assert_eq!(mode, "wal", "the file must be in WAL mode");
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY; \
         PRAGMA wal_autocheckpoint = 16384;",
    )?;
    conn.execute_batch(if inbox_row { INBOX_SCHEMA } else { SCHEMA })?;
    Ok(conn)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let addr = env("BOOKHOOK_ADDR", "127.0.0.1:18092");
    let file = env("BOOKHOOK_INBOX_FILE", "inbox-floor.db");
    let max_batch: usize = env("BOOKHOOK_MAX_BATCH", "512").parse()?;
    let secret = env("CALENDENCE_SECRET", "calendence-development-secret");

    let inbox_row = match env("BOOKHOOK_FLOOR_ROW", "minimal").as_str() {
        "minimal" => false,
        "inbox" => true,
        other => {
            return Err(format!("BOOKHOOK_FLOOR_ROW is minimal or inbox, not `{other}`").into());
        }
    };
    let conn = open(&file, inbox_row)?;
    let (writer, inserts) = mpsc::channel(4096);
    std::thread::spawn(move || write_loop(conn, inserts, max_batch.max(1)));
    let app = Arc::new(App {
        mac: Hmac::new_from_slice(secret.as_bytes())?,
        writer,
        inbox_row,
    });
    let router = Router::new().route(PATH, post(receive)).with_state(app);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "Listening on http://{} (storing {} rows in {file}, up to {max_batch} per transaction)",
        listener.local_addr()?,
        if inbox_row { "inbox" } else { "minimal" }
    );
    axum::serve(listener, router).await?;
    Ok(())
}
