//! What the providers' unit tests share: a body parsed as one provider's
//! delivery, and that provider's own event taken back out of it.

use super::{Provider, registry};
use crate::error::ParseError;
use crate::event::{Delivery, Event};
use crate::headers::{Headers, NoHeaders};

/// A provider module's `Event`, as the top-level [`Event`] wraps it.
pub(crate) trait OwnEvent: Sized {
    /// The provider whose module it is.
    const PROVIDER: Provider;

    /// This provider's event inside `event`, if it is one.
    fn of(event: &Event) -> Option<&Self>;
}

/// Implements [`OwnEvent`] for every provider's `Event`.
macro_rules! own_events {
    ($( $(#[$doc:meta])* $variant:ident => $module:ident, )*) => {
        $(
            impl OwnEvent for super::$module::Event {
                const PROVIDER: Provider = Provider::$variant;

                fn of(event: &Event) -> Option<&Self> {
                    match event {
                        Event::$variant(own) => Some(own),
                        _ => None,
                    }
                }
            }
        )*
    };
}
registry!(own_events);

/// Parses `body` as a delivery of `E`'s provider, without headers.
pub(crate) fn parse_as<E: OwnEvent>(body: &str) -> Result<Delivery, ParseError> {
    parse_with_headers::<E>(&NoHeaders, body)
}

/// Parses `body` as a delivery of `E`'s provider, with `headers`.
pub(crate) fn parse_with_headers<E: OwnEvent>(
    headers: &dyn Headers,
    body: &str,
) -> Result<Delivery, ParseError> {
    Delivery::parse(E::PROVIDER, headers, body.as_bytes().to_vec().into())
}

/// The provider's own event of `delivery`; panics when it is another's.
#[track_caller]
pub(crate) fn own_event<E: OwnEvent>(delivery: &Delivery) -> &E {
    match E::of(delivery.event()) {
        Some(own) => own,
        None => panic!("not a {} event: {:?}", E::PROVIDER, delivery.event()),
    }
}
