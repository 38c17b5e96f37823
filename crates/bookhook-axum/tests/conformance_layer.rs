//! The shared conformance table, run through `WebhookLayer` in front of a
//! handler of the user's own that reads a `VerifiedEvent`.
//!
//! Each mount's endpoint gets its own `Router::route(path, post(handler))`
//! under `WebhookLayer::new(endpoint)`, as the layer's docs show. The table's
//! [`Stage`] of each case says what the layer must do with it:
//!
//! - [`Stage::Verify`] and [`Stage::Claim`] (refused, duplicate, in flight,
//!   store unavailable): the layer answers with the table's status, body and
//!   `Retry-After` exactly, and the inner handler does not run.
//! - [`Stage::Handler`]: the inner handler runs once and its own response
//!   comes back, except for a panic, which the layer answers with the core's
//!   500 (the table's answer exactly).
//! - [`Stage::Route`]: the inner handler runs and answers too, since a
//!   layer has no routes (see the test named for it).
//!
//! Where the layer's answer differs from a dispatcher's, the test that
//! checks it says why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bookhook::testing::conformance::{
    Case, Conformance, FAIL_ONCE_ID, IN_FLIGHT_ID, PANIC_ID, Stage,
};
use bookhook_axum::{Outcome, VerifiedEvent, WebhookLayer};
use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// What the inner handler did on one run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// It answered this status and body.
    Responded(u16, String),
    /// It panicked, as the table's handlers do for [`PANIC_ID`].
    Panicked,
}

/// One run of the inner handler.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    /// The id it saw, as the table's handlers compute it.
    id: String,
    /// The raw body it read next to the event.
    body: Bytes,
    answer: Answer,
}

/// Every run of the inner handler, in order.
#[derive(Debug, Clone, Default)]
struct Journal(Arc<Mutex<Vec<Run>>>);

impl Journal {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Run>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, run: Run) {
        self.lock().push(run);
    }

    fn runs(&self, id: &str) -> usize {
        self.lock().iter().filter(|run| run.id == id).count()
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn since(&self, start: usize) -> Vec<Run> {
        self.lock()[start..].to_vec()
    }
}

/// The inner handler: it behaves like the table's dispatcher handlers
/// (the same id, [`FAIL_ONCE_ID`] fails on its first run, [`PANIC_ID`]
/// panics), answering with a JSON body of its own so that the test can tell
/// its response from one the layer made. It also reads the raw body, which
/// the layer hands on as it was received.
async fn inner(journal: Journal, event: VerifiedEvent, received: Bytes) -> Response {
    // The appointment id, or the dedup key for events without an appointment.
    let id = event
        .appointment()
        .map(|a| a.id.clone())
        .unwrap_or_else(|| event.delivery().idempotency_key().to_owned());
    if id == PANIC_ID {
        journal.record(Run {
            id,
            body: received,
            answer: Answer::Panicked,
        });
        panic!("inner handler panics on purpose");
    }
    let failing = id == FAIL_ONCE_ID && journal.runs(&id) == 0;
    let (status, body) = if failing {
        let body = serde_json::json!({"inner": "failed", "id": id});
        (StatusCode::INTERNAL_SERVER_ERROR, body)
    } else {
        (
            StatusCode::OK,
            serde_json::json!({"inner": "handled", "id": id}),
        )
    };
    let body = body.to_string();
    journal.record(Run {
        id,
        body: received,
        answer: Answer::Responded(status.as_u16(), body.clone()),
    });
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

fn app(conformance: &Conformance, journal: &Journal) -> Router {
    conformance.mounts.iter().fold(Router::new(), |app, mount| {
        let journal = journal.clone();
        let handler = move |event: VerifiedEvent, body: Bytes| inner(journal.clone(), event, body);
        app.merge(
            Router::new()
                .route(mount.path, post(handler))
                .layer(WebhookLayer::new(mount.dispatcher.endpoint().clone())),
        )
    })
}

fn request(case: &Case) -> http::Request<Body> {
    let uri = match &case.query {
        Some(query) => format!("{}?{query}", case.path),
        None => case.path.to_owned(),
    };
    let mut builder = http::Request::builder().method(case.method).uri(uri);
    for (name, value) in &case.headers {
        builder = builder.header(name, value);
    }
    let body = if case.declare_length {
        builder = builder.header(CONTENT_LENGTH, case.body.len());
        Body::from(case.body.clone())
    } else {
        // A stream of small chunks, with no length known in advance.
        let chunks: Vec<Result<Bytes, std::io::Error>> = case
            .body
            .chunks(1000)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    };
    builder.body(body).expect("a valid request")
}

/// One case sent, and what came back.
struct Exchange<'a> {
    case: &'a Case,
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: Bytes,
    /// The inner handler's runs while this case was served.
    runs: Vec<Run>,
}

/// Sends every case of a fresh table, in order, through the layered router.
async fn run_table(conformance: &Conformance) -> (Vec<Exchange<'_>>, Journal) {
    let journal = Journal::default();
    let app = app(conformance, &journal);
    let mut exchanges = Vec::with_capacity(conformance.cases.len());
    for case in &conformance.cases {
        let start = journal.len();
        let response = app
            .clone()
            .oneshot(request(case))
            .await
            .expect("infallible");
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|value: &http::HeaderValue| value.to_str().unwrap_or("not ascii").to_owned())
        };
        let status = response.status().as_u16();
        let content_type = header(CONTENT_TYPE);
        let retry_after = header(RETRY_AFTER);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        exchanges.push(Exchange {
            case,
            status,
            content_type,
            retry_after,
            body,
            runs: journal.since(start),
        });
    }
    assert_eq!(
        exchanges.len(),
        conformance.cases.len(),
        "every case was sent"
    );
    (exchanges, journal)
}

/// How many cases of each stage were sent; fails if a stage has none, so an
/// empty or one-sided table cannot pass unnoticed.
fn count_stages(exchanges: &[Exchange<'_>]) -> HashMap<Stage, usize> {
    let mut counts: HashMap<Stage, usize> = HashMap::new();
    for exchange in exchanges {
        *counts.entry(exchange.case.stage()).or_default() += 1;
    }
    for stage in [Stage::Verify, Stage::Claim, Stage::Route, Stage::Handler] {
        assert!(
            counts.get(&stage).copied().unwrap_or(0) > 0,
            "no {stage:?} case was sent: {counts:?}"
        );
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_answers_refused_duplicate_in_flight_and_store_down_cases_exactly_like_a_dispatcher()
{
    let conformance = Conformance::new().await;
    let (exchanges, _) = run_table(&conformance).await;
    let counts = count_stages(&exchanges);
    let mut checked = 0;
    for exchange in &exchanges {
        let case = exchange.case;
        if !matches!(case.stage(), Stage::Verify | Stage::Claim) {
            continue;
        }
        conformance.check(
            case,
            exchange.status,
            &exchange.body,
            exchange.retry_after.as_deref(),
        );
        assert_eq!(
            exchange.content_type.as_deref(),
            Some("application/json"),
            "case `{}`: content type",
            case.name
        );
        assert_eq!(
            exchange.runs,
            [],
            "case `{}`: the layer answered, so the inner handler must not run",
            case.name
        );
        checked += 1;
    }
    assert_eq!(checked, counts[&Stage::Verify] + counts[&Stage::Claim]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentic_new_deliveries_reach_the_inner_handler_and_its_response_comes_back() {
    let conformance = Conformance::new().await;
    let (exchanges, _) = run_table(&conformance).await;
    let counts = count_stages(&exchanges);
    let (mut passed_through, mut panicked) = (0, 0);
    for exchange in &exchanges {
        let case = exchange.case;
        if !matches!(case.stage(), Stage::Route | Stage::Handler) {
            continue;
        }
        let [run] = exchange.runs.as_slice() else {
            panic!(
                "case `{}`: the inner handler ran {} times, not once",
                case.name,
                exchange.runs.len()
            );
        };
        assert_eq!(
            run.body, case.body,
            "case `{}`: the body the inner handler read",
            case.name
        );
        match &run.answer {
            Answer::Panicked => {
                // The layer catches the panic, releases the claim and answers
                // the core's 500: the table's answer, byte for byte.
                assert_eq!(run.id, PANIC_ID, "case `{}`", case.name);
                conformance.check(
                    case,
                    exchange.status,
                    &exchange.body,
                    exchange.retry_after.as_deref(),
                );
                assert_eq!(
                    exchange.content_type.as_deref(),
                    Some("application/json"),
                    "case `{}`: content type",
                    case.name
                );
                panicked += 1;
            }
            Answer::Responded(status, body) => {
                // Difference: the layer passes the inner response through
                // unchanged (its documented contract), so the body is the
                // handler's own rather than the core's `{"status":"ok"}` or
                // `handler_failed` body. The status is the table's, since
                // the handler, like the table's, answers 2xx when it
                // succeeds and 500 when it fails.
                assert_eq!(
                    (exchange.status, String::from_utf8_lossy(&exchange.body)),
                    (*status, body.as_str().into()),
                    "case `{}`: the inner response, unchanged",
                    case.name
                );
                assert_eq!(exchange.status, case.status, "case `{}`", case.name);
                assert_eq!(
                    exchange.retry_after, None,
                    "case `{}`: Retry-After",
                    case.name
                );
                assert_eq!(case.retry_after, None, "case `{}`", case.name);
                passed_through += 1;
            }
        }
    }
    assert_eq!(panicked, 1, "the table has one panicking delivery");
    assert_eq!(
        passed_through + panicked,
        counts[&Stage::Route] + counts[&Stage::Handler]
    );
}

/// The layer has no routes: an event type the table's dispatcher does not
/// route ([`Stage::Route`], answered `{"status":"ignored"}` without a handler
/// run) is the inner handler's to ignore or handle. Its 2xx marks the
/// delivery done, as the dispatcher does for an unrouted event, so a second
/// copy is a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrouted_event_type_is_handed_to_the_inner_handler_since_a_layer_has_no_routes() {
    let conformance = Conformance::new().await;
    let (exchanges, journal) = run_table(&conformance).await;
    let counts = count_stages(&exchanges);
    // The same endpoints, so the same store as the table's run.
    let app = app(&conformance, &journal);
    let duplicate = Outcome::Duplicate.response();
    let mut unrouted = 0;
    for exchange in exchanges.iter().filter(|e| e.case.stage() == Stage::Route) {
        let case = exchange.case;
        assert_eq!(exchange.runs.len(), 1, "case `{}`: runs", case.name);
        assert_eq!(exchange.status, 200, "case `{}`", case.name);
        assert_ne!(
            String::from_utf8_lossy(&exchange.body),
            case.response_body,
            "case `{}`: the inner handler answered, not the core",
            case.name
        );
        let runs = journal.len();
        let again = app
            .clone()
            .oneshot(request(case))
            .await
            .expect("infallible");
        assert_eq!(again.status().as_u16(), duplicate.status);
        let body = again.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(body, duplicate.body, "case `{}`: sent again", case.name);
        assert_eq!(journal.len(), runs, "case `{}`: no second run", case.name);
        unrouted += 1;
    }
    assert_eq!(unrouted, counts[&Stage::Route]);
}

/// The table's exactly-once guarantees hold through the layer: a delivery
/// whose handler failed runs again on the retry and is a duplicate after
/// that; a key held by another worker never runs here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inner_handler_runs_once_per_delivery_and_again_only_after_a_failure() {
    let conformance = Conformance::new().await;
    let (exchanges, journal) = run_table(&conformance).await;
    let counts = count_stages(&exchanges);
    assert_eq!(
        journal.len(),
        counts[&Stage::Route] + counts[&Stage::Handler],
        "one run per case that reaches the handler, none for the others"
    );
    assert_eq!(journal.runs(FAIL_ONCE_ID), 2, "failure, then the retry");
    assert_eq!(journal.runs(PANIC_ID), 1);
    assert_eq!(journal.runs(IN_FLIGHT_ID), 0, "held by another worker");
    let fail_once: Vec<_> = exchanges
        .iter()
        .filter(|e| e.runs.iter().any(|run| run.id == FAIL_ONCE_ID))
        .map(|e| e.status)
        .collect();
    assert_eq!(fail_once, [500, 200], "the failure released the claim");
}
