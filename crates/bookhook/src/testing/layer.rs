//! The conformance table sent through an adapter's `WebhookLayer`, and what each case must give.
//!
//! Both adapters have a `WebhookLayer` in front of a handler of the user's
//! own, which reads a `VerifiedEvent`; these checks hold the two to the same
//! guarantees. The adapter's test builds one route per
//! [`Conformance::mounts`] entry, behind a layer for that mount's endpoint,
//! with an inner handler that asks the [`Journal`] what to do
//! ([`Journal::decide`], marker [`INNER`]) and answers with its own JSON
//! body, reading the raw body the layer hands on. Then [`LayerRun::send_table`]
//! sends every case and the `check_*` methods say what the layer must have
//! done, by the case's [`Stage`]:
//!
//! - [`Stage::Verify`] and [`Stage::Claim`] (refused, duplicate, in flight,
//!   store unavailable): the layer answers with the table's status, body and
//!   `Retry-After` exactly, and the inner handler does not run.
//! - [`Stage::Handler`]: the inner handler runs once and its own response
//!   comes back, except for a panic, which the layer answers with the core's
//!   500 (the table's answer exactly).
//! - [`Stage::Route`]: the inner handler runs and answers too, since a layer
//!   has no routes; its 2xx marks the delivery done.
//!
//! ```
//! use bookhook::testing::conformance::{Answered, Case, Conformance, Journal};
//! use bookhook::testing::layer::LayerRun;
//!
//! /// `send` sends a case to the app built from `conformance.mounts`, whose
//! /// inner handlers use `journal`, and reads the whole answer.
//! async fn check_my_layer(
//!     conformance: &Conformance,
//!     journal: &Journal,
//!     send: impl AsyncFn(&Case) -> Answered,
//! ) {
//!     let run = LayerRun::send_table(conformance, journal, async |case| send(case).await).await;
//!     run.check_all(async |case| send(case).await).await;
//! }
//! ```

use super::conformance::{
    Answer, Answered, Case, Conformance, FAIL_ONCE_ID, IN_FLIGHT_ID, Journal, PANIC_ID, Run, Stage,
    count_stages,
};
use crate::outcome::Outcome;

/// The marker the inner handler gives [`Journal::decide`], so that its
/// answers can be told from the layer's.
pub const INNER: &str = "inner";

/// One case sent through the layer, and what came back.
#[derive(Debug, Clone)]
pub struct Exchange<'a> {
    /// The case.
    pub case: &'a Case,
    /// The answer.
    pub answered: Answered,
    /// The inner handler's runs while this case was served.
    pub runs: Vec<Run>,
}

/// The whole table sent once, in order, through an adapter's layers.
#[derive(Debug)]
pub struct LayerRun<'a> {
    conformance: &'a Conformance,
    journal: Journal,
    exchanges: Vec<Exchange<'a>>,
}

impl<'a> LayerRun<'a> {
    /// Sends every case of `conformance` with `send`, in order, recording
    /// the inner handler's runs (from `journal`, which the inner handler
    /// must use) of each.
    ///
    /// # Panics
    ///
    /// If a case was not sent.
    pub async fn send_table(
        conformance: &'a Conformance,
        journal: &Journal,
        mut send: impl AsyncFnMut(&Case) -> Answered,
    ) -> Self {
        let mut exchanges = Vec::with_capacity(conformance.cases.len());
        for case in &conformance.cases {
            let start = journal.len();
            let answered = send(case).await;
            exchanges.push(Exchange {
                case,
                answered,
                runs: journal.since(start),
            });
        }
        assert_eq!(exchanges.len(), conformance.cases.len(), "every case sent");
        Self {
            conformance,
            journal: journal.clone(),
            exchanges,
        }
    }

    /// What each case gave.
    pub fn exchanges(&self) -> &[Exchange<'a>] {
        &self.exchanges
    }

    /// Every check below, `send` being the same as for [`send_table`](Self::send_table).
    pub async fn check_all(&self, send: impl AsyncFnMut(&Case) -> Answered) {
        self.check_refused_and_claim_cases();
        self.check_inner_handler_cases();
        self.check_runs();
        self.check_unrouted_is_done(send).await;
    }

    /// Refused, duplicate, in-flight and store-down cases: answered by the
    /// layer exactly like a dispatcher, and the inner handler did not run.
    ///
    /// # Panics
    ///
    /// On the first case that does not.
    pub fn check_refused_and_claim_cases(&self) {
        let counts = count_stages(self.exchanges.iter().map(|e| e.case));
        let mut checked = 0;
        for exchange in &self.exchanges {
            let case = exchange.case;
            if !matches!(case.stage(), Stage::Verify | Stage::Claim) {
                continue;
            }
            self.conformance.check_answered(case, &exchange.answered);
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

    /// Authentic new deliveries reach the inner handler once, with the body
    /// as it was sent, and its response comes back unchanged; a panic is
    /// answered with the core's 500.
    ///
    /// Where this differs from a dispatcher: the layer passes the inner
    /// response through unchanged (its documented contract), so the body is
    /// the handler's own rather than the core's `{"status":"ok"}` or
    /// `handler_failed` body. The status is the table's, since the handler,
    /// like the table's, answers 2xx when it succeeds and 500 when it fails.
    ///
    /// # Panics
    ///
    /// On the first case that does not.
    pub fn check_inner_handler_cases(&self) {
        let counts = count_stages(self.exchanges.iter().map(|e| e.case));
        let (mut passed_through, mut panicked) = (0, 0);
        for exchange in &self.exchanges {
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
                    assert_eq!(run.id, PANIC_ID, "case `{}`", case.name);
                    self.conformance.check_answered(case, answered);
                    panicked += 1;
                }
                Answer::Responded(status, body) => {
                    assert_eq!(
                        (answered.status, String::from_utf8_lossy(&answered.body)),
                        (*status, body.as_str().into()),
                        "case `{}`: the inner response, unchanged",
                        case.name
                    );
                    assert_eq!(answered.status, case.status, "case `{}`", case.name);
                    assert_eq!(answered.retry_after, None, "case `{}`", case.name);
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

    /// The table's exactly-once guarantees hold through the layer: a
    /// delivery whose handler failed runs again on the retry (the failure
    /// released the claim) and is a duplicate after that; a key held by
    /// another worker never runs here.
    ///
    /// # Panics
    ///
    /// If they do not.
    pub fn check_runs(&self) {
        let counts = count_stages(self.exchanges.iter().map(|e| e.case));
        assert_eq!(
            self.journal.len(),
            counts[&Stage::Route] + counts[&Stage::Handler],
            "one run per case that reaches the handler, none for the others"
        );
        assert_eq!(
            self.journal.runs(FAIL_ONCE_ID),
            2,
            "failure, then the retry"
        );
        assert_eq!(self.journal.runs(PANIC_ID), 1);
        assert_eq!(self.journal.runs(IN_FLIGHT_ID), 0, "held by another worker");
        let fail_once: Vec<_> = self
            .exchanges
            .iter()
            .filter(|e| e.runs.iter().any(|run| run.id == FAIL_ONCE_ID))
            .map(|e| e.answered.status)
            .collect();
        assert_eq!(fail_once, [500, 200], "the failure released the claim");
    }

    /// A layer has no routes: an event type the table's dispatcher does not
    /// route ([`Stage::Route`]) is the inner handler's to answer, and its 2xx
    /// marks the delivery done, as the dispatcher does for an unrouted
    /// event: sent again (with `send`, to the same app), it is a duplicate
    /// and the handler does not run.
    ///
    /// # Panics
    ///
    /// If it is not.
    pub async fn check_unrouted_is_done(&self, mut send: impl AsyncFnMut(&Case) -> Answered) {
        let counts = count_stages(self.exchanges.iter().map(|e| e.case));
        let duplicate = Outcome::Duplicate.response();
        let mut unrouted = 0;
        for exchange in self
            .exchanges
            .iter()
            .filter(|e| e.case.stage() == Stage::Route)
        {
            let (case, answered) = (exchange.case, &exchange.answered);
            assert_eq!(exchange.runs.len(), 1, "case `{}`: runs", case.name);
            assert_eq!(answered.status, 200, "case `{}`", case.name);
            assert_ne!(
                String::from_utf8_lossy(&answered.body),
                case.response_body,
                "case `{}`: the inner handler answered, not the core",
                case.name
            );
            let runs = self.journal.len();
            let again = send(case).await;
            assert_eq!(again.status, duplicate.status);
            assert_eq!(
                again.body, duplicate.body,
                "case `{}`: sent again",
                case.name
            );
            assert_eq!(
                self.journal.len(),
                runs,
                "case `{}`: no second run",
                case.name
            );
            unrouted += 1;
        }
        assert_eq!(unrouted, counts[&Stage::Route]);
    }
}
