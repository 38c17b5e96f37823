//! The delivery contract of DESIGN.md, run through `Dispatcher::dispatch`.
#![cfg(feature = "testing")]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bookhook::testing::conformance::{Conformance, DownStore, SECRET as CONFORMANCE_SECRET, Stage};
use bookhook::testing::signed_request;
use bookhook::{
    Context, Dispatcher, DispatcherBuilder, Endpoint, HandlerError, Kind, Outcome, Provider,
    endpoint::{ManualClock, Request},
    idempotency::{Freshness, MemoryStore},
};

const SECRET: &str = "dispatch-test-secret";
const NOW: u64 = 1_774_362_600; // 2026-03-24T14:30:00Z

fn clock() -> ManualClock {
    ManualClock::at_unix(NOW)
}

fn endpoint(clock: &ManualClock, store: MemoryStore) -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .clock(clock.clone())
        .store(store)
        .lease(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn store(clock: &ManualClock) -> MemoryStore {
    MemoryStore::builder().clock(clock.clone()).build().unwrap()
}

fn booking(event: &str, id: &str, at: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"{event}","timestamp":"{at}","data":{{"id":"{id}","status":"confirmed","starts_at":"2026-03-25T14:00:00+00:00"}}}}"#
    )
    .into_bytes()
}

async fn send<S: Clone + Send + Sync + 'static>(
    dispatcher: &Dispatcher<S>,
    body: &[u8],
) -> (u16, &'static str) {
    let (headers, query) = signed_request(dispatcher.endpoint(), body);
    let finished = dispatcher
        .dispatch(Request::post(&headers, body.to_vec().into()).with_query(query.as_deref()))
        .await;
    (finished.status(), finished.outcome().as_str())
}

#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The shortest run of request bytes that counts as an echo in a response.
const ECHO: usize = 12;

/// Whether `response` holds any `ECHO`-byte run of `request`.
fn echoes(response: &[u8], request: &[u8]) -> bool {
    let windows: HashSet<&[u8]> = response.windows(ECHO).collect();
    request.windows(ECHO).any(|window| windows.contains(window))
}

#[tokio::test]
async fn conformance_table_passes_through_the_core() {
    let conformance = Conformance::new().await;
    for case in &conformance.cases {
        // Oversized bodies go to the core whole: it refuses them itself.
        let finished = conformance.dispatch(case).await;
        let response = finished.response();
        let retry_after = response.retry_after.map(|s| s.to_string());
        conformance.check(
            case,
            response.status,
            response.body.as_bytes(),
            retry_after.as_deref(),
        );
        // Adapters copy these bodies byte for byte (the check above and their
        // own conformance tests), so a clean body here is clean everywhere.
        let body = response.body.as_bytes();
        assert!(
            !echoes(body, &case.body),
            "case `{}`: the response echoes the request body: {}",
            case.name,
            response.body
        );
        for (name, value) in &case.headers {
            assert!(
                !echoes(body, value.as_bytes()),
                "case `{}`: the response echoes header {name}: {}",
                case.name,
                response.body
            );
        }
        assert!(
            !response.body.contains(CONFORMANCE_SECRET),
            "case `{}`: the response shows the secret",
            case.name
        );
    }
    conformance.check_handler_runs();
}

/// `Case::stage` is read from the expected response; check it against the
/// outcome each case really gets, so adapters that trust it (to run the table
/// through a layer or an extractor) sort every case correctly.
#[tokio::test]
async fn every_case_stage_matches_the_outcome_the_dispatcher_reaches() {
    let conformance = Conformance::new().await;
    let mut stages: HashMap<Stage, usize> = HashMap::new();
    for case in &conformance.cases {
        let finished = conformance.dispatch(case).await;
        let reached = match finished.outcome() {
            Outcome::Rejected(_) => Stage::Verify,
            Outcome::Duplicate | Outcome::InFlight { .. } | Outcome::StoreUnavailable(_) => {
                Stage::Claim
            }
            Outcome::Unrouted => Stage::Route,
            Outcome::Handled | Outcome::Failed(_) => Stage::Handler,
            other => panic!("case `{}`: unexpected outcome {other:?}", case.name),
        };
        assert_eq!(case.stage(), reached, "case `{}`", case.name);
        *stages.entry(reached).or_default() += 1;
    }
    assert_eq!(
        stages.values().sum::<usize>(),
        conformance.cases.len(),
        "every case was sent"
    );
    for stage in [Stage::Verify, Stage::Claim, Stage::Route, Stage::Handler] {
        assert!(
            stages.get(&stage).copied().unwrap_or(0) > 0,
            "the table has no {stage:?} case: {stages:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_copies_run_the_handler_once() {
    let clock = clock();
    let runs = Counter::default();
    let dispatcher = DispatcherBuilder::new(endpoint(&clock, store(&clock)), runs.clone())
        .on("booking.created", |ctx: Context<Counter>| async move {
            ctx.state().bump();
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, HandlerError>(())
        })
        .build()
        .unwrap();
    let body = booking("booking.created", "b-64", "2026-03-24T14:30:00+00:00");
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let dispatcher = dispatcher.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move { send(&dispatcher, &body).await }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().0);
    }
    assert_eq!(runs.get(), 1, "handler ran exactly once");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200));
}

#[tokio::test]
async fn failed_handler_releases_the_claim_for_the_retry() {
    let clock = clock();
    let runs = Counter::default();
    let dispatcher = DispatcherBuilder::new(endpoint(&clock, store(&clock)), runs.clone())
        .on("booking.created", |ctx: Context<Counter>| async move {
            if ctx.state().bump() == 1 {
                return Err(HandlerError::new("database is down"));
            }
            Ok(())
        })
        .build()
        .unwrap();
    let body = booking("booking.created", "b-retry", "2026-03-24T14:30:00+00:00");
    assert_eq!(send(&dispatcher, &body).await, (500, "failed"));
    assert_eq!(send(&dispatcher, &body).await, (200, "handled"));
    assert_eq!(send(&dispatcher, &body).await, (200, "duplicate"));
    assert_eq!(runs.get(), 2);
}

#[tokio::test]
async fn panicking_handler_is_caught_and_released() {
    let clock = clock();
    let runs = Counter::default();
    let dispatcher = DispatcherBuilder::new(endpoint(&clock, store(&clock)), runs.clone())
        .on("booking.created", |ctx: Context<Counter>| async move {
            if ctx.state().bump() == 1 {
                panic!("handler bug");
            }
            Ok::<_, HandlerError>(())
        })
        .build()
        .unwrap();
    let body = booking("booking.created", "b-panic", "2026-03-24T14:30:00+00:00");
    assert_eq!(send(&dispatcher, &body).await, (500, "failed"));
    assert_eq!(send(&dispatcher, &body).await, (200, "handled"));
}

#[tokio::test]
async fn expired_lease_lets_a_later_copy_through() {
    let clock = clock();
    let store = Arc::new(store(&clock));
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .clock(clock.clone())
        .shared_store(store.clone())
        .lease(Duration::from_secs(30))
        .build()
        .unwrap();
    let runs = Counter::default();
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), runs.clone())
        .on("booking.created", |ctx: Context<Counter>| async move {
            ctx.state().bump();
            Ok::<_, HandlerError>(())
        })
        .build()
        .unwrap();
    let body = booking("booking.created", "b-crash", "2026-03-24T14:30:00+00:00");

    // A worker claims the delivery and dies without finishing.
    let (headers, _) = signed_request(&endpoint, &body);
    let crashed = endpoint
        .begin(&Request::post(&headers, body.clone().into()))
        .await
        .expect("first copy is claimed");
    std::mem::drop(crashed);

    assert_eq!(send(&dispatcher, &body).await, (409, "in_flight"));
    clock.advance(Duration::from_secs(31));
    assert_eq!(send(&dispatcher, &body).await, (200, "handled"));
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn done_key_expires_after_the_ttl() {
    let clock = clock();
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .clock(clock.clone())
        .store(store(&clock))
        .ttl(Duration::from_secs(3600))
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder(endpoint)
        .fallback(|_ctx: Context| async { Ok::<_, HandlerError>(()) })
        .build()
        .unwrap();
    let body = booking("booking.created", "b-ttl", "2026-03-24T14:30:00+00:00");
    assert_eq!(send(&dispatcher, &body).await.1, "handled");
    clock.advance(Duration::from_secs(3599));
    assert_eq!(send(&dispatcher, &body).await.1, "duplicate");
    clock.advance(Duration::from_secs(2));
    assert_eq!(send(&dispatcher, &body).await.1, "handled");
}

#[tokio::test]
async fn late_update_after_cancellation_is_marked_stale() {
    type Seen = Arc<std::sync::Mutex<Vec<(String, Freshness)>>>;
    let clock = clock();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let dispatcher = DispatcherBuilder::new(endpoint(&clock, store(&clock)), seen.clone())
        .fallback(|ctx: Context<Seen>| async move {
            let event = ctx.delivery().event_type().to_owned();
            ctx.state().lock().unwrap().push((event, ctx.freshness()));
            Ok::<_, HandlerError>(())
        })
        .build()
        .unwrap();
    let t1 = "2026-03-24T14:00:00+00:00";
    let t2 = "2026-03-24T14:10:00+00:00";
    assert_eq!(
        send(&dispatcher, &booking("booking.cancelled", "b-ooo", t2))
            .await
            .1,
        "handled"
    );
    assert_eq!(
        send(&dispatcher, &booking("booking.updated", "b-ooo", t1))
            .await
            .1,
        "handled"
    );
    let seen = seen.lock().unwrap().clone();
    let t2_ms = bookhook::event::Timestamp::parse(t2).unwrap().unix_ms();
    assert_eq!(
        seen,
        vec![
            ("booking.cancelled".to_owned(), Freshness::Latest),
            (
                "booking.updated".to_owned(),
                Freshness::Stale {
                    newer_seen_at: t2_ms
                }
            ),
        ]
    );
}

#[tokio::test]
async fn without_freshness_tracking_no_appointment_is_recorded_and_every_event_is_latest() {
    type Seen = Arc<std::sync::Mutex<Vec<Freshness>>>;
    let clock = clock();
    let store = Arc::new(store(&clock));
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .clock(clock.clone())
        .shared_store(store.clone())
        .track_freshness(false)
        .build()
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let dispatcher = DispatcherBuilder::new(endpoint, seen.clone())
        .fallback(|ctx: Context<Seen>| async move {
            ctx.state().lock().unwrap().push(ctx.freshness());
            Ok::<_, HandlerError>(())
        })
        .build()
        .unwrap();
    let late = booking("booking.updated", "b-ooo", "2026-03-24T14:00:00+00:00");
    let newest = booking("booking.cancelled", "b-ooo", "2026-03-24T14:10:00+00:00");
    assert_eq!(send(&dispatcher, &newest).await.1, "handled");
    assert_eq!(send(&dispatcher, &late).await.1, "handled");
    assert_eq!(send(&dispatcher, &late).await.1, "duplicate");
    assert_eq!(
        *seen.lock().unwrap(),
        [Freshness::Latest, Freshness::Latest]
    );
    // The two delivery keys, and no appointment record.
    assert_eq!(store.len(), 2);
}

#[tokio::test]
async fn most_specific_route_wins() {
    let clock = clock();
    let hits = Arc::new(std::sync::Mutex::new(Vec::new()));
    type Hits = Arc<std::sync::Mutex<Vec<&'static str>>>;
    fn hit(
        name: &'static str,
    ) -> impl Fn(Context<Hits>) -> std::future::Ready<Result<(), HandlerError>> + Send + Sync + 'static
    {
        move |ctx: Context<Hits>| {
            ctx.state().lock().unwrap().push(name);
            std::future::ready(Ok(()))
        }
    }
    let dispatcher = DispatcherBuilder::new(endpoint(&clock, store(&clock)), hits.clone())
        .on("booking.created", hit("exact"))
        .on_prefix("booking.*", hit("prefix"))
        .on_prefix("booking.comp", hit("longer prefix"))
        .on_kind(Kind::Cancelled, hit("kind"))
        .on_kind(Kind::Other, hit("kind other"))
        .fallback(hit("fallback"))
        .build()
        .unwrap();
    let at = "2026-03-24T14:30:00+00:00";
    for (event, id) in [
        ("booking.created", "r1"),
        ("booking.updated", "r2"),
        ("booking.completed", "r3"),
        ("booking.cancelled", "r4"),
        ("invoice.paid", "r5"),
    ] {
        assert_eq!(send(&dispatcher, &booking(event, id, at)).await.0, 200);
    }
    assert_eq!(
        *hits.lock().unwrap(),
        vec!["exact", "prefix", "longer prefix", "prefix", "kind other"]
    );
}

#[tokio::test]
async fn kind_route_beats_fallback_and_unrouted_is_acknowledged() {
    let clock = clock();
    let runs = Counter::default();
    let dispatcher = DispatcherBuilder::new(endpoint(&clock, store(&clock)), runs.clone())
        .on_kind(Kind::Cancelled, |ctx: Context<Counter>| async move {
            ctx.state().bump();
            Ok::<_, HandlerError>(())
        })
        .build()
        .unwrap();
    let at = "2026-03-24T14:30:00+00:00";
    assert_eq!(
        send(&dispatcher, &booking("booking.cancelled", "k1", at)).await,
        (200, "handled")
    );
    assert_eq!(
        send(&dispatcher, &booking("booking.created", "k2", at)).await,
        (200, "unrouted")
    );
    assert_eq!(
        send(&dispatcher, &booking("booking.created", "k2", at)).await,
        (200, "duplicate")
    );
    assert_eq!(runs.get(), 1);
}

#[test]
fn two_handlers_for_one_route_fail_at_build() {
    let clock = clock();
    let ok = |_ctx: Context| async { Ok::<_, HandlerError>(()) };
    let err = Dispatcher::builder(endpoint(&clock, store(&clock)))
        .on("booking.created", ok)
        .on("booking.created", ok)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "two handlers registered for event type `booking.created`"
    );
    let err = Dispatcher::builder(endpoint(&clock, store(&clock)))
        .on_kind(Kind::Cancelled, ok)
        .on_kind(Kind::Cancelled, ok)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("kind `cancelled`"), "{err}");
    let err = Dispatcher::builder(endpoint(&clock, store(&clock)))
        .on_prefix("booking.*", ok)
        .on_prefix("booking.", ok)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("prefix `booking.*`"), "{err}");
}

#[test]
fn endpoint_without_secrets_fails_at_build() {
    let err = Endpoint::builder(Provider::Calendence).build().unwrap_err();
    assert_eq!(err, bookhook::ConfigError::NoSecrets);
    let err = Endpoint::builder(Provider::Calendence)
        .secret("")
        .build()
        .unwrap_err();
    assert_eq!(err, bookhook::ConfigError::EmptySecret { index: 0 });
    assert!(
        Endpoint::builder(Provider::Hmac)
            .secret("s")
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn store_outage_fails_closed_by_default_and_open_when_chosen() {
    let clock = clock();
    let runs = Counter::default();
    let build = |fail_open: bool| {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .clock(clock.clone())
            .store(DownStore)
            .fail_open(fail_open)
            .build()
            .unwrap();
        DispatcherBuilder::new(endpoint, runs.clone())
            .fallback(|ctx: Context<Counter>| async move {
                ctx.state().bump();
                Ok::<_, HandlerError>(())
            })
            .build()
            .unwrap()
    };
    let body = booking("booking.created", "b-down", "2026-03-24T14:30:00+00:00");
    assert_eq!(send(&build(false), &body).await, (503, "unavailable"));
    assert_eq!(
        runs.get(),
        0,
        "fail closed: no handler without deduplication"
    );
    assert_eq!(send(&build(true), &body).await, (200, "handled"));
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn body_timestamp_older_than_max_age_is_refused() {
    let clock = clock();
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .clock(clock.clone())
        .store(store(&clock))
        .max_age(Duration::from_secs(3600))
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder(endpoint)
        .fallback(|_ctx: Context| async { Ok::<_, HandlerError>(()) })
        .build()
        .unwrap();
    let fresh = booking("booking.created", "m1", "2026-03-24T14:00:00+00:00");
    let old = booking("booking.created", "m2", "2026-03-24T13:00:00+00:00");
    assert_eq!(send(&dispatcher, &fresh).await, (200, "handled"));
    assert_eq!(send(&dispatcher, &old).await, (401, "rejected"));
}

#[tokio::test]
async fn endpoints_with_different_namespaces_do_not_share_keys() {
    let clock = clock();
    let store: Arc<MemoryStore> = Arc::new(store(&clock));
    let make = |namespace: &str| {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .clock(clock.clone())
            .shared_store(store.clone())
            .namespace(namespace)
            .build()
            .unwrap();
        Dispatcher::builder(endpoint)
            .fallback(|_ctx: Context| async { Ok::<_, HandlerError>(()) })
            .build()
            .unwrap()
    };
    let (a, b) = (make("shop-a"), make("shop-b"));
    let body = booking("booking.created", "ns", "2026-03-24T14:30:00+00:00");
    assert_eq!(send(&a, &body).await.1, "handled");
    assert_eq!(send(&b, &body).await.1, "handled");
    assert_eq!(send(&a, &body).await.1, "duplicate");
}
