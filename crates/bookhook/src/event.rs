//! One verified, parsed webhook delivery.
//!
//! Also here, re-exported, what a delivery is made of: the normalized
//! [`Appointment`] and [`Kind`], the [`Timestamp`] as the platform wrote it,
//! and the [`ParseError`] of a body that does not parse.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::headers::Headers;
use crate::provider::hmac::HmacEnvelope;
use crate::provider::{self, Parsed, Provider, registry};

pub use crate::appointment::{Appointment, Attendee};
pub use crate::error::ParseError;
pub use crate::kind::{Kind, UnknownKind};
pub use crate::time::Timestamp;

/// Generates the top-level [`Event`] and the parsing dispatch from the registry.
macro_rules! define_event {
    ($( $(#[$doc:meta])* $variant:ident => $module:ident, )*) => {
        /// A typed event from any platform.
        ///
        /// Match on the platform, then on its own event enum. For code that should
        /// work with every platform, use [`Delivery::kind`] and [`Delivery::appointment`].
        /// New platforms may be added: a `match` needs a `_` arm.
        ///
        /// Each platform's typed payload is boxed (`calendence::Event::BookingCreated(Box<Booking>)`),
        /// so that an event, and the [`Delivery`] holding it, is moved as a few words
        /// rather than copied whole. Fields read through the box as usual:
        /// `booking.id`, or `&**booking` for a `&Booking`.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Event {
            $(
                #[doc = concat!("An event of [`Provider::", stringify!($variant), "`], typed by [`provider::", stringify!($module), "`].")]
                $variant(provider::$module::Event),
            )*
        }

        impl Event {
            /// The platform this event comes from.
            pub fn provider(&self) -> Provider {
                match self {
                    $( Event::$variant(_) => Provider::$variant, )*
                }
            }

            /// The normalized appointment of this event, if it has one.
            pub(crate) fn to_appointment(&self) -> Option<Appointment> {
                match self {
                    $( Event::$variant(e) => e.to_appointment(), )*
                }
            }

            /// The event type in the platform's canonical spelling.
            pub fn event_type(&self) -> &str {
                match self {
                    $( Event::$variant(e) => e.event_type(), )*
                }
            }

            /// The kind the typed event gives itself, with each provider's
            /// defaults (for checking the delivery's kind against it).
            #[cfg(test)]
            fn own_kind(&self) -> Kind {
                match self {
                    $( Event::$variant(e) => e.kind(), )*
                }
            }
        }

        /// Parses a verified body as `provider`'s event, with its defaults.
        fn parse_as(
            provider: Provider,
            headers: &dyn Headers,
            body: &[u8],
        ) -> Result<Parsed<Event>, ParseError> {
            match provider {
                $( Provider::$variant => provider::$module::parse(headers, body).map(|p| p.map(Event::$variant)), )*
            }
        }
    };
}

registry!(define_event);

/// One verified webhook, parsed: its typed event, normalized kind and
/// appointment, idempotency key and time, and the raw body.
///
/// eAgenda and Calendence bodies are read in one pass when their `data`
/// follows a known `event`: the data goes straight into the payload struct of
/// its type. Other bodies are read into an envelope that keeps the data as raw
/// JSON, then the data into its payload struct. Unknown fields are ignored and
/// unknown event types are never an error. The normalized
/// [`appointment`](Self::appointment) is built on first use.
///
/// `Debug` shows the body's length, never its content.
#[derive(Clone)]
pub struct Delivery {
    provider: Provider,
    raw_type: String,
    kind: Kind,
    key: String,
    occurred_at: Option<Timestamp>,
    /// Built from `event` on first use: most handlers never ask for it.
    appointment: OnceLock<Option<Box<Appointment>>>,
    appointment_id: Option<String>,
    event: Event,
    body: Bytes,
}

impl Delivery {
    /// Parses a verified body from `provider`.
    ///
    /// `headers` are read for what some platforms put there: the
    /// `webhook-id` (or `svix-id`) of Standard Webhooks, which is the
    /// idempotency key, and MonCréneau's `X-Moncreneau-Event`, used when the
    /// body has no `type`. [`Provider::Hmac`] uses the default
    /// [`HmacEnvelope`]; see [`Delivery::parse_hmac`] to configure it.
    ///
    /// # Errors
    /// [`ParseError::InvalidJson`] when the body is not JSON (or is nested more
    /// than 127 levels deep), [`ParseError::MissingField`] naming the JSON path
    /// of a missing envelope field, [`ParseError::InvalidField`] when an
    /// envelope field has the wrong type.
    ///
    /// ```
    /// use bookhook::{Delivery, Kind, Provider, endpoint::NoHeaders};
    ///
    /// let body = r#"{"id":"evt_abc123","type":"appointment.created","created":"2026-01-21T14:30:00Z",
    ///   "data":{"object":{"id":12345,"dateTime":"2026-01-25T14:30:00","status":"SCHEDULED","name":"Jean Dupont"}}}"#;
    /// let delivery = Delivery::parse(Provider::Moncreneau, &NoHeaders, body.into())?;
    /// assert_eq!(delivery.event_type(), "appointment.created");
    /// assert_eq!(delivery.kind(), Kind::Created);
    /// assert_eq!(delivery.idempotency_key(), "evt_abc123");
    /// assert_eq!(delivery.appointment_id(), Some("12345"));
    /// assert_eq!(delivery.occurred_at().unwrap().to_string(), "2026-01-21T14:30:00+00:00");
    ///
    /// let err = Delivery::parse(Provider::Moncreneau, &NoHeaders, r#"{"type":"x"}"#.into()).unwrap_err();
    /// assert_eq!(err.to_string(), "missing field `id`");
    /// # Ok::<(), bookhook::event::ParseError>(())
    /// ```
    pub fn parse(
        provider: Provider,
        headers: &dyn Headers,
        body: Bytes,
    ) -> Result<Delivery, ParseError> {
        let parsed = parse_as(provider, headers, &body)?;
        Ok(Self::from_parsed(provider, parsed, body))
    }

    /// Parses a verified body from a platform configured by hand, reading the
    /// event type, id and time where `envelope` says (the id may come from a
    /// header of `headers`).
    ///
    /// # Errors
    /// As [`Delivery::parse`]; [`ParseError::InvalidField`] for `$` when the
    /// body is not a JSON object. A body whose type is in no type header and
    /// at no type pointer is not an error: its event type is empty and its
    /// kind [`Kind::Other`].
    ///
    /// ```
    /// use bookhook::provider::hmac::HmacEnvelope;
    /// use bookhook::{Delivery, Kind, endpoint::NoHeaders};
    ///
    /// let envelope = HmacEnvelope::builder()
    ///     .type_pointer("/meta/name")
    ///     .id_pointer("/meta/uid")
    ///     .map_kind("visit.booked", Kind::Created)
    ///     .build()?;
    /// let body = r#"{"meta":{"name":"visit.booked","uid":"u-1"},"visit":{"id":3}}"#;
    /// let delivery = Delivery::parse_hmac(&envelope, &NoHeaders, body.into())?;
    /// assert_eq!(delivery.event_type(), "visit.booked");
    /// assert_eq!(delivery.kind(), Kind::Created);
    /// assert_eq!(delivery.idempotency_key(), "u-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_hmac(
        envelope: &HmacEnvelope,
        headers: &dyn Headers,
        body: Bytes,
    ) -> Result<Delivery, ParseError> {
        let parsed = provider::hmac::parse_with(envelope, headers, &body)?;
        Ok(Self::from_parsed(
            Provider::Hmac,
            parsed.map(Event::Hmac),
            body,
        ))
    }

    fn from_parsed(provider: Provider, parsed: Parsed<Event>, body: Bytes) -> Self {
        Self {
            provider,
            raw_type: parsed.raw_type,
            kind: parsed.kind,
            key: parsed.key,
            occurred_at: parsed.occurred_at,
            appointment: OnceLock::new(),
            appointment_id: parsed.appointment_id,
            event: parsed.event,
            body,
        }
    }

    /// The platform that sent this delivery.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The event type in the platform's canonical spelling: MonCréneau's
    /// `APPOINTMENT_CREATED` reads `appointment.created`, Decoda's
    /// `CALL_RECIEVED` reads `CALL_RECEIVED`. Unknown types are as sent.
    pub fn event_type(&self) -> &str {
        self.event.event_type()
    }

    /// The event type exactly as the platform sent it.
    pub fn raw_event_type(&self) -> &str {
        &self.raw_type
    }

    /// What happened, normalized across platforms. It follows the event type,
    /// even when the payload of a known type did not fit its struct.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The key that identifies this event across retries (not yet namespaced
    /// by endpoint). See each provider module for how it is built.
    pub fn idempotency_key(&self) -> &str {
        &self.key
    }

    /// When the event happened, as the platform says, offset kept.
    pub fn occurred_at(&self) -> Option<Timestamp> {
        self.occurred_at
    }

    /// The raw body, exactly as received.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The typed event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The normalized appointment, for appointment events whose payload fits
    /// its struct; `None` for other events (payments, patients, unknown types).
    ///
    /// It is built from the typed event the first time it is asked for, and
    /// kept: a handler that reads only the typed event never pays for it.
    pub fn appointment(&self) -> Option<&Appointment> {
        self.appointment
            .get_or_init(|| self.event.to_appointment().map(Box::new))
            .as_deref()
    }

    /// The platform's identifier of the appointment this event is about. Also
    /// read from the raw data when the event is `Other`, so that ordering by
    /// appointment works for types this version does not know.
    pub fn appointment_id(&self) -> Option<&str> {
        self.appointment_id.as_deref()
    }

    /// The whole body as a JSON value.
    ///
    /// The body was already checked while parsing, so this only fails if
    /// memory runs out; it then returns `null` rather than panicking.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body and the payload carry personal data: show what routes it only.
        f.debug_struct("Delivery")
            .field("provider", &self.provider)
            .field("event_type", &self.event_type())
            .field("kind", &self.kind)
            .field("idempotency_key", &self.key)
            .field("occurred_at", &self.occurred_at)
            .field("appointment_id", &self.appointment_id)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::NoHeaders;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn appointment_is_built_on_first_use_and_kept() {
        let body = br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00",
            "data":{"id":"b-1","client":{"first_name":"Ann","last_name":"Lee"}}}"#;
        let delivery =
            Delivery::parse(Provider::Calendence, &NoHeaders, Bytes::from_static(body)).unwrap();
        assert!(delivery.appointment.get().is_none(), "not built by parsing");
        let first = delivery
            .appointment()
            .expect("a booking has an appointment");
        assert_eq!(first.attendee.name.as_deref(), Some("Ann Lee"));
        assert_eq!(first.kind, Kind::Created);
        assert!(std::ptr::eq(first, delivery.appointment().unwrap()), "kept");
        let copy = delivery.clone();
        assert_eq!(copy.appointment(), delivery.appointment());
        // Events without one stay without one.
        let other = Delivery::parse(
            Provider::Calendence,
            &NoHeaders,
            Bytes::from_static(br#"{"event":"payment.updated","data":{"id":"p"}}"#),
        )
        .unwrap();
        assert_eq!(other.appointment(), None);
    }

    #[test]
    fn events_and_deliveries_stay_small_to_move() {
        // Every payload is boxed, so a delivery is moved (out of the parser,
        // into its `Arc`) as a few words, not as a copy of the payload: at
        // 584 and 936 bytes, those copies were a tenth of the pipeline.
        assert!(
            std::mem::size_of::<Event>() <= 96,
            "Event is {} bytes",
            std::mem::size_of::<Event>()
        );
        assert!(
            std::mem::size_of::<Delivery>() <= 256,
            "Delivery is {} bytes",
            std::mem::size_of::<Delivery>()
        );
    }

    #[test]
    fn deeply_nested_json_is_rejected_not_overflowing() {
        let deep = nested(10_000);
        let bodies = [
            deep.clone(),
            format!(r#"{{"event":"appointment.created","data":{deep}}}"#),
            format!(r#"{{"event":"appointment.created","ignored":{deep},"data":{{}}}}"#),
            format!(r#"{{"id":"x","type":"PAYMENT_CREATED","data":{{"a":{deep}}}}}"#),
        ];
        for provider in Provider::ALL {
            for body in &bodies {
                let result = Delivery::parse(provider, &NoHeaders, Bytes::from(body.clone()));
                assert!(
                    matches!(result, Err(ParseError::InvalidJson { .. })),
                    "{provider}: {result:?}"
                );
            }
        }
    }

    #[test]
    fn invalid_json_is_reported_without_content() {
        for provider in Provider::ALL {
            let err = Delivery::parse(
                provider,
                &NoHeaders,
                Bytes::from_static(b"{\"event\": s3cr3t}"),
            )
            .unwrap_err();
            assert!(matches!(err, ParseError::InvalidJson { .. }), "{provider}");
            assert!(!err.to_string().contains("s3cr3t"));
        }
    }

    #[test]
    fn never_panics_on_odd_bodies() {
        let bodies: [&[u8]; 10] = [
            b"",
            b"null",
            b"[]",
            b"\"text\"",
            b"42",
            b"{}",
            b"{\"event\":{},\"type\":[],\"eventType\":1}",
            b"\xff\xfe",
            b"{\"data\":null,\"meetData\":null,\"event\":\"x\",\"type\":\"x\",\"eventType\":\"BOOK\"}",
            b"{\"id\":1e400,\"type\":\"APPOINTMENT_CREATED\",\"data\":{\"object\":{\"id\":-0}}}",
        ];
        for provider in Provider::ALL {
            for body in bodies {
                let _ = Delivery::parse(
                    provider,
                    &[("webhook-id", "m")],
                    Bytes::copy_from_slice(body),
                );
            }
        }
    }

    #[test]
    fn arrays_are_not_envelopes_or_payloads() {
        for provider in Provider::ALL {
            let err = Delivery::parse(
                provider,
                &[("webhook-id", "m")],
                Bytes::from_static(br#"["appointment.created","2026-01-01T00:00:00Z",{}]"#),
            )
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    ParseError::InvalidField { field: "$", .. } | ParseError::MissingValue { .. }
                ),
                "{provider}: {err:?}"
            );
        }
        let body = br#"{"event":"booking.created","data":["b-1","confirmed"]}"#;
        let delivery =
            Delivery::parse(Provider::Calendence, &NoHeaders, Bytes::from_static(body)).unwrap();
        assert_eq!(delivery.appointment(), None);
        match delivery.event() {
            Event::Calendence(provider::calendence::Event::Other { error, .. }) => {
                assert_eq!(error.as_deref(), Some("`data` is not a json object"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_ids_are_missing_not_a_shared_key() {
        let moncreneau = Delivery::parse(
            Provider::Moncreneau,
            &NoHeaders,
            Bytes::from_static(br#"{"id":"","type":"appointment.created"}"#),
        );
        assert_eq!(
            moncreneau.unwrap_err(),
            ParseError::MissingField { field: "id" }
        );
        let decoda = Delivery::parse(
            Provider::Decoda,
            &NoHeaders,
            Bytes::from_static(br#"{"alertId":" ","id":"e-1","type":"PATIENT_CREATED"}"#),
        );
        assert_eq!(decoda.unwrap().idempotency_key(), "e-1");
        let eagenda = Delivery::parse(
            Provider::Eagenda,
            &NoHeaders,
            Bytes::from_static(br#"{"event":""}"#),
        );
        assert_eq!(
            eagenda.unwrap_err(),
            ParseError::MissingField { field: "event" }
        );
    }

    mod properties {
        use proptest::prelude::*;
        use serde_json::Value;

        use super::*;

        const KEYS: &[&str] = &[
            "event",
            "type",
            "eventType",
            "id",
            "alertId",
            "data",
            "object",
            "meetData",
            "_id",
            "timestamp",
            "created",
            "createdDate",
            "appointment_key",
            "start_date",
            "dateTime",
            "time",
            "duration",
            "starts_at",
            "ends_at",
            "status",
            "changes",
            "cancellation",
            "reschedule",
            "updatedAt",
            "patient",
            "startTime",
            "amount_cents",
            "client",
        ];
        const TEXTS: &[&str] = &[
            "appointment.created",
            "APPOINTMENT_CANCELLED",
            "BOOK",
            "CANCEL",
            "NO_SHOW",
            "booking.updated",
            "APPOINTMENT_SCHEDULED",
            "PAYMENT_CREATED",
            "CALL_RECIEVED",
            "2026-01-01T00:00:00Z",
            "2026-01-25T14:30:00",
            "",
        ];

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                "[a-zA-Z0-9_.:+ -]{0,12}".prop_map(Value::from),
                prop::sample::select(TEXTS).prop_map(Value::from),
            ];
            leaf.prop_recursive(5, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..8).prop_map(
                        |map| Value::Object(
                            map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                        )
                    ),
                ]
            })
        }

        proptest! {
            #[test]
            fn any_json_parses_or_fails_cleanly(value in json()) {
                let body = Bytes::from(serde_json::to_vec(&value).unwrap());
                let headers = [("webhook-id", "msg_1"), ("x-moncreneau-event", "appointment.updated")];
                for provider in Provider::ALL {
                    if let Ok(delivery) = Delivery::parse(provider, &headers, body.clone()) {
                        prop_assert!(!delivery.idempotency_key().trim().is_empty());
                        // Only a hand-configured platform's body may name no type.
                        prop_assert!(
                            !delivery.event_type().is_empty()
                                || matches!(delivery.event(), Event::Hmac(_))
                        );
                        prop_assert_eq!(delivery.kind(), delivery.event().own_kind());
                        if let Some(appointment) = delivery.appointment() {
                            prop_assert_eq!(delivery.appointment_id(), Some(appointment.id.as_str()));
                            prop_assert_eq!(appointment.kind, delivery.kind());
                        }
                    }
                }
            }

            #[test]
            fn any_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
                for provider in Provider::ALL {
                    let result = Delivery::parse(provider, &NoHeaders, Bytes::from(body.clone()));
                    prop_assert!(result.is_err() || serde_json::from_slice::<Value>(&body).is_ok());
                }
            }
        }
    }

    #[test]
    fn debug_shows_body_length_not_content() {
        let body = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b","client":{"email":"private@example.com"}}}"#;
        let delivery =
            Delivery::parse(Provider::Calendence, &NoHeaders, Bytes::from(body)).unwrap();
        let shown = format!("{delivery:?}");
        assert!(!shown.contains("private@example.com"), "{shown}");
        assert!(
            shown.contains(&format!("body_len: {}", body.len())),
            "{shown}"
        );
    }

    #[test]
    fn json_returns_the_whole_body() {
        let body = r#"{"event":"booking.created","extra":{"x":[1,2]},"data":{"id":"b"}}"#;
        let delivery =
            Delivery::parse(Provider::Calendence, &NoHeaders, Bytes::from(body)).unwrap();
        assert_eq!(delivery.json()["extra"]["x"][1], 2);
        assert_eq!(delivery.body().as_ref(), body.as_bytes());
    }
}
