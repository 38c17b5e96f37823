//! Senders of the Standard Webhooks specification (standardwebhooks.com; Svix
//! delivers with it).
//!
//! Payload: `{"type", "timestamp", "data"}`. The dedup key is the message id
//! from the `webhook-id` header (or `svix-id`), which is the same on every
//! retry of one message. The time is the payload's `timestamp`, else the
//! `webhook-timestamp` header (Unix seconds).

use serde_json::Value;

#[cfg(feature = "testing")]
use super::{Fill, Freshen};
use super::{Description, Parsed, optional_time, raw_fields, required_string, value};
use crate::appointment::Appointment;
use crate::error::ParseError;
use crate::headers::{HeaderLookup, Headers};
use crate::kind::Kind;
use crate::signature::{
    SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};

/// The header that carries the message id.
pub const ID_HEADER: &str = "webhook-id";
/// The same header under Svix's name.
pub const SVIX_ID_HEADER: &str = "svix-id";
/// The header that carries the signed Unix time.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The same header under Svix's name.
pub const SVIX_TIMESTAMP_HEADER: &str = "svix-timestamp";

/// A Standard Webhooks event: its type and its data, as sent.
///
/// Standard Webhooks defines no event types, so the kind is always
/// [`Kind::Other`].
///
/// ```
/// use bookhook::{Delivery, Event, Provider};
///
/// let headers = [("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")];
/// let body = r#"{"type":"invoice.paid","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"inv_1"}}"#;
/// let delivery = Delivery::parse(Provider::Standard, &headers, body.into())?;
/// assert_eq!(delivery.idempotency_key(), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
/// let Event::Standard(event) = delivery.event() else { unreachable!() };
/// assert_eq!(event.event_type, "invoice.paid");
/// assert_eq!(event.data["id"], "inv_1");
/// # Ok::<(), bookhook::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The `type` field, such as `invoice.paid`.
    pub event_type: String,
    /// The `data` field (`null` if absent).
    pub data: Value,
}

impl Event {
    /// The `type` field, such as `invoice.paid`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The normalized kind: always [`Kind::Other`].
    pub fn kind(&self) -> Kind {
        Kind::Other
    }

    /// None: Standard Webhooks defines no appointment.
    pub(crate) fn to_appointment(&self) -> Option<Appointment> {
        None
    }
}

/// What bookhook knows about Standard Webhooks senders.
pub const DESCRIPTION: Description = Description {
    summary: "Standard Webhooks (and Svix): `webhook-*` headers, base64 secrets (with or without `whsec_`)",
    scheme_name: "standard-webhooks",
    headers: &[
        WEBHOOK_ID,
        WEBHOOK_TIMESTAMP,
        WEBHOOK_SIGNATURE,
        SVIX_ID,
        SVIX_TIMESTAMP,
        SVIX_SIGNATURE,
    ],
    query: &[],
    dedup_key: "webhook-id header (or svix-id)",
    event_types: &[],
    preset: Some(|| scheme().into()),
    #[cfg(feature = "testing")]
    samples: &[],
    // The key is the `webhook-id` header, new each time a body is signed.
    #[cfg(feature = "testing")]
    freshen: Freshen {
        envelope: Some(r#"{"type":null,"timestamp":null,"data":{}}"#),
        fields: &[("/type", Fill::EventType), ("/timestamp", Fill::Now)],
    },
};

raw_fields! {
    struct Envelope {
        event_type = "type",
        timestamp,
        data,
    }
}

/// The value of the first of `names` that is present, as text.
fn header(headers: &dyn Headers, names: [&'static str; 2]) -> Result<Option<String>, ParseError> {
    for name in names {
        match headers.lookup(name) {
            HeaderLookup::Missing => continue,
            HeaderLookup::Repeated => {
                return Err(ParseError::InvalidField {
                    field: name,
                    reason: "header appears more than once",
                });
            }
            HeaderLookup::One(value) => {
                let text = std::str::from_utf8(value).map_err(|_| ParseError::InvalidField {
                    field: name,
                    reason: "header is not utf-8",
                })?;
                return Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty()));
            }
        }
    }
    Ok(None)
}

pub(crate) fn parse(headers: &dyn Headers, body: &[u8]) -> Result<Parsed<Event>, ParseError> {
    let envelope: Envelope<'_> = super::read_envelope(body)?;
    let event_type = required_string(envelope.event_type, "type")?;
    let data = value(envelope.data)?;
    let key = header(headers, [ID_HEADER, SVIX_ID_HEADER])?
        .ok_or(ParseError::MissingField { field: ID_HEADER })?;
    let occurred_at = match optional_time(envelope.timestamp, "timestamp")? {
        Some((_, time)) => Some(time),
        None => header(headers, [TIMESTAMP_HEADER, SVIX_TIMESTAMP_HEADER])?
            .and_then(|text| text.parse::<i64>().ok())
            .and_then(super::from_unix),
    };
    Ok(Parsed {
        event: Event {
            event_type: event_type.clone(),
            data,
        },
        raw_type: event_type,
        kind: Kind::Other,
        key,
        occurred_at,
        appointment_id: None,
    })
}

/// The Standard Webhooks preset: `webhook-*` or `svix-*` headers, base64
/// secrets (with or without `whsec_`), 5 minute tolerance.
///
/// ```
/// use bookhook::provider::standard;
/// use std::time::Duration;
///
/// let scheme = standard::scheme().tolerance(Duration::from_secs(60));
/// # let _ = scheme;
/// ```
pub fn scheme() -> crate::StandardScheme {
    crate::StandardScheme::new()
}

#[cfg(test)]
mod tests {
    use crate::{Delivery, Kind, NoHeaders, ParseError, Provider};

    const BODY: &str = r#"{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"c1"}}"#;

    #[test]
    fn svix_id_is_accepted() {
        let headers = [("svix-id", "msg_1")];
        let delivery = Delivery::parse(Provider::Standard, &headers, BODY.into()).unwrap();
        assert_eq!(delivery.idempotency_key(), "msg_1");
        assert_eq!(delivery.kind(), Kind::Other);
        assert_eq!(
            delivery.occurred_at().unwrap().to_string(),
            "2022-11-03T20:26:10.344522+00:00"
        );
    }

    #[test]
    fn missing_event_field_names_it() {
        assert_eq!(
            Delivery::parse(Provider::Standard, &NoHeaders, BODY.into()).unwrap_err(),
            ParseError::MissingField {
                field: "webhook-id"
            }
        );
        let headers = [("webhook-id", "msg_1")];
        assert_eq!(
            Delivery::parse(Provider::Standard, &headers, r#"{"data":{}}"#.into()).unwrap_err(),
            ParseError::MissingField { field: "type" }
        );
    }

    #[test]
    fn repeated_id_header_is_refused() {
        let headers = [("webhook-id", "a"), ("webhook-id", "b")];
        assert!(matches!(
            Delivery::parse(Provider::Standard, &headers, BODY.into()),
            Err(ParseError::InvalidField {
                field: "webhook-id",
                ..
            })
        ));
    }

    #[test]
    fn header_time_is_used_without_body_timestamp() {
        let headers = [("webhook-id", "msg_1"), ("webhook-timestamp", "1700000000")];
        let body = r#"{"type":"x","data":null}"#;
        let delivery = Delivery::parse(Provider::Standard, &headers, body.into()).unwrap();
        assert_eq!(delivery.occurred_at().unwrap().unix_ms(), 1_700_000_000_000);
    }

    #[test]
    fn dedup_key_is_stable_across_retries() {
        let headers = [("webhook-id", "msg_1"), ("webhook-timestamp", "1700000000")];
        let retry = [("webhook-id", "msg_1"), ("webhook-timestamp", "1700000300")];
        let a = Delivery::parse(Provider::Standard, &headers, BODY.into()).unwrap();
        let b = Delivery::parse(Provider::Standard, &retry, BODY.into()).unwrap();
        assert_eq!(a.idempotency_key(), b.idempotency_key());
    }
}
