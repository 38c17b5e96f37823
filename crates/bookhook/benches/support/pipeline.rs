//! The contenders of the pipeline benchmarks (`pipeline`, criterion, and
//! `pipeline_pairs`, alternating chunks): the floor, the deduplicating
//! reference written by hand, and bookhook's dispatcher, each ready with its
//! store filled to capacity.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bookhook::{
    Context, Dispatcher, Endpoint, HandlerError, Provider, endpoint::Request,
    idempotency::MemoryStore,
};
use bytes::Bytes;
use futures_util::FutureExt as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::{SECRET, calendence_body, floor_verify_hex, header};

/// The body size of the pipeline benchmarks.
pub(crate) const SIZE: usize = 1024;

/// The capacity of `MemoryStore::new()`.
pub(crate) const DEFAULT_STORE_KEYS: usize = 1_000_000;

/// The capacity of the small store.
pub(crate) const SMALL_STORE_KEYS: usize = 10_000;

/// The floor's typed view of a Calendence booking event: the fields bookhook's
/// `calendence::Booking` reads, as plain strings.
#[derive(Deserialize)]
#[allow(dead_code, reason = "the fields are read by serde only")]
pub(crate) struct FloorEvent {
    event: String,
    timestamp: String,
    data: FloorBooking,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "the fields are read by serde only")]
pub(crate) struct FloorBooking {
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
pub(crate) struct FloorReference {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "the fields are read by serde only")]
pub(crate) struct FloorClient {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

pub(crate) type Input = (Vec<(String, String)>, Bytes);

/// The deduplication a user might write by hand: bounded LRU maps of claimed
/// keys (`false` while handled, `true` once done) and of appointments' newest
/// event times.
pub(crate) struct FloorStore {
    keys: Mutex<lru::LruCache<String, bool>>,
    appointments: Mutex<lru::LruCache<String, String>>,
}

impl FloorStore {
    pub(crate) fn new(capacity: usize) -> Self {
        let half = NonZeroUsize::new(capacity / 2).expect("a capacity of at least 2");
        Self {
            keys: Mutex::new(lru::LruCache::new(half)),
            appointments: Mutex::new(lru::LruCache::new(half)),
        }
    }
}

/// What [`floor_with_dedup`] did with a delivery.
#[derive(Debug, PartialEq)]
pub(crate) enum FloorOutcome {
    Handled { latest: bool },
    Duplicate,
    Rejected,
}

/// The floor: raw HMAC verify of the body, then a typed serde parse.
pub(crate) fn floor(key: &Hmac<Sha256>, (headers, body): &Input) -> Option<FloorEvent> {
    let signature = header(headers, "X-Calendence-Signature").as_bytes();
    if !floor_verify_hex(key, &[body], signature) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// The floor, then the same bookkeeping as the pipeline: claim the
/// delivery's key (event, booking id, timestamp), record the appointment's
/// newest event time, run a no-op handler, mark the key done.
pub(crate) fn floor_with_dedup(
    key: &Hmac<Sha256>,
    store: &FloorStore,
    input: &Input,
) -> FloorOutcome {
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

/// A dispatcher of `endpoint` whose one route black-boxes the delivery.
fn no_op_dispatcher(endpoint: Endpoint) -> Dispatcher {
    Dispatcher::builder(endpoint)
        .on("booking.created", |ctx: Context| async move {
            black_box(ctx.delivery());
            Ok::<_, HandlerError>(())
        })
        .build()
        .expect("valid routes")
}

/// Runs one delivery through `dispatcher`; its outcome's name.
pub(crate) fn dispatch(dispatcher: &Dispatcher, (headers, body): &Input) -> &'static str {
    let finished = dispatcher
        .dispatch(Request::post(black_box(headers), black_box(body.clone())))
        .now_or_never()
        .expect("the pipeline with the memory store completes at once");
    black_box(finished).outcome().as_str()
}

/// Every contender, its store full.
pub(crate) struct Contenders {
    /// The endpoint of `dispatcher`, for `verify_and_parse`.
    pub(crate) endpoint: Endpoint,
    /// The pipeline with the default store (a million keys).
    pub(crate) dispatcher: Dispatcher,
    /// The same pipeline with a store of 10,000 keys: what the default
    /// store's million keys (cache misses, growth) add.
    pub(crate) small_dispatcher: Dispatcher,
    /// The default store without the appointment records.
    pub(crate) untracked_dispatcher: Dispatcher,
    /// The floor's prepared HMAC key.
    pub(crate) key: Hmac<Sha256>,
    /// The reference's maps, as large as the default store.
    pub(crate) floor_store: FloorStore,
    next: AtomicU64,
}

impl Contenders {
    /// Builds every contender, checks that each accepts the inputs, and
    /// fills every store (about 5 s).
    pub(crate) fn new() -> Self {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .build()
            .expect("valid endpoint");
        let small_store = MemoryStore::builder()
            .max_keys(SMALL_STORE_KEYS)
            .build()
            .expect("valid store");
        let contenders = Self {
            dispatcher: no_op_dispatcher(endpoint.clone()),
            small_dispatcher: no_op_dispatcher(
                Endpoint::builder(Provider::Calendence)
                    .secret(SECRET)
                    .store(small_store)
                    .build()
                    .expect("valid endpoint"),
            ),
            untracked_dispatcher: no_op_dispatcher(
                Endpoint::builder(Provider::Calendence)
                    .secret(SECRET)
                    .track_freshness(false)
                    .build()
                    .expect("valid endpoint"),
            ),
            endpoint,
            key: Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length"),
            floor_store: FloorStore::new(DEFAULT_STORE_KEYS),
            next: AtomicU64::new(0),
        };
        contenders.check();
        contenders.fill();
        contenders
    }

    /// A new, signed delivery (its own booking id).
    pub(crate) fn input(&self) -> Input {
        let body = calendence_body(self.next.fetch_add(1, Ordering::Relaxed), SIZE);
        let headers = self
            .endpoint
            .sign(
                &body,
                &bookhook::signature::SignRequest::at(SystemTime::now()),
            )
            .headers;
        (headers, Bytes::from(body))
    }

    /// Every contender accepts the inputs before it is timed.
    fn check(&self) {
        let input = self.input();
        assert!(floor(&self.key, &input).is_some());
        assert_eq!(
            floor_with_dedup(&self.key, &self.floor_store, &input),
            FloorOutcome::Handled { latest: true }
        );
        assert_eq!(
            floor_with_dedup(&self.key, &self.floor_store, &input),
            FloorOutcome::Duplicate
        );
        let (headers, body) = &input;
        assert!(
            self.endpoint
                .verify_and_parse(&Request::post(headers, body.clone()))
                .is_ok()
        );
        assert_eq!(dispatch(&self.dispatcher, &input), "handled");
        assert_eq!(dispatch(&self.dispatcher, &input), "duplicate");
    }

    /// A server runs with its store full. Fills every store first (each
    /// delivery holds two keys: its claim and its appointment's record), so
    /// that every timed delivery makes the store forget two keys, as in the
    /// steady state, rather than timing the store's growth.
    fn fill(&self) {
        for _ in 0..DEFAULT_STORE_KEYS / 2 {
            assert_eq!(dispatch(&self.dispatcher, &self.input()), "handled");
        }
        for _ in 0..DEFAULT_STORE_KEYS / 2 {
            let outcome = floor_with_dedup(&self.key, &self.floor_store, &self.input());
            assert_eq!(outcome, FloorOutcome::Handled { latest: true });
        }
        // One key per delivery here: as many deliveries as the store holds keys.
        for _ in 0..DEFAULT_STORE_KEYS {
            assert_eq!(
                dispatch(&self.untracked_dispatcher, &self.input()),
                "handled"
            );
        }
        for _ in 0..SMALL_STORE_KEYS / 2 {
            assert_eq!(dispatch(&self.small_dispatcher, &self.input()), "handled");
        }
    }
}
