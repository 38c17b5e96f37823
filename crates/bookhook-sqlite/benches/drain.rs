//! Worker drain rate of `SqliteInbox` with a no-op handler, and the file
//! size per stored 1 KiB event.
//!
//! Fills a file with `ROWS` pending 1 KiB events (default 1 000 000; set
//! `BOOKHOOK_DRAIN_ROWS` for another size) through group-commit enqueues,
//! reports its size per event, then drains it the way a worker does: 4 tasks
//! each claim up to 256 rows, "handle" them (nothing), and complete each
//! one; the completions of all tasks share the writer's group commit.
//! Prints events per second for the fill and the drain. Not a criterion
//! benchmark: one drain empties the file, so it runs once per size.
//!
//! With `BOOKHOOK_DRAIN_WITH=worker` the drain is bookhook's own
//! `inbox::Worker` instead, spawned as a receiver spawns it, with
//! `BOOKHOOK_DRAIN_CONCURRENCY` handlers at a time (default 256) and a
//! dispatcher whose one route counts the events: the claims, the parse of
//! each stored body, the route, the `Context` and the completions are all
//! timed. Each stored body is then a real 1 KiB Calendence event.
//!
//! ```text
//! cargo bench -p bookhook-sqlite --bench drain
//! BOOKHOOK_DRAIN_ROWS=100000 BOOKHOOK_DRAIN_SYNC=normal cargo bench -p bookhook-sqlite --bench drain
//! BOOKHOOK_DRAIN_WITH=worker BOOKHOOK_DRAIN_CONCURRENCY=4 cargo bench -p bookhook-sqlite --bench drain
//! ```

#![allow(missing_docs, reason = "a benchmark binary")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bookhook::inbox::{Inbox, NewEvent};
use bookhook::{Kind, Provider};
use bookhook_sqlite::{SqliteInbox, Synchronous};
use futures_util::future::join_all;

const NOW: i64 = 1_764_547_200_000;

/// Time this process's threads spent on a CPU and waiting for one (run
/// queue), from `/proc/self/task/*/schedstat` (Linux; zeros elsewhere). On
/// a shared machine the wait says how much of the wall time was not ours.
fn cpu_and_wait() -> (Duration, Duration) {
    let (mut cpu, mut wait) = (0_u64, 0_u64);
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            let mut fields = text
                .split_whitespace()
                .map(|f| f.parse::<u64>().unwrap_or(0));
            cpu += fields.next().unwrap_or(0);
            wait += fields.next().unwrap_or(0);
        }
    }
    (Duration::from_nanos(cpu), Duration::from_nanos(wait))
}

/// Prints the CPU time and run-queue wait spent since `before`, per event.
fn report_cpu(what: &str, before: (Duration, Duration), events: u64) {
    let (cpu, wait) = cpu_and_wait();
    let (cpu, wait) = (cpu.saturating_sub(before.0), wait.saturating_sub(before.1));
    let per_event = cpu.as_secs_f64() * 1e6 / events as f64;
    println!(
        "{what}: on CPU {cpu:.2?} ({per_event:.1} µs per event, {:.0} events per CPU-second), waiting for a CPU {wait:.2?}",
        1e6 / per_event
    );
}
const WORKERS: usize = 4;
const CLAIM: usize = 256;
const FILLERS: u64 = 64;

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that does not name us skips the run.
    if std::env::args()
        .skip(1)
        .any(|arg| !arg.starts_with('-') && !"drain".contains(&arg))
    {
        return;
    }
    let rows: u64 = std::env::var("BOOKHOOK_DRAIN_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let synchronous = match std::env::var("BOOKHOOK_DRAIN_SYNC").as_deref() {
        Ok("normal") => Synchronous::Normal,
        _ => Synchronous::Full,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("drain.db");
    let inbox = SqliteInbox::builder(&path)
        .synchronous(synchronous)
        .open()
        .expect("open");
    let with_worker = match std::env::var("BOOKHOOK_DRAIN_WITH").as_deref() {
        Ok("worker") => true,
        Ok("claims") | Err(_) => false,
        Ok(other) => panic!("BOOKHOOK_DRAIN_WITH is claims or worker, not `{other}`"),
    };
    let concurrency: usize = std::env::var("BOOKHOOK_DRAIN_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);

    runtime.block_on(async {
        let before = cpu_and_wait();
        let started = Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..FILLERS {
            let (inbox, next) = (inbox.clone(), Arc::clone(&next));
            tasks.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= rows {
                        return;
                    }
                    let appointment = format!("apt_{}", n % 100_000);
                    let event = NewEvent::new(
                        "calendence",
                        format!("evt_{n:016}"),
                        Some(appointment.clone()),
                        Provider::Calendence,
                        "booking.created",
                        Kind::Created,
                        NOW,
                        Some(NOW),
                        body(&appointment, n),
                        vec![("content-type".to_owned(), "application/json".to_owned())],
                    );
                    inbox.enqueue(event).await.expect("enqueue");
                }
            }));
        }
        for task in tasks {
            task.await.expect("filler");
        }
        let fill = started.elapsed();
        println!(
            "fill: {rows} events of 1 KiB in {fill:.2?} = {:.0} events/s ({synchronous:?}, {FILLERS} callers)",
            rows as f64 / fill.as_secs_f64()
        );
        report_cpu("fill", before, rows);
    });
    drop(inbox);
    // Reopening checkpoints nothing by itself; closing the last connection
    // folded the WAL into the file, so its size is the rows' size.
    let size = std::fs::metadata(&path).expect("file").len();
    println!(
        "file: {size} bytes, {:.0} bytes per stored 1 KiB event",
        size as f64 / rows as f64
    );

    let inbox = SqliteInbox::builder(&path)
        .synchronous(synchronous)
        .open()
        .expect("reopen");
    if with_worker {
        runtime.block_on(drain_with_worker(inbox, rows, concurrency));
        return;
    }
    runtime.block_on(async {
        let before = cpu_and_wait();
        let started = Instant::now();
        let handled = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..WORKERS {
            let (inbox, handled) = (inbox.clone(), Arc::clone(&handled));
            tasks.push(tokio::spawn(async move {
                loop {
                    let claimed = inbox
                        .claim("calendence", NOW + 1, Duration::from_secs(30), CLAIM)
                        .await
                        .expect("claim");
                    if claimed.is_empty() {
                        return;
                    }
                    // The no-op handler, then one completion per row.
                    let done = join_all(
                        claimed
                            .iter()
                            .map(|row| inbox.complete(&row.lease, NOW + 2)),
                    )
                    .await;
                    for result in done {
                        result.expect("complete");
                    }
                    handled.fetch_add(claimed.len() as u64, Ordering::Relaxed);
                }
            }));
        }
        for task in tasks {
            task.await.expect("worker");
        }
        let how = format!("{WORKERS} workers claiming {CLAIM}, no-op handler");
        report_drain(&inbox, rows, &handled, started, before, &how).await;
    });
}

/// A Calendence `booking.created` event of exactly 1 KiB for booking
/// `appointment`, padded with a `notes` field.
fn body(appointment: &str, n: u64) -> bytes::Bytes {
    let head = format!(
        r#"{{"event":"booking.created","timestamp":"2025-12-01T00:00:00+00:00","data":{{"id":"{appointment}","status":"confirmed","client":{{"first_name":"Jane","last_name":"Doe","email":"jane@example.com"}},"starts_at":"2025-12-02T14:00:00+00:00","ends_at":"2025-12-02T14:30:00+00:00","notes":"{n} "#
    );
    let tail = "\"}}";
    let mut text = head;
    text.extend(std::iter::repeat_n('x', 1024 - text.len() - tail.len()));
    text.push_str(tail);
    bytes::Bytes::from(text)
}

/// Drains the file with bookhook's `Worker`, `concurrency` handlers at a
/// time, until its route has counted every row.
async fn drain_with_worker(inbox: SqliteInbox, rows: u64, concurrency: usize) {
    use bookhook::inbox::Worker;
    use bookhook::{Context, Dispatcher, Endpoint, HandlerError};

    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("drain-benchmark-secret")
        .build()
        .expect("endpoint");
    let handled = Arc::new(AtomicU64::new(0));
    let all_done = Arc::new(tokio::sync::Notify::new());
    let (count, done) = (Arc::clone(&handled), Arc::clone(&all_done));
    let dispatcher = Dispatcher::builder(endpoint)
        .on("booking.created", move |ctx: Context| {
            let (count, done) = (Arc::clone(&count), Arc::clone(&done));
            async move {
                std::hint::black_box(ctx.delivery());
                if count.fetch_add(1, Ordering::Relaxed) + 1 == rows {
                    done.notify_one();
                }
                Ok::<_, HandlerError>(())
            }
        })
        .build()
        .expect("routes");
    let inbox: Arc<dyn Inbox> = Arc::new(inbox);
    let worker = Worker::builder(dispatcher, Arc::clone(&inbox))
        .concurrency(concurrency)
        .build()
        .expect("worker");
    let before = cpu_and_wait();
    let started = Instant::now();
    let running = worker.spawn();
    all_done.notified().await;
    let report = running.shutdown().await;
    assert_eq!(report.cut_off, 0);
    let how = format!("bookhook's Worker, concurrency {concurrency}, a route that counts");
    report_drain(&*inbox, rows, &handled, started, before, &how).await;
}

/// Checks that every row is done, and prints the drain's rate and CPU time.
async fn report_drain(
    inbox: &dyn Inbox,
    rows: u64,
    handled: &AtomicU64,
    started: Instant,
    before: (Duration, Duration),
    how: &str,
) {
    let drain = started.elapsed();
    let handled = handled.load(Ordering::Relaxed);
    let stats = inbox.stats().await.expect("stats");
    assert_eq!((stats.pending, stats.processing, stats.done), (0, 0, rows));
    println!(
        "drain: {handled} events in {drain:.2?} = {:.0} events/s ({how})",
        handled as f64 / drain.as_secs_f64()
    );
    report_cpu("drain", before, handled);
}
