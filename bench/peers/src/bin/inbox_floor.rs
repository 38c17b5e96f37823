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
//! Neither runs handlers unless `BOOKHOOK_FLOOR_WORKER=on` (with the `inbox`
//! row): then a hand-written worker in the same process does what
//! bookhook's `Worker` does with each stored event, through the same writer
//! thread and in the same tables. It claims up to 32 runnable rows at a time
//! (oldest first, one row per appointment at a time, each leased with a
//! token and given an attempt row), parses each stored body into the typed
//! envelope and counts it (the handler), then completes them all in one
//! writer job (checking each lease, closing each attempt). A batch that
//! holds only the worker's writes commits with `synchronous=NORMAL`, as
//! `bookhook-sqlite` does; a batch with an acknowledgement in it is synced.
//! It waits for new rows on a signal from the request path, or 100 ms.
//! This is the floor that does the same work as bookhook's receiver with
//! its worker.
//!
//! ```text
//! BOOKHOOK_ADDR        listening address (default 127.0.0.1:18092)
//! BOOKHOOK_INBOX_FILE  the SQLite file (default inbox-floor.db)
//! BOOKHOOK_MAX_BATCH   most jobs (inserts, claims, completions) per transaction (default 512; 1 = no group commit)
//! BOOKHOOK_FLOOR_ROW   minimal (default) or inbox: what each insert stores
//! BOOKHOOK_FLOOR_WORKER  off (default) or on: handle the stored events (inbox row only)
//! CALENDENCE_SECRET    the signing secret (default calendence-development-secret)
//! ```

/// The same allocator as bookhook's example servers (`bookhook-examples`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use bookhook_bench_peers::{Envelope, accept, reply};
use hmac::{Hmac, Mac};
use rusqlite::{Connection, params};
use sha2::Sha256;
use tokio::sync::{Notify, mpsc, oneshot};

const PATH: &str = "/webhook/calendence";

/// What the writer thread is asked to do, in the transaction of its batch.
enum Job {
    Insert(Insert),
    /// Lease up to `max` runnable rows (the worker's claim).
    Claim {
        max: usize,
        answer: oneshot::Sender<Result<Vec<Leased>, ()>>,
    },
    /// Mark the handled rows done, each if its lease still holds.
    Complete {
        leases: Vec<Leased>,
        answer: oneshot::Sender<Result<(), ()>>,
    },
}

/// What a job's transaction gave, to answer it with once committed.
enum Outcome {
    Inserted(Option<i64>),
    Claimed(Vec<Leased>),
    Completed,
}

/// A row the worker holds, with what its handler reads.
struct Leased {
    id: i64,
    attempt: i64,
    token: [u8; 16],
    body: Vec<u8>,
    occurred_at: Option<i64>,
    /// The event time of the appointment's newest handled event.
    newest_done: Option<i64>,
}

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
    writer: mpsc::Sender<Job>,
    /// Whether each insert stores the `inbox` row.
    inbox_row: bool,
    /// Tells the worker, when there is one, that a new row is stored.
    wakeup: Option<Arc<Notify>>,
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
CREATE TABLE IF NOT EXISTS attempts (
    event_id   INTEGER NOT NULL,
    number     INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    outcome    TEXT    NOT NULL,
    error      TEXT,
    trigger    TEXT    NOT NULL,
    PRIMARY KEY (event_id, number)
) WITHOUT ROWID;
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
    if app.writer.send(Job::Insert(insert)).await.is_err() {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"unavailable"}"#,
        );
    }
    match answered.await {
        Ok(Ok(Some(id))) => {
            if let Some(wakeup) = &app.wakeup {
                wakeup.notify_one();
            }
            reply(
                StatusCode::OK,
                format!(r#"{{"status":"queued","id":{id}}}"#),
            )
        }
        Ok(Ok(None)) => reply(StatusCode::OK, r#"{"status":"duplicate"}"#),
        _ => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"unavailable"}"#,
        ),
    }
}

/// The writer thread: takes every job waiting (up to `max_batch`), runs
/// them in one transaction, then answers each. A batch with an insert in it
/// is synced (`synchronous=FULL`); one of the worker's jobs alone is not
/// (`NORMAL`), as in `bookhook-sqlite`.
fn write_loop(conn: Connection, mut jobs: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut synced = true;
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let durable = batch.iter().any(|job| matches!(job, Job::Insert(_)));
        let mut result = Ok(());
        if durable != synced {
            result = conn.execute_batch(if durable {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            });
            synced = durable && result.is_ok();
        }
        match result.and_then(|()| commit(&conn, &batch)) {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    match (job, outcome) {
                        (Job::Insert(insert), Outcome::Inserted(id)) => {
                            let _ = insert.answer.send(Ok(id));
                        }
                        (Job::Claim { answer, .. }, Outcome::Claimed(leases)) => {
                            let _ = answer.send(Ok(leases));
                        }
                        (Job::Complete { answer, .. }, Outcome::Completed) => {
                            let _ = answer.send(Ok(()));
                        }
                        _ => unreachable!("commit answers each job with its own outcome"),
                    }
                }
            }
            Err(err) => {
                eprintln!("commit failed: {err}");
                for job in batch.drain(..) {
                    match job {
                        Job::Insert(insert) => drop(insert.answer.send(Err(()))),
                        Job::Claim { answer, .. } => drop(answer.send(Err(()))),
                        Job::Complete { answer, .. } => drop(answer.send(Err(()))),
                    }
                }
            }
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn commit(conn: &Connection, batch: &[Job]) -> rusqlite::Result<Vec<Outcome>> {
    let tx = conn.unchecked_transaction()?;
    let now = now_ms();
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        outcomes.push(match job {
            Job::Insert(row) => Outcome::Inserted(insert(&tx, row, now)?),
            Job::Claim { max, .. } => Outcome::Claimed(claim(&tx, *max, now)?),
            Job::Complete { leases, .. } => {
                complete(&tx, leases, now)?;
                Outcome::Completed
            }
        });
    }
    tx.commit()?;
    Ok(outcomes)
}

fn insert(conn: &Connection, row: &Insert, now: i64) -> rusqlite::Result<Option<i64>> {
    let Some(inbox) = &row.inbox else {
        let changed = conn.prepare_cached(INSERT)?.execute(params![
            row.key,
            row.event_type,
            now,
            &row.body[..]
        ])?;
        return Ok((changed == 1).then(|| conn.last_insert_rowid()));
    };
    let changed = conn.prepare_cached(INBOX_INSERT)?.execute(params![
        row.key,
        inbox.booking_id,
        row.event_type,
        inbox.kind,
        now,
        inbox.occurred_at,
    ])?;
    if changed == 0 {
        return Ok(None);
    }
    let id = conn.last_insert_rowid();
    let headers = serde_json::json!([["x-calendence-signature", inbox.signature]]).to_string();
    conn.prepare_cached(INBOX_PAYLOAD)?
        .execute(params![id, &row.body[..], headers])?;
    Ok(Some(id))
}

/// The pending rows never tried or due again, and the rows whose lease
/// expired, oldest first, through `events_claim`.
const CANDIDATES: &str = "SELECT id, ordering_key, state, attempts, next_attempt_at FROM events \
    WHERE namespace = 'calendence' AND state IN (0, 1) \
    AND ((state = 0 AND (attempts = 0 OR next_attempt_at <= ?1)) OR (state = 1 AND lease_until < ?1)) \
    ORDER BY id LIMIT ?2";

/// Whether an older row of the appointment holds a live lease or waits for
/// a retry, through `events_order_claimed`.
const BLOCKED: &str = "SELECT EXISTS (SELECT 1 FROM events \
    WHERE namespace = 'calendence' AND ordering_key = ?1 AND id < ?2 \
    AND (state = 1 OR (state = 0 AND attempts > 0)) AND (state = 0 OR lease_until >= ?3))";

const LEASE: &str = "UPDATE events SET state = 1, attempts = ?2, lease_until = ?3, lease_token = ?4, \
    next_attempt_at = NULL WHERE id = ?1";

const OPEN_ATTEMPT: &str = "INSERT OR REPLACE INTO attempts \
    (event_id, number, started_at, ended_at, outcome, error, trigger) \
    VALUES (?1, ?2, ?3, NULL, 'running', NULL, 'automatic')";

/// The body, the event time and the appointment's newest handled event,
/// through `events_order_done`.
const TAKE: &str = "SELECT payloads.body, events.occurred_at, \
    CASE WHEN events.ordering_key IS NULL OR events.occurred_at IS NULL THEN NULL ELSE \
    (SELECT MAX(done.occurred_at) FROM events AS done WHERE done.namespace = events.namespace \
     AND done.ordering_key = events.ordering_key AND done.state = 2) END \
    FROM events JOIN payloads ON payloads.event_id = events.id WHERE events.id = ?1";

const DONE: &str = "UPDATE events SET state = 2, next_attempt_at = NULL, lease_until = NULL, \
    lease_token = NULL, finished_at = ?3 WHERE id = ?1 AND state = 1 AND lease_token = ?2";

const CLOSE_ATTEMPT: &str =
    "UPDATE attempts SET ended_at = ?3, outcome = 'processed' WHERE event_id = ?1 AND number = ?2";

/// How long a claimed row stays leased.
const LEASE_MS: i64 = 60_000;

/// A row the claim's scan read: id, appointment, state, attempts, next run time.
type Candidate = (i64, Option<String>, i64, i64, Option<i64>);

/// Leases up to `max` runnable rows, oldest first, one per appointment.
fn claim(conn: &Connection, max: usize, now: i64) -> rusqlite::Result<Vec<Leased>> {
    let candidates: Vec<Candidate> = conn
        .prepare_cached(CANDIDATES)?
        .query_map(params![now, (max * 2) as i64], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut seen = std::collections::HashSet::new();
    let mut leased = Vec::with_capacity(max);
    for (id, ordering_key, state, attempts, next_attempt_at) in candidates {
        let due = state == 1 || next_attempt_at.is_some_and(|at| at <= now);
        if let Some(key) = ordering_key {
            let waits = seen.contains(&key)
                || (due
                    && conn
                        .prepare_cached(BLOCKED)?
                        .query_row(params![key, id, now], |row| row.get::<_, bool>(0))?);
            seen.insert(key);
            if waits {
                continue;
            }
        }
        if !due {
            continue;
        }
        if state == 1 {
            conn.prepare_cached(
                "UPDATE attempts SET outcome = 'expired' WHERE event_id = ?1 AND number = ?2",
            )?
            .execute(params![id, attempts])?;
        }
        let attempt = attempts + 1;
        let token = ((id as u128) << 64 | now as u128).to_le_bytes();
        conn.prepare_cached(LEASE)?
            .execute(params![id, attempt, now + LEASE_MS, &token[..]])?;
        conn.prepare_cached(OPEN_ATTEMPT)?
            .execute(params![id, attempt, now])?;
        let (body, occurred_at, newest_done) =
            conn.prepare_cached(TAKE)?.query_row(params![id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
        leased.push(Leased {
            id,
            attempt,
            token,
            body,
            occurred_at,
            newest_done,
        });
        if leased.len() == max {
            break;
        }
    }
    Ok(leased)
}

/// Marks each handled row done if its lease still holds, and closes its attempt.
fn complete(conn: &Connection, leases: &[Leased], now: i64) -> rusqlite::Result<()> {
    for lease in leases {
        let changed =
            conn.prepare_cached(DONE)?
                .execute(params![lease.id, &lease.token[..], now])?;
        if changed == 1 {
            conn.prepare_cached(CLOSE_ATTEMPT)?
                .execute(params![lease.id, lease.attempt, now])?;
        }
    }
    Ok(())
}

/// The worker: claims up to 32 rows, runs the handler on each (the stored
/// body parsed into the typed envelope, and whether a newer event of its
/// appointment was already handled), completes them in one job.
async fn work(writer: mpsc::Sender<Job>, wakeup: Arc<Notify>) {
    let mut handled = 0_u64;
    loop {
        let (answer, answered) = oneshot::channel();
        if writer.send(Job::Claim { max: 32, answer }).await.is_err() {
            return;
        }
        let leases = match answered.await {
            Ok(Ok(leases)) => leases,
            Ok(Err(())) => Vec::new(),
            Err(_) => return,
        };
        if leases.is_empty() {
            tokio::select! {
                () = wakeup.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            continue;
        }
        for lease in &leases {
            let Ok(envelope) = serde_json::from_slice::<Envelope>(&lease.body) else {
                continue;
            };
            let stale = matches!((lease.newest_done, lease.occurred_at), (Some(newest), Some(own)) if newest > own);
            handled += u64::from(!stale);
            std::hint::black_box((&envelope, handled));
        }
        let (answer, answered) = oneshot::channel();
        if writer.send(Job::Complete { leases, answer }).await.is_err() {
            return;
        }
        let _ = answered.await;
    }
}

fn open(path: &str, inbox_row: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    assert_eq!(mode, "wal", "the file must be in WAL mode");
    // As `bookhook-sqlite` tunes its connections: the claim's statements
    // are not compiled again each time the bound time changes.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(64);
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
    let worker = match env("BOOKHOOK_FLOOR_WORKER", "off").as_str() {
        "off" => false,
        "on" if inbox_row => true,
        "on" => return Err("BOOKHOOK_FLOOR_WORKER=on needs BOOKHOOK_FLOOR_ROW=inbox".into()),
        other => return Err(format!("BOOKHOOK_FLOOR_WORKER is off or on, not `{other}`").into()),
    };
    let conn = open(&file, inbox_row)?;
    let (writer, jobs) = mpsc::channel(4096);
    std::thread::spawn(move || write_loop(conn, jobs, max_batch.max(1)));
    let wakeup = worker.then(|| Arc::new(Notify::new()));
    if let Some(wakeup) = &wakeup {
        tokio::spawn(work(writer.clone(), Arc::clone(wakeup)));
    }
    let app = Arc::new(App {
        mac: Hmac::new_from_slice(secret.as_bytes())?,
        writer,
        inbox_row,
        wakeup,
    });
    let router = Router::new().route(PATH, post(receive)).with_state(app);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "Listening on http://{} (storing {} rows in {file}, up to {max_batch} per transaction{})",
        listener.local_addr()?,
        if inbox_row { "inbox" } else { "minimal" },
        if worker { ", with a worker" } else { "" }
    );
    axum::serve(listener, router).await?;
    Ok(())
}
