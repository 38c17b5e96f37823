//! One module per platform: its typed events and how its envelope is read.
//!
//! Each module has an `Event` type. The platforms with a published list of
//! event types ([`eagenda`], [`moncreneau`], [`orufy`], [`calendence`],
//! [`decoda`]) have an `enum` with one variant per known type and an `Other`
//! variant for anything else. [`standard`] and [`hmac`] carry the type name
//! and the JSON data as they are.
//!
//! Unknown event types never fail a delivery. A known type whose data does not
//! fit its payload struct is delivered as `Other` too, with the reason in its
//! `error` field, so that nothing is lost and the raw JSON stays reachable.

pub(crate) mod event_types;
mod registry;

pub(crate) use registry::registry;
pub use registry::{Description, EventType, Provider, UnknownProvider};

/// Declares the module of every provider in the registry.
macro_rules! provider_modules {
    ($( $(#[$doc:meta])* $variant:ident => $module:ident, )*) => {
        $( pub mod $module; )*
    };
}
registry!(provider_modules);

use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{
    DeserializeOwned, DeserializeSeed, Error as DeError, IgnoredAny, MapAccess, Visitor,
};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::error::ParseError;
use crate::kind::Kind;
use crate::time::Timestamp;

/// Something a payload names by identifier and display name: a Calendence
/// service or location, a MonCréneau organization or staff member.
/// Numeric identifiers are kept as their decimal text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Reference {
    /// Its identifier.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Its display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// The `{event, timestamp, data}` envelope that eAgenda and Calendence share,
/// read lazily: each field stays raw JSON until the provider reads it. The
/// two-pass read ([`read_event_two_pass`]) that [`read_event`] falls back to.
#[derive(serde::Deserialize)]
pub(crate) struct EventEnvelope<'a> {
    #[serde(borrow, default)]
    pub(crate) event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) data: Option<&'a RawValue>,
}

/// What a provider module hands back to [`crate::Delivery`]: the envelope's
/// fields and the provider's own typed event `E`, which `event.rs` wraps.
#[derive(Debug)]
pub(crate) struct Parsed<E> {
    pub(crate) event: E,
    pub(crate) raw_type: String,
    pub(crate) kind: Kind,
    pub(crate) key: String,
    pub(crate) occurred_at: Option<Timestamp>,
    pub(crate) appointment_id: Option<String>,
}

impl<E> Parsed<E> {
    /// The same fields, with the event wrapped by `wrap`.
    pub(crate) fn map<F>(self, wrap: impl FnOnce(E) -> F) -> Parsed<F> {
        Parsed {
            event: wrap(self.event),
            raw_type: self.raw_type,
            kind: self.kind,
            key: self.key,
            occurred_at: self.occurred_at,
            appointment_id: self.appointment_id,
        }
    }
}

/// The deepest nesting serde_json accepts with its default recursion limit
/// of 128. Bodies nested deeper are refused before any parsing, even inside
/// fields that would be skipped.
const MAX_DEPTH: usize = 127;

/// Refuses bodies nested deeper than [`MAX_DEPTH`], in one linear scan with no
/// recursion. serde_json enforces the same limit on what it builds, but skips
/// ignored fields without counting: this keeps the rule uniform.
fn check_depth(body: &[u8]) -> Result<(), ParseError> {
    // Nesting deeper than MAX_DEPTH takes more than MAX_DEPTH opening
    // brackets. Counting them all, even inside strings, is one branch-free pass
    // that the compiler vectorizes; the exact scan runs only when it cannot
    // rule the limit out (a webhook body rarely has more than a few dozen).
    if count_openings(body) <= MAX_DEPTH {
        return Ok(());
    }
    check_depth_exactly(body)
}

/// How many `[` and `{` bytes `body` holds, strings included.
///
/// Counted in byte-wide lanes over blocks of at most 255 bytes, so that no
/// lane can overflow and each block is summed once: the compiler turns the
/// inner loop into compare-and-subtract on whole vector registers, rather
/// than widening every byte to a `usize`.
fn count_openings(body: &[u8]) -> usize {
    const BLOCK: usize = 255;
    body.chunks(BLOCK)
        .map(|block| {
            let count = block.iter().fold(0u8, |count, &byte| {
                count + u8::from((byte == b'[') | (byte == b'{'))
            });
            usize::from(count)
        })
        .sum()
}

/// The exact scan of [`check_depth`]: tracks strings, escapes and positions.
fn check_depth_exactly(body: &[u8]) -> Result<(), ParseError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut line = 1usize;
    let mut column = 0usize;
    for &byte in body {
        column += 1;
        if byte == b'\n' {
            line += 1;
            column = 0;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ParseError::InvalidJson {
                        reason: "recursion limit exceeded",
                        line,
                        column,
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Whether raw JSON is an object. serde's derived structs also accept arrays,
/// field by field in order; envelopes and payloads must be objects.
pub(crate) fn is_object(raw: &RawValue) -> bool {
    raw.get().trim_start().starts_with('{')
}

/// Refuses what cannot be an envelope before any parsing: a body nested too
/// deep, or one that is not a JSON object (bad JSON is reported as such, and
/// good JSON as the wrong shape).
fn check_object_body(body: &[u8]) -> Result<(), ParseError> {
    check_depth(body)?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Not an object: report bad JSON as such, and good JSON as the wrong shape.
        serde_json::from_slice::<&RawValue>(body).map_err(|e| ParseError::from_json(&e))?;
        return Err(ParseError::InvalidField {
            field: "$",
            reason: "expected a json object",
        });
    }
    Ok(())
}

/// Reads a provider's envelope struct from the raw body, which must be a
/// JSON object.
pub(crate) fn read_envelope<'a, T: serde::Deserialize<'a>>(
    body: &'a [u8],
) -> Result<T, ParseError> {
    check_object_body(body)?;
    serde_json::from_slice(body).map_err(|e| ParseError::from_json(&e))
}

/// A known event type: its canonical name, and the variant its typed data
/// goes in.
pub(crate) type KnownType<T, E> = (&'static str, fn(T) -> E);

/// The known event types of a platform with the `{event, timestamp, data}`
/// envelope ([`eagenda`], [`calendence`]), for [`read_event`].
pub(crate) struct EventTypes<T, E> {
    /// The canonical name of the known type a raw `event` names, with the
    /// variant its typed `data` goes in; `None` for an unknown type.
    pub(crate) known: fn(&str) -> Option<KnownType<T, E>>,
    /// The `Other` variant, from the event type, the raw data and, for a
    /// known type, why the data did not fit `T`.
    pub(crate) other: fn(String, Value, Option<String>) -> E,
}

/// What [`read_event`] reads from a `{event, timestamp, data}` envelope.
#[derive(Debug)]
pub(crate) struct EnvelopeEvent<E> {
    /// `event`, as sent.
    pub(crate) raw_type: String,
    /// `timestamp`, as sent (for keys) and parsed.
    pub(crate) time: Option<(String, Timestamp)>,
    /// The typed event, or `Other`.
    pub(crate) event: E,
}

/// Which way [`read_event_traced`] read a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// One pass over the body, `data` read straight into its payload struct.
    Typed,
    /// One pass over the body with `data` kept raw, then read on its own, as
    /// [`read_event_two_pass`] reads it: an unknown type, `data` before
    /// `event`, or no `data`.
    Raw,
    /// The one pass failed (or the body is not UTF-8): the body was read
    /// again by [`read_event_two_pass`], whose outcome it is.
    Fallback,
}

/// Reads a `{event, timestamp, data}` envelope and its typed event, in one
/// pass over the body when it can.
///
/// Once `event` has been read and names a known type, `data` is read straight
/// into `T`, without capturing it as raw JSON and parsing it a second time.
/// Anything unusual (an unknown type, `data` before `event`, `data` that is
/// not an object or does not fit `T`, bad JSON, a repeated field...) is
/// left to [`read_event_two_pass`], so outcomes and errors are exactly its own.
pub(crate) fn read_event<T: DeserializeOwned, E>(
    body: &[u8],
    types: &EventTypes<T, E>,
) -> Result<EnvelopeEvent<E>, ParseError> {
    read_event_traced(body, types).map(|(read, _)| read)
}

/// [`read_event`], also telling which way it went.
pub(crate) fn read_event_traced<T: DeserializeOwned, E>(
    body: &[u8],
    types: &EventTypes<T, E>,
) -> Result<(EnvelopeEvent<E>, Pass), ParseError> {
    check_object_body(body)?;
    match read_one_pass(body, types) {
        Some(envelope) => {
            let pass = match envelope.data {
                Data::Typed(_) => Pass::Typed,
                Data::Raw(_) => Pass::Raw,
            };
            let read = envelope_event(envelope.event, envelope.timestamp, envelope.data, types)?;
            Ok((read, pass))
        }
        // The body's checks run again: they passed, and are cheap beside a
        // failed pass and two more.
        None => Ok((read_event_two_pass(body, types)?, Pass::Fallback)),
    }
}

/// Reads a `{event, timestamp, data}` envelope in two passes: the body into
/// [`EventEnvelope`], with `data` kept raw, then `data` on its own. The
/// reference behaviour of [`read_event`], which falls back to it.
pub(crate) fn read_event_two_pass<T: DeserializeOwned, E>(
    body: &[u8],
    types: &EventTypes<T, E>,
) -> Result<EnvelopeEvent<E>, ParseError> {
    let envelope: EventEnvelope<'_> = read_envelope(body)?;
    envelope_event(
        envelope.event,
        envelope.timestamp,
        Data::Raw(envelope.data),
        types,
    )
}

/// Reads the envelope's fields into its event: `event`, then `timestamp`,
/// then raw `data` into `T` (or `Other`), each failing as it always has.
fn envelope_event<T: DeserializeOwned, E>(
    event: Option<&RawValue>,
    timestamp: Option<&RawValue>,
    data: Data<'_, E>,
    types: &EventTypes<T, E>,
) -> Result<EnvelopeEvent<E>, ParseError> {
    let raw_type = required_string(event, "event")?;
    let time = optional_time(timestamp, "timestamp")?;
    let event = match data {
        Data::Typed(event) => event,
        Data::Raw(data) => typed_or_other::<T, E>(
            data,
            "data",
            (types.known)(&raw_type).map(|(name, make)| (name.to_owned(), make)),
            &raw_type,
            types.other,
        )?,
    };
    Ok(EnvelopeEvent {
        raw_type,
        time,
        event,
    })
}

/// The envelope as the one pass leaves it.
struct OnePass<'a, E> {
    event: Option<&'a RawValue>,
    timestamp: Option<&'a RawValue>,
    data: Data<'a, E>,
}

/// `data` after the one pass: already the typed event, or raw JSON (absent
/// or `null` as `None`) for [`typed_or_other`] to read.
enum Data<'a, E> {
    Typed(E),
    Raw(Option<&'a RawValue>),
}

/// The one pass, or `None` when it fails for any reason: the caller then
/// reads the body in two passes, which reports the failure as it always has.
fn read_one_pass<'a, T: DeserializeOwned, E>(
    body: &'a [u8],
    types: &EventTypes<T, E>,
) -> Option<OnePass<'a, E>> {
    // serde_json checks that raw JSON is UTF-8 but skips the strings of
    // ignored fields unchecked: typed `data` with a bad byte in an unknown
    // field would be accepted here and refused by the two passes. A body
    // that is UTF-8 is read as text, with no such difference.
    let text = std::str::from_utf8(body).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let envelope = EnvelopeSeed { types }.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(envelope)
}

/// Reads the envelope object in one pass: `event` and `timestamp` raw, and
/// `data` typed when it comes after an `event` naming a known type.
struct EnvelopeSeed<'t, T, E> {
    types: &'t EventTypes<T, E>,
}

impl<'de, T: DeserializeOwned, E> DeserializeSeed<'de> for EnvelopeSeed<'_, T, E> {
    type Value = OnePass<'de, E>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned, E> Visitor<'de> for EnvelopeSeed<'_, T, E> {
    type Value = OnePass<'de, E>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // `Some` once seen, even as `null`: a repeated field is an error, as
        // in the derived `EventEnvelope`.
        let mut event: Option<Option<&'de RawValue>> = None;
        let mut timestamp: Option<Option<&'de RawValue>> = None;
        let mut data: Option<Data<'de, E>> = None;
        while let Some(key) = map.next_key::<EnvelopeKey>()? {
            match key {
                EnvelopeKey::Event => {
                    if event.is_some() {
                        return Err(DeError::duplicate_field("event"));
                    }
                    event = Some(map.next_value()?);
                }
                EnvelopeKey::Timestamp => {
                    if timestamp.is_some() {
                        return Err(DeError::duplicate_field("timestamp"));
                    }
                    timestamp = Some(map.next_value()?);
                }
                EnvelopeKey::Data => {
                    if data.is_some() {
                        return Err(DeError::duplicate_field("data"));
                    }
                    let make = event
                        .flatten()
                        .and_then(|raw| known_variant(self.types, raw));
                    data = Some(match make {
                        Some(make) => {
                            Data::Typed(make(map.next_value_seed(ObjectSeed::<T>::new())?))
                        }
                        None => Data::Raw(map.next_value()?),
                    });
                }
                EnvelopeKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(OnePass {
            event: event.flatten(),
            timestamp: timestamp.flatten(),
            data: data.unwrap_or(Data::Raw(None)),
        })
    }
}

/// The variant for the known type a raw `event` names, if it is a string
/// naming one (decoded as [`required_string`] decodes it).
fn known_variant<T, E>(types: &EventTypes<T, E>, raw: &RawValue) -> Option<fn(T) -> E> {
    let known = match serde_json::from_str::<&str>(raw.get()) {
        Ok(text) => (types.known)(text),
        // Escapes cannot be borrowed: decode into a new string.
        Err(_) => (types.known)(&serde_json::from_str::<String>(raw.get()).ok()?),
    };
    known.map(|(_, make)| make)
}

/// A key of the envelope object, matched as the derived `EventEnvelope`
/// matches its field names.
enum EnvelopeKey {
    Event,
    Timestamp,
    Data,
    Other,
}

impl<'de> Deserialize<'de> for EnvelopeKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(EnvelopeKeyVisitor)
    }
}

/// Reads an [`EnvelopeKey`].
struct EnvelopeKeyVisitor;

impl Visitor<'_> for EnvelopeKeyVisitor {
    type Value = EnvelopeKey;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<Err: DeError>(self, v: &str) -> Result<Self::Value, Err> {
        Ok(match v {
            "event" => EnvelopeKey::Event,
            "timestamp" => EnvelopeKey::Timestamp,
            "data" => EnvelopeKey::Data,
            _ => EnvelopeKey::Other,
        })
    }
}

/// Reads a JSON object, and only an object, as `T`. serde's derived structs
/// also accept an array, field by field; the two-pass read refuses it (see
/// [`is_object`]), and so does this seed, by failing.
struct ObjectSeed<T>(PhantomData<fn() -> T>);

impl<T> ObjectSeed<T> {
    fn new() -> Self {
        Self(PhantomData)
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ObjectSeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectSeed<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

/// Reads the whole body as a JSON value (depth-checked).
pub(crate) fn read_value(body: &[u8]) -> Result<Value, ParseError> {
    check_depth(body)?;
    serde_json::from_slice(body).map_err(|e| ParseError::from_json(&e))
}

/// Hex SHA-256 of the raw body: the dedup key of last resort, identical across
/// retries of one delivery since a retry resends the same bytes.
pub(crate) fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// An unambiguous key made of several parts (a JSON array of strings).
pub(crate) fn composite_key(parts: &[&str]) -> String {
    // Sized for the usual case (no escapes: brackets, quotes and commas), so
    // the key is written without growing its buffer.
    let size = parts.iter().map(|part| part.len() + 3).sum::<usize>() + 1;
    let mut key = Vec::with_capacity(size);
    match serde_json::to_writer(&mut key, parts) {
        // serde_json writes valid UTF-8 only.
        Ok(()) => String::from_utf8(key).unwrap_or_else(|_| parts.join("\u{1f}")),
        Err(_) => parts.join("\u{1f}"),
    }
}

/// A key of `(type, id, time)`, or `(type, body hash)` when a part is missing.
pub(crate) fn triple_key(
    event_type: &str,
    id: Option<&str>,
    time: Option<&str>,
    body: &[u8],
) -> String {
    let id = id.filter(|p| !p.trim().is_empty());
    let time = time.filter(|p| !p.trim().is_empty());
    match (id, time) {
        (Some(id), Some(time)) => composite_key(&[event_type, id, time]),
        _ => composite_key(&[event_type, &format!("sha256:{}", sha256_hex(body))]),
    }
}

/// A string envelope field that must be present.
pub(crate) fn required_string(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<String, ParseError> {
    optional_string(raw, field)?.ok_or(ParseError::MissingField { field })
}

/// A string envelope field that may be absent, null or empty (all read as absent).
pub(crate) fn optional_string(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<Option<String>, ParseError> {
    let text = raw
        .map(|raw| {
            serde_json::from_str::<String>(raw.get()).map_err(|_| ParseError::InvalidField {
                field,
                reason: "expected a string",
            })
        })
        .transpose()?;
    Ok(text.filter(|t| !t.trim().is_empty()))
}

/// An identifier envelope field: a string, or a number kept as its decimal
/// text. An empty string is read as absent: it would make every event collide.
pub(crate) fn optional_id(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<Option<String>, ParseError> {
    let id = raw
        .map(|raw| match serde_json::from_str::<Value>(raw.get()) {
            Ok(value) => id_of(&value).ok_or(ParseError::InvalidField {
                field,
                reason: "expected a string or a number",
            }),
            Err(e) => Err(ParseError::from_json(&e)),
        })
        .transpose()?;
    Ok(id.filter(|id| !id.trim().is_empty()))
}

/// A date-time envelope field, kept as sent (for keys) and parsed.
pub(crate) fn optional_time(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<Option<(String, Timestamp)>, ParseError> {
    let Some(text) = optional_string(raw, field)? else {
        return Ok(None);
    };
    let time = Timestamp::parse(&text).ok_or(ParseError::InvalidField {
        field,
        reason: "expected an rfc 3339 date-time",
    })?;
    Ok(Some((text, time)))
}

/// A string or a number as text; anything else is not an identifier.
pub(crate) fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The outcome of reading a known type's payload: the typed struct, or the raw
/// JSON and the reason it did not fit.
pub(crate) type Payload<T> = Result<T, (Value, String)>;

/// Reads `raw` as `T`; when it does not fit, reads it as a plain JSON value and
/// keeps the reason. Only JSON that cannot be read at all is an error.
pub(crate) fn payload<T: DeserializeOwned>(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<Payload<T>, ParseError> {
    let Some(raw) = raw else {
        return Ok(Err((Value::Null, format!("missing field `{field}`"))));
    };
    if !is_object(raw) {
        let value =
            serde_json::from_str::<Value>(raw.get()).map_err(|e| ParseError::from_json(&e))?;
        return Ok(Err((value, format!("`{field}` is not a json object"))));
    }
    match serde_json::from_str::<T>(raw.get()) {
        Ok(typed) => Ok(Ok(typed)),
        Err(typed_err) => {
            let value =
                serde_json::from_str::<Value>(raw.get()).map_err(|e| ParseError::from_json(&e))?;
            Ok(Err((
                value,
                format!("`{field}` does not fit the payload: {typed_err}"),
            )))
        }
    }
}

/// Builds a provider's event: the typed variant `make` for a known type
/// whose payload fits, otherwise `other(event_type, data, error)` with the
/// raw JSON kept (and, for a known type that does not fit, the reason).
pub(crate) fn typed_or_other<T: DeserializeOwned, E>(
    raw: Option<&RawValue>,
    field: &'static str,
    known: Option<(String, impl FnOnce(T) -> E)>,
    raw_type: &str,
    other: fn(String, Value, Option<String>) -> E,
) -> Result<E, ParseError> {
    match known {
        Some((event_type, make)) => Ok(match payload::<T>(raw, field)? {
            Ok(typed) => make(typed),
            Err((data, error)) => other(event_type, data, Some(error)),
        }),
        None => Ok(other(raw_type.to_owned(), value(raw)?, None)),
    }
}

/// Reads `raw` as a plain JSON value (`null` when absent).
pub(crate) fn value(raw: Option<&RawValue>) -> Result<Value, ParseError> {
    match raw {
        Some(raw) => serde_json::from_str(raw.get()).map_err(|e| ParseError::from_json(&e)),
        None => Ok(Value::Null),
    }
}

/// `start + minutes`, keeping the offset; `None` on overflow.
pub(crate) fn add_minutes(start: Timestamp, minutes: u64) -> Option<Timestamp> {
    let delta = chrono::TimeDelta::try_minutes(i64::try_from(minutes).ok()?)?;
    match start {
        Timestamp::Offset(t) => t.checked_add_signed(delta).map(Timestamp::Offset),
        Timestamp::Local(t) => t.checked_add_signed(delta).map(Timestamp::Local),
    }
}

/// A Unix time in seconds (or milliseconds, when too large to be seconds), in UTC.
pub(crate) fn from_unix(value: i64) -> Option<Timestamp> {
    let dt = if value.unsigned_abs() >= 100_000_000_000 {
        chrono::DateTime::from_timestamp_millis(value)?
    } else {
        chrono::DateTime::from_timestamp(value, 0)?
    };
    Some(Timestamp::Offset(dt.fixed_offset()))
}

/// Lenient field readers for payloads whose exact shapes are not published.
pub(crate) mod de {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use crate::time::Timestamp;

    const NOT_AN_ID: &str = "expected a string or a number as identifier";

    /// A required identifier: a string, or a number kept as text.
    pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(IdVisitor)?
            .ok_or_else(|| serde::de::Error::custom(NOT_AN_ID))
    }

    /// An optional identifier: a string or a number; `null` is none.
    pub(crate) fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(IdVisitor)
    }

    /// Reads an identifier straight from the parser, as [`super::id_of`] reads
    /// it from a `Value` (numbers written as `serde_json` writes them), without
    /// building the `Value`: `null` is `None`, anything else but a string or a
    /// number is consumed whole and then refused, as reading the `Value` first did.
    struct IdVisitor;

    impl<'de> serde::de::Visitor<'de> for IdVisitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a number as identifier")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }

        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // A JSON number is always finite; `Value` would have held `null` otherwise.
            Ok(serde_json::Number::from_f64(v).map(|n| n.to_string()))
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom(NOT_AN_ID))
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Err(serde::de::Error::custom(NOT_AN_ID))
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Err(serde::de::Error::custom(NOT_AN_ID))
        }
    }

    /// A list of identifiers; `null` is empty, non-identifier items are skipped.
    pub(crate) fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Array(items) => items.iter().filter_map(super::id_of).collect(),
            other => super::id_of(&other).into_iter().collect(),
        })
    }

    /// A non-negative whole number, also from a numeric string; anything else is none.
    pub(crate) fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// A number, also from a numeric string; anything else is none.
    pub(crate) fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
            _ => None,
        })
    }

    /// A whole number, also from a numeric string; anything else is none.
    pub(crate) fn opt_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// A date-time as RFC 3339 text or Unix seconds/milliseconds; anything
    /// unreadable is none rather than an error.
    pub(crate) fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Timestamp::parse(&s),
            Value::Number(n) => n.as_i64().and_then(super::from_unix),
            _ => None,
        })
    }

    /// Text, also from a number or a boolean; anything else is none.
    pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_at_the_limit_is_accepted_and_beyond_is_refused() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read_value(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        // The same limit as serde_json's own.
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert!(matches!(
            read_value(deep.as_bytes()),
            Err(ParseError::InvalidJson {
                reason: "recursion limit exceeded",
                ..
            })
        ));
    }

    #[test]
    fn few_brackets_skip_the_exact_scan_and_many_take_it() {
        // At most MAX_DEPTH opening brackets: accepted without the exact scan.
        let shallow = format!("{{\"a\":\"{}\"}}", "[".repeat(MAX_DEPTH - 1));
        assert!(check_depth(shallow.as_bytes()).is_ok());
        // More brackets, but inside a string: the exact scan accepts them.
        let in_string = format!("{{\"a\":\"{}\"}}", "{".repeat(MAX_DEPTH + 1));
        assert!(check_depth(in_string.as_bytes()).is_ok());
        // Exactly one level too deep is refused, with its position.
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            check_depth(deep.as_bytes()),
            Err(ParseError::InvalidJson { line: 1, column, .. }) if column == MAX_DEPTH + 1
        ));
    }

    #[test]
    fn opening_count_matches_a_plain_count_across_block_edges() {
        // Lengths around the 255-byte blocks, with every byte an opening
        // bracket (a lane at its fullest) or a mix of brackets and text.
        for len in [0, 1, 254, 255, 256, 509, 510, 511, 1024, 4099] {
            let full = "[{".repeat(len).into_bytes();
            let full = &full[..len];
            let mixed: Vec<u8> = (0..len).map(|i| b"{a[b]c}"[i % 7]).collect();
            for body in [full, &mixed[..]] {
                let plain = body.iter().filter(|&&b| b == b'[' || b == b'{').count();
                assert_eq!(count_openings(body), plain, "length {len}");
            }
        }
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = format!("{{\"a\":\"{}\\\"{}\"}}", "[".repeat(500), "{".repeat(500));
        assert!(read_value(text.as_bytes()).is_ok());
    }

    #[test]
    fn identifiers_read_as_the_value_they_are() {
        #[derive(serde::Deserialize)]
        struct Ids {
            #[serde(deserialize_with = "de::id")]
            id: String,
            #[serde(default, deserialize_with = "de::opt_id")]
            other: Option<String>,
        }
        let cases = [
            r#"{"id":"a-1","other":null}"#,
            r#"{"id":12345,"other":-7}"#,
            r#"{"id":1.5e3,"other":"x"}"#,
            r#"{"id":18446744073709551615,"other":0.1}"#,
            r#"{"id":"\u00e9t\u00e9"}"#,
        ];
        for text in cases {
            let ids: Ids = serde_json::from_str(text).unwrap();
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Some(ids.id), id_of(&value["id"]), "{text}");
            assert_eq!(ids.other, id_of(&value["other"]), "{text}");
        }
        for text in [
            r#"{"id":null}"#,
            r#"{"id":true}"#,
            r#"{"id":{"a":[1]}}"#,
            r#"{"id":[1,2]}"#,
            r#"{"id":"a","other":{}}"#,
        ] {
            let err = serde_json::from_str::<Ids>(text).err().unwrap().to_string();
            assert!(
                err.starts_with("expected a string or a number as identifier"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn composite_keys_are_unambiguous() {
        assert_ne!(composite_key(&["a:b", "c"]), composite_key(&["a", "b:c"]));
        assert_eq!(composite_key(&["x", "y"]), r#"["x","y"]"#);
        // Parts that need escapes, or none at all, give serde_json's own text.
        let cases: [&[&str]; 4] = [
            &[],
            &[""],
            &["quote\"", "back\\slash", "tab\t", "\u{1}"],
            &["événement", "🗓", "a,b", "[]"],
        ];
        for parts in cases {
            assert_eq!(composite_key(parts), serde_json::to_string(parts).unwrap());
        }
    }

    #[test]
    fn adding_minutes_keeps_the_offset_and_never_overflows() {
        let start = Timestamp::parse("2026-06-10T09:00:00-03:00").unwrap();
        assert_eq!(
            add_minutes(start, 30).unwrap().to_string(),
            "2026-06-10T09:30:00-03:00"
        );
        assert_eq!(add_minutes(start, u64::MAX), None);
    }

    #[test]
    fn unix_times_in_seconds_and_milliseconds() {
        assert_eq!(
            from_unix(1_700_000_000).unwrap().unix_ms(),
            1_700_000_000_000
        );
        assert_eq!(
            from_unix(1_700_000_000_123).unwrap().unix_ms(),
            1_700_000_000_123
        );
        assert_eq!(from_unix(i64::MAX), None);
    }

    /// The one-pass read of eAgenda and Calendence envelopes against the
    /// two-pass read it replaces: same deliveries, same errors.
    mod one_pass {
        use std::path::Path;

        use super::super::{Parsed, Pass, calendence, eagenda, read_event_traced};
        use crate::{Delivery, Event, NoHeaders, ParseError, Provider};

        const PROVIDERS: [Provider; 2] = [Provider::Eagenda, Provider::Calendence];

        fn two_pass(provider: Provider, body: &[u8]) -> Result<Parsed<Event>, ParseError> {
            match provider {
                Provider::Eagenda => eagenda::parse_two_pass(body).map(|p| p.map(Event::Eagenda)),
                Provider::Calendence => {
                    calendence::parse_two_pass(body).map(|p| p.map(Event::Calendence))
                }
                other => panic!("{other:?} has no event envelope"),
            }
        }

        fn pass(provider: Provider, body: &[u8]) -> Result<Pass, ParseError> {
            match provider {
                Provider::Eagenda => read_event_traced(body, &eagenda::TYPES).map(|(_, p)| p),
                Provider::Calendence => read_event_traced(body, &calendence::TYPES).map(|(_, p)| p),
                other => panic!("{other:?} has no event envelope"),
            }
        }

        /// Parses `body` as a delivery and checks it against the two-pass read.
        #[track_caller]
        fn assert_same(provider: Provider, body: &[u8]) -> Result<Delivery, ParseError> {
            let new = Delivery::parse(provider, &NoHeaders, body.to_vec().into());
            let old = two_pass(provider, body);
            let shown = String::from_utf8_lossy(body);
            match (&new, &old) {
                (Ok(new), Ok(old)) => {
                    assert_eq!(new.event(), &old.event, "{provider:?} {shown}");
                    assert_eq!(
                        format!("{:?}", new.event()),
                        format!("{:?}", old.event),
                        "{provider:?} {shown}"
                    );
                    assert_eq!(new.event_type(), old.event.event_type(), "{shown}");
                    assert_eq!(new.raw_event_type(), old.raw_type, "{shown}");
                    assert_eq!(new.idempotency_key(), old.key, "{shown}");
                    assert_eq!(new.kind(), old.kind, "{shown}");
                    assert_eq!(
                        new.appointment(),
                        old.event.to_appointment().as_ref(),
                        "{shown}"
                    );
                    assert_eq!(
                        new.appointment_id(),
                        old.appointment_id.as_deref(),
                        "{shown}"
                    );
                    assert_eq!(new.occurred_at(), old.occurred_at, "{shown}");
                }
                (Err(new), Err(old)) => {
                    assert_eq!(new, old, "{provider:?} {shown}");
                    assert_eq!(new.to_string(), old.to_string(), "{provider:?} {shown}");
                }
                _ => panic!("{provider:?} {shown}: one pass {new:?}, two passes {old:?}"),
            }
            new
        }

        fn fixtures(provider: Provider) -> Vec<Vec<u8>> {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/payloads")
                .join(provider.as_str());
            let mut paths: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
                .collect();
            paths.sort();
            assert!(!paths.is_empty(), "no fixtures in {}", dir.display());
            paths
                .iter()
                .map(|path| std::fs::read(path).unwrap())
                .collect()
        }

        /// Bodies in which `@E` is a known type, `@C` its other spelling of
        /// "cancelled", `@X` the known type with an escaped first letter,
        /// `@I` the payload's identifier field and `@T` a timestamp.
        const TRICKY: &[&str] = &[
            r#"{"event":"@E","timestamp":"@T","data":{"@I":"a-1","status":"confirmed"}}"#,
            // data before event
            r#"{"data":{"@I":"a-1"},"event":"@E","timestamp":"@T"}"#,
            r#"{"timestamp":"@T","data":{"@I":"a-1"},"event":"@E"}"#,
            r#"{"data":{"@I":"a-1","status":5},"event":"@E"}"#,
            // data that is not an object (serde reads a struct from an array)
            r#"{"event":"@E","data":["a-1"]}"#,
            r#"{"event":"@E","data":["a-1","confirmed"]}"#,
            r#"{"event":"@E","data":[{"@I":"a-1"}]}"#,
            r#"{"event":"@E","data":[]}"#,
            r#"{"event":"@E","data":"a-1"}"#,
            r#"{"event":"@E","data":12}"#,
            r#"{"event":"@E","data":true}"#,
            r#"{"event":"@E","data":null}"#,
            r#"{"event":"@E","timestamp":"@T"}"#,
            r#"{"event":"@E","data":{}}"#,
            // data with a field of the wrong type
            r#"{"event":"@E","data":{"@I":"a-1","status":5}}"#,
            r#"{"event":"@E","timestamp":"@T","data":{"@I":["a-1"]}}"#,
            r#"{"event":"@E","data":{"@I":{"x":1}}}"#,
            r#"{"event":"@E","data":{"@I":null}}"#,
            r#"{"event":"@E","data":{"@I":12345}}"#,
            r#"{"event":"@E","data":{"@I":-1.5e3}}"#,
            r#"{"event":"@E","data":{"@I":1e400}}"#,
            r#"{"event":"@E","data":{"@I":"a-1","person":"x","client":"x"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1","calendar":[1],"service":[1]}}"#,
            r#"{"event":"@E","data":{"@I":"a-1","start_date":"soon","starts_at":"soon"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1","start_date":17,"ends_at":17}}"#,
            r#"{"event":"@E","data":{"@I":"a-1","status":"\ud800"}}"#,
            // unknown types
            r#"{"event":"x.unknown","timestamp":"@T","data":{"@I":"a-1","id":"a-1"}}"#,
            r#"{"event":"appointment.confirmed","data":{"appointment_key":"a-9"}}"#,
            r#"{"event":"booking.refunded","timestamp":"@T","data":{"id":"b-9"}}"#,
            r#"{"event":"payment.updated","timestamp":"@T","data":{"id":"p-1"}}"#,
            r#"{"event":"x.unknown","data":[1,2]}"#,
            r#"{"event":"x.unknown","data":null}"#,
            r#"{"event":"x.unknown","data":{"@I":1e400}}"#,
            r#"{"event":"x.unknown"}"#,
            // repeated fields
            r#"{"event":"@E","event":"@E","data":{"@I":"a-1"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1"},"event":"@E"}"#,
            r#"{"event":null,"event":"@E","data":{"@I":"a-1"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1"},"data":{"@I":"a-2"}}"#,
            r#"{"event":"@E","data":null,"data":{"@I":"a-2"}}"#,
            r#"{"data":{"@I":"a-1"},"event":"@E","data":{"@I":"a-2"}}"#,
            r#"{"event":"@E","timestamp":"@T","timestamp":"@T","data":{"@I":"a-1"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1"},"timestamp":"@T","timestamp":null}"#,
            r#"{"event":"@E","data":{"@I":"a-1","@I":"a-2"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1","status":"a","status":"b"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1"},"extra":1,"extra":2}"#,
            // trailing characters and bad JSON
            r#"{"event":"@E","data":{"@I":"a-1"}} x"#,
            r#"{"event":"@E","data":{"@I":"a-1"}}}"#,
            r#"{"event":"@E","data":{"@I":"a-1"}}{}"#,
            r#"{"event":"@E","data":{"@I":"a-1"}},"#,
            r#"{"event":"@E","data":{"@I":"a-1"},}"#,
            r#"{"event":"@E","data":{"@I":"a-1",}}"#,
            r#"{"event":"@E","data":{"@I":"a-1"}"#,
            r#"{"event":"@E","data":{"@I":"a-1","x":"\q"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1","x":01}}"#,
            r#"{"event":"@E","data":{"@I":"a-1","x":tru}}"#,
            r#"{"event":"@E","data":{"@I":"a-1" "x":1}}"#,
            r#"{"event":"@E","data":{"@I":"a-1"},"x":[1,}"#,
            r#"{"event":"@E" "data":{"@I":"a-1"}}"#,
            // event that is not a (known) string
            r#"{"event":7,"data":{"@I":"a-1"}}"#,
            r#"{"event":true,"data":{"@I":"a-1"}}"#,
            r#"{"event":["@E"],"data":{"@I":"a-1"}}"#,
            r#"{"event":{"name":"@E"},"data":{"@I":"a-1"}}"#,
            r#"{"event":null,"data":{"@I":"a-1"}}"#,
            r#"{"event":"","data":{"@I":"a-1"}}"#,
            r#"{"event":"  ","data":{"@I":"a-1"}}"#,
            r#"{"data":{"@I":"a-1"}}"#,
            r#"{}"#,
            // spellings and escapes
            r#"{"event":"@C","timestamp":"@T","data":{"@I":"a-1"}}"#,
            r#"{"event":"@C","data":{}}"#,
            r#"{"event":"@C","data":["a-1"]}"#,
            r#"{"event":" @E\t","timestamp":"@T","data":{"@I":"a-1"}}"#,
            r#"{"event":"@X","timestamp":"@T","data":{"@I":"a-1"}}"#,
            r#"{"ev\u0065nt":"@E","d\u0061ta":{"@I":"a-1"},"timest\u0061mp":"@T"}"#,
            r#"{"Event":"@E","data":{"@I":"a-1"}}"#,
            // whitespace
            " \n\t{ \"event\" : \"@E\" ,\r\n \"timestamp\" : \"@T\" ,\n\"data\" : {\n \"@I\" : \"a-1\" \n}\n}\n\t ",
            "{\"event\":\"@E\",\"data\":\n\n   {\"@I\":\"a-1\"}\n}",
            // nested unknown fields
            r#"{"meta":{"a":[1,{"b":null}],"event":"x"},"event":"@E","data":{"@I":"a-1","extra":{"deep":[[[{"x":"}]"}]]],"n":1e400},"tags":["a",{"b":2}]},"data2":{},"timestamp":"@T"}"#,
            r#"{"event":"@E","data":{"@I":"a-1","calendar":{"calendar_key":"c","extra":{"y":1}},"service":{"id":7,"name":"S","extra":[]},"person":{"full_name":"A","x":[]},"client":{"first_name":"A","x":{}}}}"#,
            r#"{"event":"@E","data":{"@I":"a-1","extra":"\ud800"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1"},"extra":"\udc00\\\""}"#,
            // timestamps
            r#"{"event":"@E","timestamp":"soon","data":{"@I":"a-1"}}"#,
            r#"{"event":"@E","timestamp":1700000000,"data":{"@I":"a-1"}}"#,
            r#"{"event":"@E","timestamp":null,"data":{"@I":"a-1"}}"#,
            r#"{"event":"@E","timestamp":"","data":{"@I":"a-1"}}"#,
            r#"{"event":"@E","data":{"@I":"a-1"},"timestamp":"@T"}"#,
            r#"{"event":"x.unknown","timestamp":"soon","data":[1]}"#,
            // bodies that are not objects
            "",
            "   ",
            "[]",
            r#"["@E",{"@I":"a-1"}]"#,
            "null",
            r#""@E""#,
            "{",
            "}",
            "nul",
        ];

        /// `template` with its placeholders filled in for `provider`.
        fn fill(provider: Provider, template: &str) -> String {
            let (known, cancel, id, time) = match provider {
                Provider::Eagenda => (
                    "appointment.created",
                    "appointment.cancelled",
                    "appointment_key",
                    "2026-06-04T14:30:00-03:00",
                ),
                Provider::Calendence => (
                    "booking.created",
                    "booking.canceled",
                    "id",
                    "2026-03-24T14:30:00+00:00",
                ),
                other => panic!("{other:?} has no event envelope"),
            };
            let escaped = format!("\\u{:04x}{}", u32::from(known.as_bytes()[0]), &known[1..]);
            template
                .replace("@E", known)
                .replace("@C", cancel)
                .replace("@X", &escaped)
                .replace("@I", id)
                .replace("@T", time)
        }

        fn tricky_bodies(provider: Provider) -> Vec<Vec<u8>> {
            let fill = |template: &str| fill(provider, template);
            let mut bodies: Vec<Vec<u8>> = TRICKY.iter().map(|t| fill(t).into_bytes()).collect();
            // Bytes that are not UTF-8, in strings that are read or skipped.
            let bad = |template: &str| {
                let mut body = fill(template).into_bytes();
                let at = body.iter().position(|&b| b == b'~').unwrap();
                body[at] = 0xff;
                body
            };
            bodies.push(bad(r#"{"event":"@E","data":{"@I":"a-1","extra":"~"}}"#));
            bodies.push(bad(r#"{"event":"@E","data":{"@I":"a-1","status":"~"}}"#));
            bodies.push(bad(r#"{"event":"@E","data":{"@I":"a~1"}}"#));
            bodies.push(bad(r#"{"event":"@E","extra":"~","data":{"@I":"a-1"}}"#));
            bodies.push(bad(
                r#"{"event":"x.unknown","extra":"~","data":{"@I":"a-1"}}"#,
            ));
            bodies.push(bad(
                r#"{"event":"x.unknown","data":{"@I":"a-1","extra":"~"}}"#,
            ));
            bodies.push(bad(r#"{"event":"@E~","data":{"@I":"a-1"}}"#));
            bodies.push(bad(r#"{"event":"@E","data":{"@I":"a-1","~":1}}"#));
            bodies.push(bad(r#"{"event":"@E","data":{"@I":"a-1"}}~"#));
            bodies.push(bad(r#"~{"event":"@E","data":{"@I":"a-1"}}"#));
            // A byte order mark, a control character in a string.
            bodies.push(fill("\u{feff}{\"event\":\"@E\",\"data\":{\"@I\":\"a-1\"}}").into_bytes());
            bodies.push(
                fill("{\"event\":\"@E\",\"data\":{\"@I\":\"a-1\",\"x\":\"\u{1}\"}}").into_bytes(),
            );
            // Nesting at and beyond the limit, inside data.
            for depth in [124, 125, 126, 127] {
                let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                let body = format!(r#"{{"event":"@E","data":{{"@I":"a-1","x":{nested}}}}}"#);
                bodies.push(fill(&body).into_bytes());
            }
            bodies
        }

        #[test]
        fn fixtures_read_in_one_pass_as_in_two() {
            for provider in PROVIDERS {
                for body in fixtures(provider) {
                    let delivery = assert_same(provider, &body).unwrap();
                    assert!(delivery.appointment().is_some());
                    assert_eq!(pass(provider, &body), Ok(Pass::Typed));
                    // Rewritten: compact with the keys sorted (`data` before
                    // `event`, hence read in two), and indented.
                    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let compact = serde_json::to_vec(&value).unwrap();
                    assert_same(provider, &compact).unwrap();
                    assert_eq!(pass(provider, &compact), Ok(Pass::Raw));
                    let pretty = serde_json::to_vec_pretty(&value).unwrap();
                    assert_same(provider, &pretty).unwrap();
                }
            }
        }

        #[test]
        fn tricky_bodies_read_in_one_pass_as_in_two() {
            for provider in PROVIDERS {
                for body in tricky_bodies(provider) {
                    let _ = assert_same(provider, &body);
                }
            }
        }

        #[test]
        fn every_cut_and_byte_edit_of_the_fixtures_reads_as_in_two_passes() {
            const EDITS: &[u8] = b"\"}],x{ \\0\xff:";
            for provider in PROVIDERS {
                for body in fixtures(provider) {
                    for at in 0..body.len() {
                        let _ = assert_same(provider, &body[..at]);
                        let mut cut = body.clone();
                        cut.remove(at);
                        let _ = assert_same(provider, &cut);
                        for &byte in EDITS {
                            let mut edited = body.clone();
                            edited[at] = byte;
                            let _ = assert_same(provider, &edited);
                        }
                    }
                }
            }
        }

        #[test]
        fn known_type_data_after_event_is_typed_in_the_first_pass() {
            for provider in PROVIDERS {
                for template in [
                    r#"{"event":"@E","timestamp":"@T","data":{"@I":"a-1","status":"confirmed"}}"#,
                    r#"{"event":"@C","timestamp":"@T","data":{"@I":"a-1"}}"#,
                    r#"{"event":" @E\t","data":{"@I":"a-1"}}"#,
                    r#"{"event":"@X","data":{"@I":"a-1"}}"#,
                    r#"{"ev\u0065nt":"@E","d\u0061ta":{"@I":"a-1"}}"#,
                    r#"{"data2":[],"timestamp":"@T","event":"@E","data":{"@I":"a-1"},"x":{}}"#,
                    " \n{ \"event\" : \"@E\" ,\r\n \"data\" : {\n \"@I\" : \"a-1\" \n}\n}\n",
                    r#"{"event":"@E","data":{"@I":"a-1","x":{"deep":[[{"y":"}]"}]],"n":1e400}}}"#,
                    r#"{"event":"@E","data":{"@I":"a-1","x":"\ud800"}}"#,
                    r#"{"event":"@E","data":{"@I":"a-1"},"extra":1,"extra":2}"#,
                ] {
                    let body = fill(provider, template);
                    let delivery = assert_same(provider, body.as_bytes()).unwrap();
                    assert!(delivery.appointment().is_some(), "{provider:?} {body}");
                    assert_eq!(
                        pass(provider, body.as_bytes()),
                        Ok(Pass::Typed),
                        "{provider:?} {body}"
                    );
                }
            }
        }

        #[test]
        fn unusual_bodies_keep_data_raw_or_fall_back_to_two_passes() {
            for provider in PROVIDERS {
                let cases = [
                    (r#"{"data":{"@I":"a-1"},"event":"@E"}"#, Pass::Raw),
                    (r#"{"event":"x.unknown","data":{"@I":"a-1"}}"#, Pass::Raw),
                    (r#"{"event":"x.unknown","data":[1]}"#, Pass::Raw),
                    (r#"{"event":"@E","timestamp":"@T"}"#, Pass::Raw),
                    (r#"{"event":"@E","data":["a-1"]}"#, Pass::Fallback),
                    (r#"{"event":"@E","data":null}"#, Pass::Fallback),
                    (r#"{"event":"@E","data":"a-1"}"#, Pass::Fallback),
                    (r#"{"event":"@E","data":{}}"#, Pass::Fallback),
                    (
                        r#"{"event":"@E","data":{"@I":"a-1","status":5}}"#,
                        Pass::Fallback,
                    ),
                    (
                        r#"{"event":"@E","data":{"@I":"a-1","@I":"a-2"}}"#,
                        Pass::Fallback,
                    ),
                ];
                for (template, expected) in cases {
                    let body = fill(provider, template);
                    assert_same(provider, body.as_bytes()).unwrap();
                    assert_eq!(
                        pass(provider, body.as_bytes()),
                        Ok(expected),
                        "{provider:?} {body}"
                    );
                }
                // Errors all come from the two-pass read.
                for template in [
                    r#"{"event":"@E","event":"@E","data":{"@I":"a-1"}}"#,
                    r#"{"event":"@E","data":{"@I":"a-1"},"data":{"@I":"a-1"}}"#,
                    r#"{"event":"@E","data":{"@I":"a-1"},"timestamp":1,"timestamp":2}"#,
                    r#"{"event":"@E","data":{"@I":"a-1"}} x"#,
                    r#"{"event":"@E","data":{"@I":"a-1",}}"#,
                ] {
                    let body = fill(provider, template);
                    let err = assert_same(provider, body.as_bytes()).unwrap_err();
                    assert!(
                        matches!(err, ParseError::InvalidJson { .. }),
                        "{provider:?} {body}"
                    );
                }
                // A byte that is not UTF-8 in a skipped string: read by the
                // two passes, which accept it outside `data` and refuse it inside.
                let outside = fill(provider, r#"{"event":"@E","x":"~","data":{"@I":"a-1"}}"#);
                let inside = fill(provider, r#"{"event":"@E","data":{"@I":"a-1","x":"~"}}"#);
                for (text, accepted) in [(outside, true), (inside, false)] {
                    let body: Vec<u8> = text
                        .bytes()
                        .map(|b| if b == b'~' { 0xff } else { b })
                        .collect();
                    assert_eq!(
                        assert_same(provider, &body).is_ok(),
                        accepted,
                        "{provider:?} {text}"
                    );
                    if accepted {
                        assert_eq!(
                            pass(provider, &body),
                            Ok(Pass::Fallback),
                            "{provider:?} {text}"
                        );
                    }
                }
            }
        }
    }
}
