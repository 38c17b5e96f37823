//! Decoda Health: its table, typed events, envelope and preset.
//!
//! Envelope: `{"id", "type", "data", "createdDate", "alertId"}`. The dedup key
//! is `alertId`, else `id`: Decoda's documents disagree on whether `id` names
//! the event or one delivery attempt, and `alertId` is stable either way.
//!
//! Decoda's first list of types misspells three of them (`CALL_RECIEVED`,
//! `MESSAGE_RECIEVED`, `EMAIL_RECIEVED`); its newer list fixes them. Both
//! spellings are the same [`EventType`], named with the fixed spelling.
//!
//! Decoda's documents mix `snake_case` and `camelCase` inside `data`: every
//! field of [`AppointmentData`] and [`Payment`] accepts both. Decoda publishes
//! no full example, so dates (`createdDate` and those in `data`) are read as
//! RFC 3339 text or Unix time, and one that cannot be read becomes `None`
//! rather than failing the event.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event_types::event_types;
#[cfg(feature = "testing")]
use super::Fill;
use super::{Description, table_description, Parsed, Provider, raw_fields, lenient, optional_id, payload, required_string, value};
use crate::appointment::{Appointment, Attendee, join_name};
use crate::error::ParseError;
use crate::headers::Headers;
use crate::kind::Kind;
use crate::time::Timestamp;

event_types! {
    fixtures: "decoda" in samples,
    /// `APPOINTMENT_SCHEDULED`
    AppointmentScheduled = "APPOINTMENT_SCHEDULED" (payloads) => Created,
    /// `SELF_SCHEDULED_APPOINTMENT`: a patient booked online.
    SelfScheduledAppointment = "SELF_SCHEDULED_APPOINTMENT" (payloads) => Created,
    /// `APPOINTMENT_REQUEST`: a patient asked for an appointment.
    AppointmentRequest = "APPOINTMENT_REQUEST" (payloads) => Requested,
    /// `APPOINTMENT_UPDATED`
    AppointmentUpdated = "APPOINTMENT_UPDATED" => Updated,
    /// `SELF_SCHEDULED_APPOINTMENT_UPDATED`
    SelfScheduledAppointmentUpdated = "SELF_SCHEDULED_APPOINTMENT_UPDATED" => Updated,
    /// `APPOINTMENT_RESCHEDULED`
    AppointmentRescheduled = "APPOINTMENT_RESCHEDULED" (payloads) => Rescheduled,
    /// `APPOINTMENT_CANCELLED`
    AppointmentCancelled = "APPOINTMENT_CANCELLED" (payloads) => Cancelled,
    /// `SELF_SCHEDULED_APPOINTMENT_CANCELLED`
    SelfScheduledAppointmentCancelled = "SELF_SCHEDULED_APPOINTMENT_CANCELLED" => Cancelled,
    /// `PAYMENT_CREATED`
    PaymentCreated = "PAYMENT_CREATED" (payloads) => Other,
    /// `PAYMENT_FAILED`
    PaymentFailed = "PAYMENT_FAILED" => Other,
    /// `PAYMENT_SUCCEEDED`
    PaymentSucceeded = "PAYMENT_SUCCEEDED" => Other,
    /// `PATIENT_CREATED`
    PatientCreated = "PATIENT_CREATED" (payloads) => Other,
    /// `PATIENT_UPDATED`
    PatientUpdated = "PATIENT_UPDATED" => Other,
    /// `CHARGE_CREATED`
    ChargeCreated = "CHARGE_CREATED" => Other,
    /// `REFUND_CREATED`
    RefundCreated = "REFUND_CREATED" => Other,
    /// `REFUND_FAILED`
    RefundFailed = "REFUND_FAILED" => Other,
    /// `REFUND_SUCCEEDED`
    RefundSucceeded = "REFUND_SUCCEEDED" => Other,
    /// `ADJUSTMENT_CREATED`
    AdjustmentCreated = "ADJUSTMENT_CREATED" => Other,
    /// `ADJUSTMENT_FAILED`
    AdjustmentFailed = "ADJUSTMENT_FAILED" => Other,
    /// `ADJUSTMENT_SUCCEEDED`
    AdjustmentSucceeded = "ADJUSTMENT_SUCCEEDED" => Other,
    /// `INVOICE_SENT`
    InvoiceSent = "INVOICE_SENT" => Other,
    /// `INVOICE_FAILED`
    InvoiceFailed = "INVOICE_FAILED" => Other,
    /// `CALL_RECEIVED` (also sent as `CALL_RECIEVED`)
    CallReceived = "CALL_RECEIVED" | "CALL_RECIEVED" (payloads) => Other,
    /// `CALL_MADE`
    CallMade = "CALL_MADE" => Other,
    /// `MESSAGE_RECEIVED` (also sent as `MESSAGE_RECIEVED`)
    MessageReceived = "MESSAGE_RECEIVED" | "MESSAGE_RECIEVED" => Other,
    /// `MESSAGE_SENT`
    MessageSent = "MESSAGE_SENT" => Other,
    /// `MESSAGE_DELIVERED`
    MessageDelivered = "MESSAGE_DELIVERED" => Other,
    /// `MESSAGE_FAILED`
    MessageFailed = "MESSAGE_FAILED" => Other,
    /// `EMAIL_RECEIVED` (also sent as `EMAIL_RECIEVED`)
    EmailReceived = "EMAIL_RECEIVED" | "EMAIL_RECIEVED" => Other,
    /// `EMAIL_SENT`
    EmailSent = "EMAIL_SENT" => Other,
    /// `FORM_SUBMITTED`
    FormSubmitted = "FORM_SUBMITTED" => Other,
    /// `MAIL_SENT`
    MailSent = "MAIL_SENT" => Other,
    /// `MAIL_DELIVERY_FAILED`
    MailDeliveryFailed = "MAIL_DELIVERY_FAILED" => Other,
}

impl EventType {
    /// Whether events of this type carry an appointment.
    pub const fn is_appointment(self) -> bool {
        matches!(
            self,
            EventType::AppointmentScheduled
                | EventType::SelfScheduledAppointment
                | EventType::AppointmentRequest
                | EventType::AppointmentUpdated
                | EventType::SelfScheduledAppointmentUpdated
                | EventType::AppointmentRescheduled
                | EventType::AppointmentCancelled
                | EventType::SelfScheduledAppointmentCancelled
        )
    }

    /// Whether events of this type carry a payment.
    pub const fn is_payment(self) -> bool {
        matches!(
            self,
            EventType::PaymentCreated | EventType::PaymentFailed | EventType::PaymentSucceeded
        )
    }
}

/// What bookhook knows about Decoda Health.
pub const DESCRIPTION: Description = table_description! {
    summary: "Decoda Health: HMAC-SHA256 in `Decoda-Signature`",
    scheme_name: "hmac-sha256",
    headers: &[SIGNATURE_HEADER],
    query: &[],
    dedup_key: "alertId (else id)",
    freshen: &[
        ("/id", Fill::Unique("wh_evt_")),
        ("/alertId", Fill::Unique("alert_")),
        ("/createdDate", Fill::Now),
    ],
};

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Decoda Health event.
///
/// Appointment types carry [`AppointmentData`], payment types a [`Payment`].
/// The other types Decoda lists (patients, charges, refunds, messages, calls,
/// forms, ...) are [`Event::Record`] with their data as JSON, and types this
/// version does not know are [`Event::Other`].
///
/// ```
/// use bookhook::provider::decoda::{self, EventType};
/// use bookhook::{Delivery, Event, Kind, Provider, endpoint::NoHeaders};
///
/// let body = r#"{"id":"evt_1","alertId":"alert_1","type":"PAYMENT_CREATED","createdDate":"2024-05-01T12:00:00Z",
///   "data":{"id":"pay_1","chargeId":"ch_1","patient_id":"pat_1","amountCents":2500,"status":"succeeded"}}"#;
/// let delivery = Delivery::parse(Provider::Decoda, &NoHeaders, body.into())?;
/// assert_eq!(delivery.kind(), Kind::Other);
/// assert_eq!(delivery.idempotency_key(), "alert_1");
/// match delivery.event() {
///     Event::Decoda(decoda::Event::Payment(EventType::PaymentCreated, payment)) => {
///         assert_eq!(payment.charge_id.as_deref(), Some("ch_1"));
///         assert_eq!(payment.amount_cents, Some(2500));
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok::<(), bookhook::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An appointment type ([`EventType::is_appointment`]).
    Appointment(EventType, Box<AppointmentData>),
    /// A payment type ([`EventType::is_payment`]).
    Payment(EventType, Box<Payment>),
    /// Another listed type, with its data as sent.
    Record(EventType, Value),
    /// A type this version does not know, or a known type whose data does not
    /// fit its payload struct.
    Other {
        /// The event type: canonical for a known type, else as sent.
        event_type: String,
        /// The `data` object as sent (`null` if absent).
        data: Value,
        /// Why the data did not fit, for a known type (serde's message, which may
        /// quote the offending value); `None` for an unknown type.
        error: Option<String>,
    },
}

impl Event {
    /// The event type, with the fixed spelling for known types.
    pub fn event_type(&self) -> &str {
        match self {
            Event::Appointment(t, _) | Event::Payment(t, _) | Event::Record(t, _) => t.as_str(),
            Event::Other { event_type, .. } => event_type,
        }
    }

    /// The known type, if any.
    pub fn known_type(&self) -> Option<EventType> {
        match self {
            Event::Appointment(t, _) | Event::Payment(t, _) | Event::Record(t, _) => Some(*t),
            Event::Other { event_type, .. } => EventType::from_name(event_type),
        }
    }

    /// The normalized kind of this event.
    pub fn kind(&self) -> Kind {
        self.known_type().map_or(Kind::Other, EventType::kind)
    }

    /// The normalized appointment of an appointment event whose data fits.
    pub(crate) fn to_appointment(&self) -> Option<Appointment> {
        match self {
            Event::Appointment(t, data) => Some(data.to_appointment(*t)),
            _ => None,
        }
    }
}

/// The `data` of an appointment event.
///
/// Decoda publishes no appointment example: the fields are read under the
/// usual names, in `snake_case` or `camelCase`, and all but `id` are optional.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AppointmentData {
    /// The appointment's identifier.
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    /// The appointment's status.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub status: Option<String>,
    /// Start time (`start_time`, `startTime`, `start_date` or `startDate`).
    #[serde(
        default,
        alias = "startTime",
        alias = "start_date",
        alias = "startDate",
        deserialize_with = "lenient::opt_time"
    )]
    pub start_time: Option<Timestamp>,
    /// End time (`end_time`, `endTime`, `end_date` or `endDate`).
    #[serde(
        default,
        alias = "endTime",
        alias = "end_date",
        alias = "endDate",
        deserialize_with = "lenient::opt_time"
    )]
    pub end_time: Option<Timestamp>,
    /// Length in minutes.
    #[serde(
        default,
        alias = "durationMinutes",
        alias = "duration_minutes",
        deserialize_with = "lenient::opt_count"
    )]
    pub duration: Option<u64>,
    /// The patient's identifier.
    #[serde(default, alias = "patientId", deserialize_with = "lenient::opt_id")]
    pub patient_id: Option<String>,
    /// The patient, when embedded.
    #[serde(default)]
    pub patient: Option<Patient>,
    /// The clinician's identifier.
    #[serde(default, alias = "providerId", deserialize_with = "lenient::opt_id")]
    pub provider_id: Option<String>,
    /// The location's identifier.
    #[serde(default, alias = "locationId", deserialize_with = "lenient::opt_id")]
    pub location_id: Option<String>,
    /// The location: a name, or an object with a `name`.
    #[serde(default)]
    pub location: Value,
    /// The appointment type (its shape is not documented).
    #[serde(default, alias = "appointmentType")]
    pub appointment_type: Value,
    /// Notes.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub notes: Option<String>,
    /// When the appointment was created.
    #[serde(default, alias = "createdDate", deserialize_with = "lenient::opt_time")]
    pub created_date: Option<Timestamp>,
    /// When the appointment was last changed.
    #[serde(default, alias = "updatedDate", deserialize_with = "lenient::opt_time")]
    pub updated_date: Option<Timestamp>,
}

/// A patient embedded in an appointment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Patient {
    /// The patient's identifier.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub id: Option<String>,
    /// First name.
    #[serde(default, alias = "firstName", deserialize_with = "lenient::opt_text")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, alias = "lastName", deserialize_with = "lenient::opt_text")]
    pub last_name: Option<String>,
    /// E-mail address.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub email: Option<String>,
    /// Phone number (`phone`, `phone_number` or `phoneNumber`).
    #[serde(
        default,
        alias = "phone_number",
        alias = "phoneNumber",
        deserialize_with = "lenient::opt_text"
    )]
    pub phone: Option<String>,
}

/// The `data` of a payment event, as in Decoda's `PAYMENT_CREATED` example.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Payment {
    /// The payment's identifier.
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    /// The charge paid.
    #[serde(default, alias = "chargeId", deserialize_with = "lenient::opt_id")]
    pub charge_id: Option<String>,
    /// The patient who paid.
    #[serde(default, alias = "patientId", deserialize_with = "lenient::opt_id")]
    pub patient_id: Option<String>,
    /// Amount in cents.
    #[serde(default, alias = "amountCents", deserialize_with = "lenient::opt_integer")]
    pub amount_cents: Option<i64>,
    /// The payment's status.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub status: Option<String>,
    /// The payment method used.
    #[serde(default, alias = "paymentMethodId", deserialize_with = "lenient::opt_id")]
    pub payment_method_id: Option<String>,
    /// When the payment was created.
    #[serde(default, alias = "createdDate", deserialize_with = "lenient::opt_time")]
    pub created_date: Option<Timestamp>,
}

impl AppointmentData {
    /// The location's name: `location` as text, or `location.name`.
    pub fn location_name(&self) -> Option<String> {
        match &self.location {
            Value::String(name) => Some(name.clone()),
            Value::Object(map) => map.get("name").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        }
    }

    fn to_appointment(&self, event_type: EventType) -> Appointment {
        let patient = self.patient.as_ref();
        Appointment {
            provider: Provider::Decoda,
            event_type: event_type.as_str().to_owned(),
            kind: event_type.kind(),
            id: self.id.clone(),
            status: self.status.clone(),
            starts_at: self.start_time,
            ends_at: self.end_time.or_else(|| {
                self.start_time
                    .zip(self.duration)
                    .and_then(|(start, minutes)| super::add_minutes(start, minutes))
            }),
            attendee: Attendee::new(
                patient.and_then(|p| join_name(p.first_name.as_deref(), p.last_name.as_deref())),
                patient.and_then(|p| p.email.clone()),
                patient.and_then(|p| p.phone.clone()),
            ),
            location: self.location_name(),
        }
    }
}

raw_fields! {
    struct Envelope {
        id,
        event_type = "type",
        data,
        created_date = "createdDate",
        alert_id = "alertId",
    }
}

fn other(event_type: String, (data, error): (Value, String)) -> Event {
    Event::Other {
        event_type,
        data,
        error: Some(error),
    }
}

pub(crate) fn parse(_headers: &dyn Headers, body: &[u8]) -> Result<Parsed<Event>, ParseError> {
    let envelope: Envelope<'_> = super::read_envelope(body)?;
    let raw_type = required_string(envelope.event_type, "type")?;
    let alert_id = optional_id(envelope.alert_id, "alertId")?;
    let id = optional_id(envelope.id, "id")?;
    let key = alert_id
        .or(id)
        .ok_or(ParseError::MissingField { field: "alertId" })?;
    // Decoda publishes no full example: a `createdDate` that cannot be read
    // (text or Unix time) leaves the time unknown rather than failing.
    let time = envelope
        .created_date
        .and_then(|raw| lenient::opt_time(&mut serde_json::Deserializer::from_str(raw.get())).ok())
        .flatten();

    let event = match EventType::from_name(raw_type.trim()) {
        Some(t) if t.is_appointment() => {
            match payload::<Box<AppointmentData>>(envelope.data, "data")? {
                Ok(data) => Event::Appointment(t, data),
                Err(bad) => other(t.as_str().to_owned(), bad),
            }
        }
        Some(t) if t.is_payment() => match payload::<Box<Payment>>(envelope.data, "data")? {
            Ok(data) => Event::Payment(t, data),
            Err(bad) => other(t.as_str().to_owned(), bad),
        },
        Some(t) => Event::Record(t, value(envelope.data)?),
        None => Event::Other {
            event_type: raw_type.clone(),
            data: value(envelope.data)?,
            error: None,
        },
    };
    let kind = event.kind();
    let appointment_id = match &event {
        Event::Appointment(_, data) => Some(data.id.clone()),
        Event::Other { data, .. } if event.known_type().is_some_and(EventType::is_appointment) => {
            data.get("id").and_then(super::id_of)
        }
        _ => None,
    };
    Ok(Parsed {
        event,
        raw_type,
        kind,
        key,
        occurred_at: time,
        appointment_id,
    })
}

/// Decoda's signature header: bare hex.
pub const SIGNATURE_HEADER: &str = "Decoda-Signature";

/// Decoda's preset: hex HMAC-SHA256 of the raw body in `Decoda-Signature`.
///
/// Decoda's Python sample signs `json.dumps(json.loads(body))` rather than the
/// raw bytes. If your deliveries fail verification because of that, turn on
/// the compatibility workaround (off by default):
///
/// ```
/// use bookhook::{Endpoint, Provider, provider::decoda};
///
/// let endpoint = Endpoint::builder(Provider::Decoda)
///     .scheme(decoda::scheme().python_json_compat(true))
///     .secret("decoda-secret")
///     .build()
///     .unwrap();
/// # let _ = endpoint;
/// ```
pub fn scheme() -> crate::HmacScheme {
    crate::HmacScheme::new(SIGNATURE_HEADER)
}

#[cfg(test)]
mod tests {
    use crate::provider::test_support::{own_event, parse_as};
    use crate::{Delivery, Kind, ParseError};

    use super::{Event, EventType};

    fn parse(body: &str) -> Result<Delivery, ParseError> {
        parse_as::<Event>(body)
    }

    fn decoda(delivery: &Delivery) -> &Event {
        own_event(delivery)
    }

    #[test]
    fn recieved_and_received_are_the_same_event() {
        for (misspelled, fixed, variant) in [
            ("CALL_RECIEVED", "CALL_RECEIVED", EventType::CallReceived),
            (
                "MESSAGE_RECIEVED",
                "MESSAGE_RECEIVED",
                EventType::MessageReceived,
            ),
            ("EMAIL_RECIEVED", "EMAIL_RECEIVED", EventType::EmailReceived),
        ] {
            let body = |t: &str| format!(r#"{{"id":"e1","type":"{t}","data":{{"from":"+1555"}}}}"#);
            let a = parse(&body(misspelled)).unwrap();
            let b = parse(&body(fixed)).unwrap();
            assert_eq!(a.event(), b.event());
            assert!(matches!(decoda(&a), Event::Record(t, _) if *t == variant));
            assert_eq!(a.event_type(), fixed);
            assert_eq!(a.raw_event_type(), misspelled);
            assert_eq!(a.kind(), Kind::Other);
        }
    }

    #[test]
    fn decoda_accepts_camel_and_snake_case() {
        let snake = r#"{"id":"e1","type":"APPOINTMENT_SCHEDULED","data":{"id":"a1","start_time":"2024-05-02T09:00:00-04:00",
            "end_time":"2024-05-02T09:30:00-04:00","patient_id":"p1","patient":{"first_name":"Ann","last_name":"Lee","phone_number":"+1555"}}}"#;
        let camel = r#"{"id":"e1","type":"APPOINTMENT_SCHEDULED","data":{"id":"a1","startTime":"2024-05-02T09:00:00-04:00",
            "endTime":"2024-05-02T09:30:00-04:00","patientId":"p1","patient":{"firstName":"Ann","lastName":"Lee","phoneNumber":"+1555"}}}"#;
        let a = parse(snake).unwrap();
        let b = parse(camel).unwrap();
        assert_eq!(a.event(), b.event());
        let appointment = a.appointment().unwrap();
        assert_eq!(appointment.attendee.name.as_deref(), Some("Ann Lee"));
        assert_eq!(appointment.attendee.phone.as_deref(), Some("+1555"));
        assert_eq!(
            appointment.starts_at.unwrap().to_string(),
            "2024-05-02T09:00:00-04:00"
        );

        let snake = r#"{"id":"e","type":"PAYMENT_FAILED","data":{"id":"p","charge_id":"c","payment_method_id":"m","amount_cents":5}}"#;
        let camel = r#"{"id":"e","type":"PAYMENT_FAILED","data":{"id":"p","chargeId":"c","paymentMethodId":"m","amountCents":5}}"#;
        assert_eq!(parse(snake).unwrap().event(), parse(camel).unwrap().event());
    }

    #[test]
    fn every_listed_type_is_known_with_its_kind() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_name(t.as_str()), Some(*t));
        }
        assert_eq!(EventType::AppointmentRequest.kind(), Kind::Requested);
        assert_eq!(
            EventType::SelfScheduledAppointmentCancelled.kind(),
            Kind::Cancelled
        );
        assert_eq!(EventType::AppointmentRescheduled.kind(), Kind::Rescheduled);
        assert_eq!(EventType::PatientCreated.kind(), Kind::Other);
    }

    #[test]
    fn unknown_type_becomes_other() {
        let delivery = parse(r#"{"id":"e1","type":"SHIFT_CREATED","data":{"id":"s1"}}"#).unwrap();
        assert!(matches!(
            decoda(&delivery),
            Event::Other { error: None, .. }
        ));
        assert_eq!(delivery.event_type(), "SHIFT_CREATED");
        assert_eq!(delivery.appointment_id(), None);
    }

    #[test]
    fn known_type_with_bad_payload_is_other_with_error() {
        let delivery = parse(
            r#"{"id":"e1","type":"APPOINTMENT_CANCELLED","data":{"status":"cancelled","id":null}}"#,
        )
        .unwrap();
        assert!(matches!(
            decoda(&delivery),
            Event::Other { error: Some(_), .. }
        ));
        assert_eq!(delivery.kind(), Kind::Cancelled);
        assert_eq!(delivery.appointment(), None);
    }

    #[test]
    fn payments_have_no_appointment() {
        let delivery =
            parse(r#"{"id":"e1","type":"PAYMENT_SUCCEEDED","data":{"id":"p1"}}"#).unwrap();
        assert!(matches!(
            decoda(&delivery),
            Event::Payment(EventType::PaymentSucceeded, _)
        ));
        assert_eq!(delivery.appointment(), None);
        assert_eq!(delivery.appointment_id(), None);
    }

    #[test]
    fn missing_event_field_names_it() {
        assert_eq!(
            parse(r#"{"id":"e1","data":{}}"#).unwrap_err(),
            ParseError::MissingField { field: "type" }
        );
        assert_eq!(
            parse(r#"{"type":"PATIENT_CREATED","data":{}}"#).unwrap_err(),
            ParseError::MissingField { field: "alertId" }
        );
    }

    #[test]
    fn created_date_is_read_leniently() {
        let unix =
            parse(r#"{"id":"e","type":"PATIENT_CREATED","createdDate":1714564800}"#).unwrap();
        assert_eq!(unix.occurred_at().unwrap().unix_ms(), 1_714_564_800_000);
        let odd =
            parse(r#"{"id":"e","type":"PATIENT_CREATED","createdDate":"last week"}"#).unwrap();
        assert_eq!(odd.occurred_at(), None);
    }

    #[test]
    fn dedup_key_is_stable_across_retries() {
        let first = r#"{"id":"attempt-1","alertId":"alert-9","type":"PATIENT_UPDATED","data":{}}"#;
        let retry = r#"{"id":"attempt-2","alertId":"alert-9","type":"PATIENT_UPDATED","data":{}}"#;
        assert_eq!(parse(first).unwrap().idempotency_key(), "alert-9");
        assert_eq!(parse(retry).unwrap().idempotency_key(), "alert-9");
        let no_alert = r#"{"id":"evt-3","type":"PATIENT_UPDATED","data":{}}"#;
        assert_eq!(parse(no_alert).unwrap().idempotency_key(), "evt-3");
    }
}
