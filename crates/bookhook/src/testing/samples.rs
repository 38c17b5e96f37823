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
//! one dispatcher, the second copy is a duplicate. For distinct events, change
//! the fields the key is made of (see each provider's module).
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

use crate::provider::Provider;

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
