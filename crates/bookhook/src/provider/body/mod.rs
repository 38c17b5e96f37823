//! What a verified body must be before a provider reads it: nested no deeper
//! than the limit, and a JSON object.

mod depth;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::ParseError;

use self::depth::check_depth;

/// Whether raw JSON is an object. serde's derived structs also accept arrays,
/// field by field in order; envelopes and payloads must be objects.
pub(crate) fn is_object(raw: &RawValue) -> bool {
    raw.get().trim_start().starts_with('{')
}

/// Refuses what cannot be an envelope before any parsing: a body nested too
/// deep, or one that is not a JSON object (bad JSON is reported as such, and
/// good JSON as the wrong shape).
pub(crate) fn check_object_body(body: &[u8]) -> Result<(), ParseError> {
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

/// Reads the whole body as a JSON value (depth-checked).
pub(crate) fn read_value(body: &[u8]) -> Result<Value, ParseError> {
    check_depth(body)?;
    serde_json::from_slice(body).map_err(|e| ParseError::from_json(&e))
}
