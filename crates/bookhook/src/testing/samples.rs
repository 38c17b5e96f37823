//! The platforms' sample payloads, to test your own handlers with.
//!
//! [`SAMPLES`] holds a JSON body for every event type the presets list (as
//! `bookhook providers` shows them), one per type, embedded at build time
//! from the crate's `fixtures` directory:
//!
//! - `fixtures/payloads`: the examples eAgenda, MonCréneau and Calendence
//!   publish on their webhook pages, exactly as published (keys, order and
//!   values), and Orufy's and Decoda's, which publish no complete example,
//!   written from the documented field lists;
//! - `fixtures/samples`: the types no platform publishes an example of (such
//!   as Calendence's `booking.cancelled` or Decoda's `CALL_RECEIVED`), written
//!   here in the shape of the same platform's published or documented
//!   payloads.
//!
//! Written samples may differ from real deliveries in the values and in
//! fields the documents do not name. Decoda's misspelled `CALL_RECIEVED` has
//! its own sample beside `CALL_RECEIVED`. Standard and hmac senders have no
//! samples, since their payloads are whatever the sender defines.
//!
//! A sample carries fixed identifiers and times, so it always gives the same
//! [`idempotency_key`](crate::Delivery::idempotency_key): sent twice through
//! one dispatcher, the second copy is a duplicate. For distinct events, take
//! [`fresh_sample`]: a copy with new values in the fields the key is made of
//! (what `bookhook send --event TYPE` sends).
//!
//! Testing a handler with a sample, signed as the platform would sign it:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use bookhook::testing::{samples, signed_request};
//! use bookhook::{Context, DispatcherBuilder, Endpoint, Kind, Provider, endpoint::Request};
//!
//! /// The handler under test: it records the appointments that were cancelled.
//! async fn on_cancelled(
//!     ctx: Context<Arc<Mutex<Vec<String>>>>,
//! ) -> Result<(), std::convert::Infallible> {
//!     if let Some(appointment) = ctx.appointment() {
//!         ctx.state().lock().unwrap().push(appointment.id.clone());
//!     }
//!     Ok(())
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cancelled = Arc::new(Mutex::new(Vec::new()));
//! let endpoint = Endpoint::builder(Provider::Moncreneau).secret("whsec_test").build()?;
//! let dispatcher = DispatcherBuilder::new(endpoint, cancelled.clone())
//!     .on_kind(Kind::Cancelled, on_cancelled)
//!     .build()?;
//!
//! let body = samples::sample(Provider::Moncreneau, "appointment.cancelled").unwrap();
//! let (headers, query) = signed_request(dispatcher.endpoint(), body.as_bytes());
//! let report = dispatcher
//!     .dispatch(Request::post(&headers, body.into()).with_query(query.as_deref()))
//!     .await;
//! assert_eq!(report.status(), 200);
//! assert_eq!(report.outcome().as_str(), "handled");
//! assert_eq!(*cancelled.lock().unwrap(), ["12345"]);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use serde_json::Value;

use crate::provider::{Fill, Provider};

/// One platform's payload of one event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sample {
    /// The platform that sends it.
    pub provider: Provider,
    /// The event type exactly as the platform sends it (what
    /// [`Delivery::raw_event_type`](crate::Delivery::raw_event_type) reads).
    pub event_type: &'static str,
    /// The JSON body.
    pub payload: &'static str,
}

/// Every sample, grouped by provider in [`Provider::ALL`]'s order (eAgenda,
/// MonCréneau, Orufy, Calendence, Decoda), one for each event type the
/// provider lists, from each provider's own table.
pub const SAMPLES: &[Sample] = &ALL;

const ALL: [Sample; count()] = collect();

/// How many samples the providers' tables hold.
const fn count() -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < Provider::ALL.len() {
        let samples = Provider::ALL[i].description().samples;
        let mut j = 0;
        while j < samples.len() {
            if samples[j].is_some() {
                count += 1;
            }
            j += 1;
        }
        i += 1;
    }
    count
}

/// The providers' samples, one after the other.
const fn collect() -> [Sample; count()] {
    let empty = Sample {
        provider: Provider::ALL[0],
        event_type: "",
        payload: "",
    };
    let mut all = [empty; count()];
    let mut k = 0;
    let mut i = 0;
    while i < Provider::ALL.len() {
        let provider = Provider::ALL[i];
        let samples = provider.description().samples;
        let mut j = 0;
        while j < samples.len() {
            if let Some((event_type, payload)) = samples[j] {
                all[k] = Sample {
                    provider,
                    event_type,
                    payload,
                };
                k += 1;
            }
            j += 1;
        }
        i += 1;
    }
    all
}

/// The payload of `event_type` from `provider`, if there is a sample of it.
///
/// The type is matched exactly, as the platform spells it.
///
/// ```
/// use bookhook::Provider;
/// use bookhook::testing::samples::sample;
///
/// assert!(sample(Provider::Orufy, "BOOK").is_some());
/// assert_eq!(sample(Provider::Orufy, "book"), None);
/// assert_eq!(sample(Provider::Standard, "invoice.paid"), None);
/// ```
pub fn sample(provider: Provider, event_type: &str) -> Option<&'static str> {
    SAMPLES
        .iter()
        .find(|s| s.provider == provider && s.event_type == event_type)
        .map(|s| s.payload)
}

/// A copy of the sample of `event_type` from `provider` that is a new event:
/// the same type and appointment, with a new idempotency key.
///
/// The type is matched exactly, then ASCII case-insensitively. The fields
/// the provider's key is made of get `now` where they hold a time (RFC 3339
/// text, as the platforms write it) and `unique`, after a prefix such as
/// `evt_`, where they hold an identifier; `unique` should differ on every
/// call. Standard and hmac senders have no samples: any type gets a minimal
/// envelope of that type.
///
/// ```
/// use bookhook::Provider;
/// use bookhook::endpoint::NoHeaders;
/// use bookhook::testing::samples::{SampleError, fresh_sample};
/// use bookhook::{Delivery, Kind};
///
/// let first = fresh_sample(Provider::Calendence, "booking.created", "2026-07-01T09:30:00Z", "a1")?;
/// let second = fresh_sample(Provider::Calendence, "BOOKING.CREATED", "2026-07-01T09:30:01Z", "b2")?;
/// let first = Delivery::parse(Provider::Calendence, &NoHeaders, first.into())?;
/// let second = Delivery::parse(Provider::Calendence, &NoHeaders, second.into())?;
/// assert_eq!(second.kind(), Kind::Created);
/// assert_eq!(first.appointment_id(), second.appointment_id());
/// assert_ne!(first.idempotency_key(), second.idempotency_key());
///
/// let invoice = fresh_sample(Provider::Hmac, "invoice.paid", "2026-07-01T09:30:00Z", "c3")?;
/// let invoice = Delivery::parse(Provider::Hmac, &NoHeaders, invoice.into())?;
/// assert_eq!(invoice.event_type(), "invoice.paid");
/// assert_eq!(invoice.idempotency_key(), "evt_c3");
///
/// let unknown = fresh_sample(Provider::Orufy, "booking.created", "2026-07-01T09:30:00Z", "d4");
/// assert!(matches!(unknown, Err(SampleError::UnknownEventType { .. })));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn fresh_sample(
    provider: Provider,
    event_type: &str,
    now: &str,
    unique: &str,
) -> Result<Vec<u8>, SampleError> {
    if event_type.trim().is_empty() {
        return Err(SampleError::EmptyEventType);
    }
    let freshen = provider.description().freshen;
    let of_provider = || SAMPLES.iter().filter(move |s| s.provider == provider);
    let found = of_provider()
        .find(|s| s.event_type == event_type)
        .or_else(|| of_provider().find(|s| s.event_type.eq_ignore_ascii_case(event_type)));
    let (event_type, body) = match (found, freshen.envelope) {
        (Some(found), _) => (found.event_type, found.payload),
        (None, Some(envelope)) => (event_type, envelope),
        (None, None) => {
            return Err(SampleError::UnknownEventType {
                provider,
                event_type: event_type.to_owned(),
                known: of_provider().map(|s| s.event_type).collect(),
            });
        }
    };
    let mut value: Value = serde_json::from_str(body).map_err(|err| SampleError::NotJson {
        provider,
        event_type: event_type.to_owned(),
        reason: err.to_string(),
    })?;
    for &(pointer, fill) in freshen.fields {
        if let Some(field) = value.pointer_mut(pointer) {
            *field = match fill {
                Fill::Now => now.into(),
                Fill::Unique(prefix) => format!("{prefix}{unique}").into(),
                Fill::EventType => event_type.into(),
            };
        }
    }
    Ok(value.to_string().into_bytes())
}

/// Why [`fresh_sample`] gives no sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SampleError {
    /// The event type is empty or only spaces.
    #[error("the event type is empty")]
    EmptyEventType,
    /// The provider has no sample of the type, and takes no other types.
    #[error(
        "no built-in {provider} payload of type `{event_type}`; available: {}",
        known.join(", ")
    )]
    UnknownEventType {
        /// The provider asked for.
        provider: Provider,
        /// The type asked for.
        event_type: String,
        /// The types the provider has samples of, as the platform spells them.
        known: Vec<&'static str>,
    },
    /// The provider's sample or envelope is not JSON (a broken build).
    #[error("the built-in {provider} {event_type} sample is not json: {reason}")]
    NotJson {
        /// The provider of the sample.
        provider: Provider,
        /// The type of the sample.
        event_type: String,
        /// The JSON parser's message.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::{Delivery, NoHeaders};

    #[test]
    fn every_sample_parses_for_its_provider_with_its_event_type() {
        for s in SAMPLES {
            let delivery = Delivery::parse(s.provider, &NoHeaders, s.payload.into())
                .unwrap_or_else(|e| panic!("{} {}: {e}", s.provider, s.event_type));
            assert_eq!(delivery.provider(), s.provider);
            assert_eq!(delivery.raw_event_type(), s.event_type, "{}", s.provider);
        }
    }

    #[test]
    fn every_payload_fixture_is_a_sample_with_the_same_bytes() {
        let mut files = BTreeSet::new();
        for root in ["fixtures/payloads", "fixtures/samples"] {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
            collect(&root, &mut files);
        }
        let samples: BTreeSet<_> = SAMPLES
            .iter()
            .map(|s| {
                (
                    s.provider.as_str().to_owned(),
                    s.event_type.to_owned(),
                    s.payload.to_owned(),
                )
            })
            .collect();
        assert_eq!(samples.len(), SAMPLES.len(), "a sample is listed twice");
        assert_eq!(samples, files);
    }

    /// The `(provider, event type, text)` of every `<provider>/<type>.json` under `root`.
    fn collect(root: &Path, files: &mut BTreeSet<(String, String, String)>) {
        for dir in std::fs::read_dir(root).unwrap() {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&dir).unwrap() {
                let file = file.unwrap().path();
                if file.extension().is_some_and(|e| e == "json") {
                    let provider = dir.file_name().unwrap().to_str().unwrap().to_owned();
                    let event_type = file.file_stem().unwrap().to_str().unwrap().to_owned();
                    let text = std::fs::read_to_string(&file).unwrap();
                    files.insert((provider, event_type, text));
                }
            }
        }
    }

    #[test]
    fn every_decoda_type_has_a_sample_of_its_kind_and_payload() {
        use crate::provider::decoda::{self, EventType};
        for &event_type in EventType::ALL {
            let payload = sample(Provider::Decoda, event_type.as_str())
                .unwrap_or_else(|| panic!("no sample of {event_type}"));
            let delivery = Delivery::parse(Provider::Decoda, &NoHeaders, payload.into()).unwrap();
            assert_eq!(delivery.kind(), event_type.kind(), "{event_type}");
            let typed = match delivery.event() {
                crate::Event::Decoda(
                    decoda::Event::Appointment(t, _)
                    | decoda::Event::Payment(t, _)
                    | decoda::Event::Record(t, _),
                ) => *t,
                other => panic!("{event_type}: unexpected {other:?}"),
            };
            assert_eq!(typed, event_type);
            assert_eq!(
                delivery.appointment().is_some(),
                event_type.is_appointment(),
                "{event_type}"
            );
        }
    }

    #[test]
    fn samples_of_one_provider_are_distinct_events() {
        let mut keys = BTreeSet::new();
        for s in SAMPLES {
            let delivery = Delivery::parse(s.provider, &NoHeaders, s.payload.into()).unwrap();
            assert!(
                keys.insert((s.provider.as_str(), delivery.idempotency_key().to_owned())),
                "{} {} shares its key with another sample",
                s.provider,
                s.event_type
            );
            if let Some(appointment) = delivery.appointment() {
                assert_eq!(appointment.kind, delivery.kind(), "{}", s.event_type);
            }
        }
    }

    const NOW: &str = "2026-07-01T09:30:00.000000001Z";
    const LATER: &str = "2026-07-01T09:30:00.000000002Z";

    fn fresh(provider: Provider, event_type: &str, now: &str, unique: &str) -> Delivery {
        let body = fresh_sample(provider, event_type, now, unique)
            .unwrap_or_else(|e| panic!("{provider} {event_type}: {e}"));
        let headers = [("webhook-id", "msg_test")];
        Delivery::parse(provider, &headers, body.into())
            .unwrap_or_else(|e| panic!("{provider} {event_type}: {e}"))
    }

    #[test]
    fn every_fresh_sample_parses_as_its_type() {
        for s in SAMPLES {
            let delivery = fresh(s.provider, s.event_type, NOW, "a1");
            assert_eq!(delivery.raw_event_type(), s.event_type, "{}", s.provider);
        }
    }

    #[test]
    fn two_fresh_samples_of_one_type_are_distinct_events_of_one_appointment() {
        for s in SAMPLES {
            let first = fresh(s.provider, s.event_type, NOW, "a1");
            let second = fresh(s.provider, s.event_type, LATER, "b2");
            assert_ne!(
                first.idempotency_key(),
                second.idempotency_key(),
                "{} {}",
                s.provider,
                s.event_type
            );
            assert_eq!(first.appointment_id(), second.appointment_id());
            assert_eq!(first.event_type(), second.event_type());
        }
        let first = fresh(Provider::Hmac, "x.y", NOW, "a1");
        let second = fresh(Provider::Hmac, "x.y", LATER, "b2");
        assert_ne!(first.idempotency_key(), second.idempotency_key());
    }

    #[test]
    fn a_fresh_sample_differs_from_its_sample_only_in_the_freshened_fields() {
        for s in SAMPLES {
            let fields = s.provider.description().freshen.fields;
            let body = fresh_sample(s.provider, s.event_type, NOW, "a1").unwrap();
            let mut fresh: Value = serde_json::from_slice(&body).unwrap();
            let mut original: Value = serde_json::from_str(s.payload).unwrap();
            let mut changed = 0;
            for (pointer, _) in fields {
                if let Some(field) = original.pointer_mut(pointer) {
                    let fresh_field = fresh.pointer_mut(pointer).unwrap();
                    assert_ne!(
                        field, fresh_field,
                        "{} {} {pointer}",
                        s.provider, s.event_type
                    );
                    *field = Value::Null;
                    *fresh_field = Value::Null;
                    changed += 1;
                }
            }
            assert!(
                changed > 0,
                "{} {}: nothing freshened",
                s.provider,
                s.event_type
            );
            assert_eq!(fresh, original, "{} {}", s.provider, s.event_type);
        }
    }

    #[test]
    fn every_freshened_field_is_in_a_sample_or_the_envelope() {
        for provider in Provider::ALL {
            let freshen = provider.description().freshen;
            let bodies: Vec<Value> = SAMPLES
                .iter()
                .filter(|s| s.provider == provider)
                .map(|s| s.payload)
                .chain(freshen.envelope)
                .map(|body| serde_json::from_str(body).unwrap())
                .collect();
            assert!(!freshen.fields.is_empty(), "{provider}");
            for (pointer, _) in freshen.fields {
                assert!(
                    bodies.iter().any(|body| body.pointer(pointer).is_some()),
                    "{provider}: no body has {pointer}"
                );
            }
        }
    }

    #[test]
    fn fresh_sample_writes_the_time_and_the_unique_text_it_is_given() {
        let body = fresh_sample(Provider::Hmac, "invoice.paid", NOW, "a1").unwrap();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "invoice.paid", "id": "evt_a1", "timestamp": NOW, "data": {}
            })
        );
        let body = fresh_sample(Provider::Standard, "invoice.paid", NOW, "a1").unwrap();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({ "type": "invoice.paid", "timestamp": NOW, "data": {} })
        );
    }

    #[test]
    fn types_match_case_insensitively_and_unknown_types_list_the_known() {
        let delivery = fresh(Provider::Calendence, "BOOKING.CREATED", NOW, "a1");
        assert_eq!(delivery.kind(), crate::Kind::Created);
        assert_eq!(delivery.raw_event_type(), "booking.created");
        let err = fresh_sample(Provider::Orufy, "booking.created", NOW, "a1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no built-in orufy payload of type `booking.created`; available: BOOK, CANCEL, RESCHEDULE, NO_SHOW"
        );
        match err {
            SampleError::UnknownEventType { known, .. } => {
                assert_eq!(known, ["BOOK", "CANCEL", "RESCHEDULE", "NO_SHOW"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_empty_type_is_refused_for_every_provider() {
        for provider in Provider::ALL {
            for event_type in ["", " "] {
                assert_eq!(
                    fresh_sample(provider, event_type, NOW, "a1"),
                    Err(SampleError::EmptyEventType),
                    "{provider}"
                );
            }
        }
    }

    #[test]
    fn standard_and_hmac_take_any_type() {
        for provider in [Provider::Standard, Provider::Hmac] {
            let delivery = fresh(provider, "invoice.paid", NOW, "a1");
            assert_eq!(delivery.event_type(), "invoice.paid", "{provider}");
        }
        let body = fresh_sample(Provider::Hmac, "a", NOW, "a1").unwrap();
        assert!(Delivery::parse(Provider::Hmac, &NoHeaders, body.into()).is_ok());
    }

    #[test]
    fn sample_finds_the_payload_of_an_exact_type_only() {
        for s in SAMPLES {
            assert_eq!(sample(s.provider, s.event_type), Some(s.payload));
        }
        assert_eq!(sample(Provider::Calendence, "BOOKING.CREATED"), None);
        assert_eq!(sample(Provider::Eagenda, "booking.created"), None);
        assert_eq!(sample(Provider::Hmac, "appointment.created"), None);
    }
}
