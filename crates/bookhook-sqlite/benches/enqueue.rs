//! Enqueue throughput of `SqliteInbox`: 32 concurrent callers store unique
//! 1 KiB events, with group commit (the default) and with one row per
//! transaction (`max_batch(1)`), under `synchronous = FULL` and `NORMAL`.
//! One element is one acknowledged (committed) event.
//!
//! ```text
//! cargo bench -p bookhook-sqlite --bench enqueue
//! ```

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bookhook::inbox::{Enqueued, Inbox, NewEvent};
use bookhook::{Kind, Provider};
use bookhook_sqlite::{SqliteInbox, Synchronous};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

/// Concurrent callers, as 32 connections of the load harness.
const CALLERS: u64 = 32;
/// Events per measured iteration.
const EVENTS: u64 = 1_024;

fn event(n: u64, body: &bytes::Bytes) -> NewEvent {
    NewEvent::new(
        "calendence",
        format!("evt_{n:016}"),
        Some(format!("apt_{}", n % 10_000)),
        Provider::Calendence,
        "booking.created",
        Kind::Created,
        1_764_547_200_000,
        Some(1_764_547_200_000),
        body.clone(),
        vec![("content-type".to_owned(), "application/json".to_owned())],
    )
}

/// Enqueues `EVENTS` new events from `CALLERS` tasks; returns the time taken.
async fn enqueue_all(inbox: &SqliteInbox, next: &Arc<AtomicU64>, body: &bytes::Bytes) -> Duration {
    let started = Instant::now();
    let per_caller = EVENTS / CALLERS;
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let (inbox, next, body) = (inbox.clone(), Arc::clone(next), body.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_caller {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let stored = inbox.enqueue(event(n, &body)).await;
                assert!(matches!(stored, Ok(Enqueued::Queued(_))), "{stored:?}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("caller");
    }
    started.elapsed()
}

fn enqueue(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let body = bytes::Bytes::from(vec![b'x'; 1024]);
    let mut group = c.benchmark_group("sqlite_enqueue_1kib_32_callers");
    group.throughput(Throughput::Elements(EVENTS));
    // Flat sampling: every sample runs the same number of iterations, so the
    // slow variants (one fsync per row) finish in about a minute.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (sync_name, synchronous) in [("full", Synchronous::Full), ("normal", Synchronous::Normal)] {
        for (mode, max_batch) in [("group_commit", 512), ("row_per_transaction", 1)] {
            let dir = tempfile::tempdir().expect("temporary directory");
            let inbox = SqliteInbox::builder(dir.path().join("bench.db"))
                .synchronous(synchronous)
                .max_batch(max_batch)
                .open()
                .expect("open");
            let next = Arc::new(AtomicU64::new(0));
            group.bench_function(BenchmarkId::new(mode, sync_name), |b| {
                b.iter_custom(|iterations| {
                    runtime.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iterations {
                            total += enqueue_all(&inbox, &next, &body).await;
                        }
                        total
                    })
                });
            });
            drop(inbox);
        }
    }
    group.finish();
}

criterion_group!(benches, enqueue);
criterion_main!(benches);
