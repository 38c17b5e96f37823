//! One verified, parsed webhook delivery.

use std::fmt;

use bytes::Bytes;

use crate::appointment::Appointment;
use crate::error::ParseError;
use crate::headers::Headers;
use crate::kind::{Kind, Provider};
use crate::provider::generic::GenericEnvelope;
use crate::provider::{self, Parsed};
use crate::time::Timestamp;

/// A typed event from any platform.
///
/// Match on the platform, then on its own event enum. For code that should
/// work with every platform, use [`Delivery::kind`] and [`Delivery::appointment`].
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one event per delivery; boxing would only add an allocation and clumsier matching"
)]
pub enum Event {
    /// An eAgenda event.
    Eagenda(provider::eagenda::Event),
    /// A MonCréneau event.
    Moncreneau(provider::moncreneau::Event),
    /// An Orufy Bookings event.
    Orufy(provider::orufy::Event),
    /// A Calendence event.
    Calendence(provider::calendence::Event),
    /// A Decoda Health event.
    Decoda(provider::decoda::Event),
    /// An event from a Standard Webhooks sender.
    Standard(provider::standard::Event),
    /// An event from a platform configured by hand.
    Generic(provider::generic::Event),
}

impl Event {
    /// The platform this event comes from.
    pub fn provider(&self) -> Provider {
        match self {
            Event::Eagenda(_) => Provider::Eagenda,
            Event::Moncreneau(_) => Provider::Moncreneau,
            Event::Orufy(_) => Provider::Orufy,
            Event::Calendence(_) => Provider::Calendence,
            Event::Decoda(_) => Provider::Decoda,
            Event::Standard(_) => Provider::Standard,
            Event::Generic(_) => Provider::Hmac,
        }
    }

    /// The event type in the platform's canonical spelling.
    pub fn event_type(&self) -> &str {
        match self {
            Event::Eagenda(e) => e.event_type(),
            Event::Moncreneau(e) => e.event_type(),
            Event::Orufy(e) => e.event_type(),
            Event::Calendence(e) => e.event_type(),
            Event::Decoda(e) => e.event_type(),
            Event::Standard(e) => &e.event_type,
            Event::Generic(e) => &e.event_type,
        }
    }
}

/// One verified webhook, parsed: its typed event, normalized kind and
/// appointment, idempotency key and time, and the raw body.
///
/// Parsing reads the body once, into an envelope that keeps the data as raw
/// JSON, then reads the data into the payload struct of its event type.
/// Unknown fields are ignored and unknown event types are never an error.
///
/// `Debug` shows the body's length, never its content.
#[derive(Clone)]
pub struct Delivery {
    provider: Provider,
    raw_type: String,
    kind: Kind,
    key: String,
    occurred_at: Option<Timestamp>,
    appointment: Option<Appointment>,
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
    /// [`GenericEnvelope`]; see [`Delivery::parse_generic`] to configure it.
    ///
    /// # Errors
    /// [`ParseError::InvalidJson`] when the body is not JSON (or is nested more
    /// than 127 levels deep), [`ParseError::MissingField`] naming the JSON path
    /// of a missing envelope field, [`ParseError::InvalidField`] when an
    /// envelope field has the wrong type.
    ///
    /// ```
    /// use bookhook::{Delivery, Kind, NoHeaders, Provider};
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
    /// # Ok::<(), bookhook::ParseError>(())
    /// ```
    pub fn parse(
        provider: Provider,
        headers: &dyn Headers,
        body: Bytes,
    ) -> Result<Delivery, ParseError> {
        let parsed = match provider {
            Provider::Eagenda => provider::eagenda::parse(&body)?,
            Provider::Moncreneau => provider::moncreneau::parse(headers, &body)?,
            Provider::Orufy => provider::orufy::parse(&body)?,
            Provider::Calendence => provider::calendence::parse(&body)?,
            Provider::Decoda => provider::decoda::parse(&body)?,
            Provider::Standard => provider::standard::parse(headers, &body)?,
            Provider::Hmac => provider::generic::parse(&GenericEnvelope::default(), &body)?,
        };
        Ok(Self::from_parsed(provider, parsed, body))
    }

    /// Parses a verified body from a platform configured by hand, reading the
    /// event type, id and time where `envelope` says.
    ///
    /// # Errors
    /// As [`Delivery::parse`]; a missing event type is
    /// [`ParseError::MissingValue`] naming the JSON pointers tried.
    ///
    /// ```
    /// use bookhook::provider::generic::GenericEnvelope;
    /// use bookhook::{Delivery, Kind, NoHeaders};
    ///
    /// let envelope = GenericEnvelope::builder()
    ///     .type_pointer("/meta/name")
    ///     .id_pointer("/meta/uid")
    ///     .map_kind("visit.booked", Kind::Created)
    ///     .build()?;
    /// let body = r#"{"meta":{"name":"visit.booked","uid":"u-1"},"visit":{"id":3}}"#;
    /// let delivery = Delivery::parse_generic(&envelope, &NoHeaders, body.into())?;
    /// assert_eq!(delivery.event_type(), "visit.booked");
    /// assert_eq!(delivery.kind(), Kind::Created);
    /// assert_eq!(delivery.idempotency_key(), "u-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_generic(
        envelope: &GenericEnvelope,
        headers: &dyn Headers,
        body: Bytes,
    ) -> Result<Delivery, ParseError> {
        let _ = headers;
        let parsed = provider::generic::parse(envelope, &body)?;
        Ok(Self::from_parsed(Provider::Hmac, parsed, body))
    }

    fn from_parsed(provider: Provider, parsed: Parsed, body: Bytes) -> Self {
        Self {
            provider,
            raw_type: parsed.raw_type,
            kind: parsed.kind,
            key: parsed.key,
            occurred_at: parsed.occurred_at,
            appointment: parsed.appointment,
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
    pub fn appointment(&self) -> Option<&Appointment> {
        self.appointment.as_ref()
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
