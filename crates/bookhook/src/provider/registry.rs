//! The list of providers and what each one says about itself.
//!
//! [`registry!`] is the one place that names every provider. [`Provider`],
//! its names and its parsing, the top-level [`Event`](crate::Event), the
//! presets and the samples are generated from it; each provider's module
//! describes the rest in its [`Description`].

use std::fmt;
use std::str::FromStr;

use crate::kind::Kind;
use crate::signature::Scheme;

/// Calls the macro `$then` with every provider, in a stable order: its doc
/// line, its [`Provider`] variant and its module under `provider/`, whose name
/// is the provider's name.
///
/// Adding a platform is its module and one line here.
macro_rules! registry {
    ($then:ident) => {
        $then! {
            /// eAgenda (eagenda.com.br, API v3).
            Eagenda => eagenda,
            /// MonCréneau (moncreneau.gn).
            Moncreneau => moncreneau,
            /// Orufy Bookings (orufy.com).
            Orufy => orufy,
            /// Calendence (calendence.com, API v1).
            Calendence => calendence,
            /// Decoda Health.
            Decoda => decoda,
            /// Any sender of the Standard Webhooks specification (Svix among them).
            Standard => standard,
            /// Any other platform signing with HMAC-SHA256, configured by hand.
            Hmac => hmac,
        }
    };
}
pub(crate) use registry;

/// Generates [`Provider`] from the registry.
macro_rules! define_provider {
    ($( $(#[$doc:meta])* $variant:ident => $module:ident, )*) => {
        /// A platform whose webhooks bookhook knows, or a configurable scheme.
        ///
        /// ```
        /// use bookhook::Provider;
        ///
        /// let provider: Provider = "calendence".parse().unwrap();
        /// assert_eq!(provider, Provider::Calendence);
        /// assert_eq!(provider.as_str(), "calendence");
        /// assert!(!provider.description().event_types.is_empty());
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Provider {
            $( $(#[$doc])* $variant, )*
        }

        impl Provider {
            /// Every provider, in a stable order.
            pub const ALL: [Provider; [$(stringify!($variant)),*].len()] = [$(Provider::$variant),*];

            /// The lower-case name used by the CLI and in logs (the name of its
            /// module under [`provider`](crate::provider)).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Provider::$variant => stringify!($module), )*
                }
            }

            /// What the provider's module says about it: event types, headers,
            /// dedup key, preset.
            pub const fn description(self) -> &'static Description {
                match self {
                    $( Provider::$variant => &super::$module::DESCRIPTION, )*
                }
            }
        }
    };
}

registry!(define_provider);

impl Provider {
    /// The signature scheme the provider uses unless the endpoint says
    /// otherwise; `None` for [`Provider::Hmac`], whose scheme is configured by hand.
    pub(crate) fn preset_scheme(self) -> Option<Scheme> {
        self.description().preset.map(|preset| preset())
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Provider {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The error of parsing an unknown provider name; its message lists the
/// known names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider(pub String);

impl fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown provider `{}`; expected one of ", self.0)?;
        for (i, provider) in Provider::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(provider.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownProvider {}

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// What a provider's module says about the provider: everything a listing
/// (such as `bookhook providers`) or a tool needs, from one table.
///
/// ```
/// use bookhook::{Kind, Provider};
///
/// let calendence = Provider::Calendence.description();
/// assert_eq!(calendence.scheme_name, "hmac-sha256");
/// assert_eq!(calendence.headers, ["X-Calendence-Signature"]);
/// let cancelled = calendence.event_type("booking.canceled").unwrap();
/// assert_eq!((cancelled.name, cancelled.kind), ("booking.cancelled", Kind::Cancelled));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Description {
    /// One line for a command's help: the platform and how it signs.
    pub summary: &'static str,
    /// The name of the signature scheme, as [`Scheme::name`] gives it.
    pub scheme_name: &'static str,
    /// Every header the scheme reads (the signature and what it signs).
    pub headers: &'static [&'static str],
    /// The query parameters the scheme reads (a token in the URL), if any.
    pub query: &'static [&'static str],
    /// What the idempotency key is made of.
    pub dedup_key: &'static str,
    /// The event types with a typed payload, in a stable order; empty when
    /// any type is accepted as it is (Standard Webhooks, hand-configured).
    pub event_types: &'static [EventType],
    /// The preset scheme, if the provider has one.
    pub(crate) preset: Option<fn() -> Scheme>,
    /// Sample payloads: `(event type as sent, JSON body)`, one per listed type
    /// (and per alias with a sample of its own).
    #[cfg(feature = "testing")]
    pub(crate) samples: &'static [Option<(&'static str, &'static str)>],
    /// How a copy of a sample is made a new event, for
    /// [`fresh_sample`](crate::testing::samples::fresh_sample).
    #[cfg(feature = "testing")]
    pub(crate) freshen: Freshen,
}

/// The [`Description`] of a provider with a table of event types: the
/// fields given, with the module's `EVENT_TYPES` and `SAMPLES` (made from its
/// table), its `scheme()` as the preset, and `freshen`, the fields a copy of
/// a sample gets new values in.
macro_rules! table_description {
    (
        summary: $summary:expr,
        scheme_name: $scheme_name:expr,
        headers: $headers:expr,
        query: $query:expr,
        dedup_key: $dedup_key:expr,
        freshen: $fields:expr $(,)?
    ) => {
        $crate::provider::Description {
            summary: $summary,
            scheme_name: $scheme_name,
            headers: $headers,
            query: $query,
            dedup_key: $dedup_key,
            event_types: EVENT_TYPES,
            preset: Some(|| scheme().into()),
            #[cfg(feature = "testing")]
            samples: SAMPLES,
            #[cfg(feature = "testing")]
            freshen: $crate::provider::Freshen {
                envelope: None,
                fields: $fields,
            },
        }
    };
}
pub(crate) use table_description;

impl Description {
    /// The listed event type `name` names, by its canonical name or an alias
    /// (exactly as spelled in the table).
    pub fn event_type(&self, name: &str) -> Option<&'static EventType> {
        self.event_types
            .iter()
            .find(|t| t.name == name || t.aliases.contains(&name))
    }
}

/// How a provider's module makes a copy of a sample that is a new event: the
/// fields its idempotency key is made of, and what a copy puts there.
#[cfg(feature = "testing")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Freshen {
    /// The body of any event type, for a provider without samples (whose
    /// payloads are whatever the sender defines), with its `fields` to fill.
    pub(crate) envelope: Option<&'static str>,
    /// The fields a copy gets new values in, each a JSON Pointer (RFC 6901)
    /// with what goes there. A field the body does not have stays absent (as
    /// the cancellation's time of an Orufy booking that was not cancelled).
    pub(crate) fields: &'static [(&'static str, Fill)],
}

/// What a [`Freshen`] field of a copy gets.
#[cfg(feature = "testing")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// The time of the copy, as given.
    Now,
    /// A text unique to the copy, after this prefix.
    Unique(&'static str),
    /// The event type (for an envelope).
    EventType,
}

/// One event type a provider lists: its canonical name, the other spellings
/// read as it, and its normalized kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventType {
    /// The canonical name, as [`Delivery::event_type`](crate::Delivery::event_type) gives it.
    pub name: &'static str,
    /// Other spellings of the type (after the provider's normalization of
    /// case and separators, where it has one).
    pub aliases: &'static [&'static str],
    /// The normalized kind.
    pub kind: Kind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for provider in Provider::ALL {
            assert_eq!(provider.as_str().parse::<Provider>().unwrap(), provider);
        }
        assert!("stripe".parse::<Provider>().is_err());
    }

    #[test]
    fn unknown_provider_names_every_provider() {
        let err = "stripe".parse::<Provider>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown provider `stripe`; expected one of eagenda, moncreneau, orufy, calendence, decoda, standard, hmac"
        );
    }

    #[test]
    fn every_preset_has_the_scheme_name_its_description_gives() {
        for provider in Provider::ALL {
            let description = provider.description();
            if let Some(scheme) = provider.preset_scheme() {
                assert_eq!(scheme.name(), description.scheme_name, "{provider}");
            }
            assert!(!description.headers.is_empty(), "{provider}");
            assert!(!description.dedup_key.is_empty(), "{provider}");
            assert!(!description.summary.is_empty(), "{provider}");
        }
        assert!(Provider::Hmac.preset_scheme().is_none());
    }

    #[test]
    fn every_name_and_alias_is_listed_once_per_provider() {
        for provider in Provider::ALL {
            let mut seen = std::collections::BTreeSet::new();
            for t in provider.description().event_types {
                for name in std::iter::once(&t.name).chain(t.aliases) {
                    assert!(seen.insert(*name), "{provider}: `{name}` twice");
                }
            }
        }
    }
}
