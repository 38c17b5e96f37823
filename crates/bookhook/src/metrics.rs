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
//!
//! Label values are fixed words (`provider` is [`Provider::as_str`]), never
//! keys, ids or anything from the payload, so the number of series stays small.
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
use std::time::{Duration, Instant};

use metrics::Unit;

use crate::endpoint::Finished;
use crate::error::{HandlerError, VerifyError};
use crate::kind::Provider;
use crate::outcome::{Outcome, Rejection};

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
/// Label: the store call: `claim`, `complete` or `release`.
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
];

/// Gives the installed recorder the unit and help text of every metric in
/// [`ALL`]. Call it once, after installing the recorder.
pub fn describe() {
    for &(name, unit, help) in ALL {
        if name.ends_with("_total") {
            metrics::describe_counter!(name, unit, help);
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

/// The `status` label: the statuses the core answers as static text, so that
/// no label allocates a string.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        400 => "400",
        401 => "401",
        405 => "405",
        409 => "409",
        413 => "413",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// Records what one finished request reports: the delivery counter, the
/// request duration, the verified body's size and any verification failure.
pub(crate) fn record_finished(provider: Provider, finished: &Finished) {
    let provider = provider.as_str();
    let outcome = finished.outcome();
    let outcome_label = outcome.as_str();
    metrics::counter!(
        DELIVERIES,
        PROVIDER => provider,
        OUTCOME => outcome_label,
        STATUS => status_label(outcome.status()),
    )
    .increment(1);
    metrics::histogram!(REQUEST_DURATION, PROVIDER => provider, OUTCOME => outcome_label)
        .record(finished.latency());
    if let Some(delivery) = finished.delivery() {
        metrics::histogram!(BODY_BYTES, PROVIDER => provider).record(delivery.body().len() as f64);
    }
    if let Outcome::Rejected(Rejection::Unauthorized(err)) = outcome {
        metrics::counter!(VERIFICATION_FAILURES, PROVIDER => provider, REASON => verify_reason(err))
            .increment(1);
    }
}

/// Runs a handler's future and records how long it took and how it ended.
pub(crate) async fn time_handler<F>(provider: Provider, handler: F) -> Result<(), HandlerError>
where
    F: Future<Output = Result<(), HandlerError>>,
{
    let started = Instant::now();
    let result = handler.await;
    let label = match &result {
        Ok(()) => "ok",
        Err(HandlerError::Panicked { .. }) => "panic",
        Err(_) => "error",
    };
    metrics::histogram!(HANDLER_DURATION, PROVIDER => provider.as_str(), RESULT => label)
        .record(started.elapsed());
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

fn record_store(call: StoreCall, elapsed: Duration, ok: bool) {
    // Literal labels make static keys: nothing is allocated per call.
    match (call, ok) {
        (StoreCall::Claim, true) => {
            metrics::histogram!(STORE_DURATION, "operation" => "claim", "result" => "ok")
                .record(elapsed);
        }
        (StoreCall::Claim, false) => {
            metrics::histogram!(STORE_DURATION, "operation" => "claim", "result" => "error")
                .record(elapsed);
            metrics::counter!(STORE_ERRORS, "operation" => "claim").increment(1);
        }
        (StoreCall::Complete, true) => {
            metrics::histogram!(STORE_DURATION, "operation" => "complete", "result" => "ok")
                .record(elapsed);
        }
        (StoreCall::Complete, false) => {
            metrics::histogram!(STORE_DURATION, "operation" => "complete", "result" => "error")
                .record(elapsed);
            metrics::counter!(STORE_ERRORS, "operation" => "complete").increment(1);
        }
        (StoreCall::Release, true) => {
            metrics::histogram!(STORE_DURATION, "operation" => "release", "result" => "ok")
                .record(elapsed);
        }
        (StoreCall::Release, false) => {
            metrics::histogram!(STORE_DURATION, "operation" => "release", "result" => "error")
                .record(elapsed);
            metrics::counter!(STORE_ERRORS, "operation" => "release").increment(1);
        }
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
        assert_eq!(names.len(), 7);
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
        for status in [200, 400, 401, 405, 409, 413, 500, 503] {
            assert_eq!(status_label(status), status.to_string());
        }
    }
}
