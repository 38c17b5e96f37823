//! The full core pipeline at 1 KiB: verify → parse → claim → no-op handler →
//! complete, through `Dispatcher::dispatch` with the default `MemoryStore`.
//! Every iteration gets a new delivery (its own booking id), so each one is
//! handled, never a duplicate. Signing the inputs is not timed.
//!
//! Each routine drops what it produced before the clock stops, as a server
//! does: criterion would otherwise keep a batch of outputs alive, and glibc's
//! trimming and refaulting of that memory would be measured instead.
//!
//! In the same group: the floor (raw HMAC verify + typed serde parse of the
//! same bytes), `Endpoint::verify_and_parse` (no claim, no handler), and the
//! pipeline again with a `MemoryStore` of 10,000 keys instead of a million,
//! and the pipeline with `track_freshness(false)` (no appointment record: one
//! store insertion per delivery instead of two).
//! Every store is filled to capacity before anything is timed (about 5 s).
//!
//! The floor does none of the deduplication the pipeline does, so one more
//! reference does the same work by hand, as a user without bookhook might:
//! `ref_lru_dedup` is the floor plus a claim and a completion in a
//! mutex-guarded `lru::LruCache` of the delivery's key, and the appointment's
//! newest timestamp in a second one (half a million keys each, filled before
//! timing, like the default store's million).
//!
//! ```text
//! cargo bench -p bookhook --bench pipeline
//! ```

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

mod support;

use std::hint::black_box;
use std::time::Duration;

use bookhook::endpoint::Request;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use support::pipeline::{Contenders, SIZE, dispatch, floor, floor_with_dedup};

fn pipeline(c: &mut Criterion) {
    let contenders = Contenders::new();
    let input = || contenders.input();
    let mut group = c.benchmark_group("pipeline_1KiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.bench_function("floor_hmac_serde", |b| {
        b.iter_batched_ref(
            input,
            |input| black_box(floor(&contenders.key, black_box(input))).is_some(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("ref_lru_dedup", |b| {
        b.iter_batched_ref(
            input,
            |input| {
                black_box(floor_with_dedup(
                    &contenders.key,
                    &contenders.floor_store,
                    black_box(input),
                ))
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("verify_and_parse", |b| {
        b.iter_batched_ref(
            input,
            |(headers, body)| {
                contenders
                    .endpoint
                    .verify_and_parse(&Request::post(
                        black_box(&*headers),
                        black_box(body.clone()),
                    ))
                    .is_ok()
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("dispatch", |b| {
        b.iter_batched_ref(
            input,
            |input| dispatch(&contenders.dispatcher, input),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("dispatch_without_freshness", |b| {
        b.iter_batched_ref(
            input,
            |input| dispatch(&contenders.untracked_dispatcher, input),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("dispatch_store_10k_keys", |b| {
        b.iter_batched_ref(
            input,
            |input| dispatch(&contenders.small_dispatcher, input),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = pipeline
}
criterion_main!(benches);
