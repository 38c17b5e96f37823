//! Envelope fields kept as raw JSON: the structs that hold them
//! ([`raw_fields!`]), and the readers of one field: strings, identifiers and
//! times that must or may be there, and a payload read into its struct or
//! kept as sent.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::body::is_object;
use crate::error::ParseError;
use crate::time::Timestamp;

/// Declares a struct of envelope fields that stay raw JSON until read: each
/// field, written `name` (or `name = "jsonName"` when the JSON name differs),
/// is an `Option<&RawValue>` borrowed from the body, `None` when absent.
/// Other fields of the body are skipped unread.
macro_rules! raw_fields {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $field_vis:vis $field:ident $(= $rename:literal)? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(serde::Deserialize)]
        $vis struct $name<'a> {
            $(
                #[serde(borrow, default $(, rename = $rename)?)]
                $field_vis $field: Option<&'a serde_json::value::RawValue>,
            )*
        }
    };
}
pub(crate) use raw_fields;

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
