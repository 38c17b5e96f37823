//! The one-pass read of the `{event, timestamp, data}` envelope: once `event`
//! names a known type, `data` is read straight into its payload struct.
//!
//! Fast path: it replaces capturing `data` as raw JSON and parsing it again
//! (the two-pass read in [`super`], which it falls back to for anything
//! unusual, so outcomes and errors are the same). With it, `verify_and_parse`
//! went from 1.60x to 1.15x its floor (BENCHMARKS.md, second round, 6).

use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{
    DeserializeOwned, DeserializeSeed, Error as DeError, IgnoredAny, MapAccess, Visitor,
};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::EventTypes;

/// The envelope as the one pass leaves it.
pub(super) struct OnePass<'a, E> {
    pub(super) event: Option<&'a RawValue>,
    pub(super) timestamp: Option<&'a RawValue>,
    pub(super) data: Data<'a, E>,
}

/// `data` after the one pass: already the typed event, or raw JSON (absent
/// or `null` as `None`) for [`typed_or_other`] to read.
pub(super) enum Data<'a, E> {
    Typed(E),
    Raw(Option<&'a RawValue>),
}

/// The one pass, or `None` when it fails for any reason: the caller then
/// reads the body in two passes, which reports the failure as it always has.
pub(super) fn read_one_pass<'a, T: DeserializeOwned, E>(
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

#[cfg(test)]
/// The one-pass read of eAgenda and Calendence envelopes against the
/// two-pass read it replaces: same deliveries, same errors.
mod tests {
    use std::path::Path;

    use crate::provider::event_envelope::{Pass, parsed, read_event_traced, read_event_two_pass};
    use crate::provider::{Parsed, calendence, eagenda};
    use crate::{Delivery, Event, NoHeaders, ParseError, Provider};

    const PROVIDERS: [Provider; 2] = [Provider::Eagenda, Provider::Calendence];

    fn two_pass(provider: Provider, body: &[u8]) -> Result<Parsed<Event>, ParseError> {
        match provider {
            Provider::Eagenda => read_event_two_pass(body, &eagenda::TYPES)
                .map(|read| parsed(read, body).map(Event::Eagenda)),
            Provider::Calendence => read_event_two_pass(body, &calendence::TYPES)
                .map(|read| parsed(read, body).map(Event::Calendence)),
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
