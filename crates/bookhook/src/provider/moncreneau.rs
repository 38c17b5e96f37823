//! MonCréneau (moncreneau.gn): its table, typed events, envelope and preset.
//!
//! Envelope (Stripe-like): `{"id": "evt_...", "type", "created", "data": {"object": {...}}}`.
//! The dedup key is the top-level `id`. Event types are accepted dotted
//! (`appointment.created`, as in the webhook page) or upper case
//! (`APPOINTMENT_CREATED`, as in the official SDKs); both map to the same
//! variant. When the body has no `type`, the `X-Moncreneau-Event` header is
//! used; the body wins when both are present.
//!
//! `dateTime` carries no offset: it is the office's local time and stays a
//! [`Timestamp::Local`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event_types::typed_events;
#[cfg(feature = "testing")]
use super::Fill;
use super::{Description, table_description, Parsed, Provider, raw_fields, lenient, optional_time, typed_or_other};
use crate::appointment::{Appointment, Attendee};
use crate::error::ParseError;
use crate::headers::{HeaderLookup, Headers};
use crate::kind::Kind;
use crate::time::Timestamp;

/// The header that names the event type.
pub const EVENT_HEADER: &str = "x-moncreneau-event";

typed_events! {
    /// A MonCréneau event.
    ///
    /// ```
    /// use bookhook::provider::moncreneau;
    /// use bookhook::{Delivery, Event, Provider, endpoint::NoHeaders, event::Timestamp};
    ///
    /// let body = r#"{"id":"evt_1","type":"APPOINTMENT_VALIDATED","created":"2026-01-25T14:35:00Z",
    ///   "data":{"object":{"id":12345,"dateTime":"2026-01-25T14:30:00","status":"VALIDATED",
    ///   "validatedBy":{"id":42,"name":"Agent Martin"}}}}"#;
    /// let delivery = Delivery::parse(Provider::Moncreneau, &NoHeaders, body.into())?;
    /// match delivery.event() {
    ///     Event::Moncreneau(moncreneau::Event::Validated(object)) => {
    ///         assert_eq!(object.id, "12345");
    ///         assert!(matches!(object.date_time, Some(Timestamp::Local(_))));
    ///         assert_eq!(object.validated_by.as_ref().unwrap().name.as_deref(), Some("Agent Martin"));
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// # Ok::<(), bookhook::event::ParseError>(())
    /// ```
    pub enum Event(payload AppointmentObject as object, fixtures "moncreneau" in payloads, normalize dotted) {
        /// `appointment.created`
        Created = "appointment.created" => Created,
        /// `appointment.updated`, with [`AppointmentObject::changes`].
        Updated = "appointment.updated" => Updated,
        /// `appointment.cancelled` (`appointment.canceled` is read the same way).
        Cancelled = "appointment.cancelled" | "appointment.canceled" => Cancelled,
        /// `appointment.confirmed` (listed on one management page).
        Confirmed = "appointment.confirmed" (samples) => Confirmed,
        /// `appointment.validated`: staff confirmed the attendee is present.
        Validated = "appointment.validated" => CheckedIn,
        /// `appointment.completed`
        Completed = "appointment.completed" => Completed,
    }
}

/// What bookhook knows about MonCréneau.
pub const DESCRIPTION: Description = table_description! {
    summary: "MonCréneau: HMAC-SHA256 in `X-Moncreneau-Signature`",
    scheme_name: "hmac-sha256",
    headers: &[SIGNATURE_HEADER, SDK_SIGNATURE_HEADER],
    query: &[],
    dedup_key: "id",
    freshen: &[("/id", Fill::Unique("evt_")), ("/created", Fill::Now)],
};

/// `data.object` of a MonCréneau event. Every event sends a subset of these.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentObject {
    /// The appointment's identifier (a number in the examples, kept as text).
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    /// The department's identifier.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub department_id: Option<String>,
    /// The department, with its organization (sent on creation).
    #[serde(default)]
    pub department: Option<Department>,
    /// The appointment's local date and time, without offset.
    #[serde(default)]
    pub date_time: Option<Timestamp>,
    /// `SCHEDULED`, `CANCELLED`, `VALIDATED`, `COMPLETED`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// The attendee's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The attendee's phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// The attendee's e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// A link to the appointment's QR code.
    #[serde(default)]
    pub qr_code: Option<String>,
    /// When the appointment was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When the appointment was last changed.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// Credits spent for the booking.
    #[serde(default)]
    pub credits_used: Option<i64>,
    /// What changed, per field, on `appointment.updated`.
    #[serde(default)]
    pub changes: BTreeMap<String, Change>,
    /// When the appointment was cancelled.
    #[serde(default)]
    pub cancelled_at: Option<Timestamp>,
    /// Who cancelled (`user`, ...).
    #[serde(default)]
    pub cancelled_by: Option<String>,
    /// The reason given for the cancellation.
    #[serde(default)]
    pub cancel_reason: Option<String>,
    /// Credits given back on cancellation.
    #[serde(default)]
    pub credits_refunded: Option<i64>,
    /// When staff validated the attendee's presence.
    #[serde(default)]
    pub validated_at: Option<Timestamp>,
    /// The agent who validated.
    #[serde(default)]
    pub validated_by: Option<Agent>,
    /// When the appointment was completed.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// Length of the appointment in minutes.
    #[serde(default, deserialize_with = "lenient::opt_count")]
    pub duration: Option<u64>,
    /// Notes left on completion.
    #[serde(default)]
    pub notes: Option<String>,
}

/// One changed field of `appointment.updated`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Change {
    /// The value before.
    #[serde(default)]
    pub from: Value,
    /// The value after.
    #[serde(default)]
    pub to: Value,
}

/// A MonCréneau department (a service desk).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Department {
    /// Its identifier.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub id: Option<String>,
    /// Its name, such as `Passport Service`.
    #[serde(default)]
    pub name: Option<String>,
    /// The organization it belongs to.
    #[serde(default)]
    pub organization: Option<Organization>,
}

/// A MonCréneau organization: an identifier and a name.
pub type Organization = super::Reference;

/// A staff member: an identifier and a name.
pub type Agent = super::Reference;

impl AppointmentObject {
    fn to_appointment(&self, event_type: &str, kind: Kind) -> Appointment {
        Appointment {
            provider: Provider::Moncreneau,
            event_type: event_type.to_owned(),
            kind,
            id: self.id.clone(),
            status: self.status.clone(),
            starts_at: self.date_time,
            ends_at: self
                .date_time
                .zip(self.duration)
                .and_then(|(start, minutes)| super::add_minutes(start, minutes)),
            attendee: Attendee::new(self.name.clone(), self.email.clone(), self.phone.clone()),
            location: self.department.as_ref().and_then(|d| d.name.clone()),
        }
    }
}

#[derive(Deserialize)]
struct Data<T> {
    object: T,
}

/// The dotted lower-case form of a type, as the names are compared:
/// `APPOINTMENT_CREATED` becomes `appointment.created`; dotted types only lose
/// their case.
fn dotted(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase();
    if lower.contains('.') {
        lower
    } else {
        lower.replacen('_', ".", 1)
    }
}

raw_fields! {
    struct Envelope {
        id,
        event_type = "type",
        created,
        data,
    }
}

pub(crate) fn parse(headers: &dyn Headers, body: &[u8]) -> Result<Parsed<Event>, ParseError> {
    let envelope: Envelope<'_> = super::read_envelope(body)?;
    let id =
        super::optional_id(envelope.id, "id")?.ok_or(ParseError::MissingField { field: "id" })?;
    let raw_type = match super::optional_string(envelope.event_type, "type")? {
        Some(t) => t,
        None => match headers.lookup(EVENT_HEADER) {
            HeaderLookup::One(value) => std::str::from_utf8(value)
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .ok_or(ParseError::MissingField { field: "type" })?,
            HeaderLookup::Missing | HeaderLookup::Repeated => {
                return Err(ParseError::MissingField { field: "type" });
            }
        },
    };
    let time = optional_time(envelope.created, "created")?;
    let event = typed_or_other::<Data<Box<AppointmentObject>>, _>(
        envelope.data,
        "data",
        known_type(&raw_type).map(|(name, make)| {
            (name.to_owned(), move |data: Data<Box<AppointmentObject>>| {
                make(data.object)
            })
        }),
        &raw_type,
        TYPES.other,
    )?;
    let kind = event.kind();
    let appointment_id = match &event {
        Event::Other { data, .. } => data.pointer("/object/id").and_then(super::id_of),
        known => known.object().map(|o| o.id.clone()),
    };
    Ok(Parsed {
        event,
        raw_type,
        kind,
        key: id,
        occurred_at: time.map(|(_, t)| t),
        appointment_id,
    })
}

/// The signature header of MonCréneau's documentation: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Moncreneau-Signature";
/// The signature header of MonCréneau's official SDKs: bare hex.
pub const SDK_SIGNATURE_HEADER: &str = "X-Webhook-Signature";

/// MonCréneau's preset: hex HMAC-SHA256 of the raw body in either
/// `X-Moncreneau-Signature` or `X-Webhook-Signature`, with or without the
/// `sha256=` prefix. Secrets (`whsec_...`) are used as UTF-8 bytes, as they are.
///
/// ```
/// use bookhook::provider::moncreneau;
///
/// let scheme = moncreneau::scheme();
/// # let _ = scheme;
/// ```
pub fn scheme() -> crate::HmacScheme {
    crate::HmacScheme::new(SIGNATURE_HEADER)
        .also_header(SDK_SIGNATURE_HEADER)
        .prefix("sha256=")
}

#[cfg(test)]
mod tests {
    use crate::provider::test_support::{own_event, parse_as, parse_with_headers};
    use crate::{Delivery, Kind, ParseError, Timestamp};

    use super::Event;

    fn parse_with(headers: &dyn crate::Headers, body: &str) -> Result<Delivery, ParseError> {
        parse_with_headers::<Event>(headers, body)
    }

    fn parse(body: &str) -> Result<Delivery, ParseError> {
        parse_as::<Event>(body)
    }

    fn moncreneau(delivery: &Delivery) -> &Event {
        own_event(delivery)
    }

    const UPDATED: &str = r#"{"id":"evt_def456","type":"appointment.updated","created":"2026-01-22T10:15:00Z",
        "data":{"object":{"id":12345,"dateTime":"2026-01-26T10:00:00","status":"SCHEDULED",
        "changes":{"dateTime":{"from":"2026-01-25T14:30:00","to":"2026-01-26T10:00:00"}}}}}"#;

    #[test]
    fn updated_carries_its_changes() {
        let delivery = parse(UPDATED).unwrap();
        let Event::Updated(object) = moncreneau(&delivery) else {
            panic!("not updated");
        };
        assert_eq!(object.changes["dateTime"].from, "2026-01-25T14:30:00");
        assert_eq!(object.changes["dateTime"].to, "2026-01-26T10:00:00");
        assert!(matches!(object.date_time, Some(Timestamp::Local(_))));
    }

    #[test]
    fn uppercase_moncreneau_type_maps_like_dotted() {
        for (upper, kind) in [
            ("APPOINTMENT_CREATED", Kind::Created),
            ("APPOINTMENT_UPDATED", Kind::Updated),
            ("APPOINTMENT_CANCELLED", Kind::Cancelled),
            ("APPOINTMENT_VALIDATED", Kind::CheckedIn),
            ("APPOINTMENT_COMPLETED", Kind::Completed),
            ("APPOINTMENT_CONFIRMED", Kind::Confirmed),
        ] {
            let dotted = upper.to_ascii_lowercase().replacen('_', ".", 1);
            let a = parse(&UPDATED.replace("appointment.updated", upper)).unwrap();
            let b = parse(&UPDATED.replace("appointment.updated", &dotted)).unwrap();
            assert_eq!(a.kind(), kind, "{upper}");
            assert_eq!(a.event_type(), dotted);
            assert_eq!(a.raw_event_type(), upper);
            assert_eq!(a.event(), b.event());
            assert_eq!(a.appointment(), b.appointment());
        }
    }

    #[test]
    fn unknown_type_becomes_other() {
        let delivery =
            parse(r#"{"id":"evt_1","type":"APPOINTMENT_REMINDED","data":{"object":{"id":7}}}"#)
                .unwrap();
        assert!(matches!(
            moncreneau(&delivery),
            Event::Other { event_type, error: None, .. } if event_type == "APPOINTMENT_REMINDED"
        ));
        assert_eq!(delivery.kind(), Kind::Other);
        assert_eq!(delivery.appointment_id(), Some("7"));
    }

    #[test]
    fn known_type_with_bad_payload_is_other_with_error() {
        let delivery =
            parse(r#"{"id":"evt_1","type":"appointment.created","data":{"object":{"id":true}}}"#)
                .unwrap();
        match moncreneau(&delivery) {
            Event::Other {
                event_type,
                data,
                error,
            } => {
                assert_eq!(event_type, "appointment.created");
                assert_eq!(data["object"]["id"], true);
                assert!(error.is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(delivery.kind(), Kind::Created);
    }

    #[test]
    fn object_id_may_be_a_string() {
        let delivery =
            parse(r#"{"id":"evt_1","type":"appointment.created","data":{"object":{"id":"A-9"}}}"#)
                .unwrap();
        assert_eq!(delivery.appointment().unwrap().id, "A-9");
    }

    #[test]
    fn missing_event_field_names_it() {
        assert_eq!(
            parse(r#"{"type":"appointment.created"}"#).unwrap_err(),
            ParseError::MissingField { field: "id" }
        );
        assert_eq!(
            parse(r#"{"id":"evt_1"}"#).unwrap_err(),
            ParseError::MissingField { field: "type" }
        );
    }

    #[test]
    fn header_type_is_a_fallback_and_body_wins() {
        let headers = [("X-Moncreneau-Event", "appointment.cancelled")];
        let no_type = r#"{"id":"evt_1","data":{"object":{"id":1}}}"#;
        assert_eq!(
            parse_with(&headers, no_type).unwrap().kind(),
            Kind::Cancelled
        );
        let with_type = r#"{"id":"evt_1","type":"appointment.created","data":{"object":{"id":1}}}"#;
        assert_eq!(
            parse_with(&headers, with_type).unwrap().kind(),
            Kind::Created
        );
    }

    #[test]
    fn completed_ends_after_its_duration_in_local_time() {
        let body = r#"{"id":"evt_m","type":"appointment.completed","data":{"object":{"id":1,
            "dateTime":"2026-01-25T14:30:00","duration":30}}}"#;
        let appointment = parse(body).unwrap().appointment().cloned().unwrap();
        assert_eq!(
            appointment.ends_at.unwrap().to_string(),
            "2026-01-25T15:00:00"
        );
        assert!(appointment.ends_at.unwrap().with_offset().is_none());
    }

    #[test]
    fn dedup_key_is_stable_across_retries() {
        let a = parse(UPDATED).unwrap();
        let b = parse(&UPDATED.replace("\n", " ")).unwrap();
        assert_eq!(a.idempotency_key(), "evt_def456");
        assert_eq!(a.idempotency_key(), b.idempotency_key());
    }
}
