//! The metrics every delivery reports, through the [`metrics`] facade.
//!
//! bookhook records; your binary chooses where the numbers go by installing a
//! recorder (an exporter) from the `metrics` ecosystem, such as
//! `metrics-exporter-prometheus`. Without one, every call lands in the
//! facade's no-op recorder. Because the core records them, the axum and
//! actix-web adapters, the CLI and any integration of your own report the
//! same names and labels.
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | [`DELIVERIES`] | counter | `provider`, `outcome`, `status` | requests answered, by [`Outcome::as_str`] and HTTP status |
//! | [`VERIFICATION_FAILURES`] | counter | `provider`, `reason` | requests refused with 401, by [`verify_reason`] |
//! | [`BODY_BYTES`] | histogram | `provider` | size of each verified body, in bytes |
//! | [`REQUEST_DURATION`] | histogram | `provider`, `outcome` | seconds from the start of processing to the outcome |
//! | [`HANDLER_DURATION`] | histogram | `provider`, `result` | seconds in a [`Dispatcher`](crate::Dispatcher)'s handler; `result` is `ok`, `error` or `panic` |
//! | [`STORE_DURATION`] | histogram | `operation`, `result` | seconds per idempotency store call; `operation` is `claim`, `complete` or `release`, `result` is `ok` or `error` |
//! | [`STORE_ERRORS`] | counter | `operation` | idempotency store calls that failed |
//! | [`FRONT_DOOR_REFUSALS`] | counter | `limit` | requests or connections turned away by a limit of the front door: `deliveries` or `unverified_bytes` (503), `body_timeout` (408), or `connections` (a server reached its connection cap) |
//! | [`INBOX_ATTEMPTS`] | counter | `provider`, `result` | inbox attempts, by how they ended: `processed`, `unrouted`, `retrying`, `dead`, `lease_lost` or `not_recorded` |
//! | [`INBOX_ATTEMPT_DURATION`] | histogram | `provider`, `result` | seconds per inbox attempt, handler included |
//! | [`INBOX_EVENTS`] | gauge | `state` | events in the inbox per state (`pending`, `processing`, `done`, `dead`), read by the worker every 10 s |
//! | [`INBOX_OLDEST_PENDING_AGE`] | gauge | | seconds since the oldest pending event was received (0 when none) |
//! | [`INBOX_ERRORS`] | counter | `operation` | inbox calls of the worker that failed (`claim`, `complete`, `fail`, `stats`, `expire`) |
//!
//! Label values are fixed words (`provider` is [`Provider::as_str`]), never
//! keys, ids or anything from the payload, so the number of series stays small.
//!
//! Each label combination's key is built once and kept, so recording
//! allocates nothing. Without a recorder, a handled delivery costs six clock
//! reads (the handler's and the two store calls' timings) and a few calls
//! into the facade's no-op recorder.
//!
//! Call [`describe`] once after installing a recorder to give each metric its
//! unit and help text:
//!
//! ```
//! // After installing the exporter of your choice, for example
//! // metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder():
//! bookhook::metrics::describe();
//! ```

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics::{Key, Label, Level, Metadata, Unit};

use crate::endpoint::Finished;
use crate::error::{HandlerError, VerifyError};
use crate::outcome::{Outcome, Rejection};
use crate::provider::Provider;

/// Counter of answered requests. Labels: [`PROVIDER`], [`OUTCOME`], [`STATUS`].
pub const DELIVERIES: &str = "bookhook_deliveries_total";
/// Counter of requests refused because they are not authentic or their
/// timestamp is out of the window. Labels: [`PROVIDER`], [`REASON`].
pub const VERIFICATION_FAILURES: &str = "bookhook_verification_failures_total";
/// Histogram of the size of verified bodies, in bytes. Labels: [`PROVIDER`].
pub const BODY_BYTES: &str = "bookhook_body_bytes";
/// Histogram of the time from the start of processing a request to its
/// outcome, in seconds (the handler included). Labels: [`PROVIDER`], [`OUTCOME`].
pub const REQUEST_DURATION: &str = "bookhook_request_duration_seconds";
/// Histogram of the time spent in a [`Dispatcher`](crate::Dispatcher)'s
/// handler, in seconds. Labels: [`PROVIDER`], [`RESULT`].
pub const HANDLER_DURATION: &str = "bookhook_handler_duration_seconds";
/// Histogram of the time of one idempotency store call, in seconds.
/// Labels: [`OPERATION`], [`RESULT`].
pub const STORE_DURATION: &str = "bookhook_store_duration_seconds";
/// Counter of idempotency store calls that failed. Labels: [`OPERATION`].
pub const STORE_ERRORS: &str = "bookhook_store_errors_total";

/// Counter of requests or connections turned away by a limit of the front
/// door. Labels: [`LIMIT`].
pub const FRONT_DOOR_REFUSALS: &str = "bookhook_front_door_refusals_total";
/// Counter of inbox attempts, by how they ended. Labels: [`PROVIDER`], [`RESULT`].
pub const INBOX_ATTEMPTS: &str = "bookhook_inbox_attempts_total";
/// Histogram of the time of one inbox attempt, in seconds. Labels:
/// [`PROVIDER`], [`RESULT`].
pub const INBOX_ATTEMPT_DURATION: &str = "bookhook_inbox_attempt_duration_seconds";
/// Gauge of the events in the inbox per state. Labels: [`STATE`].
pub const INBOX_EVENTS: &str = "bookhook_inbox_events";
/// Gauge of the age of the oldest pending event, in seconds (0 when none).
pub const INBOX_OLDEST_PENDING_AGE: &str = "bookhook_inbox_oldest_pending_age_seconds";
/// Counter of the worker's inbox calls that failed. Labels: [`OPERATION`].
pub const INBOX_ERRORS: &str = "bookhook_inbox_errors_total";

/// Label: which limit of the front door refused (`connections`,
/// `deliveries`, `unverified_bytes`, `body_timeout`).
pub const LIMIT: &str = "limit";
/// Label: an inbox state (`pending`, `processing`, `done`, `dead`).
pub const STATE: &str = "state";

/// Label: the platform, as [`Provider::as_str`] (`calendence`, `standard`...).
pub const PROVIDER: &str = "provider";
/// Label: the outcome, as [`Outcome::as_str`] (`handled`, `duplicate`...).
pub const OUTCOME: &str = "outcome";
/// Label: the HTTP status answered, as three digits.
pub const STATUS: &str = "status";
/// Label: why verification failed, as [`verify_reason`] names it.
pub const REASON: &str = "reason";
/// Label: `ok` or `error`, and for handlers also `panic`.
pub const RESULT: &str = "result";
/// Label: the store call (`claim`, `complete` or `release`), or the
/// inbox call.
pub const OPERATION: &str = "operation";

/// Every metric: its name, unit and help text. [`describe`] hands them to the
/// installed recorder.
pub const ALL: &[(&str, Unit, &str)] = &[
    (
        DELIVERIES,
        Unit::Count,
        "Webhook requests answered, by provider, outcome and HTTP status.",
    ),
    (
        VERIFICATION_FAILURES,
        Unit::Count,
        "Webhook requests refused by signature or timestamp verification, by reason.",
    ),
    (
        BODY_BYTES,
        Unit::Bytes,
        "Size of each verified webhook body, in bytes.",
    ),
    (
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from the start of processing a webhook request to its outcome.",
    ),
    (
        HANDLER_DURATION,
        Unit::Seconds,
        "Time spent in a dispatcher's handler.",
    ),
    (
        STORE_DURATION,
        Unit::Seconds,
        "Time of one idempotency store call.",
    ),
    (
        STORE_ERRORS,
        Unit::Count,
        "Idempotency store calls that failed.",
    ),
    (
        FRONT_DOOR_REFUSALS,
        Unit::Count,
        "Requests or connections turned away by a limit of the front door.",
    ),
    (
        INBOX_ATTEMPTS,
        Unit::Count,
        "Inbox attempts, by how they ended.",
    ),
    (
        INBOX_ATTEMPT_DURATION,
        Unit::Seconds,
        "Time of one inbox attempt, handler included.",
    ),
    (INBOX_EVENTS, Unit::Count, "Events in the inbox per state."),
    (
        INBOX_OLDEST_PENDING_AGE,
        Unit::Seconds,
        "Age of the oldest pending inbox event.",
    ),
    (
        INBOX_ERRORS,
        Unit::Count,
        "Inbox calls of the worker that failed.",
    ),
];

/// The metrics in [`ALL`] that are gauges; the others are counters (their
/// names end in `_total`) or histograms.
const GAUGES: [&str; 2] = [INBOX_EVENTS, INBOX_OLDEST_PENDING_AGE];

/// Gives the installed recorder the unit and help text of every metric in
/// [`ALL`]. Call it once, after installing the recorder.
pub fn describe() {
    for &(name, unit, help) in ALL {
        if name.ends_with("_total") {
            metrics::describe_counter!(name, unit, help);
        } else if GAUGES.contains(&name) {
            metrics::describe_gauge!(name, unit, help);
        } else {
            metrics::describe_histogram!(name, unit, help);
        }
    }
}

/// The `reason` label of a verification failure: the [`VerifyError`]
/// variant in `snake_case` (`invalid_signature`, `missing_header`,
/// `timestamp_too_old`...).
pub fn verify_reason(err: &VerifyError) -> &'static str {
    #[allow(
        unreachable_patterns,
        reason = "a variant added later is counted as `other` until it is named here"
    )]
    match err {
        VerifyError::MissingHeader { .. } => "missing_header",
        VerifyError::RepeatedHeader { .. } => "repeated_header",
        VerifyError::RepeatedParameter { .. } => "repeated_parameter",
        VerifyError::MalformedSignature { .. } => "malformed_signature",
        VerifyError::InvalidSignature => "invalid_signature",
        VerifyError::MalformedTimestamp { .. } => "malformed_timestamp",
        VerifyError::TimestampTooOld { .. } => "timestamp_too_old",
        VerifyError::TimestampTooNew { .. } => "timestamp_too_new",
        VerifyError::MissingToken { .. } => "missing_token",
        VerifyError::InvalidToken => "invalid_token",
        _ => "other",
    }
}

/// The statuses the core answers, as label values.
const STATUSES: [&str; 9] = [
    "200", "400", "401", "405", "408", "409", "413", "500", "503",
];

/// The `status` label: the statuses the core answers as static text, so that
/// no label allocates a string.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        400 => "400",
        401 => "401",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// The outcomes, as [`Outcome::as_str`] names them.
const OUTCOMES: [&str; 8] = [
    "handled",
    "queued",
    "duplicate",
    "unrouted",
    "in_flight",
    "rejected",
    "failed",
    "unavailable",
];

/// The verification failure reasons, as [`verify_reason`] names them.
const REASONS: [&str; 11] = [
    "missing_header",
    "repeated_header",
    "repeated_parameter",
    "malformed_signature",
    "invalid_signature",
    "malformed_timestamp",
    "timestamp_too_old",
    "timestamp_too_new",
    "missing_token",
    "invalid_token",
    "other",
];

/// The handler results.
const RESULTS: [&str; 3] = ["ok", "error", "panic"];

const PROVIDERS: usize = Provider::ALL.len();

/// Where `value` is in `values`.
fn position(values: &[&str], value: &str) -> Option<usize> {
    values.iter().position(|v| *v == value)
}

/// The keys of one metric, built on first use and kept for the life of the
/// process, so that recording allocates nothing. With no recorder installed,
/// recording is then a lookup and a call to the facade's no-op recorder.
struct Keys<const N: usize> {
    name: &'static str,
    slots: [OnceLock<Key>; N],
}

impl<const N: usize> Keys<N> {
    const fn new(name: &'static str) -> Self {
        Self {
            name,
            slots: [const { OnceLock::new() }; N],
        }
    }

    /// Runs `record` with the key of these `labels`, kept in slot `slot`
    /// (`None` for a combination not in the table: the key is built for
    /// this call only).
    fn with(
        &self,
        slot: Option<usize>,
        labels: &[(&'static str, &'static str)],
        record: impl FnOnce(&Key),
    ) {
        let build = || {
            let labels: Vec<Label> = labels
                .iter()
                .map(|&(k, v)| Label::from_static_parts(k, v))
                .collect();
            Key::from_parts(self.name, labels)
        };
        match slot.and_then(|slot| self.slots.get(slot)) {
            Some(cell) => record(cell.get_or_init(build)),
            None => record(&build()),
        }
    }
}

/// What the facade's macros would attach to each metric.
static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

static DELIVERY_KEYS: Keys<{ PROVIDERS * OUTCOMES.len() * STATUSES.len() }> = Keys::new(DELIVERIES);
static REQUEST_KEYS: Keys<{ PROVIDERS * OUTCOMES.len() }> = Keys::new(REQUEST_DURATION);
static BODY_KEYS: Keys<PROVIDERS> = Keys::new(BODY_BYTES);
static FAILURE_KEYS: Keys<{ PROVIDERS * REASONS.len() }> = Keys::new(VERIFICATION_FAILURES);
static HANDLER_KEYS: Keys<{ PROVIDERS * RESULTS.len() }> = Keys::new(HANDLER_DURATION);

fn increment(key: &Key) {
    metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

fn record(key: &Key, value: f64) {
    metrics::with_recorder(|recorder| recorder.register_histogram(key, &METADATA).record(value));
}

/// Records what one finished request reports: the delivery counter, the
/// request duration, the verified body's size and any verification failure.
pub(crate) fn record_finished(provider: Provider, finished: &Finished) {
    record_request(
        provider,
        finished.outcome(),
        finished.latency(),
        finished.delivery().map(|d| d.body().len()),
    );
}

/// Records one answered request, in direct or inbox mode.
pub(crate) fn record_request(
    provider: Provider,
    outcome: &Outcome,
    latency: Duration,
    body_len: Option<usize>,
) {
    let p = Provider::ALL.iter().position(|&known| known == provider);
    let provider = provider.as_str();
    let outcome_label = outcome.as_str();
    let status = status_label(outcome.status());
    let o = position(&OUTCOMES, outcome_label);
    let s = position(&STATUSES, status);

    let slot = p
        .zip(o)
        .zip(s)
        .map(|((p, o), s)| (p * OUTCOMES.len() + o) * STATUSES.len() + s);
    let labels = [
        (PROVIDER, provider),
        (OUTCOME, outcome_label),
        (STATUS, status),
    ];
    DELIVERY_KEYS.with(slot, &labels, increment);

    let slot = p.zip(o).map(|(p, o)| p * OUTCOMES.len() + o);
    let latency = latency.as_secs_f64();
    REQUEST_KEYS.with(slot, &labels[..2], |key| record(key, latency));

    if let Some(len) = body_len {
        let size = len as f64;
        BODY_KEYS.with(p, &labels[..1], |key| record(key, size));
    }
    match outcome {
        Outcome::Rejected(Rejection::Busy { limit, .. }) => front_door_refused(limit),
        Outcome::Rejected(Rejection::BodyTimeout { .. }) => front_door_refused("body_timeout"),
        _ => {}
    }
    if let Outcome::Rejected(Rejection::Unauthorized(err)) = outcome {
        let reason = verify_reason(err);
        let slot = p
            .zip(position(&REASONS, reason))
            .map(|(p, r)| p * REASONS.len() + r);
        FAILURE_KEYS.with(slot, &[(PROVIDER, provider), (REASON, reason)], increment);
    }
}

/// Counts one request or connection turned away by a limit of the front door
/// ([`FRONT_DOOR_REFUSALS`]): adapters call it for the limits they enforce
/// themselves, such as the connection cap of `bookhook_axum::serve`.
pub fn front_door_refused(limit: &'static str) {
    metrics::counter!(FRONT_DOOR_REFUSALS, LIMIT => limit).increment(1);
}

/// Records one inbox attempt: how it ended and how long it took.
pub(crate) fn record_attempt(provider: Provider, result: &'static str, duration: Duration) {
    let provider = provider.as_str();
    metrics::counter!(INBOX_ATTEMPTS, PROVIDER => provider, RESULT => result).increment(1);
    metrics::histogram!(INBOX_ATTEMPT_DURATION, PROVIDER => provider, RESULT => result)
        .record(duration.as_secs_f64());
}

/// Counts a failed inbox call of the worker.
pub(crate) fn inbox_error(operation: &'static str) {
    metrics::counter!(INBOX_ERRORS, OPERATION => operation).increment(1);
}

/// Sets the inbox gauges from its counts; `now_ms` dates the oldest pending event.
pub(crate) fn record_inbox_stats(stats: &crate::inbox::Stats, now_ms: i64) {
    for (state, count) in [
        ("pending", stats.pending),
        ("processing", stats.processing),
        ("done", stats.done),
        ("dead", stats.dead),
    ] {
        metrics::gauge!(INBOX_EVENTS, STATE => state).set(count as f64);
    }
    let age_ms = stats
        .oldest_pending_received_ms
        .map_or(0, |at| now_ms.saturating_sub(at).max(0));
    metrics::gauge!(INBOX_OLDEST_PENDING_AGE).set(age_ms as f64 / 1000.0);
}

/// Runs a handler's future and records how long it took and how it ended.
pub(crate) async fn time_handler<F>(provider: Provider, handler: F) -> Result<(), HandlerError>
where
    F: Future<Output = Result<(), HandlerError>>,
{
    let started = Instant::now();
    let result = handler.await;
    let elapsed = started.elapsed().as_secs_f64();
    let label = match &result {
        Ok(()) => "ok",
        Err(HandlerError::Panicked { .. }) => "panic",
        Err(_) => "error",
    };
    let slot = Provider::ALL
        .iter()
        .position(|&known| known == provider)
        .zip(position(&RESULTS, label))
        .map(|(p, r)| p * RESULTS.len() + r);
    let labels = [(PROVIDER, provider.as_str()), (RESULT, label)];
    HANDLER_KEYS.with(slot, &labels, |key| record(key, elapsed));
    result
}

/// The idempotency store calls that are timed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StoreCall {
    Claim,
    Complete,
    Release,
}

/// Runs a store call's future and records its round trip and any error.
pub(crate) async fn time_store<F, T, E>(call: StoreCall, store_call: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let result = store_call.await;
    record_store(call, started.elapsed(), result.is_ok());
    result
}

static STORE_KEYS: Keys<6> = Keys::new(STORE_DURATION);
static STORE_ERROR_KEYS: Keys<3> = Keys::new(STORE_ERRORS);

fn record_store(call: StoreCall, elapsed: Duration, ok: bool) {
    let (index, operation) = match call {
        StoreCall::Claim => (0, "claim"),
        StoreCall::Complete => (1, "complete"),
        StoreCall::Release => (2, "release"),
    };
    let result = if ok { "ok" } else { "error" };
    let labels = [(OPERATION, operation), (RESULT, result)];
    let elapsed = elapsed.as_secs_f64();
    STORE_KEYS.with(Some(index * 2 + usize::from(!ok)), &labels, |key| {
        record(key, elapsed);
    });
    if !ok {
        STORE_ERROR_KEYS.with(Some(index), &labels[..1], increment);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_described_once() {
        let mut names: Vec<&str> = ALL.iter().map(|&(name, _, _)| name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(names.iter().all(|name| name.starts_with("bookhook_")));
    }

    #[test]
    fn verification_reasons_name_the_error() {
        assert_eq!(
            verify_reason(&VerifyError::InvalidSignature),
            "invalid_signature"
        );
        assert_eq!(verify_reason(&VerifyError::InvalidToken), "invalid_token");
    }

    #[test]
    fn every_status_the_core_answers_has_its_own_label() {
        for status in [200, 400, 401, 405, 408, 409, 413, 500, 503] {
            assert_eq!(status_label(status), status.to_string());
            assert!(position(&STATUSES, status_label(status)).is_some());
        }
    }

    #[test]
    fn every_outcome_and_reason_has_a_kept_key() {
        use std::time::Duration;

        let outcomes = [
            Outcome::Handled,
            Outcome::Duplicate,
            Outcome::Unrouted,
            Outcome::InFlight {
                retry_after: Duration::from_secs(1),
            },
            Outcome::Rejected(Rejection::MethodNotAllowed),
            Outcome::Failed(HandlerError::new("failed")),
            Outcome::StoreUnavailable(crate::StoreError::Unavailable {
                reason: "down".into(),
            }),
        ];
        for outcome in &outcomes {
            assert!(
                position(&OUTCOMES, outcome.as_str()).is_some(),
                "{outcome:?}"
            );
        }
        assert_eq!(
            position(&REASONS, verify_reason(&VerifyError::InvalidToken)),
            Some(9)
        );
    }
}
