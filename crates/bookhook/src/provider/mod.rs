//! One module per platform: its typed events and how its envelope is read.
//!
//! Each module has an `Event` type. The platforms with a published list of
//! event types ([`eagenda`], [`moncreneau`], [`orufy`], [`calendence`],
//! [`decoda`]) have an `enum` with one variant per known type and an `Other`
//! variant for anything else. [`standard`] and [`generic`] carry the type name
//! and the JSON data as they are.
//!
//! Unknown event types never fail a delivery. A known type whose data does not
//! fit its payload struct is delivered as `Other` too, with the reason in its
//! `error` field, so that nothing is lost and the raw JSON stays reachable.

pub mod calendence;
pub mod decoda;
pub mod eagenda;
pub mod generic;
pub mod moncreneau;
pub mod orufy;
pub mod standard;

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::appointment::Appointment;
use crate::error::ParseError;
use crate::event::Event;
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
/// read lazily: each field stays raw JSON until the provider reads it.
#[derive(serde::Deserialize)]
pub(crate) struct EventEnvelope<'a> {
    #[serde(borrow, default)]
    pub(crate) event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) data: Option<&'a RawValue>,
}

/// What a provider module hands back to [`crate::Delivery`].
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) event: Event,
    pub(crate) raw_type: String,
    pub(crate) kind: Kind,
    pub(crate) key: String,
    pub(crate) occurred_at: Option<Timestamp>,
    pub(crate) appointment: Option<Appointment>,
    pub(crate) appointment_id: Option<String>,
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

/// Reads a provider's envelope struct from the raw body, which must be a
/// JSON object.
pub(crate) fn read_envelope<'a, T: serde::Deserialize<'a>>(
    body: &'a [u8],
) -> Result<T, ParseError> {
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
    serde_json::from_slice(body).map_err(|e| ParseError::from_json(&e))
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
    serde_json::to_string(parts).unwrap_or_else(|_| parts.join("\u{1f}"))
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

/// The signature scheme a provider uses unless the endpoint says otherwise.
/// [`Provider::Hmac`](crate::Provider::Hmac) has none: its scheme is configured by hand.
pub(crate) fn preset_scheme(provider: crate::Provider) -> Option<crate::Scheme> {
    use crate::Provider;
    match provider {
        Provider::Eagenda => Some(eagenda::scheme().into()),
        Provider::Moncreneau => Some(moncreneau::scheme().into()),
        Provider::Orufy => Some(orufy::scheme().into()),
        Provider::Calendence => Some(calendence::scheme().into()),
        Provider::Decoda => Some(decoda::scheme().into()),
        Provider::Standard => Some(standard::scheme().into()),
        Provider::Hmac => None,
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
}
