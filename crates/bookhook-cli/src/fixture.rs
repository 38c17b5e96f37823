//! Built-in sample payloads for `bookhook send --event TYPE`.
//!
//! The samples are the core crate's [`bookhook::testing::samples`], the
//! project's payload fixtures embedded at build time.
//! Each call gives the payload a fresh idempotency identity (the field or
//! time the provider's key is made of), so that two `send`s of one type are
//! two distinct events.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bookhook::Provider;
use bookhook::testing::samples::SAMPLES;
use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::error::CliError;

/// The event types with a built-in sample for `provider`; empty for the
/// providers that accept any type (standard, hmac).
pub(crate) fn types_of(provider: Provider) -> Vec<&'static str> {
    SAMPLES
        .iter()
        .filter(|s| s.provider == provider)
        .map(|s| s.event_type)
        .collect()
}

/// A fresh sample payload of `event_type` from `provider`.
///
/// The type is matched exactly, then ASCII case-insensitively. Standard and
/// hmac have no published samples: any type gets a minimal envelope.
pub(crate) fn sample(provider: Provider, event_type: &str) -> Result<Vec<u8>, CliError> {
    if event_type.trim().is_empty() {
        return Err(CliError::usage("--event needs a non-empty event type"));
    }
    let now = now_rfc3339();
    let value = match provider {
        Provider::Standard => json!({ "type": event_type, "timestamp": now, "data": {} }),
        Provider::Hmac => json!({
            "type": event_type,
            "id": format!("evt_{}", fresh_hex()),
            "timestamp": now,
            "data": {},
        }),
        _ => {
            let found = SAMPLES
                .iter()
                .find(|s| s.provider == provider && s.event_type == event_type)
                .or_else(|| {
                    SAMPLES.iter().find(|s| {
                        s.provider == provider && s.event_type.eq_ignore_ascii_case(event_type)
                    })
                });
            let Some(found) = found else {
                return Err(CliError::usage(format!(
                    "no built-in {provider} payload of type `{event_type}`; available: {}",
                    types_of(provider).join(", ")
                )));
            };
            let mut value: Value = serde_json::from_str(found.payload).map_err(|err| {
                CliError::failure(format!(
                    "the built-in {provider} {} sample is not json: {err}",
                    found.event_type
                ))
            })?;
            freshen(provider, found.event_type, &mut value, &now);
            value
        }
    };
    serde_json::to_vec(&value)
        .map_err(|err| CliError::failure(format!("cannot write the sample payload: {err}")))
}

/// Replaces what the provider's idempotency key is made of with new values.
fn freshen(provider: Provider, event_type: &str, value: &mut Value, now: &str) {
    let Some(root) = value.as_object_mut() else {
        return;
    };
    match provider {
        // Key: event + data.appointment_key + timestamp, or event + data.id + timestamp.
        Provider::Eagenda | Provider::Calendence => set(root, "timestamp", now.into()),
        // Key: id.
        Provider::Moncreneau => {
            set(root, "id", format!("evt_{}", fresh_hex()).into());
            set(root, "created", now.into());
        }
        // Key: eventType + meetData._id + the change's time (or updatedAt).
        Provider::Orufy => {
            if let Some(meet) = root.get_mut("meetData").and_then(Value::as_object_mut) {
                set(meet, "updatedAt", now.into());
                let change = match event_type {
                    "CANCEL" => Some("cancellation"),
                    "RESCHEDULE" => Some("reschedule"),
                    _ => None,
                };
                if let Some(change) = change
                    .and_then(|c| meet.get_mut(c))
                    .and_then(Value::as_object_mut)
                {
                    set(change, "timestamp", now.into());
                }
            }
        }
        // Key: alertId, else id.
        Provider::Decoda => {
            let fresh = fresh_hex();
            set(root, "id", format!("wh_evt_{fresh}").into());
            set(root, "alertId", format!("alert_{fresh}").into());
            set(root, "createdDate", now.into());
        }
        _ => {}
    }
}

fn set(object: &mut Map<String, Value>, key: &str, value: Value) {
    object.insert(key.to_owned(), value);
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
    use bookhook::{Delivery, Kind, endpoint::NoHeaders};

    use super::*;

    fn parse(provider: Provider, body: Vec<u8>) -> Delivery {
        let headers = [("webhook-id", "msg_test")];
        Delivery::parse(provider, &headers, body.into()).unwrap()
    }

    #[test]
    fn every_sample_parses_as_its_type() {
        for s in SAMPLES {
            let delivery = parse(s.provider, sample(s.provider, s.event_type).unwrap());
            assert_eq!(delivery.raw_event_type(), s.event_type, "{}", s.provider);
        }
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
    fn types_match_case_insensitively_and_unknown_types_list_the_known() {
        let delivery = parse(
            Provider::Calendence,
            sample(Provider::Calendence, "BOOKING.CREATED").unwrap(),
        );
        assert_eq!(delivery.kind(), Kind::Created);
        match sample(Provider::Orufy, "booking.created") {
            Err(CliError::Usage(message)) => assert!(message.contains("BOOK, CANCEL")),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            sample(Provider::Standard, " "),
            Err(CliError::Usage(_))
        ));
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
}
