//! Built-in sample payloads for `bookhook send --event TYPE`.
//!
//! The samples are the core crate's [`bookhook::testing::samples`], the
//! project's payload fixtures embedded at build time; each provider's module
//! says how a copy becomes a distinct event. This module gives it the time
//! and a unique text, and turns its errors into the CLI's.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bookhook::Provider;
use bookhook::testing::samples::{SampleError, fresh_sample};
use chrono::{SecondsFormat, Utc};

use crate::error::CliError;

/// A fresh sample payload of `event_type` from `provider`: two calls give two
/// distinct events of the same appointment.
///
/// The type is matched exactly, then ASCII case-insensitively. Standard and
/// hmac have no published samples: any type gets a minimal envelope.
pub(crate) fn sample(provider: Provider, event_type: &str) -> Result<Vec<u8>, CliError> {
    fresh_sample(provider, event_type, &now_rfc3339(), &fresh_hex()).map_err(|err| match err {
        SampleError::EmptyEventType => CliError::usage("--event needs a non-empty event type"),
        SampleError::UnknownEventType { .. } => CliError::usage(err.to_string()),
        other => CliError::failure(other.to_string()),
    })
}

/// The current time as RFC 3339 in UTC, to the nanosecond.
fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// 32 hex digits that differ on every call (unique, not secret).
pub(crate) fn fresh_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let state = RandomState::new();
    let mut out = String::with_capacity(32);
    for salt in 0..2u8 {
        let mut hasher = state.build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u64(count);
        hasher.write_u32(std::process::id());
        hasher.write_u8(salt);
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out
}

#[cfg(test)]
mod tests {
    use bookhook::testing::samples::SAMPLES;
    use bookhook::{Delivery, endpoint::NoHeaders};

    use super::*;

    fn parse(provider: Provider, body: Vec<u8>) -> Delivery {
        let headers = [("webhook-id", "msg_test")];
        Delivery::parse(provider, &headers, body.into()).unwrap()
    }

    #[test]
    fn two_samples_of_one_type_are_distinct_events() {
        for s in SAMPLES {
            let first = parse(s.provider, sample(s.provider, s.event_type).unwrap());
            let second = parse(s.provider, sample(s.provider, s.event_type).unwrap());
            assert_ne!(
                first.idempotency_key(),
                second.idempotency_key(),
                "{} {}",
                s.provider,
                s.event_type
            );
            assert_eq!(first.appointment_id(), second.appointment_id());
        }
        let first = parse(Provider::Hmac, sample(Provider::Hmac, "x.y").unwrap());
        let second = parse(Provider::Hmac, sample(Provider::Hmac, "x.y").unwrap());
        assert_ne!(first.idempotency_key(), second.idempotency_key());
    }

    #[test]
    fn unknown_and_empty_types_are_usage_errors() {
        match sample(Provider::Orufy, "booking.created") {
            Err(CliError::Usage(message)) => assert!(
                message.starts_with(
                    "no built-in orufy payload of type `booking.created`; available: BOOK, CANCEL"
                ),
                "{message}"
            ),
            other => panic!("unexpected {other:?}"),
        }
        match sample(Provider::Standard, " ") {
            Err(CliError::Usage(message)) => {
                assert_eq!(message, "--event needs a non-empty event type");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn standard_and_hmac_take_any_type() {
        for provider in [Provider::Standard, Provider::Hmac] {
            let body = sample(provider, "invoice.paid").unwrap();
            assert_eq!(parse(provider, body).event_type(), "invoice.paid");
        }
        let parsed = Delivery::parse(
            Provider::Hmac,
            &NoHeaders,
            sample(Provider::Hmac, "a").unwrap().into(),
        );
        assert!(parsed.is_ok());
    }

    #[test]
    fn fresh_hex_is_32_hex_digits_that_differ_on_every_call() {
        let (first, second) = (fresh_hex(), fresh_hex());
        assert_ne!(first, second);
        for hex in [first, second] {
            assert_eq!(hex.len(), 32, "{hex}");
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{hex}");
        }
    }
}
