//! `MemoryStore` claim + complete of new keys, on 1 thread and on 2 threads
//! sharing one store. The throughput of both (elements per second, one
//! element being one claim + complete) gives the 2-thread scaling.
//!
//! Bytes per key at a million keys come from the `memory_per_key` example:
//!
//! ```text
//! cargo bench -p bookhook --bench store
//! cargo run --release -p bookhook --example memory_per_key 1000000
//! ```

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bookhook::idempotency::{Claim, IdempotencyStore, MemoryStore};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::FutureExt as _;

const LEASE: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(72 * 3600);

/// `count` keys never used before, formatted before the clock starts.
fn fresh_keys(next: &AtomicU64, count: u64) -> Vec<String> {
    let start = next.fetch_add(count, Ordering::Relaxed);
    (start..start + count)
        .map(|i| format!("evt_{i:016}"))
        .collect()
}

/// Claims and completes every key, as a handled delivery does.
fn claim_and_complete(store: &MemoryStore, keys: &[String]) {
    for key in keys {
        let claimed = store
            .claim(black_box(key), LEASE)
            .now_or_never()
            .expect("the memory store answers at once");
        match claimed {
            Ok(Claim::Claimed(token)) => {
                let done = store
                    .complete(key, token, TTL)
                    .now_or_never()
                    .expect("the memory store answers at once");
                black_box(done).expect("the memory store never fails");
            }
            other => panic!("a new key was not claimed: {other:?}"),
        }
    }
}

fn store(c: &mut Criterion) {
    // The default store: a million keys, then one is forgotten (by CLOCK) for each new one.
    let store = MemoryStore::new();
    let next = AtomicU64::new(0);
    let mut group = c.benchmark_group("memory_store_claim_complete");
    for threads in [1u64, 2] {
        group.throughput(Throughput::Elements(threads));
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter_custom(|iters| {
                let batches: Vec<Vec<String>> =
                    (0..threads).map(|_| fresh_keys(&next, iters)).collect();
                let started = Instant::now();
                std::thread::scope(|scope| {
                    for keys in &batches {
                        let store = &store;
                        scope.spawn(move || claim_and_complete(store, keys));
                    }
                });
                started.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = store
}
criterion_main!(benches);
