//! The shared conformance table, run through the `VerifiedEvent` extractor in
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
//!   back; a panic is not caught (see [`Answer::Panicked`]).
//! - [`Stage::Claim`] and [`Stage::Route`]: the handler runs too, since there
//!   is no claim and no route table (see the tests named for them).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Mutex;

use actix_web::dev::{Payload, Service, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use bookhook_actix::VerifiedEvent;
use bookhook_actix::testing::conformance::{
    Case, Conformance, FAIL_ONCE_ID, IN_FLIGHT_ID, PANIC_ID, Stage,
};
use bytes::Bytes;
use futures_util::{FutureExt, Stream};

/// What the handler did on one run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// It answered this status and body.
    Responded(u16, String),
    /// It panicked, as the table's handlers do for [`PANIC_ID`]. Neither the
    /// extractor nor actix-web catches a handler's panic: the request gets no
    /// response (a server drops the connection, and the sender retries).
    /// The extractor holds no claim, so nothing is left to release.
    Panicked,
}

/// Every run of the handler, in order: the id it saw and its answer.
#[derive(Debug, Default)]
struct Journal(Mutex<Vec<(String, Answer)>>);

impl Journal {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, Answer)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, id: &str, answer: Answer) {
        self.lock().push((id.to_owned(), answer));
    }

    fn runs(&self, id: &str) -> usize {
        self.lock().iter().filter(|(seen, _)| seen == id).count()
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn since(&self, start: usize) -> Vec<(String, Answer)> {
        self.lock()[start..].to_vec()
    }
}

/// The handler: it behaves like the table's dispatcher handlers (the same
/// id, [`FAIL_ONCE_ID`] fails on its first run, [`PANIC_ID`] panics),
/// answering with a JSON body of its own so that the test can tell its
/// response from one the extractor made.
async fn handler(event: VerifiedEvent, journal: web::Data<Journal>) -> HttpResponse {
    // The appointment id, or the dedup key for events without an appointment.
    let id = event
        .appointment()
        .map(|a| a.id.clone())
        .unwrap_or_else(|| event.idempotency_key().to_owned());
    if id == PANIC_ID {
        journal.record(&id, Answer::Panicked);
        panic!("handler panics on purpose");
    }
    let failing = id == FAIL_ONCE_ID && journal.runs(&id) == 0;
    let (status, body) = if failing {
        (500, serde_json::json!({"own": "failed", "id": id}))
    } else {
        (200, serde_json::json!({"own": "handled", "id": id}))
    };
    let body = body.to_string();
    journal.record(&id, Answer::Responded(status, body.clone()));
    let mut response = if failing {
        HttpResponse::InternalServerError()
    } else {
        HttpResponse::Ok()
    };
    response.content_type("application/json").body(body)
}

/// A test request for `case`: with a `Content-Length`, or streamed without one.
fn request(case: &Case) -> actix_http::Request {
    let uri = match &case.query {
        Some(query) => format!("{}?{query}", case.path),
        None => case.path.to_owned(),
    };
    let method = Method::from_bytes(case.method.as_bytes()).expect("a valid method");
    let mut request = TestRequest::default().method(method).uri(&uri);
    for (name, value) in &case.headers {
        request = request.append_header((name.as_str(), value.as_str()));
    }
    if case.declare_length {
        return request.set_payload(case.body.clone()).to_request();
    }
    let request = request.to_request();
    assert!(!request.head().headers.contains_key("content-length"));
    let (request, _) = request.replace_payload(streamed(&case.body));
    request
}

/// `body` as a stream of small chunks, with no length known in advance.
fn streamed(body: &[u8]) -> Payload {
    let chunks: Vec<Result<Bytes, PayloadError>> = body
        .chunks(4096)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(futures_util::stream::iter(chunks));
    Payload::from(stream)
}

/// What came back for one case.
struct Answered {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: Bytes,
}

/// One case sent, and what came back.
struct Exchange<'a> {
    case: &'a Case,
    /// `None` when the call panicked.
    answered: Option<Answered>,
    /// The handler's runs while this case was served.
    runs: Vec<(String, Answer)>,
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
        let called = AssertUnwindSafe(app.call(request(case)))
            .catch_unwind()
            .await;
        let answered = match called {
            Ok(Ok(response)) => Some(answered(response).await),
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

async fn answered(response: ServiceResponse) -> Answered {
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &actix_web::http::header::HeaderValue| {
                v.to_str().unwrap_or("not ascii").to_owned()
            })
    };
    let status = response.status().as_u16();
    let content_type = header("content-type");
    let retry_after = header("retry-after");
    let body = test::read_body(response).await;
    Answered {
        status,
        content_type,
        retry_after,
        body,
    }
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

/// The handler's own response came back unchanged for `exchange`, whose
/// only handler run answered it; returns the status.
fn own_response(exchange: &Exchange<'_>) -> u16 {
    let case = exchange.case;
    let [(_, Answer::Responded(status, body))] = exchange.runs.as_slice() else {
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
    let counts = count_stages(&exchanges);
    let mut checked = 0;
    for exchange in exchanges.iter().filter(|e| e.case.stage() == Stage::Verify) {
        let case = exchange.case;
        let answered = exchange
            .answered
            .as_ref()
            .unwrap_or_else(|| panic!("case `{}`: no response", case.name));
        conformance.check(
            case,
            answered.status,
            &answered.body,
            answered.retry_after.as_deref(),
        );
        assert_eq!(
            answered.content_type.as_deref(),
            Some("application/json"),
            "case `{}`: content type",
            case.name
        );
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
    let counts = count_stages(&exchanges);
    let (mut answered, mut panicked) = (0, 0);
    for exchange in exchanges
        .iter()
        .filter(|e| e.case.stage() == Stage::Handler)
    {
        let case = exchange.case;
        if exchange.runs.as_slice() == [(PANIC_ID.to_owned(), Answer::Panicked)] {
            // Difference: the table answers the core's 500; here the panic
            // is not caught and no response is made (see `Answer::Panicked`).
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
    let counts = count_stages(&exchanges);
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
    let counts = count_stages(&exchanges);
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
    let counts = count_stages(&exchanges);
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
