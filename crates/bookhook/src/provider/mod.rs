//! One module per platform: its typed events and how its envelope is read,
//! beside the parts they share.
//!
//! - `registry.rs`: the list of providers, [`Provider`] and [`Description`];
//!   `event_types.rs`: the macros that turn a provider's table of event types
//!   into its typed events;
//! - `body/`: what a body must be before it is read (depth, an object);
//! - `event_envelope/`: the `{event, timestamp, data}` envelope eAgenda and
//!   Calendence share, read in two passes, or in one when it can;
//! - `fields.rs`, `lenient.rs`: readers of envelope fields and of loosely
//!   documented payload fields; `key.rs`: the idempotency keys built from them;
//! - `test_support.rs`: what the providers' unit tests share.
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

pub use registry::{Description, EventType, Provider, UnknownProvider};
#[cfg(feature = "testing")]
pub(crate) use registry::{Fill, Freshen};
pub(crate) use registry::{registry, table_description};

/// Declares the module of every provider in the registry.
macro_rules! provider_modules {
    ($( $(#[$doc:meta])* $variant:ident => $module:ident, )*) => {
        $( pub mod $module; )*
    };
}
registry!(provider_modules);

mod body;
mod event_envelope;
mod fields;
mod key;
pub(crate) mod lenient;
#[cfg(test)]
mod test_support;

use crate::kind::Kind;
use crate::time::Timestamp;

pub(crate) use self::body::{is_object, read_envelope, read_value};
pub(crate) use self::event_envelope::{EventTypes, Subject};
pub(crate) use self::fields::{
    id_of, optional_id, optional_string, optional_time, payload, raw_fields, required_string,
    typed_or_other, value,
};
pub(crate) use self::key::{composite_key, sha256_hex};

pub(crate) use crate::time::{add_minutes, from_unix};

/// Something a payload names by identifier and display name: a Calendence
/// service or location, a MonCréneau organization or staff member.
/// Numeric identifiers are kept as their decimal text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Reference {
    /// Its identifier.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub id: Option<String>,
    /// Its display name.
    #[serde(default)]
    pub name: Option<String>,
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
