//! Orufy Bookings (orufy.com): its table, typed events, envelope and preset.
//!
//! Body: `{"eventType": "BOOK" | "CANCEL" | "RESCHEDULE" | <no-show>, "meetData": {...}}`.
//! Orufy publishes a field list but no JSON example, so [`Meet`] follows that
//! list with every field optional except `_id`; fields whose shape is not
//! described stay [`serde_json::Value`], numbers and identifiers are accepted
//! as text or numbers, and a date-time that cannot be read becomes `None`
//! instead of failing the event. The raw JSON stays reachable through
//! [`crate::Delivery::json`].
//!
//! The dedup key is `(eventType, meetData._id, change time)`. The change time is
//! `meetData.cancellation.timestamp` for `CANCEL`, `meetData.reschedule.timestamp`
//! for `RESCHEDULE`, else `meetData.updatedAt`. When none is present (a `BOOK`
//! without `updatedAt`), the key is `(eventType, meetData._id, SHA-256 of the
//! body)`: a retry resends the same bytes, so it dedups retries, while two
//! different events about one meeting still get different keys.
//!
//! The no-show trigger is not documented by name: `NO_SHOW`, `NOSHOW`,
//! `MARK_AS_NO_SHOW` and `MARKED_AS_NO_SHOW` (any case, `-` or `_`) are all read
//! as [`Event::NoShow`].

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::event_types::typed_events;
#[cfg(feature = "testing")]
use super::Fill;
use super::{
    Description, table_description, Parsed, Provider, raw_fields, composite_key, lenient, required_string, typed_or_other,
};
use crate::appointment::{Appointment, Attendee, join_name};
use crate::error::ParseError;
use crate::headers::Headers;
use crate::kind::Kind;
use crate::time::Timestamp;

typed_events! {
    /// An Orufy Bookings event.
    ///
    /// ```
    /// use bookhook::provider::orufy;
    /// use bookhook::{Delivery, Event, Kind, Provider, endpoint::NoHeaders};
    ///
    /// let body = r#"{"eventType":"CANCEL","meetData":{"_id":"665f1c","time":"2026-07-01T10:00:00.000Z",
    ///   "duration":45,"status":"CANCELLED","cancellation":{"timestamp":"2026-06-30T08:00:00.000Z","reason":"ill"}}}"#;
    /// let delivery = Delivery::parse(Provider::Orufy, &NoHeaders, body.into())?;
    /// assert_eq!(delivery.kind(), Kind::Cancelled);
    /// if let Event::Orufy(orufy::Event::Cancel(meet)) = delivery.event() {
    ///     assert_eq!(meet.duration, Some(45));
    ///     assert_eq!(meet.cancellation.as_ref().unwrap().reason.as_deref(), Some("ill"));
    /// } else {
    ///     panic!("unexpected event");
    /// }
    /// let appointment = delivery.appointment().unwrap();
    /// assert_eq!(appointment.ends_at.unwrap().to_string(), "2026-07-01T10:45:00+00:00");
    /// # Ok::<(), bookhook::event::ParseError>(())
    /// ```
    ///
    /// The meeting is boxed, as every platform's payload is (see
    /// [`Event`](crate::Event)). Fields read through the box as usual.
    pub enum Event(payload Meet as meet, fixtures "orufy" in payloads, normalize squash) {
        /// `BOOK`: a meeting was booked.
        Book = "BOOK" => Created,
        /// `CANCEL`: a meeting was cancelled.
        Cancel = "CANCEL" => Cancelled,
        /// `RESCHEDULE`: a meeting moved; see [`Meet::prev_meet_id`] and [`Meet::reschedule`].
        Reschedule = "RESCHEDULE" => Rescheduled,
        /// `NO_SHOW`: the attendee was marked as a no-show (read from every
        /// spelling, in any case, with or without `-` and `_`).
        NoShow = "NO_SHOW" | "NOSHOW" | "MARKASNOSHOW" | "MARKEDASNOSHOW" | "MARKNOSHOW" => NoShow,
    }
}

/// What bookhook knows about Orufy Bookings.
pub const DESCRIPTION: Description = table_description! {
    summary: "Orufy Bookings: `Authorization: Bearer <token>` (or `?token=`)",
    scheme_name: "token",
    headers: &["Authorization"],
    query: &[TOKEN_PARAM],
    dedup_key: "eventType + meetData._id + cancellation/reschedule timestamp or updatedAt (else the body's sha-256)",
    // The change's time is set only in a body that has one (cancelled or
    // rescheduled).
    freshen: &[
        ("/meetData/updatedAt", Fill::Now),
        ("/meetData/cancellation/timestamp", Fill::Now),
        ("/meetData/reschedule/timestamp", Fill::Now),
    ],
};

/// `meetData`: one meeting, as Orufy's field list describes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meet {
    /// Unique identifier of the meeting instance.
    #[serde(rename = "_id", deserialize_with = "lenient::id")]
    pub id: String,
    /// The application the meeting was created under.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub app_id: Option<String>,
    /// The event (meeting template) identifier.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub event_id: Option<String>,
    /// Scheduled start, in UTC.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    pub time: Option<Timestamp>,
    /// Identifiers of the hosting agents.
    #[serde(default, deserialize_with = "lenient::ids")]
    pub agents: Vec<String>,
    /// Identifiers of the attendees.
    #[serde(default, deserialize_with = "lenient::ids")]
    pub attendee_ids: Vec<String>,
    /// Whether a contact created the meeting directly.
    #[serde(default)]
    pub create_by_contact: Option<bool>,
    /// Length in minutes.
    #[serde(default, deserialize_with = "lenient::opt_count")]
    pub duration: Option<u64>,
    /// External reference identifiers.
    #[serde(default)]
    pub external_ids: Value,
    /// Follow-up details.
    #[serde(default)]
    pub follow_up: Value,
    /// The no-show mark (its shape is not documented).
    #[serde(default)]
    pub mark_as_no_show: Value,
    /// Maximum number of attendees.
    #[serde(default, deserialize_with = "lenient::opt_count")]
    pub max_attendees: Option<u64>,
    /// Notes about the meeting mode (online, offline).
    #[serde(default)]
    pub mode_note: Value,
    /// A custom name for the meeting.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub modified_event_name: Option<String>,
    /// Groups linked bookings.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub multiple_booking_identifier: Option<String>,
    /// Notes attached to the meeting.
    #[serde(default)]
    pub notes: Value,
    /// Reminder configurations.
    #[serde(default)]
    pub reminders: Value,
    /// `ACTIVE`, `CANCELLED`, ...
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub status: Option<String>,
    /// `SOLO`, `GROUP`, `ROUNDROBIN`, `COLLECTIVE`.
    #[serde(rename = "type", default, deserialize_with = "lenient::opt_text")]
    pub meet_type: Option<String>,
    /// The linked external calendar event.
    #[serde(default)]
    pub calendar_event: Value,
    /// Profiles of the hosting agents.
    #[serde(default)]
    pub agents_details: Value,
    /// Details of the attendees (a list of objects, or one object).
    #[serde(default)]
    pub attendees: Value,
    /// The meeting's name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub event_name: Option<String>,
    /// URL-friendly meeting name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub event_slug: Option<String>,
    /// Cancellation details (an empty object when not cancelled).
    #[serde(default)]
    pub cancellation: Option<Change>,
    /// The previous meeting, when this one is a reschedule.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub prev_meet_id: Option<String>,
    /// Reschedule details (an empty object when not rescheduled).
    #[serde(default)]
    pub reschedule: Option<Change>,
    /// The payment record of a paid booking.
    #[serde(default)]
    pub payment: Option<Payment>,
    /// When the meeting was created.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    pub created_at: Option<Timestamp>,
    /// When the meeting was last changed.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    pub updated_at: Option<Timestamp>,
}

/// A cancellation or a reschedule: when, why, and the rest as sent (who did
/// it, the new meeting's id), since those names are not documented.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Change {
    /// When it happened.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    pub timestamp: Option<Timestamp>,
    /// The reason given.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub reason: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The payment record of a paid booking.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    /// Identifier of the payment record.
    #[serde(rename = "_id", default, deserialize_with = "lenient::opt_id")]
    pub id: Option<String>,
    /// The application the payment was processed under.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub app_id: Option<String>,
    /// Amount charged.
    #[serde(default, deserialize_with = "lenient::opt_number")]
    pub amount: Option<f64>,
    /// Currency, such as `USD`.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub currency_code: Option<String>,
    /// Gateway, such as `STRIPE` or `PAYPAL`.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub method: Option<String>,
    /// `PENDING`, `DONE`, `FAILED`.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub status: Option<String>,
    /// Name of the payer.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub billing_name: Option<String>,
    /// Billing address (its shape is not documented).
    #[serde(default)]
    pub billing_address: Value,
    /// When the payment completed.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    pub payment_time: Option<Timestamp>,
    /// The payment provider's reference, such as a Stripe Payment Intent id.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub external_payment_id: Option<String>,
    /// E-mail for the receipt.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub email_id: Option<String>,
    /// Notes given with the payment.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub note: Option<String>,
    /// When the meeting was created after payment.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    pub meet_created_at: Option<Timestamp>,
    /// Amount charged per duration.
    #[serde(default)]
    pub amount_on_duration: Value,
    /// Internal order identifier.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub order_id: Option<String>,
    /// Record creation time.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    pub created_at: Option<Timestamp>,
    /// Record update time.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    pub updated_at: Option<Timestamp>,
}

impl Meet {
    /// The first attendee's name, e-mail and phone, read from `attendees`
    /// (`name`/`fullName` or `firstName` + `lastName`, `email`/`emailId`,
    /// `phone`/`phoneNumber`/`mobile`).
    pub fn first_attendee(&self) -> Attendee {
        let first = match &self.attendees {
            Value::Array(items) => items.first(),
            object @ Value::Object(_) => Some(object),
            _ => None,
        };
        let Some(person) = first else {
            return Attendee::default();
        };
        let text = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| person.get(*k).and_then(Value::as_str))
                .map(str::to_owned)
        };
        let name = text(&["name", "fullName", "full_name"]).or_else(|| {
            join_name(
                person.get("firstName").and_then(Value::as_str),
                person.get("lastName").and_then(Value::as_str),
            )
        });
        Attendee::new(
            name,
            text(&["email", "emailId"]),
            text(&["phone", "phoneNumber", "mobile"]),
        )
    }

    fn to_appointment(&self, event_type: &str, kind: Kind) -> Appointment {
        Appointment {
            provider: Provider::Orufy,
            event_type: event_type.to_owned(),
            kind,
            id: self.id.clone(),
            status: self.status.clone(),
            starts_at: self.time,
            ends_at: self
                .time
                .zip(self.duration)
                .and_then(|(start, minutes)| super::add_minutes(start, minutes)),
            attendee: self.first_attendee(),
            location: None,
        }
    }
}

/// `raw` in upper case without separators, as the names are compared: every
/// spelling of the no-show trigger (`no-show`, `MARK_AS_NO_SHOW`) squashes to
/// one of [`Event::NoShow`]'s names.
fn squash(raw: &str) -> String {
    raw.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

raw_fields! {
    struct Envelope {
        event_type = "eventType",
        meet_data = "meetData",
    }
}

raw_fields! {
    /// What the key and the time are made of, read without the rest of `meetData`.
    struct MeetKey {
        id = "_id",
        cancellation,
        reschedule,
        updated_at = "updatedAt",
        created_at = "createdAt",
    }
}

raw_fields! {
    struct Stamp {
        timestamp,
    }
}

/// A time value as text (for the key) and as a timestamp (when readable).
fn time_text(raw: Option<&RawValue>) -> Option<(String, Option<Timestamp>)> {
    let value: Value = serde_json::from_str(raw?.get()).ok()?;
    let text = super::id_of(&value)?;
    let time = match &value {
        Value::String(s) => Timestamp::parse(s),
        Value::Number(n) => n.as_i64().and_then(super::from_unix),
        _ => None,
    };
    Some((text, time))
}

fn stamp_of(raw: Option<&RawValue>) -> Option<(String, Option<Timestamp>)> {
    let stamp: Stamp<'_> = serde_json::from_str(raw?.get()).ok()?;
    time_text(stamp.timestamp)
}

pub(crate) fn parse(_headers: &dyn Headers, body: &[u8]) -> Result<Parsed<Event>, ParseError> {
    let envelope: Envelope<'_> = super::read_envelope(body)?;
    let raw_type = required_string(envelope.event_type, "eventType")?;
    let meet_raw = envelope
        .meet_data
        .ok_or(ParseError::MissingField { field: "meetData" })?;
    if !super::is_object(meet_raw) {
        return Err(ParseError::InvalidField {
            field: "meetData",
            reason: "expected an object",
        });
    }
    let meet_key: MeetKey<'_> =
        serde_json::from_str(meet_raw.get()).map_err(|_| ParseError::InvalidField {
            field: "meetData",
            reason: "expected an object",
        })?;
    let meet_id =
        super::optional_id(meet_key.id, "meetData._id")?.ok_or(ParseError::MissingField {
            field: "meetData._id",
        })?;

    let event = typed_or_other::<Box<Meet>, _>(
        Some(meet_raw),
        "meetData",
        known_type(&raw_type).map(|(name, make)| (name.to_owned(), make)),
        &raw_type,
        TYPES.other,
    )?;

    // The kind follows the known type, even when its payload did not fit.
    let kind = event.kind();
    let change = match kind {
        Kind::Cancelled => stamp_of(meet_key.cancellation),
        Kind::Rescheduled => stamp_of(meet_key.reschedule),
        _ => None,
    }
    .or_else(|| time_text(meet_key.updated_at));
    let key = match &change {
        Some((text, _)) => composite_key(&[&raw_type, &meet_id, text]),
        None => composite_key(&[
            &raw_type,
            &meet_id,
            &format!("sha256:{}", super::sha256_hex(body)),
        ]),
    };
    let occurred_at = change
        .and_then(|(_, time)| time)
        .or_else(|| time_text(meet_key.created_at).and_then(|(_, time)| time));

    Ok(Parsed {
        event,
        raw_type,
        kind,
        key,
        occurred_at,
        appointment_id: Some(meet_id),
    })
}

/// The query parameter the preset also accepts the Secret Token from.
pub const TOKEN_PARAM: &str = "token";

/// Orufy's preset: the user-entered "Secret Token", compared in constant time,
/// from `Authorization: Bearer <token>` or the `token` query parameter (Orufy
/// does not document how it sends it; put the token in the subscriber URL as
/// `?token=...` if your account sends no header).
///
/// ```
/// use bookhook::provider::orufy;
///
/// let scheme = orufy::scheme();
/// # let _ = scheme;
/// ```
pub fn scheme() -> crate::TokenScheme {
    crate::TokenScheme::bearer().or_query(TOKEN_PARAM)
}

#[cfg(test)]
mod tests {
    use crate::provider::test_support::{own_event, parse_as};
    use crate::{Delivery, Kind, ParseError};

    use super::Event;

    fn parse(body: &str) -> Result<Delivery, ParseError> {
        parse_as::<Event>(body)
    }

    fn orufy(delivery: &Delivery) -> &Event {
        own_event(delivery)
    }

    #[test]
    fn no_show_spellings_are_one_event() {
        for spelling in [
            "NO_SHOW",
            "MARK_AS_NO_SHOW",
            "no-show",
            "MARKED_AS_NO_SHOW",
            "NOSHOW",
        ] {
            let delivery = parse(&format!(
                r#"{{"eventType":"{spelling}","meetData":{{"_id":"m1"}}}}"#
            ))
            .unwrap();
            assert!(matches!(orufy(&delivery), Event::NoShow(_)), "{spelling}");
            assert_eq!(delivery.kind(), Kind::NoShow);
            assert_eq!(delivery.raw_event_type(), spelling);
        }
    }

    #[test]
    fn unknown_type_becomes_other() {
        let delivery =
            parse(r#"{"eventType":"PAYMENT_REFUNDED","meetData":{"_id":"m1","x":1}}"#).unwrap();
        assert!(
            matches!(orufy(&delivery), Event::Other { error: None, data, .. } if data["x"] == 1)
        );
        assert_eq!(delivery.kind(), Kind::Other);
        assert_eq!(delivery.appointment_id(), Some("m1"));
    }

    #[test]
    fn known_type_with_bad_payload_is_other_with_error() {
        let delivery =
            parse(r#"{"eventType":"BOOK","meetData":{"_id":"m1","createByContact":"maybe"}}"#)
                .unwrap();
        assert!(matches!(
            orufy(&delivery),
            Event::Other { error: Some(_), .. }
        ));
        assert_eq!(delivery.kind(), Kind::Created);
    }

    #[test]
    fn unknown_and_oddly_shaped_fields_are_tolerated() {
        let body = r#"{"eventType":"BOOK","meetData":{"_id":{"$oid":"x"}}}"#;
        assert!(matches!(
            parse(body),
            Err(ParseError::InvalidField {
                field: "meetData._id",
                ..
            })
        ));
        let body = r#"{"eventType":"BOOK","meetData":{"_id":"m1","time":"whenever","duration":"30",
            "agents":["a1",2,{"x":1}],"attendees":{"name":"Ann","emailId":"ann@example.com"},"somethingNew":[1]}}"#;
        let delivery = parse(body).unwrap();
        let Event::Book(meet) = orufy(&delivery) else {
            panic!("not typed")
        };
        assert_eq!(meet.time, None);
        assert_eq!(meet.duration, Some(30));
        assert_eq!(meet.agents, ["a1", "2"]);
        assert_eq!(meet.first_attendee().name.as_deref(), Some("Ann"));
        assert_eq!(
            meet.first_attendee().email.as_deref(),
            Some("ann@example.com")
        );
    }

    #[test]
    fn meet_data_must_be_an_object() {
        assert!(matches!(
            parse(r#"{"eventType":"BOOK","meetData":["m1"]}"#),
            Err(ParseError::InvalidField {
                field: "meetData",
                ..
            })
        ));
    }

    #[test]
    fn missing_event_field_names_it() {
        assert_eq!(
            parse(r#"{"meetData":{"_id":"m1"}}"#).unwrap_err(),
            ParseError::MissingField { field: "eventType" }
        );
        assert_eq!(
            parse(r#"{"eventType":"BOOK","meetData":{"time":"2026-07-01T10:00:00Z"}}"#)
                .unwrap_err(),
            ParseError::MissingField {
                field: "meetData._id"
            }
        );
        assert_eq!(
            parse(r#"{"eventType":"BOOK"}"#).unwrap_err(),
            ParseError::MissingField { field: "meetData" }
        );
    }

    #[test]
    fn dedup_key_is_stable_across_retries() {
        let cancel = r#"{"eventType":"CANCEL","meetData":{"_id":"m1","cancellation":{"timestamp":"2026-06-30T08:00:00Z"},"updatedAt":"2026-06-30T08:00:01Z"}}"#;
        let key = parse(cancel).unwrap().idempotency_key().to_owned();
        assert_eq!(key, r#"["CANCEL","m1","2026-06-30T08:00:00Z"]"#);
        assert_eq!(parse(cancel).unwrap().idempotency_key(), key);

        let book =
            r#"{"eventType":"BOOK","meetData":{"_id":"m1","updatedAt":"2026-06-29T08:00:00Z"}}"#;
        assert_eq!(
            parse(book).unwrap().idempotency_key(),
            r#"["BOOK","m1","2026-06-29T08:00:00Z"]"#
        );

        let bare = r#"{"eventType":"BOOK","meetData":{"_id":"m1"}}"#;
        let hashed = parse(bare).unwrap().idempotency_key().to_owned();
        assert!(hashed.contains("sha256:"));
        assert_eq!(parse(bare).unwrap().idempotency_key(), hashed);
        let other_body = r#"{"eventType":"BOOK","meetData":{"_id":"m1","notes":["x"]}}"#;
        assert_ne!(parse(other_body).unwrap().idempotency_key(), hashed);
    }
}
