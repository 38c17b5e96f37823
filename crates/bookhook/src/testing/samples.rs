//! The platforms' sample payloads, to test your own handlers with.
//!
//! [`SAMPLES`] holds JSON bodies of the platforms' event types, one per type,
//! exactly as the platform sends them (keys, order and values), embedded at
//! build time from the crate's `fixtures/payloads` directory. eAgenda, MonCréneau and
//! Calendence publish these examples on their webhook pages. Orufy and Decoda
//! publish no complete example: theirs are written from the documented field
//! lists and may differ from real deliveries in the values and in fields the
//! lists do not name. Standard and hmac senders have no samples, since their
//! payloads are whatever the sender defines.
//!
//! A sample carries fixed identifiers and times, so it always gives the same
//! [`idempotency_key`](crate::Delivery::idempotency_key): sent twice through
//! one dispatcher, the second copy is a duplicate. For distinct events, change
//! the fields the key is made of (see each provider's module).
//!
//! Testing a handler with a sample, signed as the platform would sign it:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use bookhook::testing::{samples, signed_request};
//! use bookhook::{Context, DispatcherBuilder, Endpoint, Kind, Provider, Request};
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

use crate::kind::Provider;

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

/// Every sample, grouped by provider (eAgenda, MonCréneau, Orufy, Calendence,
/// Decoda).
pub const SAMPLES: &[Sample] = &[
    Sample {
        provider: Provider::Eagenda,
        event_type: "appointment.created",
        payload: include_str!("../../fixtures/payloads/eagenda/appointment.created.json"),
    },
    Sample {
        provider: Provider::Moncreneau,
        event_type: "appointment.created",
        payload: include_str!("../../fixtures/payloads/moncreneau/appointment.created.json"),
    },
    Sample {
        provider: Provider::Moncreneau,
        event_type: "appointment.updated",
        payload: include_str!("../../fixtures/payloads/moncreneau/appointment.updated.json"),
    },
    Sample {
        provider: Provider::Moncreneau,
        event_type: "appointment.cancelled",
        payload: include_str!("../../fixtures/payloads/moncreneau/appointment.cancelled.json"),
    },
    Sample {
        provider: Provider::Moncreneau,
        event_type: "appointment.validated",
        payload: include_str!("../../fixtures/payloads/moncreneau/appointment.validated.json"),
    },
    Sample {
        provider: Provider::Moncreneau,
        event_type: "appointment.completed",
        payload: include_str!("../../fixtures/payloads/moncreneau/appointment.completed.json"),
    },
    Sample {
        provider: Provider::Orufy,
        event_type: "BOOK",
        payload: include_str!("../../fixtures/payloads/orufy/BOOK.json"),
    },
    Sample {
        provider: Provider::Orufy,
        event_type: "CANCEL",
        payload: include_str!("../../fixtures/payloads/orufy/CANCEL.json"),
    },
    Sample {
        provider: Provider::Orufy,
        event_type: "RESCHEDULE",
        payload: include_str!("../../fixtures/payloads/orufy/RESCHEDULE.json"),
    },
    Sample {
        provider: Provider::Orufy,
        event_type: "NO_SHOW",
        payload: include_str!("../../fixtures/payloads/orufy/NO_SHOW.json"),
    },
    Sample {
        provider: Provider::Calendence,
        event_type: "booking.created",
        payload: include_str!("../../fixtures/payloads/calendence/booking.created.json"),
    },
    Sample {
        provider: Provider::Decoda,
        event_type: "APPOINTMENT_SCHEDULED",
        payload: include_str!("../../fixtures/payloads/decoda/APPOINTMENT_SCHEDULED.json"),
    },
    Sample {
        provider: Provider::Decoda,
        event_type: "SELF_SCHEDULED_APPOINTMENT",
        payload: include_str!("../../fixtures/payloads/decoda/SELF_SCHEDULED_APPOINTMENT.json"),
    },
    Sample {
        provider: Provider::Decoda,
        event_type: "APPOINTMENT_REQUEST",
        payload: include_str!("../../fixtures/payloads/decoda/APPOINTMENT_REQUEST.json"),
    },
    Sample {
        provider: Provider::Decoda,
        event_type: "APPOINTMENT_RESCHEDULED",
        payload: include_str!("../../fixtures/payloads/decoda/APPOINTMENT_RESCHEDULED.json"),
    },
    Sample {
        provider: Provider::Decoda,
        event_type: "APPOINTMENT_CANCELLED",
        payload: include_str!("../../fixtures/payloads/decoda/APPOINTMENT_CANCELLED.json"),
    },
    Sample {
        provider: Provider::Decoda,
        event_type: "CALL_RECIEVED",
        payload: include_str!("../../fixtures/payloads/decoda/CALL_RECIEVED.json"),
    },
    Sample {
        provider: Provider::Decoda,
        event_type: "PATIENT_CREATED",
        payload: include_str!("../../fixtures/payloads/decoda/PATIENT_CREATED.json"),
    },
    Sample {
        provider: Provider::Decoda,
        event_type: "PAYMENT_CREATED",
        payload: include_str!("../../fixtures/payloads/decoda/PAYMENT_CREATED.json"),
    },
];

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
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/payloads");
        let mut files = BTreeSet::new();
        for dir in std::fs::read_dir(&root).unwrap() {
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
