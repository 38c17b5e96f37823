//! eAgenda (eagenda.com.br, API v3): its table, typed events, key rule and presets.
//!
//! Envelope: `{"event", "timestamp", "data": {...}}`. The dedup key is
//! `(event, data.appointment_key, timestamp)`: eAgenda's advice to key on
//! `appointment_key` alone would drop an update that follows a creation.

use serde::{Deserialize, Serialize};

use super::event_types::typed_events;
#[cfg(feature = "testing")]
use super::Fill;
use super::{Description, table_description, Parsed, Provider, Subject};
use crate::appointment::{Appointment, Attendee};
use crate::error::ParseError;
use crate::headers::Headers;
use crate::kind::Kind;
use crate::time::Timestamp;

typed_events! {
    /// An eAgenda event.
    ///
    /// ```
    /// use bookhook::provider::eagenda;
    /// use bookhook::{Delivery, Event, Provider, endpoint::NoHeaders};
    ///
    /// let body = br#"{"event":"appointment.canceled","timestamp":"2026-06-04T14:30:00-03:00",
    ///   "data":{"appointment_key":"apt-1","status":"CANCELED","start_date":"2026-06-10T09:00:00-03:00"}}"#;
    /// let delivery = Delivery::parse(Provider::Eagenda, &NoHeaders, body.to_vec().into())?;
    /// match delivery.event() {
    ///     Event::Eagenda(eagenda::Event::AppointmentCanceled(data)) => {
    ///         assert_eq!(data.appointment_key, "apt-1");
    ///         assert_eq!(data.status.as_deref(), Some("CANCELED"));
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// # Ok::<(), bookhook::event::ParseError>(())
    /// ```
    pub enum Event(payload AppointmentData as data, fixtures "eagenda" in samples, normalize str::trim) {
        /// `appointment.created`: a new appointment.
        AppointmentCreated = "appointment.created" (payloads) => Created,
        /// `appointment.updated`: an appointment changed.
        AppointmentUpdated = "appointment.updated" => Updated,
        /// `appointment.canceled` (one "l", as eAgenda spells it; `appointment.cancelled`
        /// is read the same way, in case the spelling is ever aligned).
        AppointmentCanceled = "appointment.canceled" | "appointment.cancelled" => Cancelled,
    }
}

/// What bookhook knows about eAgenda.
pub const DESCRIPTION: Description = table_description! {
    summary: "eAgenda: `Authorization: Bearer <token>`",
    scheme_name: "token",
    headers: &["Authorization"],
    query: &[],
    dedup_key: "event + data.appointment_key + timestamp (else the body's sha-256)",
    // A copy is a new event with a new time (same type and appointment).
    freshen: &[("/timestamp", Fill::Now)],
};

/// The `data` object of an eAgenda appointment event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AppointmentData {
    /// The appointment's identifier; shared by every event of one appointment.
    pub appointment_key: String,
    /// The human-facing booking code, such as `AGD-2026-001234`.
    #[serde(default)]
    pub search_code: Option<String>,
    /// The appointment status. Values seen in eAgenda's API: `ATTENDED`,
    /// `CANCELED`, `CANCELED_CLIENT`, `CANCELED_GOOGLE`, `CONFIRMED`,
    /// `IN_PROGRESS`, `NO_SHOW`, `PENDING`, `PENDING_COMPANIONS`,
    /// `PENDING_FORM`, `PENDING_PAYMENT`. Kept as text so new values do not
    /// fail the delivery.
    #[serde(default)]
    pub status: Option<String>,
    /// Start of the appointment, with its offset.
    #[serde(default)]
    pub start_date: Option<Timestamp>,
    /// The calendar (office, professional) the appointment is in.
    #[serde(default)]
    pub calendar: Option<Calendar>,
    /// The person who booked.
    #[serde(default)]
    pub person: Option<Person>,
}

/// An eAgenda calendar.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Calendar {
    /// The calendar's identifier.
    #[serde(default)]
    pub calendar_key: Option<String>,
    /// The calendar's display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// An eAgenda person.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Person {
    /// Full name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number (not in the published example; read when present).
    #[serde(default)]
    pub phone: Option<String>,
}

impl AppointmentData {
    fn to_appointment(&self, event_type: &str, kind: Kind) -> Appointment {
        let person = self.person.as_ref();
        Appointment {
            provider: Provider::Eagenda,
            event_type: event_type.to_owned(),
            kind,
            id: self.appointment_key.clone(),
            status: self.status.clone(),
            starts_at: self.start_date,
            ends_at: None,
            attendee: Attendee::new(
                person.and_then(|p| p.full_name.clone()),
                person.and_then(|p| p.email.clone()),
                person.and_then(|p| p.phone.clone()),
            ),
            location: self.calendar.as_ref().and_then(|c| c.name.clone()),
        }
    }
}

impl Subject for AppointmentData {
    const ID_FIELD: &'static str = "appointment_key";

    fn id(&self) -> &str {
        &self.appointment_key
    }
}

pub(crate) fn parse(_headers: &dyn Headers, body: &[u8]) -> Result<Parsed<Event>, ParseError> {
    super::event_envelope::parse(body, &TYPES)
}

/// The header eAgenda's optional access-list signing puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Signature";
/// The header eAgenda's optional access-list signing puts the Unix time in.
pub const TIMESTAMP_HEADER: &str = "X-Timestamp";

/// eAgenda's preset: the "Authentication Token" set in its dashboard, sent as
/// `Authorization: Bearer <token>`. eAgenda's webhook pages document no signature.
///
/// ```
/// use bookhook::provider::eagenda;
///
/// let scheme = eagenda::scheme();
/// # let _ = scheme;
/// ```
pub fn scheme() -> crate::TokenScheme {
    crate::TokenScheme::bearer()
}

/// eAgenda's access-list signing, offered as an option: hex HMAC-SHA256 of the
/// body followed by the `X-Timestamp` value, with a 120 s tolerance. No eAgenda
/// page says webhooks use it; choose it only if your account sends these headers.
///
/// ```
/// use bookhook::{Endpoint, Provider, provider::eagenda};
///
/// let endpoint = Endpoint::builder(Provider::Eagenda)
///     .scheme(eagenda::hmac_scheme())
///     .secret("eagenda-secret")
///     .build()
///     .unwrap();
/// # let _ = endpoint;
/// ```
pub fn hmac_scheme() -> crate::HmacScheme {
    crate::HmacScheme::new(SIGNATURE_HEADER)
        .signed_timestamp(TIMESTAMP_HEADER, std::time::Duration::from_secs(120))
}

#[cfg(test)]
mod tests {
    use crate::provider::test_support::{own_event, parse_as};
    use crate::{Delivery, Kind, ParseError};

    use super::Event;

    fn parse(body: &str) -> Result<Delivery, ParseError> {
        parse_as::<Event>(body)
    }

    fn eagenda(delivery: &Delivery) -> &Event {
        own_event(delivery)
    }

    const CREATED: &str = r#"{"event":"appointment.created","timestamp":"2026-06-04T14:30:00-03:00",
        "data":{"appointment_key":"apt-1","status":"CONFIRMED","start_date":"2026-06-10T09:00:00-03:00",
        "calendar":{"calendar_key":"c-1","name":"Office"},"person":{"full_name":"John Smith","email":"j@example.com"}}}"#;

    #[test]
    fn created_is_typed_with_its_appointment() {
        let delivery = parse(CREATED).unwrap();
        assert!(matches!(eagenda(&delivery), Event::AppointmentCreated(_)));
        assert_eq!(delivery.kind(), Kind::Created);
        let appointment = delivery.appointment().unwrap();
        assert_eq!(appointment.id, "apt-1");
        assert_eq!(appointment.location.as_deref(), Some("Office"));
        assert_eq!(appointment.ends_at, None);
    }

    #[test]
    fn unknown_type_becomes_other() {
        let delivery = parse(r#"{"event":"appointment.confirmed","timestamp":"2026-06-04T14:30:00-03:00","data":{"appointment_key":"apt-9"}}"#).unwrap();
        match eagenda(&delivery) {
            Event::Other {
                event_type,
                data,
                error,
            } => {
                assert_eq!(event_type, "appointment.confirmed");
                assert_eq!(data["appointment_key"], "apt-9");
                assert_eq!(error, &None);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(delivery.kind(), Kind::Other);
        assert_eq!(delivery.appointment(), None);
        assert_eq!(delivery.appointment_id(), Some("apt-9"));
    }

    #[test]
    fn known_type_with_bad_payload_is_other_with_error() {
        let delivery =
            parse(r#"{"event":"appointment.canceled","data":{"status":"CANCELED"}}"#).unwrap();
        match eagenda(&delivery) {
            Event::Other {
                event_type, error, ..
            } => {
                assert_eq!(event_type, "appointment.canceled");
                assert!(error.as_deref().unwrap().contains("appointment_key"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(delivery.kind(), Kind::Cancelled);
        assert_eq!(delivery.appointment(), None);
    }

    #[test]
    fn both_spellings_of_canceled_are_one_event() {
        let one_l = r#"{"event":"appointment.canceled","data":{"appointment_key":"a"}}"#;
        let two_l = one_l.replace("canceled", "cancelled");
        let a = parse(one_l).unwrap();
        let b = parse(&two_l).unwrap();
        assert_eq!(a.event(), b.event());
        assert_eq!(b.kind(), Kind::Cancelled);
        assert_eq!(b.raw_event_type(), "appointment.cancelled");
        let bad = r#"{"event":"appointment.cancelled","data":{}}"#;
        assert!(
            matches!(eagenda(&parse(bad).unwrap()), Event::Other { event_type, .. } if event_type == "appointment.canceled")
        );
        assert_eq!(parse(bad).unwrap().kind(), Kind::Cancelled);
    }

    #[test]
    fn missing_event_field_names_it() {
        let err = parse(r#"{"timestamp":"2026-06-04T14:30:00-03:00","data":{}}"#).unwrap_err();
        assert_eq!(err, ParseError::MissingField { field: "event" });
        let err = parse(r#"{"event":null}"#).unwrap_err();
        assert_eq!(err, ParseError::MissingField { field: "event" });
    }

    #[test]
    fn non_string_event_is_an_invalid_field() {
        let err = parse(r#"{"event":7}"#).unwrap_err();
        assert!(matches!(
            err,
            ParseError::InvalidField { field: "event", .. }
        ));
    }

    #[test]
    fn dedup_key_is_stable_across_retries() {
        let first = parse(CREATED).unwrap();
        let retry = parse(CREATED).unwrap();
        assert_eq!(first.idempotency_key(), retry.idempotency_key());
        let updated = CREATED.replace("appointment.created", "appointment.updated");
        assert_ne!(
            parse(&updated).unwrap().idempotency_key(),
            first.idempotency_key()
        );
        let later = CREATED.replace("14:30:00-03:00", "14:31:00-03:00");
        assert_ne!(
            parse(&later).unwrap().idempotency_key(),
            first.idempotency_key()
        );
    }

    #[test]
    fn key_falls_back_to_body_hash_without_timestamp() {
        let body = r#"{"event":"appointment.created","data":{"appointment_key":"apt-1"}}"#;
        let key = parse(body).unwrap().idempotency_key().to_owned();
        assert!(key.contains("sha256:"), "{key}");
        assert_eq!(parse(body).unwrap().idempotency_key(), key);
    }

    #[test]
    fn garbage_timestamp_is_an_invalid_field() {
        let err = parse(r#"{"event":"appointment.created","timestamp":"soon"}"#).unwrap_err();
        assert!(matches!(
            err,
            ParseError::InvalidField {
                field: "timestamp",
                ..
            }
        ));
    }
}
