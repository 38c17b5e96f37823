//! The `{event, timestamp, data}` envelope that eAgenda and Calendence share:
//! the plain two-pass read, [`read_event`], which tries the one pass first,
//! and [`parse`], the delivery's fields from what it read.
//!
//! The two-pass read here is the reference: the body into [`EventEnvelope`]
//! with `data` kept raw, then `data` into its payload struct. The one pass
//! ([`one_pass`]) reads `data` straight into its struct when `event` comes
//! first, and falls back here for anything else.

mod one_pass;

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::Parsed;
use super::body::{check_object_body, read_envelope};
use super::event_types::TypedEvent;
use super::fields::{id_of, optional_time, raw_fields, required_string, typed_or_other};
use super::key::triple_key;
use crate::error::ParseError;
use crate::time::Timestamp;

use self::one_pass::{Data, read_one_pass};

raw_fields! {
    /// The `{event, timestamp, data}` envelope that eAgenda and Calendence share,
    /// read lazily: each field stays raw JSON until the provider reads it. The
    /// two-pass read ([`read_event_two_pass`]) that [`read_event`] falls back to.
    pub(crate) struct EventEnvelope {
        pub(crate) event,
        pub(crate) timestamp,
        pub(crate) data,
    }
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

/// The payload of a platform with the `{event, timestamp, data}` envelope:
/// the identifier its idempotency key `(event, id, timestamp)` is made of.
pub(crate) trait Subject {
    /// The field of `data` that holds the identifier, read from the raw data
    /// of an `Other` event.
    const ID_FIELD: &'static str;

    /// The identifier of this payload.
    fn id(&self) -> &str;

    /// Whether the identifier of an event of this type names an appointment.
    fn names_appointment(_event_type: &str) -> bool {
        true
    }
}

/// Parses a `{event, timestamp, data}` body into a delivery's fields: the
/// typed event, its kind, the key `(event, id, timestamp)` (else the body's
/// hash), the time and the appointment the identifier names.
pub(crate) fn parse<E>(
    body: &[u8],
    types: &EventTypes<Box<E::Payload>, E>,
) -> Result<Parsed<E>, ParseError>
where
    E: TypedEvent,
    E::Payload: Subject + DeserializeOwned,
{
    Ok(parsed(read_event(body, types)?, body))
}

/// The delivery's fields from its envelope and typed event (also from the
/// two-pass read, in the tests that compare both).
pub(super) fn parsed<E>(read: EnvelopeEvent<E>, body: &[u8]) -> Parsed<E>
where
    E: TypedEvent,
    E::Payload: Subject,
{
    let EnvelopeEvent {
        raw_type,
        time,
        event,
    } = read;
    let kind = event.kind();
    let id = match event.payload_or_data() {
        Ok(payload) => Some(payload.id().to_owned()),
        Err(data) => data.get(E::Payload::ID_FIELD).and_then(id_of),
    };
    let key = triple_key(
        &raw_type,
        id.as_deref(),
        time.as_ref().map(|(text, _)| text.as_str()),
        body,
    );
    let appointment_id = id.filter(|_| E::Payload::names_appointment(event.event_type()));
    Parsed {
        event,
        raw_type,
        kind,
        key,
        occurred_at: time.map(|(_, t)| t),
        appointment_id,
    }
}
