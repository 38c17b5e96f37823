//! One table of requests and expected responses that every web adapter must
//! pass: this file runs and checks it, `cases.rs` and `adversarial.rs` hold it.
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
use std::time::Duration;

use bytes::Bytes;

use crate::MemoryStore;
use crate::clock::ManualClock;
use crate::dispatch::{Context, Dispatcher, DispatcherBuilder};
use crate::endpoint::{Endpoint, Finished, Request};
use crate::error::{HandlerError, StoreError};
use crate::event::Delivery;
use crate::headers::NoHeaders;
use crate::idempotency::{BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore};
use crate::kind::Kind;
use crate::outcome::{Outcome, Response};
use crate::provider::Provider;
use crate::provider::hmac::HmacEnvelope;
use crate::signature::{Encoding, HmacScheme, StandardScheme};

mod adversarial;
mod cases;

use self::adversarial::{ACCEPTED_ADVERSARIAL, REFUSED_ID, adversarial_cases};
use self::cases::{booking, cases};

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
