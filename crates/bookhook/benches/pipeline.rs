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
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bookhook::{
    Context, Dispatcher, Endpoint, HandlerError, Provider, endpoint::Request,
    idempotency::MemoryStore,
};
use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use support::{SECRET, calendence_body, floor_verify_hex, header};

const SIZE: usize = 1024;

/// The capacity of `MemoryStore::new()`.
const DEFAULT_STORE_KEYS: usize = 1_000_000;

/// The capacity of the small store.
const SMALL_STORE_KEYS: usize = 10_000;

/// The floor's typed view of a Calendence booking event: the fields bookhook's
/// `calendence::Booking` reads, as plain strings.
#[derive(Deserialize)]
#[allow(dead_code, reason = "the fields are read by serde only")]
struct FloorEvent {
    event: String,
    timestamp: String,
    data: FloorBooking,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "the fields are read by serde only")]
struct FloorBooking {
    id: String,
    status: Option<String>,
    service: Option<FloorReference>,
    client: Option<FloorClient>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    location: Option<FloorReference>,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "the fields are read by serde only")]
struct FloorReference {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "the fields are read by serde only")]
struct FloorClient {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

type Input = (Vec<(String, String)>, Bytes);

/// The deduplication a user might write by hand: bounded LRU maps of claimed
/// keys (`false` while handled, `true` once done) and of appointments' newest
/// event times.
struct FloorStore {
    keys: Mutex<lru::LruCache<String, bool>>,
    appointments: Mutex<lru::LruCache<String, String>>,
}

impl FloorStore {
    fn new(capacity: usize) -> Self {
        let half = NonZeroUsize::new(capacity / 2).expect("a capacity of at least 2");
        Self {
            keys: Mutex::new(lru::LruCache::new(half)),
            appointments: Mutex::new(lru::LruCache::new(half)),
        }
    }
}

/// What [`floor_with_dedup`] did with a delivery.
#[derive(Debug, PartialEq)]
enum FloorOutcome {
    Handled { latest: bool },
    Duplicate,
    Rejected,
}

/// The floor: raw HMAC verify of the body, then a typed serde parse.
fn floor(key: &Hmac<Sha256>, (headers, body): &Input) -> Option<FloorEvent> {
    let signature = header(headers, "X-Calendence-Signature").as_bytes();
    if !floor_verify_hex(key, &[body], signature) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// The floor, then the same bookkeeping as the pipeline: claim the
/// delivery's key (event, booking id, timestamp), record the appointment's
/// newest event time, run a no-op handler, mark the key done.
fn floor_with_dedup(key: &Hmac<Sha256>, store: &FloorStore, input: &Input) -> FloorOutcome {
    let Some(event) = floor(key, input) else {
        return FloorOutcome::Rejected;
    };
    let dedup_key = format!("{}:{}:{}", event.event, event.data.id, event.timestamp);
    {
        let mut keys = store.keys.lock().expect("not poisoned");
        if keys.get(&dedup_key).is_some() {
            return FloorOutcome::Duplicate;
        }
        keys.put(dedup_key.clone(), false);
    }
    let latest = {
        let mut appointments = store.appointments.lock().expect("not poisoned");
        match appointments.get_mut(&event.data.id) {
            Some(newest) if *newest > event.timestamp => false,
            Some(newest) => {
                newest.clone_from(&event.timestamp);
                true
            }
            None => {
                appointments.put(event.data.id.clone(), event.timestamp.clone());
                true
            }
        }
    };
    black_box(&event);
    store
        .keys
        .lock()
        .expect("not poisoned")
        .put(dedup_key, true);
    FloorOutcome::Handled { latest }
}

fn pipeline(c: &mut Criterion) {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .build()
        .expect("valid endpoint");
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .on("booking.created", |ctx: Context| async move {
            black_box(ctx.delivery());
            Ok::<_, HandlerError>(())
        })
        .build()
        .expect("valid routes");
    // The same pipeline with a store of 10,000 keys: what the default
    // store's million keys (cache misses, growth) add.
    let small_endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .store(
            MemoryStore::builder()
                .max_keys(SMALL_STORE_KEYS)
                .build()
                .expect("valid store"),
        )
        .build()
        .expect("valid endpoint");
    let small_dispatcher = Dispatcher::builder(small_endpoint)
        .on("booking.created", |ctx: Context| async move {
            black_box(ctx.delivery());
            Ok::<_, HandlerError>(())
        })
        .build()
        .expect("valid routes");
    // The default store without the appointment records.
    let untracked_dispatcher = Dispatcher::builder(
        Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .track_freshness(false)
            .build()
            .expect("valid endpoint"),
    )
    .on("booking.created", |ctx: Context| async move {
        black_box(ctx.delivery());
        Ok::<_, HandlerError>(())
    })
    .build()
    .expect("valid routes");
    let key = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    let next = AtomicU64::new(0);
    // A new, signed delivery each time (not timed).
    let input = || -> Input {
        let body = calendence_body(next.fetch_add(1, Ordering::Relaxed), SIZE);
        let headers = endpoint
            .sign(
                &body,
                &bookhook::signature::SignRequest::at(SystemTime::now()),
            )
            .headers;
        (headers, Bytes::from(body))
    };

    let floor_store = FloorStore::new(DEFAULT_STORE_KEYS);

    // Every contender accepts the inputs before it is timed.
    let (headers, body) = input();
    assert!(floor(&key, &(headers.clone(), body.clone())).is_some());
    let both = (headers.clone(), body.clone());
    assert_eq!(
        floor_with_dedup(&key, &floor_store, &both),
        FloorOutcome::Handled { latest: true }
    );
    assert_eq!(
        floor_with_dedup(&key, &floor_store, &both),
        FloorOutcome::Duplicate
    );
    assert!(
        endpoint
            .verify_and_parse(&Request::post(&headers, body.clone()))
            .is_ok()
    );
    let first = dispatcher
        .dispatch(Request::post(&headers, body.clone()))
        .now_or_never()
        .expect("the pipeline with the memory store completes at once");
    assert_eq!(first.outcome().as_str(), "handled");
    let again = dispatcher
        .dispatch(Request::post(&headers, body))
        .now_or_never()
        .expect("the pipeline with the memory store completes at once");
    assert_eq!(again.outcome().as_str(), "duplicate");

    // A server runs with its store full. Fill every store first (each
    // delivery holds two keys: its claim and its appointment's record), so
    // that every timed delivery makes the store forget two keys, as in the
    // steady state, rather than timing the store's growth.
    for _ in 0..DEFAULT_STORE_KEYS / 2 {
        let (headers, body) = input();
        let finished = dispatcher
            .dispatch(Request::post(&headers, body))
            .now_or_never()
            .expect("the pipeline with the memory store completes at once");
        assert_eq!(finished.outcome().as_str(), "handled");
    }
    for _ in 0..DEFAULT_STORE_KEYS / 2 {
        let outcome = floor_with_dedup(&key, &floor_store, &input());
        assert_eq!(outcome, FloorOutcome::Handled { latest: true });
    }
    // One key per delivery here: as many deliveries as the store holds keys.
    for _ in 0..DEFAULT_STORE_KEYS {
        let (headers, body) = input();
        let finished = untracked_dispatcher
            .dispatch(Request::post(&headers, body))
            .now_or_never()
            .expect("the pipeline with the memory store completes at once");
        assert_eq!(finished.outcome().as_str(), "handled");
    }
    for _ in 0..SMALL_STORE_KEYS / 2 {
        let (headers, body) = input();
        let finished = small_dispatcher
            .dispatch(Request::post(&headers, body))
            .now_or_never()
            .expect("the pipeline with the memory store completes at once");
        assert_eq!(finished.outcome().as_str(), "handled");
    }

    let mut group = c.benchmark_group("pipeline_1KiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.bench_function("floor_hmac_serde", |b| {
        b.iter_batched_ref(
            input,
            |input| black_box(floor(&key, black_box(input))).is_some(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("ref_lru_dedup", |b| {
        b.iter_batched_ref(
            input,
            |input| black_box(floor_with_dedup(&key, &floor_store, black_box(input))),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("verify_and_parse", |b| {
        b.iter_batched_ref(
            input,
            |(headers, body)| {
                endpoint
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
            |(headers, body)| {
                let finished = dispatcher
                    .dispatch(Request::post(black_box(&*headers), black_box(body.clone())))
                    .now_or_never()
                    .expect("the pipeline with the memory store completes at once");
                black_box(finished).status()
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("dispatch_without_freshness", |b| {
        b.iter_batched_ref(
            input,
            |(headers, body)| {
                let finished = untracked_dispatcher
                    .dispatch(Request::post(black_box(&*headers), black_box(body.clone())))
                    .now_or_never()
                    .expect("the pipeline with the memory store completes at once");
                black_box(finished).status()
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("dispatch_store_10k_keys", |b| {
        b.iter_batched_ref(
            input,
            |(headers, body)| {
                let finished = small_dispatcher
                    .dispatch(Request::post(black_box(&*headers), black_box(body.clone())))
                    .now_or_never()
                    .expect("the pipeline with the memory store completes at once");
                black_box(finished).status()
            },
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
