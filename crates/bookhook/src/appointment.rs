//! The normalized appointment view, the same for every platform.

use serde::Serialize;

use crate::kind::Kind;
use crate::provider::Provider;
use crate::time::Timestamp;

/// An appointment event, read the same way whatever the platform.
///
/// A handler written against this view works for every platform. Where a
/// platform does not send a value, the field is `None`. The platform's own
/// payload stays available through [`crate::Delivery::event`].
///
/// | field | eAgenda | MonCréneau | Orufy | Calendence | Decoda |
/// |---|---|---|---|---|---|
/// | `id` | `data.appointment_key` | `data.object.id` | `meetData._id` | `data.id` | `data.id` |
/// | `starts_at` | `start_date` | `dateTime` (no offset: local) | `time` | `starts_at` | `start_time` |
/// | `ends_at` | start + duration, if known | start + `duration` | start + `duration` | `ends_at` | `end_time`, else start + duration |
/// | `attendee` | `person` | `name`, `email`, `phone` | first of `attendees` | `client` | `patient` |
/// | `location` | `calendar.name` | `department.name` | (none) | `location.name` | `location` |
///
/// ```
/// use bookhook::{Delivery, Kind, Provider, endpoint::NoHeaders};
///
/// let body = br#"{"event":"booking.cancelled","timestamp":"2026-03-24T14:30:00+00:00",
///   "data":{"id":"b-1","status":"cancelled","client":{"first_name":"Jane","last_name":"Doe"},
///   "starts_at":"2026-03-25T14:00:00+00:00","ends_at":"2026-03-25T14:30:00+00:00",
///   "location":{"id":"l-1","name":"Main Shop"}}}"#;
/// let delivery = Delivery::parse(Provider::Calendence, &NoHeaders, body.to_vec().into())?;
/// let appointment = delivery.appointment().expect("a booking event");
/// assert_eq!(appointment.kind, Kind::Cancelled);
/// assert_eq!(appointment.id, "b-1");
/// assert_eq!(appointment.attendee.name.as_deref(), Some("Jane Doe"));
/// assert_eq!(appointment.location.as_deref(), Some("Main Shop"));
/// assert_eq!(appointment.ends_at.unwrap().to_string(), "2026-03-25T14:30:00+00:00");
/// # Ok::<(), bookhook::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Appointment {
    /// The platform that sent the event.
    pub provider: Provider,
    /// The platform's event type, in its canonical spelling (for example
    /// `appointment.created` for MonCréneau's `APPOINTMENT_CREATED`).
    pub event_type: String,
    /// What happened, normalized.
    pub kind: Kind,
    /// The platform's identifier of the appointment.
    pub id: String,
    /// The platform's status, as sent (`CONFIRMED`, `SCHEDULED`, `confirmed`, ...).
    pub status: Option<String>,
    /// When the appointment starts, with the offset the platform sent.
    pub starts_at: Option<Timestamp>,
    /// When the appointment ends: sent by the platform, or the start plus a
    /// known duration.
    pub ends_at: Option<Timestamp>,
    /// Who the appointment is for.
    pub attendee: Attendee,
    /// Where: a location, department or calendar name.
    pub location: Option<String>,
}

/// The person an appointment is for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Attendee {
    /// Full name, as the platform sends it (or first and last name joined).
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number, as sent.
    pub phone: Option<String>,
}

impl Attendee {
    /// An attendee from optional parts.
    pub fn new(name: Option<String>, email: Option<String>, phone: Option<String>) -> Self {
        Self { name, email, phone }
    }
}

/// Joins a first and a last name, skipping empty parts.
pub(crate) fn join_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_joined_without_stray_spaces() {
        assert_eq!(
            join_name(Some("Jane"), Some("Doe")).as_deref(),
            Some("Jane Doe")
        );
        assert_eq!(join_name(Some("Jane"), None).as_deref(), Some("Jane"));
        assert_eq!(join_name(Some(" "), Some("Doe")).as_deref(), Some("Doe"));
        assert_eq!(join_name(None, None), None);
    }

    #[test]
    fn serializes_with_snake_case_kind_and_offset_kept() {
        let appointment = Appointment {
            provider: Provider::Eagenda,
            event_type: "appointment.created".into(),
            kind: Kind::Created,
            id: "apt-1".into(),
            status: Some("CONFIRMED".into()),
            starts_at: Timestamp::parse("2026-06-10T09:00:00-03:00"),
            ends_at: None,
            attendee: Attendee::new(Some("John Smith".into()), None, None),
            location: None,
        };
        let json = serde_json::to_value(&appointment).unwrap();
        assert_eq!(json["provider"], "eagenda");
        assert_eq!(json["kind"], "created");
        assert_eq!(json["starts_at"], "2026-06-10T09:00:00-03:00");
        assert_eq!(json["attendee"]["name"], "John Smith");
    }
}
