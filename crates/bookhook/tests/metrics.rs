//! The metrics of `bookhook::metrics`, recorded by `Dispatcher::dispatch`
//! into an in-memory recorder installed for the test's thread only.
#![cfg(feature = "testing")]

use bookhook::metrics::{
    BODY_BYTES, DELIVERIES, HANDLER_DURATION, REQUEST_DURATION, STORE_DURATION, STORE_ERRORS,
    VERIFICATION_FAILURES,
};
use bookhook::testing::conformance::DownStore;
use bookhook::testing::{samples, signed_request};
use bookhook::{
    Context, Dispatcher, Endpoint, HandlerError, Provider,
    endpoint::{Finished, Request},
};
use metrics_util::CompositeKey;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

const SECRET: &str = "metrics-test-secret";

/// Runs `deliveries` on a current-thread runtime with a fresh recorder, and
/// returns what it recorded.
fn recorded<F>(deliveries: F) -> Recorded
where
    F: std::future::Future<Output = ()>,
{
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    metrics::with_local_recorder(&recorder, || runtime.block_on(deliveries));
    // One snapshot: taking one drains the histograms.
    Recorded(snapshotter.snapshot().into_vec())
}

type Series = (
    CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
);

struct Recorded(Vec<Series>);

impl Recorded {
    /// The counter's value, or for a histogram the number of samples, summed
    /// over the series whose labels include every pair of `labels`.
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let mut total = 0;
        for (key, _, _, value) in &self.0 {
            let key = key.key();
            if key.name() != name {
                continue;
            }
            let matches = labels.iter().all(|(k, v)| {
                key.labels()
                    .any(|label| label.key() == *k && label.value() == *v)
            });
            if matches {
                total += match value {
                    DebugValue::Counter(n) => *n,
                    DebugValue::Histogram(samples) => samples.len() as u64,
                    DebugValue::Gauge(_) => 0,
                };
            }
        }
        total
    }
}

async fn send(dispatcher: &Dispatcher, body: &str) -> Finished {
    let (headers, query) = signed_request(dispatcher.endpoint(), body.as_bytes());
    let request = Request::post(&headers, body.to_owned().into()).with_query(query.as_deref());
    dispatcher.dispatch(request).await
}

fn calendence_sample() -> &'static str {
    samples::sample(Provider::Calendence, "booking.created").expect("a calendence sample")
}

#[test]
fn handled_and_duplicate_deliveries_are_counted_with_their_latencies() {
    let recorded = recorded(async {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .build()
            .expect("an endpoint");
        let dispatcher = Dispatcher::builder(endpoint)
            .fallback(|_ctx: Context| async { Ok::<_, HandlerError>(()) })
            .build()
            .expect("a dispatcher");
        assert_eq!(send(&dispatcher, calendence_sample()).await.status(), 200);
        assert_eq!(send(&dispatcher, calendence_sample()).await.status(), 200);
    });
    let calendence = ("provider", "calendence");
    let handled = [calendence, ("outcome", "handled"), ("status", "200")];
    assert_eq!(recorded.count(DELIVERIES, &handled), 1);
    let duplicate = [calendence, ("outcome", "duplicate"), ("status", "200")];
    assert_eq!(recorded.count(DELIVERIES, &duplicate), 1);
    assert_eq!(recorded.count(REQUEST_DURATION, &[calendence]), 2);
    assert_eq!(recorded.count(BODY_BYTES, &[calendence]), 2);
    assert_eq!(
        recorded.count(HANDLER_DURATION, &[calendence, ("result", "ok")]),
        1
    );
    let claims = [("operation", "claim"), ("result", "ok")];
    assert_eq!(recorded.count(STORE_DURATION, &claims), 2);
    let completions = [("operation", "complete"), ("result", "ok")];
    assert_eq!(recorded.count(STORE_DURATION, &completions), 1);
    assert_eq!(recorded.count(STORE_ERRORS, &[]), 0);
    assert_eq!(recorded.count(VERIFICATION_FAILURES, &[]), 0);
}

#[test]
fn verification_failures_are_counted_by_reason() {
    let recorded = recorded(async {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .build()
            .expect("an endpoint");
        let dispatcher = Dispatcher::builder(endpoint).build().expect("a dispatcher");
        let body = calendence_sample();
        let unsigned: [(&str, &str); 0] = [];
        let finished = dispatcher
            .dispatch(Request::post(&unsigned, body.into()))
            .await;
        assert_eq!(finished.status(), 401);
        let forged = [("X-Calendence-Signature", "sha256=00")];
        let finished = dispatcher
            .dispatch(Request::post(&forged, body.into()))
            .await;
        assert_eq!(finished.status(), 401);
    });
    let calendence = ("provider", "calendence");
    let missing = [calendence, ("reason", "missing_header")];
    assert_eq!(recorded.count(VERIFICATION_FAILURES, &missing), 1);
    let rejected = [calendence, ("outcome", "rejected"), ("status", "401")];
    assert_eq!(recorded.count(DELIVERIES, &rejected), 2);
    assert_eq!(recorded.count(VERIFICATION_FAILURES, &[calendence]), 2);
    // Nothing verified: no body size, no store call.
    assert_eq!(recorded.count(BODY_BYTES, &[]), 0);
    assert_eq!(recorded.count(STORE_DURATION, &[]), 0);
}

#[test]
fn store_errors_and_handler_panics_are_recorded() {
    let recorded = recorded(async {
        let down = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .store(DownStore)
            .build()
            .expect("an endpoint");
        let down = Dispatcher::builder(down).build().expect("a dispatcher");
        assert_eq!(send(&down, calendence_sample()).await.status(), 503);

        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .build()
            .expect("an endpoint");
        let panicking = Dispatcher::builder(endpoint)
            .fallback(|_ctx: Context| async {
                if true {
                    panic!("the handler under test panics");
                }
                Ok::<_, HandlerError>(())
            })
            .build()
            .expect("a dispatcher");
        assert_eq!(send(&panicking, calendence_sample()).await.status(), 500);
    });
    let calendence = ("provider", "calendence");
    let unavailable = [calendence, ("outcome", "unavailable"), ("status", "503")];
    assert_eq!(recorded.count(DELIVERIES, &unavailable), 1);
    assert_eq!(recorded.count(STORE_ERRORS, &[("operation", "claim")]), 1);
    let failed_claims = [("operation", "claim"), ("result", "error")];
    assert_eq!(recorded.count(STORE_DURATION, &failed_claims), 1);

    let failed = [calendence, ("outcome", "failed"), ("status", "500")];
    assert_eq!(recorded.count(DELIVERIES, &failed), 1);
    assert_eq!(
        recorded.count(HANDLER_DURATION, &[calendence, ("result", "panic")]),
        1
    );
    let releases = [("operation", "release"), ("result", "ok")];
    assert_eq!(recorded.count(STORE_DURATION, &releases), 1);
}

impl Recorded {
    /// The gauge's last value, for the series whose labels include `labels`.
    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0.iter().find_map(|(key, _, _, value)| {
            let key = key.key();
            let matches = key.name() == name
                && labels.iter().all(|(k, v)| {
                    key.labels()
                        .any(|label| label.key() == *k && label.value() == *v)
                });
            match value {
                DebugValue::Gauge(gauge) if matches => Some(gauge.into_inner()),
                _ => None,
            }
        })
    }
}

#[test]
fn inbox_requests_attempts_and_depth_are_recorded() {
    use std::sync::Arc;
    use std::time::Duration;

    use bookhook::inbox::{Inbox, MemoryInbox, Worker};
    use bookhook::metrics::{INBOX_ATTEMPT_DURATION, INBOX_ATTEMPTS, INBOX_EVENTS};

    let recorded = recorded(async {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .build()
            .expect("an endpoint");
        let dispatcher = Dispatcher::builder(endpoint.clone())
            .fallback(|_ctx: Context| async { Ok::<_, HandlerError>(()) })
            .build()
            .expect("a dispatcher");
        let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
        let worker = Worker::builder(dispatcher, inbox)
            .build()
            .expect("a worker");
        let ingest = worker.ingest();
        let body = calendence_sample();
        let (headers, _) = signed_request(&endpoint, body.as_bytes());
        for _ in 0..2 {
            let report = ingest
                .receive("POST", &headers, None, body.to_owned().into())
                .await;
            assert_eq!(report.status(), 200);
        }
        // The running worker handles the event and reads the inbox's counts.
        let handle = worker.spawn();
        tokio::time::sleep(Duration::from_millis(300)).await;
        handle.shutdown().await;
    });
    let calendence = ("provider", "calendence");
    let queued = [calendence, ("outcome", "queued"), ("status", "200")];
    assert_eq!(recorded.count(DELIVERIES, &queued), 1);
    let duplicate = [calendence, ("outcome", "duplicate"), ("status", "200")];
    assert_eq!(recorded.count(DELIVERIES, &duplicate), 1);
    let processed = [calendence, ("result", "processed")];
    assert_eq!(recorded.count(INBOX_ATTEMPTS, &processed), 1);
    assert_eq!(recorded.count(INBOX_ATTEMPT_DURATION, &processed), 1);
    // Read when the worker started, before it handled the event.
    assert_eq!(
        recorded.gauge(INBOX_EVENTS, &[("state", "pending")]),
        Some(1.0)
    );
    assert_eq!(
        recorded.gauge(INBOX_EVENTS, &[("state", "dead")]),
        Some(0.0)
    );
}

#[test]
fn front_door_refusals_are_counted_by_limit() {
    use std::time::Duration;

    use bookhook::endpoint::Rejection;
    use bookhook::metrics::FRONT_DOOR_REFUSALS;

    let recorded = recorded(async {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .build()
            .expect("an endpoint");
        let timed_out = endpoint.reject(Rejection::BodyTimeout {
            after: Duration::from_secs(15),
        });
        assert_eq!(timed_out.status(), 408);
        let busy = endpoint.reject(Rejection::Busy {
            limit: "unverified_bytes",
            retry_after: Duration::from_secs(5),
        });
        assert_eq!(busy.status(), 503);
        bookhook::metrics::front_door_refused("connections");
    });
    for limit in ["body_timeout", "unverified_bytes", "connections"] {
        assert_eq!(
            recorded.count(FRONT_DOOR_REFUSALS, &[("limit", limit)]),
            1,
            "{limit}"
        );
    }
    let timed_out = [("outcome", "rejected"), ("status", "408")];
    assert_eq!(recorded.count(DELIVERIES, &timed_out), 1);
}
