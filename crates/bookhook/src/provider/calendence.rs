//! Calendence (calendence.com, API v1): its table, typed events, key rule and preset.
//!
//! Envelope: `{"event", "timestamp", "data": {...}}`. Calendence advises to
//! deduplicate "on the event ID", but the payload has none: the dedup key is
//! `(event, data.id, timestamp)`, identical across retries of one delivery.

use serde::{Deserialize, Serialize};

use super::event_types::typed_events;
#[cfg(feature = "testing")]
use super::Fill;
use super::{Description, table_description, Parsed, Provider, Subject, lenient};
use crate::appointment::{Appointment, Attendee, join_name};
use crate::error::ParseError;
use crate::headers::Headers;
use crate::kind::Kind;
use crate::time::Timestamp;

typed_events! {
    /// A Calendence event.
    ///
    /// ```
    /// use bookhook::provider::calendence;
    /// use bookhook::{Delivery, Event, Provider, endpoint::NoHeaders};
    ///
    /// let body = r#"{"event":"booking.completed","timestamp":"2026-03-24T14:30:00+00:00",
    ///   "data":{"id":"b-1","status":"completed","service":{"id":"s-1","name":"Express Wash"}}}"#;
    /// let delivery = Delivery::parse(Provider::Calendence, &NoHeaders, body.into())?;
    /// if let Event::Calendence(calendence::Event::BookingCompleted(booking)) = delivery.event() {
    ///     assert_eq!(booking.service.as_ref().unwrap().name.as_deref(), Some("Express Wash"));
    /// } else {
    ///     panic!("unexpected event");
    /// }
    /// # Ok::<(), bookhook::event::ParseError>(())
    /// ```
    pub enum Event(payload Booking as booking, fixtures "calendence" in samples, normalize str::trim) {
        /// `booking.created`: a new booking is confirmed.
        BookingCreated = "booking.created" (payloads) => Created,
        /// `booking.updated`: a booking is rescheduled or modified.
        BookingUpdated = "booking.updated" => Updated,
        /// `booking.cancelled` (`booking.canceled` is read the same way).
        BookingCancelled = "booking.cancelled" | "booking.canceled" => Cancelled,
        /// `booking.completed`
        BookingCompleted = "booking.completed" => Completed,
    }
}

/// What bookhook knows about Calendence.
pub const DESCRIPTION: Description = table_description! {
    summary: "Calendence: HMAC-SHA256 in `X-Calendence-Signature`",
    scheme_name: "hmac-sha256",
    headers: &[SIGNATURE_HEADER],
    query: &[],
    dedup_key: "event + data.id + timestamp (else the body's sha-256)",
    // A copy is a new event with a new time (same type and booking).
    freshen: &[("/timestamp", Fill::Now)],
};

/// The `data` object of a Calendence booking event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Booking {
    /// The booking's identifier.
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    /// The booking's status, such as `confirmed`.
    #[serde(default)]
    pub status: Option<String>,
    /// The booked service.
    #[serde(default)]
    pub service: Option<Reference>,
    /// The client who booked.
    #[serde(default)]
    pub client: Option<Client>,
    /// Start, with its offset.
    #[serde(default)]
    pub starts_at: Option<Timestamp>,
    /// End, with its offset.
    #[serde(default)]
    pub ends_at: Option<Timestamp>,
    /// Where the booking takes place.
    #[serde(default)]
    pub location: Option<Reference>,
}

/// A service or a location: an identifier and a name.
pub use super::Reference;

/// A Calendence client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Client {
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number (not in the published example; read when present).
    #[serde(default)]
    pub phone: Option<String>,
}

impl Booking {
    fn to_appointment(&self, event_type: &str, kind: Kind) -> Appointment {
        let client = self.client.as_ref();
        Appointment {
            provider: Provider::Calendence,
            event_type: event_type.to_owned(),
            kind,
            id: self.id.clone(),
            status: self.status.clone(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            attendee: Attendee::new(
                client.and_then(|c| join_name(c.first_name.as_deref(), c.last_name.as_deref())),
                client.and_then(|c| c.email.clone()),
                client.and_then(|c| c.phone.clone()),
            ),
            location: self.location.as_ref().and_then(|l| l.name.clone()),
        }
    }
}

impl Subject for Booking {
    const ID_FIELD: &'static str = "id";

    fn id(&self) -> &str {
        &self.id
    }

    /// An unknown event's `data.id` may name a payment, not a booking.
    fn names_appointment(event_type: &str) -> bool {
        event_type.starts_with("booking.")
    }
}

pub(crate) fn parse(_headers: &dyn Headers, body: &[u8]) -> Result<Parsed<Event>, ParseError> {
    super::event_envelope::parse(body, &TYPES)
}

/// Calendence's signature header: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Calendence-Signature";

/// Calendence's preset: hex HMAC-SHA256 of the raw body in
/// `X-Calendence-Signature`, with or without the `sha256=` prefix (their own
/// PHP sample compares bare hex).
///
/// ```
/// use bookhook::provider::calendence;
///
/// let scheme = calendence::scheme();
/// # let _ = scheme;
/// ```
pub fn scheme() -> crate::HmacScheme {
    crate::HmacScheme::new(SIGNATURE_HEADER).prefix("sha256=")
}

#[cfg(test)]
mod tests {
    use crate::provider::test_support::{own_event, parse_as};
    use crate::{Delivery, Kind, ParseError};

    use super::Event;

    fn parse(body: &str) -> Result<Delivery, ParseError> {
        parse_as::<Event>(body)
    }

    fn calendence(delivery: &Delivery) -> &Event {
        own_event(delivery)
    }

    const CREATED: &str = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00",
        "data":{"id":"booking-uuid","status":"confirmed","client":{"first_name":"Jane","last_name":"Doe","email":"jane@example.com"},
        "starts_at":"2026-03-25T14:00:00+00:00","ends_at":"2026-03-25T14:30:00+00:00","location":{"id":"l","name":"Main Shop"}}}"#;

    #[test]
    fn booking_fields_reach_the_appointment() {
        let delivery = parse(CREATED).unwrap();
        assert!(matches!(calendence(&delivery), Event::BookingCreated(_)));
        let appointment = delivery.appointment().unwrap();
        assert_eq!(appointment.attendee.name.as_deref(), Some("Jane Doe"));
        assert_eq!(
            appointment.ends_at.unwrap().to_string(),
            "2026-03-25T14:30:00+00:00"
        );
        assert_eq!(appointment.location.as_deref(), Some("Main Shop"));
    }

    #[test]
    fn unknown_type_becomes_other() {
        let delivery = parse(r#"{"event":"payment.updated","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"p-1"}}"#).unwrap();
        assert!(matches!(
            calendence(&delivery),
            Event::Other { error: None, .. }
        ));
        assert_eq!(delivery.kind(), Kind::Other);
        assert_eq!(delivery.appointment(), None);
        assert_eq!(delivery.appointment_id(), None);
    }

    #[test]
    fn known_type_with_bad_payload_is_other_with_error() {
        let delivery =
            parse(r#"{"event":"booking.updated","data":{"id":"b","starts_at":"next tuesday"}}"#)
                .unwrap();
        match calendence(&delivery) {
            Event::Other { data, error, .. } => {
                assert_eq!(data["starts_at"], "next tuesday");
                assert!(error.is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(delivery.kind(), Kind::Updated);
        assert_eq!(delivery.appointment_id(), Some("b"));
    }

    #[test]
    fn missing_event_field_names_it() {
        assert_eq!(
            parse(r#"{"data":{"id":"b"}}"#).unwrap_err(),
            ParseError::MissingField { field: "event" }
        );
    }

    #[test]
    fn dedup_key_is_stable_across_retries() {
        let key = parse(CREATED).unwrap().idempotency_key().to_owned();
        assert_eq!(
            key,
            r#"["booking.created","booking-uuid","2026-03-24T14:30:00+00:00"]"#
        );
        assert_eq!(parse(CREATED).unwrap().idempotency_key(), key);
        let cancelled = CREATED.replace("booking.created", "booking.cancelled");
        assert_ne!(parse(&cancelled).unwrap().idempotency_key(), key);
    }
}
