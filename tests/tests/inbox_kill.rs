//! Nothing acknowledged is lost: a receiver in inbox mode (bookhook-axum's
//! `InboxService` on a SQLite inbox, FULL) is killed with SIGKILL at a
//! random moment under load; every event that got a
//! 200 is in the inbox when the file is reopened, and is handled once a
//! `Worker` runs. Then the same for a worker killed while it handles rows:
//! each acknowledged event is handled at least once, and runs again only
//! when the completion of its earlier attempt had not committed.
//!
//! Loopback only; bounded in events (at most `MAX_EVENTS` per run) and in
//! time (each run stops within seconds).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bookhook::inbox::{AttemptOutcome, Filter, Inbox, Page, State};
use bookhook::testing::{signed_request, wire};
use bookhook::{Endpoint, Provider, idempotency::ClaimToken};
use bookhook_sqlite::SqliteInbox;
use tokio::net::TcpStream;

const SECRET: &str = "inbox-kill-secret";
const RECEIVER: &str = env!("CARGO_BIN_EXE_inbox_receiver");
/// Concurrent senders.
const CONNECTIONS: usize = 16;
/// The most events one run sends.
const MAX_EVENTS: usize = 20_000;

/// A child process killed (SIGKILL) when dropped, so a failing test leaves none behind.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A number in `low..high`, different each run.
fn random_between(low: u64, high: u64) -> u64 {
    low + (ClaimToken::random().as_u128() % u128::from(high - low)) as u64
}

fn start_receiver(db: &Path) -> (Process, SocketAddr) {
    let mut child = Command::new(RECEIVER)
        .arg("receive")
        .arg(db)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the receiver");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the receiver prints its port");
    let port: u16 = line.trim().parse().expect("a port");
    (Process(child), SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Runs a worker to the end (every row done) and returns its log.
fn run_worker(db: &Path, log: &Path, lease_ms: u64) {
    let status = Command::new(RECEIVER)
        .arg("work")
        .arg(db)
        .arg(log)
        .arg(lease_ms.to_string())
        .stdout(Stdio::null())
        .status()
        .expect("run the worker");
    assert!(status.success(), "the worker failed: {status}");
}

/// The ids the worker's handler wrote, one line per run.
fn handled(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The body of event `n`: a Calendence booking with its own id.
fn body(run: &str, n: usize) -> (String, Vec<u8>) {
    let id = format!("{run}-{n}");
    let body = format!(
        r#"{{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"{id}"}}}}"#
    );
    (id, body.into_bytes())
}

/// POSTs over HTTP/1.1; the status, or `None` if the connection broke.
async fn post(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    wire::status_of(&mut stream, &wire::post_bytes("/webhook", headers, body)).await
}

/// Sends unique signed events from `CONNECTIONS` tasks until the receiver
/// stops answering or `MAX_EVENTS` are sent; returns the ids that got a 200.
async fn send_until_killed(addr: SocketAddr, run: &str, receiver: Process) -> HashSet<String> {
    let signer = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let statuses = Arc::new(Mutex::new(HashMap::<u16, usize>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (next, acknowledged, statuses, stop) = (
            Arc::clone(&next),
            Arc::clone(&acknowledged),
            Arc::clone(&statuses),
            Arc::clone(&stop),
        );
        let (signer, run) = (signer.clone(), run.to_owned());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= MAX_EVENTS {
                    return;
                }
                let (id, body) = body(&run, n);
                let (headers, _) = signed_request(&signer, &body);
                match tokio::time::timeout(Duration::from_secs(5), post(addr, &headers, &body))
                    .await
                {
                    Ok(Some(status)) => {
                        *statuses.lock().unwrap().entry(status).or_default() += 1;
                        if status == 200 {
                            acknowledged.lock().unwrap().insert(id);
                        }
                    }
                    // The receiver is gone: this event is not acknowledged.
                    Ok(None) | Err(_) => stop.store(true, Ordering::Relaxed),
                }
            }
        }));
    }
    let kill_after = Duration::from_millis(random_between(300, 1_500));
    tokio::time::sleep(kill_after).await;
    drop(receiver); // SIGKILL
    for task in tasks {
        task.await.unwrap();
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    let statuses = statuses.lock().unwrap().clone();
    eprintln!(
        "killed the receiver after {kill_after:?}: {} acknowledged, statuses {statuses:?}",
        acknowledged.len()
    );
    assert!(
        statuses.keys().all(|status| *status == 200),
        "every answered request was acknowledged: {statuses:?}"
    );
    acknowledged
}

/// The `data.id` of every stored row, read back by listing the reopened file.
async fn stored_ids(db: &Path) -> HashMap<String, bookhook::inbox::InboxId> {
    let inbox = SqliteInbox::open(db).expect("reopen the inbox");
    let mut stored = HashMap::new();
    let mut page = Page::first(1_000);
    loop {
        let records = inbox.list(&Filter::default(), page).await.unwrap();
        let Some(last) = records.last() else {
            return stored;
        };
        page = Page::after(last.id, 1_000);
        for record in &records {
            let detail = inbox.get(record.id).await.unwrap().unwrap();
            let body: serde_json::Value = serde_json::from_slice(&detail.body).unwrap();
            stored.insert(body["data"]["id"].as_str().unwrap().to_owned(), record.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_acknowledged_before_sigkill_is_stored_and_handled() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let (receiver, addr) = start_receiver(&db);
    let acknowledged = send_until_killed(addr, "receive", receiver).await;
    assert!(
        !acknowledged.is_empty(),
        "no event was acknowledged before the kill"
    );

    let stored = stored_ids(&db).await;
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !stored.contains_key(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");

    let log = dir.path().join("handled.log");
    run_worker(&db, &log, 30_000);
    let handled: HashSet<String> = handled(&log).into_iter().collect();
    let unhandled: Vec<_> = acknowledged.difference(&handled).collect();
    assert!(
        unhandled.is_empty(),
        "acknowledged but never handled: {unhandled:?}"
    );
    let inbox = SqliteInbox::open(&db).unwrap();
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.processing), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_handling_leaves_every_event_handled_at_least_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let (receiver, addr) = start_receiver(&db);
    let acknowledged = send_until_killed(addr, "work", receiver).await;
    assert!(
        !acknowledged.is_empty(),
        "no event was acknowledged before the kill"
    );

    // A worker with a short lease, killed at a random moment while it works.
    let log = dir.path().join("handled.log");
    let mut child = Command::new(RECEIVER)
        .arg("work")
        .arg(&db)
        .arg(&log)
        .arg("500")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the worker");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let worker = Process(child);
    let kill_after = Duration::from_millis(random_between(50, 600));
    tokio::time::sleep(kill_after).await;
    drop(worker); // SIGKILL
    let before_kill = handled(&log).len();
    eprintln!("killed the worker after {kill_after:?}: {before_kill} attempts logged");

    // A new worker takes over, reclaiming the dead worker's leases once they expire.
    run_worker(&db, &log, 500);
    let mut runs: HashMap<String, usize> = HashMap::new();
    for id in handled(&log) {
        *runs.entry(id).or_default() += 1;
    }
    let unhandled: Vec<_> = acknowledged
        .iter()
        .filter(|id| !runs.contains_key(*id))
        .collect();
    assert!(
        unhandled.is_empty(),
        "acknowledged but never handled: {unhandled:?}"
    );

    // An event ran again only if its earlier attempt never completed: every
    // attempt but the last is recorded as expired, the last as processed,
    // and the handler ran at most once per attempt.
    let stored = stored_ids(&db).await;
    let inbox = SqliteInbox::open(&db).unwrap();
    let (mut rerun, mut expired) = (0, 0);
    for (id, row) in &stored {
        let detail = inbox.get(*row).await.unwrap().unwrap();
        assert_eq!(detail.record.state, State::Done, "{id} is done: {detail:?}");
        let (last, earlier) = detail.attempts.split_last().unwrap();
        assert_eq!(last.outcome, AttemptOutcome::Processed, "{id}: {detail:?}");
        assert!(
            earlier.iter().all(|a| a.outcome == AttemptOutcome::Expired),
            "{id} ran again although an earlier attempt completed: {detail:?}"
        );
        let logged = runs.get(id).copied().unwrap_or(0);
        assert!(
            (1..=detail.attempts.len()).contains(&logged),
            "{id}: the handler ran {logged} times for {} attempts",
            detail.attempts.len()
        );
        if logged > 1 {
            rerun += 1;
        }
        expired += earlier.len();
    }
    eprintln!(
        "{} events handled, {rerun} of them more than once; {expired} leases expired",
        runs.len()
    );
}
