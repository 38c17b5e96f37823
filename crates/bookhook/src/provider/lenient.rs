//! Lenient serde field readers, for payloads whose exact shapes are not
//! published: identifiers as strings or numbers, counts, numbers and times
//! that become `None` rather than failing the event.

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

/// Reads an identifier straight from the parser, as [`crate::provider::fields::id_of`] reads
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

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Err(serde::de::Error::custom(NOT_AN_ID))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
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
        Value::Array(items) => items
            .iter()
            .filter_map(crate::provider::fields::id_of)
            .collect(),
        other => crate::provider::fields::id_of(&other).into_iter().collect(),
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
        Value::Number(n) => n.as_i64().and_then(crate::time::from_unix),
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::provider::fields::id_of;
    use crate::provider::lenient;

    #[test]
    fn identifiers_read_as_the_value_they_are() {
        #[derive(serde::Deserialize)]
        struct Ids {
            #[serde(deserialize_with = "lenient::id")]
            id: String,
            #[serde(default, deserialize_with = "lenient::opt_id")]
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
}
