//! The shared conformance table, run through the `UnclaimedEvent` extractor in
//! a handler of the user's own.
//!
//! Each mount's endpoint is registered as app data on its own
//! `web::resource(path)`, whose one route takes every method
//! (`web::route()`), like [`bookhook_actix::route`]: the extractor then sees
//! every request and answers a wrong method with the core's 405 and body.
//! (Under a `web::post()` guard, actix-web itself answers other methods with
//! an empty 405 before any extractor runs.)
//!
//! The extractor verifies and parses; it does not claim, route or catch
//! panics (see its docs). The table's [`Stage`] of each case says what it
//! must do with it:
//!
//! - [`Stage::Verify`] (refused): the table's status, body and `Retry-After`
//!   exactly, and the handler does not run.
//! - [`Stage::Handler`]: the handler runs once and its own response comes
//!   back; a panic is not caught (see [`handler`]).
//! - [`Stage::Claim`] and [`Stage::Route`]: the handler runs too, since there
//!   is no claim and no route table (see the tests named for them).

use std::panic::AssertUnwindSafe;

use actix_web::dev::Service;
use actix_web::http::StatusCode;
use actix_web::test;
use actix_web::{App, HttpResponse, web};
use bookhook_actix::UnclaimedEvent;
use bookhook_actix::bookhook::testing::conformance::{
    Answer, Answered, Case, Conformance, FAIL_ONCE_ID, IN_FLIGHT_ID, Journal, PANIC_ID, Run, Stage,
    count_stages,
};
use futures_util::FutureExt;

mod support;

/// The handler: it does what the table's dispatcher handlers do, as the
/// [`Journal`] decides for the same id ([`FAIL_ONCE_ID`] fails on its first
/// run, [`PANIC_ID`] panics), answering with a JSON body of its own (marked
/// `own`) so that the test can tell its response from one the extractor
/// made.
///
/// Neither the extractor nor actix-web catches its panic: the request gets
/// no response (a server drops the connection, and the sender retries). The
/// extractor holds no claim, so nothing is left to release.
async fn handler(event: UnclaimedEvent, journal: web::Data<Journal>) -> HttpResponse {
    match journal.decide(event.delivery(), event.body().clone(), "own") {
        Answer::Panicked => panic!("handler panics on purpose"),
        Answer::Responded(status, body) => {
            HttpResponse::build(StatusCode::from_u16(status).expect("a valid status"))
                .content_type("application/json")
                .body(body)
        }
    }
}

/// One case sent, and what came back.
struct Exchange<'a> {
    case: &'a Case,
    /// `None` when the call panicked.
    answered: Option<Answered>,
    /// The handler's runs while this case was served.
    runs: Vec<Run>,
}

/// Sends every case of a fresh table, in order, through the extractor.
async fn run_table(conformance: &Conformance) -> (Vec<Exchange<'_>>, web::Data<Journal>) {
    let journal = web::Data::new(Journal::default());
    let app = test::init_service(conformance.mounts.iter().fold(
        App::new().app_data(journal.clone()),
        |app, mount| {
            app.service(
                web::resource(mount.path)
                    .app_data(mount.dispatcher.endpoint().clone())
                    .route(web::route().to(handler)),
            )
        },
    ))
    .await;
    let mut exchanges = Vec::with_capacity(conformance.cases.len());
    for case in &conformance.cases {
        let start = journal.len();
        let called = AssertUnwindSafe(app.call(support::request(case)))
            .catch_unwind()
            .await;
        let answered = match called {
            Ok(Ok(response)) => Some(support::answered(response).await),
            Ok(Err(err)) => panic!("case `{}`: the app failed: {err}", case.name),
            Err(_panic) => None,
        };
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

/// The handler's own response came back unchanged for `exchange`, whose
/// only handler run answered it; returns the status.
fn own_response(exchange: &Exchange<'_>) -> u16 {
    let case = exchange.case;
    let [
        Run {
            answer: Answer::Responded(status, body),
            ..
        },
    ] = exchange.runs.as_slice()
    else {
        panic!(
            "case `{}`: expected one answered run, got {:?}",
            case.name, exchange.runs
        );
    };
    let answered = exchange
        .answered
        .as_ref()
        .unwrap_or_else(|| panic!("case `{}`: no response", case.name));
    assert_eq!(
        (answered.status, String::from_utf8_lossy(&answered.body)),
        (*status, body.as_str().into()),
        "case `{}`: the handler's own response",
        case.name
    );
    assert_eq!(answered.retry_after, None, "case `{}`", case.name);
    answered.status
}

#[actix_web::test]
async fn extractor_refuses_every_refused_case_with_the_tables_exact_response() {
    let conformance = Conformance::new().await;
    let (exchanges, _) = run_table(&conformance).await;
    let counts = count_stages(exchanges.iter().map(|e| e.case));
    let mut checked = 0;
    for exchange in exchanges.iter().filter(|e| e.case.stage() == Stage::Verify) {
        let case = exchange.case;
        let answered = exchange
            .answered
            .as_ref()
            .unwrap_or_else(|| panic!("case `{}`: no response", case.name));
        conformance.check_answered(case, answered);
        assert_eq!(
            exchange.runs,
            [],
            "case `{}`: refused, so the handler must not run",
            case.name
        );
        checked += 1;
    }
    assert_eq!(checked, counts[&Stage::Verify]);
}

#[actix_web::test]
async fn authentic_deliveries_reach_the_handler_and_its_response_comes_back() {
    let conformance = Conformance::new().await;
    let (exchanges, _) = run_table(&conformance).await;
    let counts = count_stages(exchanges.iter().map(|e| e.case));
    let (mut answered, mut panicked) = (0, 0);
    for exchange in exchanges
        .iter()
        .filter(|e| e.case.stage() == Stage::Handler)
    {
        let case = exchange.case;
        if matches!(
            exchange.runs.as_slice(),
            [Run { id, answer: Answer::Panicked, .. }] if id == PANIC_ID
        ) {
            // Difference: the table answers the core's 500; here the panic
            // is not caught and no response is made (see `handler`).
            assert!(
                exchange.answered.is_none(),
                "case `{}`: the handler's panic went through",
                case.name
            );
            panicked += 1;
            continue;
        }
        // The body is the handler's own; the status is the table's, since
        // the handler, like the table's, answers 2xx when it succeeds and
        // 500 when it fails.
        assert_eq!(own_response(exchange), case.status, "case `{}`", case.name);
        answered += 1;
    }
    assert_eq!(panicked, 1, "the table has one panicking delivery");
    assert_eq!(answered + panicked, counts[&Stage::Handler]);
}

/// The extractor claims nothing, so it cannot tell a repeated delivery from
/// a new one (its docs say so): the table's duplicate, in-flight and
/// store-unavailable cases, which a dispatcher answers from the store, reach
/// the handler like any authentic request, and its answer comes back.
#[actix_web::test]
async fn extractor_claims_nothing_so_duplicate_in_flight_and_store_down_cases_reach_the_handler() {
    let conformance = Conformance::new().await;
    let (exchanges, journal) = run_table(&conformance).await;
    let counts = count_stages(exchanges.iter().map(|e| e.case));
    let mut checked = 0;
    for exchange in exchanges.iter().filter(|e| e.case.stage() == Stage::Claim) {
        assert_eq!(own_response(exchange), 200, "case `{}`", exchange.case.name);
        checked += 1;
    }
    assert_eq!(checked, counts[&Stage::Claim]);
    // A dispatcher runs these twice (failure, retry) and never (the key is
    // held by another worker).
    assert_eq!(journal.runs(FAIL_ONCE_ID), 3, "failed, retry, duplicate");
    assert_eq!(journal.runs(IN_FLIGHT_ID), 1, "held by another worker");
}

/// The extractor has no routes: an event type the table's dispatcher does
/// not route (answered `{"status":"ignored"}` without a handler run) is the
/// handler's to ignore or handle.
#[actix_web::test]
async fn unrouted_event_type_is_handed_to_the_handler_since_an_extractor_has_no_routes() {
    let conformance = Conformance::new().await;
    let (exchanges, _) = run_table(&conformance).await;
    let counts = count_stages(exchanges.iter().map(|e| e.case));
    let mut checked = 0;
    for exchange in exchanges.iter().filter(|e| e.case.stage() == Stage::Route) {
        assert_eq!(own_response(exchange), 200, "case `{}`", exchange.case.name);
        checked += 1;
    }
    assert_eq!(checked, counts[&Stage::Route]);
}

#[actix_web::test]
async fn handler_runs_once_for_every_authentic_request_and_never_for_a_refused_one() {
    let conformance = Conformance::new().await;
    let (exchanges, journal) = run_table(&conformance).await;
    let counts = count_stages(exchanges.iter().map(|e| e.case));
    for exchange in &exchanges {
        let expected = usize::from(exchange.case.stage() != Stage::Verify);
        assert_eq!(
            exchange.runs.len(),
            expected,
            "case `{}`: handler runs",
            exchange.case.name
        );
    }
    assert_eq!(
        journal.len(),
        conformance.cases.len() - counts[&Stage::Verify]
    );
}
