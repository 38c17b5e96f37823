//! One table of requests and expected responses that every web adapter must pass.
//!
//! An adapter test builds a [`Conformance`], mounts each of its
//! [`mounts`](Conformance::mounts) at the given path, sends every
//! [`Case`] in order and hands what came back to [`Conformance::check`] (or
//! all of it, as an [`Answered`], to [`Conformance::check_answered`]).
//! Both `bookhook-axum` and `bookhook-actix` run this same table, so they
//! answer every request with the same status and body.
//!
//! The table ends with adversarial requests, each named for what it checks:
//! empty and 3 MiB bodies (with and without `Content-Length`), 1,000
//! signatures in one header, 64 KiB header values, invalid UTF-8, JSON nested
//! 10,000 deep, repeated signature headers, odd-length and upper-case hex,
//! base64 with and without padding, negative, huge and non-numeric
//! timestamps, odd or missing `Content-Type`, and methods other than POST.
//! Each gets a clean status from [`Outcome::response`], and none reaches a
//! handler unless it is authentic.
//!
//! The table is written for dispatchers. To run it through an entry point
//! that does less (a layer that verifies and claims in front of a handler of
//! the user's own, or an extractor that only verifies), ask each case for its
//! [`Stage`]: the step of a dispatcher that decided its answer, and so which
//! part of the answer such an entry point must reproduce exactly. Behind it,
//! a handler of the user's own asks a [`Journal`] what to do, so that it
//! behaves like the table's handlers, and the test reads back each case's
//! [`Run`]s; [`count_stages`] counts the cases sent, per stage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;

use crate::MemoryStore;
use crate::clock::ManualClock;
use crate::dispatch::{Context, Dispatcher, DispatcherBuilder};
use crate::endpoint::{Endpoint, Finished, Request};
use crate::error::{HandlerError, ParseError, StoreError, VerifyError};
use crate::event::Delivery;
use crate::headers::NoHeaders;
use crate::idempotency::{BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore};
use crate::kind::Kind;
use crate::outcome::{Outcome, Rejection, Response};
use crate::provider::Provider;
use crate::provider::hmac::HmacEnvelope;
use crate::signature::{Encoding, HmacScheme, SignRequest, StandardScheme};

use super::sign::{signed_request, signed_request_with};

/// The secret of every conformance endpoint but the Standard Webhooks one.
pub const SECRET: &str = "conformance-secret";
/// The secret of the Standard Webhooks endpoint (`conformance-secret-key`).
pub const STANDARD_SECRET: &str = "whsec_Y29uZm9ybWFuY2Utc2VjcmV0LWtleQ==";
/// The attendee's e-mail address in the table's bookings: personal data that
/// no response or log line may show.
pub const ATTENDEE_EMAIL: &str = "jane.conformance@example.com";
/// The body limit of every conformance endpoint.
pub const MAX_BODY: usize = 64 * 1024;
/// The path of the Calendence endpoint.
pub const CALENDENCE_PATH: &str = "/webhook/calendence";
/// The path of the Standard Webhooks endpoint.
pub const STANDARD_PATH: &str = "/webhook/standard";
/// The path of an endpoint whose store is always down.
pub const BROKEN_STORE_PATH: &str = "/webhook/broken-store";
/// The path of a generic HMAC endpoint whose MAC is base64 in `X-Signature`.
pub const BASE64_PATH: &str = "/webhook/base64";
/// The booking id whose handler fails on its first run.
pub const FAIL_ONCE_ID: &str = "fail-once";
/// The booking id whose handler panics.
pub const PANIC_ID: &str = "panic";
/// The booking id whose key is held by another worker.
pub const IN_FLIGHT_ID: &str = "in-flight";

/// The conformance clock's time: 2026-03-24T14:30:00Z.
const NOW_UNIX: u64 = 1_774_362_600;

/// One request of the table, and what must come back.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the case checks, for assertion messages.
    pub name: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path to send to, one of the [`Conformance::mounts`].
    pub path: &'static str,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// Request headers (no `Content-Length`; see [`declare_length`](Self::declare_length)).
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// Whether to send `Content-Length`; when false, send the body chunked.
    pub declare_length: bool,
    /// The expected status.
    pub status: u16,
    /// The expected body, byte for byte.
    pub response_body: String,
    /// The expected `Retry-After` header.
    pub retry_after: Option<u64>,
}

/// The step of a dispatcher that decides a [`Case`]'s answer; see [`Case::stage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Refused before any claim ([`Outcome::Rejected`]): body size, method,
    /// signature, timestamp, or a body that is not an event. Every entry
    /// point that verifies must give the case's status, body and
    /// `Retry-After` exactly, and run no handler.
    Verify,
    /// Authentic, then answered from the idempotency store without a handler
    /// run: [`Outcome::Duplicate`], [`Outcome::InFlight`] or
    /// [`Outcome::StoreUnavailable`]. An entry point that claims must give
    /// the case's answer exactly; one that does not claim hands the request
    /// to the handler.
    Claim,
    /// Authentic and claimed, but the dispatcher has no route for its event
    /// type ([`Outcome::Unrouted`]): acknowledged without a handler run. An
    /// entry point without routes hands it to the handler.
    Route,
    /// The dispatcher's handler ran and succeeded ([`Outcome::Handled`]) or
    /// failed or panicked ([`Outcome::Failed`]). Which ids fail or panic is
    /// fixed: [`FAIL_ONCE_ID`] fails on its first run, [`PANIC_ID`] panics.
    Handler,
}

impl Case {
    /// The step of a dispatcher that decides this case's answer, read from
    /// the expected response (each outcome has its own status and body).
    ///
    /// # Panics
    ///
    /// If the expected response is none of the core's: the table has a case
    /// this function does not know yet.
    pub fn stage(&self) -> Stage {
        let expects = |outcome: Outcome| {
            let response = outcome.response();
            response.status == self.status
                && response.body == self.response_body
                && response.retry_after == self.retry_after
        };
        let in_flight = Outcome::InFlight {
            retry_after: Duration::from_secs(self.retry_after.unwrap_or(0)),
        };
        let unavailable = Outcome::StoreUnavailable(StoreError::Unavailable {
            reason: String::new(),
        });
        if expects(Outcome::Handled) || expects(Outcome::Failed(HandlerError::new(""))) {
            Stage::Handler
        } else if expects(Outcome::Unrouted) {
            Stage::Route
        } else if expects(Outcome::Duplicate) || expects(in_flight) || expects(unavailable) {
            Stage::Claim
        } else if matches!(self.status, 400 | 401 | 405 | 413) && self.retry_after.is_none() {
            Stage::Verify
        } else {
            panic!(
                "case `{}`: no stage answers {} {}",
                self.name, self.status, self.response_body
            )
        }
    }
}

/// A dispatcher mounted at a path for the conformance run.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Where to mount it.
    pub path: &'static str,
    /// The dispatcher to serve there.
    pub dispatcher: Dispatcher<Probe>,
}

/// Counts handler runs per appointment id, so a test can check exactly-once.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    runs: Arc<Mutex<HashMap<String, usize>>>,
}

impl Probe {
    /// How many times a handler ran (successfully or not) for `appointment_id`.
    pub fn runs(&self, appointment_id: &str) -> usize {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.get(appointment_id).copied().unwrap_or(0)
    }

    fn record(&self, appointment_id: &str) -> usize {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let count = runs.entry(appointment_id.to_owned()).or_insert(0);
        *count += 1;
        *count
    }
}

/// The endpoints and the table. See the [module docs](self).
#[derive(Debug)]
pub struct Conformance {
    /// Dispatchers to mount, each at its path.
    pub mounts: Vec<Mount>,
    /// The requests, to send in order.
    pub cases: Vec<Case>,
    /// Handler run counts.
    pub probe: Probe,
}

impl Conformance {
    /// Builds the endpoints and the table. Call it inside a tokio runtime or
    /// any executor: it holds one claim in the store for the in-flight case.
    pub async fn new() -> Self {
        let probe = Probe::default();
        let clock = ManualClock::at_unix(NOW_UNIX);
        let store = Arc::new(
            MemoryStore::builder()
                .clock(clock.clone())
                .build()
                .unwrap_or_default(),
        );

        let calendence = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .clock(clock.clone())
            .shared_store(store.clone())
            .max_body(MAX_BODY)
            .build()
            .unwrap_or_else(|err| panic!("conformance endpoint: {err}"));
        let standard = Endpoint::builder(Provider::Standard)
            .scheme(StandardScheme::new())
            .secret(STANDARD_SECRET)
            .clock(clock.clone())
            .shared_store(store.clone())
            .max_body(MAX_BODY)
            .build()
            .unwrap_or_else(|err| panic!("conformance endpoint: {err}"));
        let base64 = Endpoint::builder(Provider::Hmac)
            .scheme(HmacScheme::new("X-Signature").encoding(Encoding::Base64))
            .envelope(HmacEnvelope::default())
            .secret(SECRET)
            .clock(clock.clone())
            .shared_store(store.clone())
            .max_body(MAX_BODY)
            .build()
            .unwrap_or_else(|err| panic!("conformance endpoint: {err}"));
        let broken = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .clock(clock.clone())
            .store(DownStore)
            .max_body(MAX_BODY)
            .build()
            .unwrap_or_else(|err| panic!("conformance endpoint: {err}"));

        // Another worker holds the in-flight case's key.
        let held_body = booking("booking.created", IN_FLIGHT_ID);
        let held_delivery = Delivery::parse(Provider::Calendence, &NoHeaders, held_body.into())
            .unwrap_or_else(|err| panic!("conformance set-up: {err}"));
        let held = format!(
            "{}:k:{}",
            calendence.namespace(),
            held_delivery.idempotency_key()
        );
        let claim = store.claim(&held, Duration::from_secs(3600)).await;
        assert!(
            matches!(claim, Ok(Claim::Claimed(_))),
            "conformance set-up: {claim:?}"
        );

        let mounts = vec![
            Mount {
                path: CALENDENCE_PATH,
                dispatcher: handlers(calendence.clone(), probe.clone()),
            },
            Mount {
                path: STANDARD_PATH,
                dispatcher: handlers(standard.clone(), probe.clone()),
            },
            Mount {
                path: BROKEN_STORE_PATH,
                dispatcher: handlers(broken.clone(), probe.clone()),
            },
            Mount {
                path: BASE64_PATH,
                dispatcher: handlers(base64.clone(), probe.clone()),
            },
        ];
        let mut cases = cases(&calendence, &standard, &broken);
        cases.extend(adversarial_cases(&calendence, &standard, &base64));
        Self {
            mounts,
            cases,
            probe,
        }
    }

    /// Compares what an adapter answered with what `case` expects, and
    /// panics with the case's name if they differ.
    pub fn check(&self, case: &Case, status: u16, body: &[u8], retry_after: Option<&str>) {
        let body = String::from_utf8_lossy(body);
        assert_eq!(
            status, case.status,
            "case `{}`: status (body {body})",
            case.name
        );
        assert_eq!(body, case.response_body, "case `{}`: body", case.name);
        let retry_after = retry_after.map(|v| v.parse::<u64>().unwrap_or(u64::MAX));
        assert_eq!(
            retry_after, case.retry_after,
            "case `{}`: Retry-After",
            case.name
        );
    }

    /// Like [`check`](Self::check), with all of `answered`, which must also
    /// be JSON: every answer of the core's has
    /// [`Content-Type: application/json`](Response::CONTENT_TYPE).
    pub fn check_answered(&self, case: &Case, answered: &Answered) {
        self.check(
            case,
            answered.status,
            &answered.body,
            answered.retry_after.as_deref(),
        );
        assert_eq!(
            answered.content_type.as_deref(),
            Some(Response::CONTENT_TYPE),
            "case `{}`: content type",
            case.name
        );
    }

    /// Sends `case` straight to the dispatcher mounted at its path, with no web
    /// adapter in between: the report every adapter must turn into its answer.
    ///
    /// # Panics
    /// If no mount serves the case's path.
    pub async fn dispatch(&self, case: &Case) -> Finished {
        let mount = self
            .mounts
            .iter()
            .find(|mount| mount.path == case.path)
            .unwrap_or_else(|| panic!("case `{}`: no mount at {}", case.name, case.path));
        mount
            .dispatcher
            .dispatch(Request::new(
                case.method,
                &case.headers,
                case.query.as_deref(),
                case.body.clone().into(),
            ))
            .await
    }

    /// Checks what the handlers saw once every case ran: each event handled
    /// exactly once, the failing one twice (failure, then retry).
    pub fn check_handler_runs(&self) {
        assert_eq!(
            self.probe.runs("b-1"),
            1,
            "booking b-1 handled exactly once"
        );
        assert_eq!(self.probe.runs(FAIL_ONCE_ID), 2, "fail-once handled twice");
        assert_eq!(
            self.probe.runs(IN_FLIGHT_ID),
            0,
            "in-flight key never ran here"
        );
        assert_eq!(
            self.probe.runs("not-routed"),
            0,
            "unrouted event ran no handler"
        );
        for id in ACCEPTED_ADVERSARIAL {
            assert_eq!(self.probe.runs(id), 1, "{id} handled exactly once");
        }
        assert_eq!(
            self.probe.runs(REFUSED_ID),
            0,
            "refused requests never reached a handler"
        );
    }
}

/// How many of `cases` have each [`Stage`].
///
/// # Panics
///
/// If a stage has no case, so that an empty or one-sided run cannot pass
/// unnoticed.
pub fn count_stages<'a>(cases: impl IntoIterator<Item = &'a Case>) -> HashMap<Stage, usize> {
    let mut counts: HashMap<Stage, usize> = HashMap::new();
    for case in cases {
        *counts.entry(case.stage()).or_default() += 1;
    }
    for stage in [Stage::Verify, Stage::Claim, Stage::Route, Stage::Handler] {
        assert!(
            counts.get(&stage).copied().unwrap_or(0) > 0,
            "no {stage:?} case was sent: {counts:?}"
        );
    }
    counts
}

/// What a handler of the user's own did on one run; see [`Journal::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It answered this status and body.
    Responded(u16, String),
    /// It panicked, as the table's handlers do for [`PANIC_ID`].
    Panicked,
}

/// One run of a handler of the user's own, as recorded by [`Journal::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The id it saw, as the table's handlers compute it: the appointment
    /// id, or the idempotency key for events without an appointment.
    pub id: String,
    /// The raw body the handler was given.
    pub body: Bytes,
    /// What it did.
    pub answer: Answer,
}

/// What came back for one [`Case`], for [`Conformance::check_answered`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The whole body.
    pub body: Bytes,
}

/// Every run of a handler of the user's own, in order.
///
/// For entry points that hand a verified request to such a handler (a layer
/// or an extractor) rather than to the table's dispatchers: the handler asks
/// [`decide`](Self::decide) what to do, so that it behaves like the table's
/// handlers, and the test reads back what each case ran. Clones share the
/// same runs, and it can be shared between threads.
#[derive(Debug, Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<Run>>>);

impl Journal {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Run>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides what a handler of the user's own does for `delivery`, like the
    /// table's handlers, and records the run with the raw `body` the handler
    /// was given.
    ///
    /// - [`PANIC_ID`]: [`Answer::Panicked`]; the handler must then panic.
    /// - [`FAIL_ONCE_ID`], on its first run: a 500.
    /// - Anything else: a 200.
    ///
    /// A response's body is the handler's own JSON,
    /// `{"<marker>":"failed"|"handled","id":"<id>"}`, so that a test can tell
    /// it from a response of the core's; `marker` names who answered.
    pub fn decide(&self, delivery: &Delivery, body: Bytes, marker: &str) -> Answer {
        let id = handler_id(delivery);
        let mut runs = self.lock();
        let answer = if id == PANIC_ID {
            Answer::Panicked
        } else {
            let failing = id == FAIL_ONCE_ID && !runs.iter().any(|run| run.id == id);
            let (status, outcome) = if failing {
                (500, "failed")
            } else {
                (200, "handled")
            };
            let json = serde_json::json!({ marker: outcome, "id": id });
            Answer::Responded(status, json.to_string())
        };
        runs.push(Run {
            id,
            body,
            answer: answer.clone(),
        });
        answer
    }

    /// How many runs saw `id`.
    pub fn runs(&self, id: &str) -> usize {
        self.lock().iter().filter(|run| run.id == id).count()
    }

    /// How many runs there were.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there was no run yet.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The runs after the first `start`, in order: those of one case when
    /// `start` is [`len`](Self::len) before it was sent.
    ///
    /// # Panics
    ///
    /// If `start` is more than [`len`](Self::len).
    pub fn since(&self, start: usize) -> Vec<Run> {
        self.lock()[start..].to_vec()
    }
}

/// The id the table's handlers go by: the appointment id, or the
/// idempotency key for events without an appointment.
fn handler_id(delivery: &Delivery) -> String {
    delivery
        .appointment()
        .map(|a| a.id.clone())
        .unwrap_or_else(|| delivery.idempotency_key().to_owned())
}

fn handlers(endpoint: Endpoint, probe: Probe) -> Dispatcher<Probe> {
    async fn run(ctx: Context<Probe>) -> Result<(), HandlerError> {
        let id = handler_id(ctx.delivery());
        let count = ctx.state().record(&id);
        if id == PANIC_ID {
            panic!("conformance handler panics on purpose");
        }
        if id == FAIL_ONCE_ID && count == 1 {
            return Err(HandlerError::new("first attempt fails on purpose"));
        }
        Ok(())
    }
    DispatcherBuilder::new(endpoint, probe)
        .on("booking.created", run)
        .on_kind(Kind::Cancelled, run)
        .on_prefix("appointment.*", run)
        .build()
        .unwrap_or_else(|err| panic!("conformance dispatcher: {err}"))
}

fn booking(event: &str, id: &str) -> Vec<u8> {
    serde_json::json!({
        "event": event,
        "timestamp": "2026-03-24T14:30:00+00:00",
        "data": {
            "id": id,
            "status": "confirmed",
            "client": {"first_name": "Jane", "last_name": "Doe", "email": ATTENDEE_EMAIL},
            "starts_at": "2026-03-25T14:00:00+00:00",
            "ends_at": "2026-03-25T14:30:00+00:00"
        }
    })
    .to_string()
    .into_bytes()
}

fn expect(outcome: Outcome) -> (u16, String, Option<u64>) {
    let response = outcome.response();
    (response.status, response.body, response.retry_after)
}

#[allow(clippy::too_many_lines)]
fn cases(calendence: &Endpoint, standard: &Endpoint, broken: &Endpoint) -> Vec<Case> {
    let signed = |endpoint: &Endpoint, body: Vec<u8>| {
        let (headers, query) = signed_request(endpoint, &body);
        (headers, query, body)
    };
    let mut cases = Vec::new();
    let mut push =
        |name: &'static str,
         method: &'static str,
         path: &'static str,
         (headers, query, body): (Vec<(String, String)>, Option<String>, Vec<u8>),
         declare_length: bool,
         (status, response_body, retry_after): (u16, String, Option<u64>)| {
            cases.push(Case {
                name,
                method,
                path,
                query,
                headers,
                body,
                declare_length,
                status,
                response_body,
                retry_after,
            });
        };

    let created = signed(calendence, booking("booking.created", "b-1"));
    push(
        "handled",
        "POST",
        CALENDENCE_PATH,
        created.clone(),
        true,
        expect(Outcome::Handled),
    );
    push(
        "duplicate",
        "POST",
        CALENDENCE_PATH,
        created.clone(),
        true,
        expect(Outcome::Duplicate),
    );
    push(
        "duplicate sent chunked",
        "POST",
        CALENDENCE_PATH,
        created.clone(),
        false,
        expect(Outcome::Duplicate),
    );
    push(
        "unrouted",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, booking("booking.completed", "not-routed")),
        true,
        expect(Outcome::Unrouted),
    );
    push(
        "in flight",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, booking("booking.created", IN_FLIGHT_ID)),
        true,
        expect(Outcome::InFlight {
            retry_after: Duration::from_secs(5),
        }),
    );

    let fail_once = signed(calendence, booking("booking.cancelled", FAIL_ONCE_ID));
    push(
        "handler failed",
        "POST",
        CALENDENCE_PATH,
        fail_once.clone(),
        true,
        expect(Outcome::Failed(HandlerError::new(
            "first attempt fails on purpose",
        ))),
    );
    push(
        "retry after failure",
        "POST",
        CALENDENCE_PATH,
        fail_once.clone(),
        true,
        expect(Outcome::Handled),
    );
    push(
        "duplicate after retry",
        "POST",
        CALENDENCE_PATH,
        fail_once,
        true,
        expect(Outcome::Duplicate),
    );
    push(
        "handler panicked",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, booking("booking.created", PANIC_ID)),
        true,
        expect(Outcome::Failed(HandlerError::Panicked {
            message: String::new(),
        })),
    );

    let (mut headers, query, mut body) = signed(calendence, booking("booking.created", "b-2"));
    if let Some(last) = body.last_mut() {
        *last = b' ';
    }
    push(
        "tampered body",
        "POST",
        CALENDENCE_PATH,
        (headers.clone(), query.clone(), body),
        true,
        expect(Outcome::Rejected(VerifyError::InvalidSignature.into())),
    );
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("x-calendence-signature"));
    push(
        "missing signature",
        "POST",
        CALENDENCE_PATH,
        (headers, None, booking("booking.created", "b-2")),
        true,
        expect(Outcome::Rejected(
            VerifyError::MissingHeader {
                name: "x-calendence-signature".into(),
            }
            .into(),
        )),
    );
    push(
        "missing envelope field",
        "POST",
        CALENDENCE_PATH,
        signed(
            calendence,
            br#"{"timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-3"}}"#.to_vec(),
        ),
        true,
        expect(Outcome::Rejected(
            ParseError::MissingField { field: "event" }.into(),
        )),
    );
    push(
        "invalid json",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, b"{\"event\": ".to_vec()),
        true,
        expect(Outcome::Rejected(
            ParseError::InvalidJson {
                reason: "unexpected end of input",
                line: 1,
                column: 10,
            }
            .into(),
        )),
    );
    push(
        "empty body",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, Vec::new()),
        true,
        expect(Outcome::Rejected(
            ParseError::InvalidJson {
                reason: "unexpected end of input",
                line: 1,
                column: 0,
            }
            .into(),
        )),
    );
    let too_large = vec![b' '; MAX_BODY + 1];
    push(
        "too large with content-length",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, too_large.clone()),
        true,
        expect(Outcome::Rejected(Rejection::PayloadTooLarge {
            limit: MAX_BODY,
        })),
    );
    push(
        "too large chunked",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, too_large),
        false,
        expect(Outcome::Rejected(Rejection::PayloadTooLarge {
            limit: MAX_BODY,
        })),
    );
    push(
        "method not allowed",
        "GET",
        CALENDENCE_PATH,
        (Vec::new(), None, Vec::new()),
        true,
        expect(Outcome::Rejected(Rejection::MethodNotAllowed)),
    );
    push(
        "missing content-type is accepted",
        "POST",
        CALENDENCE_PATH,
        {
            let (mut headers, query, body) =
                signed(calendence, booking("booking.created", "no-content-type"));
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
            (headers, query, body)
        },
        true,
        expect(Outcome::Handled),
    );

    let standard_body =
        br#"{"type":"appointment.created","timestamp":"2026-03-24T14:30:00Z","data":{"id":"s-1"}}"#
            .to_vec();
    push(
        "standard webhooks handled",
        "POST",
        STANDARD_PATH,
        signed(standard, standard_body.clone()),
        true,
        expect(Outcome::Handled),
    );
    let old = UNIX_EPOCH + Duration::from_secs(NOW_UNIX - 301);
    let (headers, query) = signed_request_with(
        standard,
        &standard_body,
        SignRequest::at(old).with_id("msg_old"),
    );
    push(
        "stale timestamp",
        "POST",
        STANDARD_PATH,
        (headers, query, standard_body),
        true,
        expect(Outcome::Rejected(
            VerifyError::TimestampTooOld {
                age: Duration::from_secs(301),
                tolerance: Duration::from_secs(300),
            }
            .into(),
        )),
    );
    push(
        "store unavailable",
        "POST",
        BROKEN_STORE_PATH,
        signed(broken, booking("booking.created", "b-9")),
        true,
        expect(Outcome::StoreUnavailable(StoreError::Unavailable {
            reason: String::new(),
        })),
    );
    cases
}

/// The booking id (or Standard Webhooks message id) of every adversarial
/// request that must be refused: a handler run for it is a failure.
const REFUSED_ID: &str = "refused";
/// The ids of the adversarial requests that are authentic and handled once.
const ACCEPTED_ADVERSARIAL: [&str; 5] = [
    "upper-case-hex",
    "large-other-header",
    "odd-content-type",
    "base64-padded",
    "base64-unpadded",
];
/// Three mebibytes: far above the conformance endpoints' 64 KiB limit.
const THREE_MIB: usize = 3 * 1024 * 1024;
/// A 64 KiB header value.
const LONG_HEADER: usize = 64 * 1024;

/// A copy of `headers` where every header called `name` (ASCII
/// case-insensitive) has `value` instead.
fn replaced(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(key, old)| {
            let value = if key.eq_ignore_ascii_case(name) {
                value
            } else {
                old
            };
            (key.clone(), value.to_owned())
        })
        .collect()
}

/// The value of the first header called `name`.
fn value_of(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.clone())
        .unwrap_or_default()
}

fn rejected(err: impl Into<Rejection>) -> (u16, String, Option<u64>) {
    expect(Outcome::Rejected(err.into()))
}

fn malformed_signature(reason: &'static str) -> (u16, String, Option<u64>) {
    rejected(VerifyError::MalformedSignature { reason })
}

fn too_deep() -> (u16, String, Option<u64>) {
    rejected(ParseError::InvalidJson {
        reason: "recursion limit exceeded",
        line: 1,
        column: 128,
    })
}

/// JSON arrays nested 10,000 deep.
fn nested_10000() -> Vec<u8> {
    let mut body = vec![b'['; 10_000];
    body.extend(std::iter::repeat_n(b']', 10_000));
    body
}

/// A generic envelope for the base64 endpoint.
fn generic(id: &str) -> Vec<u8> {
    serde_json::json!({
        "type": "booking.created",
        "id": id,
        "timestamp": "2026-03-24T14:30:00Z",
    })
    .to_string()
    .into_bytes()
}

/// What an unauthenticated public door must survive: every request here is
/// answered with a clean status and none of them panics. Authentic requests
/// in unusual shapes (upper-case hex, unpadded base64, odd `Content-Type`)
/// are accepted; everything else is refused before a handler runs.
#[allow(clippy::too_many_lines)]
fn adversarial_cases(calendence: &Endpoint, standard: &Endpoint, base64: &Endpoint) -> Vec<Case> {
    type Request = (Vec<(String, String)>, Option<String>, Vec<u8>);
    let signed = |endpoint: &Endpoint, body: Vec<u8>| -> Request {
        let (headers, query) = signed_request(endpoint, &body);
        (headers, query, body)
    };
    let standard_body = |id: &str| {
        serde_json::json!({
            "type": "appointment.created",
            "timestamp": "2026-03-24T14:30:00Z",
            "data": {"id": id},
        })
        .to_string()
        .into_bytes()
    };
    let standard_signed = |id: &str, at: u64| -> Request {
        let body = standard_body(id);
        let (headers, query) = signed_request_with(
            standard,
            &body,
            SignRequest::at(UNIX_EPOCH + Duration::from_secs(at)).with_id(id),
        );
        (headers, query, body)
    };
    let refused = || booking("booking.created", REFUSED_ID);
    const SIG: &str = "X-Calendence-Signature";
    let calendence_mac = |body: &[u8]| {
        let (headers, _) = signed_request(calendence, body);
        value_of(&headers, SIG)
            .trim_start_matches("sha256=")
            .to_owned()
    };

    let mut cases = Vec::new();
    let mut push =
        |name: &'static str,
         method: &'static str,
         path: &'static str,
         (headers, query, body): Request,
         declare_length: bool,
         (status, response_body, retry_after): (u16, String, Option<u64>)| {
            cases.push(Case {
                name,
                method,
                path,
                query,
                headers,
                body,
                declare_length,
                status,
                response_body,
                retry_after,
            });
        };

    // Empty bodies.
    push(
        "empty body without content-length",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, Vec::new()),
        false,
        rejected(ParseError::InvalidJson {
            reason: "unexpected end of input",
            line: 1,
            column: 0,
        }),
    );
    push(
        "empty body without signature",
        "POST",
        CALENDENCE_PATH,
        (Vec::new(), None, Vec::new()),
        true,
        rejected(VerifyError::MissingHeader {
            name: "x-calendence-signature".into(),
        }),
    );

    // 3 MiB: refused before reading with a length, cut off without one.
    let mut huge = refused();
    huge.resize(THREE_MIB, b' ');
    let huge = signed(calendence, huge);
    push(
        "3 MiB body with content-length",
        "POST",
        CALENDENCE_PATH,
        huge.clone(),
        true,
        rejected(Rejection::PayloadTooLarge { limit: MAX_BODY }),
    );
    push(
        "3 MiB body without content-length",
        "POST",
        CALENDENCE_PATH,
        huge,
        false,
        rejected(Rejection::PayloadTooLarge { limit: MAX_BODY }),
    );

    // 1,000 signatures in one header; 64 KiB header values.
    let body = refused();
    let (headers, query, _) = signed(calendence, body.clone());
    let mut many: Vec<String> = (0..999u32)
        .map(|i| format!("sha256={}", hex::encode(wrong_mac(i))))
        .collect();
    many.push(value_of(&headers, SIG));
    push(
        "1,000 signatures in one header",
        "POST",
        CALENDENCE_PATH,
        (replaced(&headers, SIG, &many.join(",")), query, body),
        true,
        malformed_signature("signature header too long"),
    );
    let (headers, query, body) = standard_signed(REFUSED_ID, NOW_UNIX);
    let mut many: Vec<String> = (0..999u32)
        .map(|i| format!("v1,{}", Encoding::Base64.encode(&wrong_mac(i))))
        .collect();
    many.push(value_of(&headers, "webhook-signature"));
    push(
        "1,000 signatures in one standard webhooks header",
        "POST",
        STANDARD_PATH,
        (
            replaced(&headers, "webhook-signature", &many.join(" ")),
            query.clone(),
            body.clone(),
        ),
        true,
        malformed_signature("signature header too long"),
    );
    // Short enough to pass the length check: only the first few are examined.
    let short = vec!["v1,AA=="; 1000].join(" ");
    push(
        "1,000 short signatures in one standard webhooks header",
        "POST",
        STANDARD_PATH,
        (replaced(&headers, "webhook-signature", &short), query, body),
        true,
        malformed_signature("signature is not 32 bytes long"),
    );
    let body = refused();
    let (headers, query, _) = signed(calendence, body.clone());
    push(
        "64 KiB signature header value",
        "POST",
        CALENDENCE_PATH,
        (
            replaced(&headers, SIG, &"a".repeat(LONG_HEADER)),
            query,
            body,
        ),
        true,
        malformed_signature("signature header too long"),
    );
    let (mut headers, query, body) =
        signed(calendence, booking("booking.created", "large-other-header"));
    headers.push(("X-Padding".to_owned(), "p".repeat(LONG_HEADER)));
    push(
        "64 KiB value in another header is ignored",
        "POST",
        CALENDENCE_PATH,
        (headers, query, body),
        true,
        expect(Outcome::Handled),
    );

    // Bodies that are authentic but not JSON an envelope can be read from.
    let mut not_utf8 = br#"{"event":"booking.created","data":{"id":""#.to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe, 0x80]);
    not_utf8.extend_from_slice(br#""}}"#);
    push(
        "invalid utf-8 body",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, not_utf8),
        true,
        // Column 42 is the first invalid byte.
        rejected(ParseError::InvalidJson {
            reason: "syntax error",
            line: 1,
            column: 42,
        }),
    );
    push(
        "json nested 10,000 deep",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, nested_10000()),
        true,
        too_deep(),
    );
    push(
        "json nested 10,000 deep to standard webhooks",
        "POST",
        STANDARD_PATH,
        {
            let body = nested_10000();
            let (headers, query) = signed_request_with(
                standard,
                &body,
                SignRequest::at(UNIX_EPOCH + Duration::from_secs(NOW_UNIX)).with_id(REFUSED_ID),
            );
            (headers, query, body)
        },
        true,
        too_deep(),
    );
    push(
        "json nested 10,000 deep to a generic envelope",
        "POST",
        BASE64_PATH,
        signed(base64, nested_10000()),
        true,
        too_deep(),
    );
    push(
        "json nested 10,000 deep with a forged signature",
        "POST",
        CALENDENCE_PATH,
        {
            let (headers, query, body) = signed(calendence, nested_10000());
            let forged = format!("sha256={}", calendence_mac(b"something else"));
            (replaced(&headers, SIG, &forged), query, body)
        },
        true,
        rejected(VerifyError::InvalidSignature),
    );

    // Duplicate signature headers: ambiguous, refused even when both match.
    let (mut headers, query, body) = signed(calendence, refused());
    let valid = value_of(&headers, SIG);
    headers.push((SIG.to_ascii_lowercase(), valid));
    push(
        "duplicate signature headers",
        "POST",
        CALENDENCE_PATH,
        (headers, query, body),
        true,
        rejected(VerifyError::RepeatedHeader {
            name: "x-calendence-signature".into(),
        }),
    );
    let (mut headers, query, body) = signed(calendence, refused());
    headers.push((
        SIG.to_owned(),
        format!("sha256={}", calendence_mac(b"forged")),
    ));
    push(
        "duplicate signature headers, one forged",
        "POST",
        CALENDENCE_PATH,
        (headers, query, body),
        true,
        rejected(VerifyError::RepeatedHeader {
            name: "x-calendence-signature".into(),
        }),
    );
    let (mut headers, query, body) = standard_signed(REFUSED_ID, NOW_UNIX);
    let valid = value_of(&headers, "webhook-signature");
    headers.push(("Webhook-Signature".to_owned(), valid));
    push(
        "duplicate standard webhooks signature headers",
        "POST",
        STANDARD_PATH,
        (headers, query, body),
        true,
        rejected(VerifyError::RepeatedHeader {
            name: "webhook-signature".into(),
        }),
    );

    // Hex: odd length and bad digits refused, upper case accepted.
    let (headers, query, body) = signed(calendence, refused());
    let mut odd = value_of(&headers, SIG);
    odd.pop();
    push(
        "hex signature of odd length",
        "POST",
        CALENDENCE_PATH,
        (replaced(&headers, SIG, &odd), query.clone(), body.clone()),
        true,
        malformed_signature("signature is not 32 bytes long"),
    );
    let not_hex = value_of(&headers, SIG).replace(['a', 'b', 'c'], "g");
    push(
        "hex signature with a non-hex digit",
        "POST",
        CALENDENCE_PATH,
        (replaced(&headers, SIG, &not_hex), query, body),
        true,
        malformed_signature("invalid hex"),
    );
    let (headers, query, body) = signed(calendence, booking("booking.created", "upper-case-hex"));
    let upper = value_of(&headers, SIG).to_ascii_uppercase();
    push(
        "upper-case hex signature is accepted",
        "POST",
        CALENDENCE_PATH,
        (replaced(&headers, SIG, &upper), query, body),
        true,
        expect(Outcome::Handled),
    );

    // Base64: with or without padding.
    let padded = signed(base64, generic("base64-padded"));
    assert!(value_of(&padded.0, "X-Signature").ends_with('='));
    push(
        "base64 signature with padding is accepted",
        "POST",
        BASE64_PATH,
        padded,
        true,
        expect(Outcome::Handled),
    );
    let (headers, query, body) = signed(base64, generic("base64-unpadded"));
    let unpadded = value_of(&headers, "X-Signature")
        .trim_end_matches('=')
        .to_owned();
    push(
        "base64 signature without padding is accepted",
        "POST",
        BASE64_PATH,
        (replaced(&headers, "X-Signature", &unpadded), query, body),
        true,
        expect(Outcome::Handled),
    );
    let (headers, query, body) = signed(base64, generic(REFUSED_ID));
    push(
        "base64 signature with invalid characters",
        "POST",
        BASE64_PATH,
        (
            replaced(&headers, "X-Signature", &"*".repeat(44)),
            query.clone(),
            body.clone(),
        ),
        true,
        malformed_signature("invalid base64"),
    );
    let short = Encoding::Base64.encode(&[7u8; 16]);
    push(
        "base64 signature of the wrong length",
        "POST",
        BASE64_PATH,
        (replaced(&headers, "X-Signature", &short), query, body),
        true,
        malformed_signature("signature is not 32 bytes long"),
    );

    // Standard Webhooks timestamps: negative, huge, non-numeric, far ahead.
    let (headers, query, body) = standard_signed(REFUSED_ID, NOW_UNIX);
    for (name, timestamp) in [
        ("negative timestamp", format!("-{NOW_UNIX}")),
        ("huge timestamp", format!("{}0", u64::MAX)),
        ("non-numeric timestamp", "2026-03-24T14:30:00Z".to_owned()),
    ] {
        push(
            name,
            "POST",
            STANDARD_PATH,
            (
                replaced(&headers, "webhook-timestamp", &timestamp),
                query.clone(),
                body.clone(),
            ),
            true,
            rejected(VerifyError::MalformedTimestamp {
                name: "webhook-timestamp".into(),
            }),
        );
    }
    let far = 999_999_999_999;
    push(
        "timestamp far in the future",
        "POST",
        STANDARD_PATH,
        standard_signed(REFUSED_ID, far),
        true,
        rejected(VerifyError::TimestampTooNew {
            ahead: Duration::from_secs(far - NOW_UNIX),
            tolerance: Duration::from_secs(300),
        }),
    );

    // Content-Type is not checked: senders vary.
    let (headers, query, body) = signed(calendence, booking("booking.created", "odd-content-type"));
    push(
        "odd content-type is accepted",
        "POST",
        CALENDENCE_PATH,
        (
            replaced(&headers, "content-type", "text/plain; charset=iso-8859-1"),
            query,
            body,
        ),
        true,
        expect(Outcome::Handled),
    );

    // Methods other than POST, even with an authentic body.
    for (name, method) in [
        ("put is not allowed", "PUT"),
        ("delete is not allowed", "DELETE"),
        ("lower-case post is not POST", "post"),
    ] {
        push(
            name,
            method,
            CALENDENCE_PATH,
            signed(calendence, refused()),
            true,
            rejected(Rejection::MethodNotAllowed),
        );
    }
    cases
}

/// A well-formed but wrong 32-byte MAC, different for each `i`.
fn wrong_mac(i: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(4) {
        chunk.copy_from_slice(&i.to_be_bytes());
    }
    out
}

/// A store that is always down, to check fail-closed behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownStore;

fn down<T>() -> Result<T, StoreError> {
    Err(StoreError::Unavailable {
        reason: "the store is down for this test".into(),
    })
}

impl IdempotencyStore for DownStore {
    fn claim<'a>(
        &'a self,
        _key: &'a str,
        _lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(std::future::ready(down()))
    }

    fn complete<'a>(
        &'a self,
        _key: &'a str,
        _token: ClaimToken,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::ready(down()))
    }

    fn release<'a>(
        &'a self,
        _key: &'a str,
        _token: ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::ready(down()))
    }

    fn observe<'a>(
        &'a self,
        _appointment: &'a str,
        _occurred_at_ms: i64,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, StoreError>> {
        Box::pin(std::future::ready(down()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(id: &str) -> Delivery {
        Delivery::parse(
            Provider::Calendence,
            &NoHeaders,
            booking("booking.created", id).into(),
        )
        .unwrap_or_else(|err| panic!("{id}: {err}"))
    }

    #[test]
    fn journal_decides_like_the_tables_handlers_and_records_every_run() {
        let journal = Journal::default();
        let shared = journal.clone();
        assert!(journal.is_empty());
        let fail_once = delivery(FAIL_ONCE_ID);
        let answers = [
            shared.decide(&fail_once, Bytes::from_static(b"first"), "mine"),
            shared.decide(&fail_once, Bytes::from_static(b"retry"), "mine"),
            shared.decide(&delivery(PANIC_ID), Bytes::new(), "mine"),
            shared.decide(&delivery("b-1"), Bytes::new(), "mine"),
        ];
        let responded = |status, outcome: &str, id: &str| {
            let body = serde_json::json!({"mine": outcome, "id": id});
            Answer::Responded(status, body.to_string())
        };
        assert_eq!(
            answers,
            [
                responded(500, "failed", FAIL_ONCE_ID),
                responded(200, "handled", FAIL_ONCE_ID),
                Answer::Panicked,
                responded(200, "handled", "b-1"),
            ]
        );
        assert_eq!(journal.len(), 4, "clones share their runs");
        assert_eq!(journal.runs(FAIL_ONCE_ID), 2);
        assert_eq!(journal.runs(PANIC_ID), 1);
        assert_eq!(journal.runs(IN_FLIGHT_ID), 0);
        let retry = Run {
            id: FAIL_ONCE_ID.into(),
            body: Bytes::from_static(b"retry"),
            answer: answers[1].clone(),
        };
        assert_eq!(journal.since(1)[0], retry);
        assert_eq!(journal.since(4), []);
    }

    #[tokio::test]
    async fn count_stages_counts_every_case_of_the_table() {
        let conformance = Conformance::new().await;
        let counts = count_stages(&conformance.cases);
        assert_eq!(counts.len(), 4, "{counts:?}");
        assert_eq!(counts.values().sum::<usize>(), conformance.cases.len());
    }

    /// A case answered [`Outcome::Handled`], and that answer.
    fn handled() -> (Case, Answered) {
        let handled = Outcome::Handled.response();
        let answered = Answered {
            status: handled.status,
            content_type: Some(Response::CONTENT_TYPE.to_owned()),
            retry_after: None,
            body: handled.body.clone().into(),
        };
        let case = Case {
            name: "handled",
            method: "POST",
            path: CALENDENCE_PATH,
            query: None,
            headers: Vec::new(),
            body: Vec::new(),
            declare_length: true,
            status: handled.status,
            response_body: handled.body,
            retry_after: handled.retry_after,
        };
        (case, answered)
    }

    #[test]
    #[should_panic(expected = "no Verify case was sent")]
    fn count_stages_fails_when_a_stage_has_no_case() {
        let (case, _) = handled();
        count_stages([&case]);
    }

    #[tokio::test]
    async fn check_answered_accepts_the_expected_json_answer() {
        let conformance = Conformance::new().await;
        let (case, answered) = handled();
        conformance.check_answered(&case, &answered);
        assert_eq!(case.stage(), Stage::Handler);
    }

    #[tokio::test]
    #[should_panic(expected = "case `handled`: content type")]
    async fn check_answered_fails_an_answer_that_is_not_json() {
        let conformance = Conformance::new().await;
        let (case, mut answered) = handled();
        answered.content_type = Some("text/plain".to_owned());
        conformance.check_answered(&case, &answered);
    }
}
