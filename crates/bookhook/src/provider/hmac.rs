//! Any other platform, signing with HMAC: where its envelope keeps the event
//! type, id and time is configured with JSON pointers ([RFC 6901]) and header
//! names.
//!
//! The default [`HmacEnvelope`] reads the type from the first of `/type`,
//! `/event`, `/eventType`, `/event_type`; the id from `/id`; the time from the
//! first of `/timestamp`, `/created`, `/createdAt`, `/occurred_at`. The dedup
//! key is the id, else the value of a configured id header
//! ([`HmacEnvelopeBuilder::id_header`], none by default), else the hex
//! SHA-256 of the body (a retry resends the same bytes).
//!
//! Platforms such as GitHub (`X-GitHub-Event`) and Shopify (`X-Shopify-Topic`)
//! send the event type in a header rather than in the body: name it with
//! [`HmacEnvelopeBuilder::type_header`] (or
//! [`EndpointBuilder::type_header`](crate::EndpointBuilder::type_header)), and
//! it is read before the type pointers. A type is a non-empty string (or a
//! number); a body whose type is found nowhere is still delivered, with an
//! empty [`Event::event_type`] and [`Kind::Other`]: a correctly signed request
//! is never refused for lacking a type. The body must be a JSON object.
//!
//! [RFC 6901]: https://www.rfc-editor.org/rfc/rfc6901

use serde_json::Value;

#[cfg(feature = "testing")]
use super::{Fill, Freshen};
use super::{Description, Parsed, from_unix, id_of, read_value, sha256_hex};
use crate::appointment::Appointment;
use crate::error::{ConfigError, ParseError};
use crate::headers::Headers;
use crate::kind::Kind;
use crate::time::Timestamp;

const DEFAULT_TYPE: [&str; 4] = ["/type", "/event", "/eventType", "/event_type"];
const DEFAULT_ID: [&str; 1] = ["/id"];
const DEFAULT_TIME: [&str; 4] = ["/timestamp", "/created", "/createdAt", "/occurred_at"];

/// An event from a platform configured by hand.
///
/// The type comes from a configured type header
/// ([`HmacEnvelopeBuilder::type_header`]), else from the body; it is empty
/// when neither names one, and the event's kind is then [`Kind::Other`].
///
/// ```
/// use bookhook::{Delivery, Event, Provider, endpoint::NoHeaders};
///
/// let body = r#"{"event_type":"visit.booked","id":"ev_1","occurred_at":"2026-02-01T08:00:00+01:00","visit":{"id":7}}"#;
/// let delivery = Delivery::parse(Provider::Hmac, &NoHeaders, body.into())?;
/// let Event::Hmac(event) = delivery.event() else { unreachable!() };
/// assert_eq!(event.event_type, "visit.booked");
/// assert_eq!(event.id.as_deref(), Some("ev_1"));
/// assert_eq!(event.payload["visit"]["id"], 7);
/// assert_eq!(delivery.occurred_at().unwrap().to_string(), "2026-02-01T08:00:00+01:00");
/// # Ok::<(), bookhook::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event type found in a type header or in the envelope; empty when
    /// neither has one.
    pub event_type: String,
    /// The event id found in the envelope, if any.
    pub id: Option<String>,
    /// The whole body as JSON.
    pub payload: Value,
}

/// Where a platform's envelope keeps the event type, id and time.
///
/// Each field is a list of JSON pointers; the first that points at a value
/// (not `null`) wins. See the [module documentation](self) for the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct HmacEnvelope {
    type_pointers: Vec<String>,
    id_pointers: Vec<String>,
    time_pointers: Vec<String>,
    id_headers: Vec<String>,
    type_headers: Vec<String>,
    kinds: Vec<(String, Kind)>,
}

impl Default for HmacEnvelope {
    fn default() -> Self {
        Self {
            type_pointers: DEFAULT_TYPE.map(str::to_owned).to_vec(),
            id_pointers: DEFAULT_ID.map(str::to_owned).to_vec(),
            time_pointers: DEFAULT_TIME.map(str::to_owned).to_vec(),
            id_headers: Vec::new(),
            type_headers: Vec::new(),
            kinds: Vec::new(),
        }
    }
}

impl HmacEnvelope {
    /// A builder starting from the defaults.
    pub fn builder() -> HmacEnvelopeBuilder {
        HmacEnvelopeBuilder::default()
    }

    /// The pointers tried for the event type, in order.
    pub fn type_pointers(&self) -> &[String] {
        &self.type_pointers
    }

    /// The pointers tried for the event id, in order.
    pub fn id_pointers(&self) -> &[String] {
        &self.id_pointers
    }

    /// The pointers tried for the event time, in order.
    pub fn time_pointers(&self) -> &[String] {
        &self.time_pointers
    }

    /// The headers tried for the event id when the body has none, in order.
    pub fn id_headers(&self) -> &[String] {
        &self.id_headers
    }

    /// The headers read for the event type before the body, in order.
    pub fn type_headers(&self) -> &[String] {
        &self.type_headers
    }

    /// This envelope with more type headers, read before its own; for
    /// [`EndpointBuilder::type_header`](crate::EndpointBuilder::type_header).
    pub(crate) fn with_type_headers(mut self, names: &[String]) -> Result<Self, ConfigError> {
        let mut names: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        check_names(&names)?;
        names.append(&mut self.type_headers);
        self.type_headers = names;
        Ok(self)
    }

    /// The normalized kind of an event type: as mapped, else [`Kind::Other`].
    pub fn kind_of(&self, event_type: &str) -> Kind {
        self.kinds
            .iter()
            .find(|(name, _)| name == event_type)
            .map_or(Kind::Other, |(_, kind)| *kind)
    }
}

/// Builds a [`HmacEnvelope`]; [`build`](Self::build) checks the pointers.
#[derive(Debug, Clone)]
#[must_use]
pub struct HmacEnvelopeBuilder {
    /// What was given so far: an empty list of pointers means the default.
    given: HmacEnvelope,
}

impl Default for HmacEnvelopeBuilder {
    fn default() -> Self {
        Self {
            given: HmacEnvelope {
                type_pointers: Vec::new(),
                id_pointers: Vec::new(),
                time_pointers: Vec::new(),
                id_headers: Vec::new(),
                type_headers: Vec::new(),
                kinds: Vec::new(),
            },
        }
    }
}

impl HmacEnvelopeBuilder {
    /// Adds a pointer to try for the event type. The first call replaces the defaults.
    pub fn type_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.given.type_pointers.push(pointer.into());
        self
    }

    /// Adds a pointer to try for the event id. The first call replaces the defaults.
    pub fn id_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.given.id_pointers.push(pointer.into());
        self
    }

    /// Adds a pointer to try for the event time (RFC 3339 text, or Unix seconds
    /// or milliseconds). The first call replaces the defaults.
    pub fn time_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.given.time_pointers.push(pointer.into());
        self
    }

    /// Adds a header to read the event id from when the body has none at
    /// the id pointers (for example `x-request-id`).
    pub fn id_header(mut self, name: impl Into<String>) -> Self {
        self.given.id_headers.push(name.into().to_ascii_lowercase());
        self
    }

    /// Adds a header to read the event type from, before the type pointers:
    /// `X-GitHub-Event` for GitHub, `X-Shopify-Topic` for Shopify. The first
    /// configured header present with a non-empty value wins; when none is,
    /// the type pointers are tried.
    ///
    /// ```
    /// use bookhook::provider::hmac::HmacEnvelope;
    /// use bookhook::{Delivery, Kind};
    ///
    /// let envelope = HmacEnvelope::builder()
    ///     .type_header("X-GitHub-Event")
    ///     .id_header("X-GitHub-Delivery")
    ///     .map_kind("ping", Kind::Other)
    ///     .build()?;
    /// let headers = [("x-github-event", "ping"), ("x-github-delivery", "d-1")];
    /// let body = r#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    /// let delivery = Delivery::parse_hmac(&envelope, &headers, body.into())?;
    /// assert_eq!(delivery.event_type(), "ping");
    /// assert_eq!(delivery.idempotency_key(), "d-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn type_header(mut self, name: impl Into<String>) -> Self {
        self.given.type_headers.push(name.into().to_ascii_lowercase());
        self
    }

    /// Maps an event type to a normalized kind (unmapped types are [`Kind::Other`]).
    pub fn map_kind(mut self, event_type: impl Into<String>, kind: Kind) -> Self {
        self.given.kinds.push((event_type.into(), kind));
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// [`ConfigError::InvalidSetting`] when a pointer does not start with `/`,
    /// or when one event type is mapped to two kinds;
    /// [`ConfigError::InvalidName`] when an id or type header name is not a
    /// valid token.
    pub fn build(self) -> Result<HmacEnvelope, ConfigError> {
        let defaults = HmacEnvelope::default();
        let pick = |given: Vec<String>, default: Vec<String>, setting: &'static str| {
            for pointer in &given {
                if !pointer.starts_with('/') {
                    return Err(ConfigError::InvalidSetting {
                        setting,
                        reason: format!("json pointer `{pointer}` must start with `/`"),
                    });
                }
            }
            Ok(if given.is_empty() { default } else { given })
        };
        check_names(&self.given.id_headers)?;
        check_names(&self.given.type_headers)?;
        for (i, (name, kind)) in self.given.kinds.iter().enumerate() {
            if self.given.kinds[..i].iter().any(|(n, k)| n == name && k != kind) {
                return Err(ConfigError::InvalidSetting {
                    setting: "map_kind",
                    reason: format!("event type `{name}` is mapped to two kinds"),
                });
            }
        }
        Ok(HmacEnvelope {
            type_pointers: pick(self.given.type_pointers, defaults.type_pointers, "type_pointer")?,
            id_pointers: pick(self.given.id_pointers, defaults.id_pointers, "id_pointer")?,
            time_pointers: pick(self.given.time_pointers, defaults.time_pointers, "time_pointer")?,
            id_headers: self.given.id_headers,
            type_headers: self.given.type_headers,
            kinds: self.given.kinds,
        })
    }
}

/// Refuses a header name that is empty or not an HTTP token.
fn check_names(names: &[String]) -> Result<(), ConfigError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    match names
        .iter()
        .find(|name| name.is_empty() || !name.bytes().all(token))
    {
        Some(name) => Err(ConfigError::InvalidName { name: name.clone() }),
        None => Ok(()),
    }
}

/// The first value at `pointers` that is neither `null` nor an empty string.
fn first<'v>(payload: &'v Value, pointers: &[String]) -> Option<&'v Value> {
    pointers
        .iter()
        .filter_map(|p| payload.pointer(p))
        .find(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
}

/// The first non-empty, trimmed UTF-8 value of the headers `names`.
/// The first value at `pointers` that is a non-empty string or a number, as text.
fn first_name(payload: &Value, pointers: &[String]) -> Option<String> {
    pointers
        .iter()
        .filter_map(|p| payload.pointer(p))
        .filter_map(id_of)
        .find(|name| !name.trim().is_empty())
}

fn header_value(headers: &dyn Headers, names: &[String]) -> Option<String> {
    names
        .iter()
        .filter_map(|name| headers.get_one(name))
        .filter_map(|value| std::str::from_utf8(value).ok())
        .map(str::trim)
        .find(|value| !value.is_empty())
        .map(str::to_owned)
}

/// What bookhook knows about the hand-configured provider: its signature
/// header is configured (`--header NAME` in the CLI), and so is its envelope.
pub const DESCRIPTION: Description = Description {
    summary: "Any HMAC-SHA256 over the body: set --header, --prefix and --encoding",
    scheme_name: "hmac-sha256",
    headers: &["--header NAME"],
    query: &[],
    dedup_key: "id (else the body's sha-256)",
    event_types: &[],
    preset: None,
    #[cfg(feature = "testing")]
    samples: &[],
    #[cfg(feature = "testing")]
    freshen: Freshen {
        envelope: Some(r#"{"type":null,"id":null,"timestamp":null,"data":{}}"#),
        fields: &[
            ("/type", Fill::EventType),
            ("/id", Fill::Unique("evt_")),
            ("/timestamp", Fill::Now),
        ],
    },
};

impl Event {
    /// The event type found in a type header or in the envelope; empty when
    /// neither has one.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The kind the default [`HmacEnvelope`] gives this event's type.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> Kind {
        HmacEnvelope::default().kind_of(&self.event_type)
    }

    /// None: a hand-configured platform's payload has no known appointment.
    pub(crate) fn to_appointment(&self) -> Option<Appointment> {
        None
    }
}

/// Parses with the default [`HmacEnvelope`].
pub(crate) fn parse(headers: &dyn Headers, body: &[u8]) -> Result<Parsed<Event>, ParseError> {
    parse_with(&HmacEnvelope::default(), headers, body)
}

/// Parses where `envelope` says the type, id and time are.
pub(crate) fn parse_with(
    envelope: &HmacEnvelope,
    headers: &dyn Headers,
    body: &[u8],
) -> Result<Parsed<Event>, ParseError> {
    let payload = read_value(body)?;
    if !payload.is_object() {
        return Err(ParseError::InvalidField {
            field: "$",
            reason: "expected a json object",
        });
    }
    // No type anywhere (or only values that are no name, such as an object):
    // still an authentic event, of kind `other`.
    let event_type = header_value(headers, &envelope.type_headers)
        .or_else(|| first_name(&payload, &envelope.type_pointers))
        .unwrap_or_default();
    let id = first(&payload, &envelope.id_pointers)
        .and_then(id_of)
        .or_else(|| header_value(headers, &envelope.id_headers));
    // Lenient: a field named like a time that holds something else is not an error.
    let occurred_at = first(&payload, &envelope.time_pointers).and_then(|v| match v {
        Value::String(s) => Timestamp::parse(s),
        Value::Number(n) => n.as_i64().and_then(from_unix),
        _ => None,
    });
    let key = id.clone().unwrap_or_else(|| sha256_hex(body));
    let kind = envelope.kind_of(&event_type);
    Ok(Parsed {
        event: Event {
            event_type: event_type.clone(),
            id,
            payload,
        },
        raw_type: event_type,
        kind,
        key,
        occurred_at,
        appointment_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Delivery, NoHeaders, Provider};

    fn parse_default(body: &str) -> Result<Delivery, ParseError> {
        Delivery::parse(Provider::Hmac, &NoHeaders, body.as_bytes().to_vec().into())
    }

    #[test]
    fn default_type_comes_from_the_first_known_field() {
        for (body, expected) in [
            (r#"{"type":"a","event":"b"}"#, "a"),
            (r#"{"event":"b","eventType":"c"}"#, "b"),
            (r#"{"eventType":"c"}"#, "c"),
            (r#"{"type":null,"event_type":"d"}"#, "d"),
        ] {
            assert_eq!(
                parse_default(body).unwrap().event_type(),
                expected,
                "{body}"
            );
        }
    }

    #[test]
    fn body_without_type_is_delivered_as_other_keyed_by_its_hash() {
        let body = r#"{"zen":"Design for failure.","hook_id":7}"#;
        let delivery = parse_default(body).unwrap();
        assert_eq!(delivery.event_type(), "");
        assert_eq!(delivery.kind(), Kind::Other);
        assert_eq!(delivery.idempotency_key(), sha256_hex(body.as_bytes()));
        let with_id = parse_default(r#"{"id":"x"}"#).unwrap();
        assert_eq!(with_id.event_type(), "");
        assert_eq!(with_id.idempotency_key(), "x");
    }

    #[test]
    fn values_that_are_no_name_are_skipped() {
        let delivery = parse_default(r#"{"type":{"a":1},"event":"b"}"#).unwrap();
        assert_eq!(delivery.event_type(), "b");
        let delivery = parse_default(r#"{"type":["a"],"event":"  "}"#).unwrap();
        assert_eq!(delivery.event_type(), "");
        assert_eq!(parse_default(r#"{"type":7}"#).unwrap().event_type(), "7");
    }

    #[test]
    fn body_that_is_not_an_object_is_refused() {
        for body in ["[]", "\"ping\"", "42", "null"] {
            assert_eq!(
                parse_default(body).unwrap_err(),
                ParseError::InvalidField {
                    field: "$",
                    reason: "expected a json object"
                },
                "{body}"
            );
        }
    }

    #[test]
    fn type_header_comes_before_the_body_and_falls_back_to_it() {
        let envelope = HmacEnvelope::builder()
            .type_header("X-Shopify-Topic")
            .type_header("X-GitHub-Event")
            .map_kind("orders/cancelled", Kind::Cancelled)
            .build()
            .unwrap();
        assert_eq!(
            envelope.type_headers(),
            ["x-shopify-topic", "x-github-event"]
        );
        let body = r#"{"type":"in.the.body","id":820982911946154508}"#;
        let shopify = [("x-shopify-topic", "orders/cancelled")];
        let delivery = Delivery::parse_hmac(&envelope, &shopify, body.into()).unwrap();
        assert_eq!(delivery.event_type(), "orders/cancelled");
        assert_eq!(delivery.kind(), Kind::Cancelled);
        assert_eq!(delivery.idempotency_key(), "820982911946154508");
        let github = [("x-github-event", " ping ")];
        let delivery = Delivery::parse_hmac(&envelope, &github, body.into()).unwrap();
        assert_eq!(delivery.event_type(), "ping");
        // An empty header does not count: the body's type is used.
        let empty = [("x-github-event", "")];
        let delivery = Delivery::parse_hmac(&envelope, &empty, body.into()).unwrap();
        assert_eq!(delivery.event_type(), "in.the.body");
        let delivery = Delivery::parse_hmac(&envelope, &NoHeaders, "{}".into()).unwrap();
        assert_eq!(delivery.event_type(), "");
        assert_eq!(delivery.kind(), Kind::Other);
    }

    #[test]
    fn dedup_key_is_stable_across_retries() {
        assert_eq!(
            parse_default(r#"{"type":"a","id":42}"#)
                .unwrap()
                .idempotency_key(),
            "42"
        );
        let body = r#"{"type":"a","n":1}"#;
        let key = parse_default(body).unwrap().idempotency_key().to_owned();
        assert_eq!(key, sha256_hex(body.as_bytes()));
        assert_eq!(key.len(), 64);
        assert_eq!(parse_default(body).unwrap().idempotency_key(), key);
        assert_ne!(
            parse_default(r#"{"type":"a","n":2}"#)
                .unwrap()
                .idempotency_key(),
            key
        );
    }

    #[test]
    fn time_accepts_text_and_unix_numbers() {
        let a = parse_default(r#"{"type":"a","createdAt":1700000000}"#).unwrap();
        assert_eq!(a.occurred_at().unwrap().unix_ms(), 1_700_000_000_000);
        let b = parse_default(r#"{"type":"a","created":true,"createdAt":"x"}"#).unwrap();
        assert_eq!(b.occurred_at(), None);
    }

    #[test]
    fn configured_pointers_replace_the_defaults() {
        let envelope = HmacEnvelope::builder()
            .type_pointer("/meta/kind")
            .id_pointer("/meta/id")
            .time_pointer("/meta/at")
            .map_kind("visit.cancelled", Kind::Cancelled)
            .build()
            .unwrap();
        let body = r#"{"type":"ignored","meta":{"kind":"visit.cancelled","id":"m-1","at":"2026-01-01T00:00:00Z"}}"#;
        let delivery = Delivery::parse_hmac(&envelope, &NoHeaders, body.into()).unwrap();
        assert_eq!(delivery.event_type(), "visit.cancelled");
        assert_eq!(delivery.kind(), Kind::Cancelled);
        assert_eq!(delivery.idempotency_key(), "m-1");
        assert_eq!(delivery.provider(), Provider::Hmac);
        // The default pointers are replaced: `/type` is not read any more.
        let untyped =
            Delivery::parse_hmac(&envelope, &NoHeaders, r#"{"type":"x"}"#.into()).unwrap();
        assert_eq!(untyped.event_type(), "");
    }

    #[test]
    fn id_header_is_a_fallback_and_empty_ids_do_not_count() {
        let envelope = HmacEnvelope::builder()
            .id_header("X-Delivery-Id")
            .build()
            .unwrap();
        let headers = [("x-delivery-id", "d-7")];
        let with_body_id = r#"{"type":"a","id":"b-1"}"#;
        let delivery = Delivery::parse_hmac(&envelope, &headers, with_body_id.into()).unwrap();
        assert_eq!(delivery.idempotency_key(), "b-1");
        let empty_body_id = r#"{"type":"a","id":""}"#;
        let delivery = Delivery::parse_hmac(&envelope, &headers, empty_body_id.into()).unwrap();
        assert_eq!(delivery.idempotency_key(), "d-7");
        let delivery =
            Delivery::parse_hmac(&envelope, &NoHeaders, empty_body_id.into()).unwrap();
        assert_eq!(
            delivery.idempotency_key(),
            sha256_hex(empty_body_id.as_bytes())
        );
    }

    #[test]
    fn bad_configuration_fails_at_build() {
        assert!(matches!(
            HmacEnvelope::builder().id_header("bad header").build(),
            Err(ConfigError::InvalidName { .. })
        ));
        assert!(matches!(
            HmacEnvelope::builder().type_header("").build(),
            Err(ConfigError::InvalidName { .. })
        ));
        assert!(
            HmacEnvelope::builder()
                .type_pointer("type")
                .build()
                .is_err()
        );
        assert!(
            HmacEnvelope::builder()
                .map_kind("a", Kind::Created)
                .map_kind("a", Kind::Cancelled)
                .build()
                .is_err()
        );
    }

    #[test]
    fn unknown_type_becomes_other() {
        let delivery = parse_default(r#"{"type":"anything.new"}"#).unwrap();
        assert_eq!(delivery.kind(), Kind::Other);
    }
}
