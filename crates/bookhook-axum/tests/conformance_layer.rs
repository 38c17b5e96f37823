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

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bookhook::testing::conformance::{
    Answer, Answered, Case, Conformance, FAIL_ONCE_ID, IN_FLIGHT_ID, Journal, PANIC_ID, Run, Stage,
    count_stages,
};
use bookhook_axum::{Outcome, VerifiedEvent, WebhookLayer};
use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_TYPE;

mod support;

/// The inner handler: it does what the table's dispatcher handlers do, as
/// the [`Journal`] decides for the same id ([`FAIL_ONCE_ID`] fails on its
/// first run, [`PANIC_ID`] panics), answering with a JSON body of its own
/// (marked `inner`) so that the test can tell its response from one the
/// layer made. It also reads the raw body, which the layer hands on as it was
/// received, and the journal keeps it.
async fn inner(journal: Journal, event: VerifiedEvent, received: Bytes) -> Response {
    match journal.decide(event.delivery(), received, "inner") {
        Answer::Panicked => panic!("inner handler panics on purpose"),
        Answer::Responded(status, body) => {
            let status = StatusCode::from_u16(status).expect("a valid status");
            (status, [(CONTENT_TYPE, "application/json")], body).into_response()
        }
    }
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

/// One case sent, and what came back.
struct Exchange<'a> {
    case: &'a Case,
    answered: Answered,
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
        let answered = support::send(&app, case).await;
        exchanges.push(Exchange {
            case,
            answered,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_answers_refused_duplicate_in_flight_and_store_down_cases_exactly_like_a_dispatcher()
{
    let conformance = Conformance::new().await;
    let (exchanges, _) = run_table(&conformance).await;
    let counts = count_stages(exchanges.iter().map(|e| e.case));
    let mut checked = 0;
    for exchange in &exchanges {
        let case = exchange.case;
        if !matches!(case.stage(), Stage::Verify | Stage::Claim) {
            continue;
        }
        conformance.check_answered(case, &exchange.answered);
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
    let counts = count_stages(exchanges.iter().map(|e| e.case));
    let (mut passed_through, mut panicked) = (0, 0);
    for exchange in &exchanges {
        let (case, answered) = (exchange.case, &exchange.answered);
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
                conformance.check_answered(case, answered);
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
                    (answered.status, String::from_utf8_lossy(&answered.body)),
                    (*status, body.as_str().into()),
                    "case `{}`: the inner response, unchanged",
                    case.name
                );
                assert_eq!(answered.status, case.status, "case `{}`", case.name);
                assert_eq!(
                    answered.retry_after, None,
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
    let counts = count_stages(exchanges.iter().map(|e| e.case));
    // The same endpoints, so the same store as the table's run.
    let app = app(&conformance, &journal);
    let duplicate = Outcome::Duplicate.response();
    let mut unrouted = 0;
    for exchange in exchanges.iter().filter(|e| e.case.stage() == Stage::Route) {
        let (case, answered) = (exchange.case, &exchange.answered);
        assert_eq!(exchange.runs.len(), 1, "case `{}`: runs", case.name);
        assert_eq!(answered.status, 200, "case `{}`", case.name);
        assert_ne!(
            String::from_utf8_lossy(&answered.body),
            case.response_body,
            "case `{}`: the inner handler answered, not the core",
            case.name
        );
        let runs = journal.len();
        let again = support::send(&app, case).await;
        assert_eq!(again.status, duplicate.status);
        assert_eq!(
            again.body, duplicate.body,
            "case `{}`: sent again",
            case.name
        );
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
    let counts = count_stages(exchanges.iter().map(|e| e.case));
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
        .map(|e| e.answered.status)
        .collect();
    assert_eq!(fail_once, [500, 200], "the failure released the claim");
}
