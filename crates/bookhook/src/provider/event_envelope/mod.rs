//! The `{event, timestamp, data}` envelope that eAgenda and Calendence share:
//! the plain two-pass read, and [`read_event`], which tries the one pass
//! first.
//!
//! The two-pass read here is the reference: the body into [`EventEnvelope`]
//! with `data` kept raw, then `data` into its payload struct. The one pass
//! ([`one_pass`]) reads `data` straight into its struct when `event` comes
//! first, and falls back here for anything else.

mod one_pass;

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::body::{check_object_body, read_envelope};
use super::fields::{optional_time, required_string, typed_or_other};
use crate::error::ParseError;
use crate::time::Timestamp;

use self::one_pass::{Data, read_one_pass};

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
