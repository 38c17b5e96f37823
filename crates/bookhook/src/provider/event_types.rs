//! The macros that turn a provider's one table of event types into its typed
//! events, their names and kinds, the lookup of a name as sent, the
//! [`EventType`](super::EventType) listing and the samples, with
//! [`TypedEvent`], what generic readers see of such an event.
//!
//! Each provider writes the name of an event type once, in its table.

/// One entry of a provider's samples: the payload of `$name` embedded from
/// `fixtures/$dir/$folder/$name.json`, or `None` (for an alias without a
/// sample of its own). Used with the `testing` feature only.
#[cfg(feature = "testing")]
macro_rules! sample {
    ($folder:literal, $name:literal) => {
        None
    };
    ($folder:literal, $name:literal, $dir:ident) => {
        Some((
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fixtures/",
                stringify!($dir),
                "/",
                $folder,
                "/",
                $name,
                ".json"
            )),
        ))
    };
}
#[cfg(feature = "testing")]
pub(crate) use sample;

/// The sample of a listed type: in the folder its row names, else in the
/// table's default folder.
#[cfg(feature = "testing")]
macro_rules! listed_sample {
    ($folder:literal, $name:literal, [$dir:ident] $default:ident) => {
        $crate::provider::event_types::sample!($folder, $name, $dir)
    };
    ($folder:literal, $name:literal, [] $default:ident) => {
        $crate::provider::event_types::sample!($folder, $name, $default)
    };
}
#[cfg(feature = "testing")]
pub(crate) use listed_sample;

/// `EVENT_TYPES`: the [`EventType`](super::EventType) listing of a provider's
/// table, for its `DESCRIPTION`.
macro_rules! event_type_listing {
    ($( $name:literal [$($alias:literal)*] $kind:ident )*) => {
        /// Every type this module lists, for its [`DESCRIPTION`].
        const EVENT_TYPES: &[$crate::provider::EventType] = &[
            $( $crate::provider::EventType {
                name: $name,
                aliases: &[$($alias),*],
                kind: $crate::kind::Kind::$kind,
            }, )*
        ];
    };
}
pub(crate) use event_type_listing;

/// A provider's typed events when every known type carries the same payload
/// struct: the `Event` enum (one boxed variant per type, and `Other`), its
/// `event_type`, `kind`, payload accessor and `to_appointment` (through the
/// payload's `to_appointment(event_type, kind)`), `EVENT_TYPES`, `SAMPLES`,
/// `known_type`, which names the canonical type and variant of a raw name
/// after the provider's `normalize` (trimming, case, separators), `TYPES`
/// (the same for the envelope readers) and its [`TypedEvent`] impl.
///
/// The enum's header names the payload struct and its accessor, the folder of
/// the provider's fixtures and the normalization; each type is written
/// `Variant = "name" | "alias" => Kind,`. Samples are in
/// `fixtures/<default>/<folder>/<name>.json`, where the default folder is
/// `payloads` (a platform's published example) or `samples` (one written
/// here); a row whose sample is in the other folder says so: `"name" (samples)`.
macro_rules! typed_events {
    (
        $(#[$meta:meta])*
        pub enum Event(
            payload $payload:ty as $accessor:ident,
            fixtures $folder:literal in $default:ident,
            normalize $normalize:expr
        ) {
            $( $(#[$doc:meta])* $variant:ident = $name:literal $(($dir:ident))? $(| $alias:literal)* => $kind:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $( $(#[$doc])* $variant(Box<$payload>), )*
            /// Any other type, or a known type whose data does not fit its
            /// payload struct.
            Other {
                /// The event type: canonical for a known type, else as sent.
                event_type: String,
                /// The data as sent (`null` if absent).
                data: serde_json::Value,
                /// Why the data did not fit, for a known type (serde's message, which may
                /// quote the offending value); `None` for an unknown type.
                error: Option<String>,
            },
        }

        impl Event {
            /// The event type: the canonical name of a known type, else as sent.
            pub fn event_type(&self) -> &str {
                match self {
                    $( Event::$variant(_) => $name, )*
                    Event::Other { event_type, .. } => event_type,
                }
            }

            /// The normalized kind of this event.
            pub fn kind(&self) -> $crate::kind::Kind {
                match self {
                    $( Event::$variant(_) => $crate::kind::Kind::$kind, )*
                    Event::Other { event_type, .. } => match event_type.as_str() {
                        $( $name => $crate::kind::Kind::$kind, )*
                        _ => $crate::kind::Kind::Other,
                    },
                }
            }

            /// The payload of a known event type.
            pub fn $accessor(&self) -> Option<&$payload> {
                match self {
                    $( Event::$variant(payload) => Some(payload), )*
                    Event::Other { .. } => None,
                }
            }

            /// The normalized appointment of a known event type, from the
            /// payload's own `to_appointment`.
            pub(crate) fn to_appointment(&self) -> Option<$crate::appointment::Appointment> {
                self.$accessor()
                    .map(|payload| payload.to_appointment(self.event_type(), self.kind()))
            }
        }

        $crate::provider::event_types::event_type_listing!($( $name [$($alias)*] $kind )*);

        /// The sample of every listed type.
        #[cfg(feature = "testing")]
        const SAMPLES: &[Option<(&str, &str)>] = &[
            $( $crate::provider::event_types::listed_sample!($folder, $name, [$($dir)?] $default), )*
        ];

        /// The canonical name of the known type `raw` names, with its variant.
        fn known_type(raw: &str) -> Option<(&'static str, fn(Box<$payload>) -> Event)> {
            let normalized = ($normalize)(raw);
            let normalized: &str = normalized.as_ref();
            match normalized {
                $( $name $(| $alias)* => Some(($name, Event::$variant)), )*
                _ => None,
            }
        }

        /// The known types and their variants, and the `Other` variant, for
        /// the readers that build this module's events.
        pub(super) const TYPES: $crate::provider::EventTypes<Box<$payload>, Event> =
            $crate::provider::EventTypes {
                known: known_type,
                other: |event_type, data, error| Event::Other {
                    event_type,
                    data,
                    error,
                },
            };

        impl $crate::provider::event_types::TypedEvent for Event {
            type Payload = $payload;

            fn payload_or_data(&self) -> Result<&$payload, &serde_json::Value> {
                match self {
                    $( Event::$variant(payload) => Ok(payload), )*
                    Event::Other { data, .. } => Err(data),
                }
            }

            fn event_type(&self) -> &str {
                Event::event_type(self)
            }

            fn kind(&self) -> $crate::kind::Kind {
                Event::kind(self)
            }
        }
    };
}
pub(crate) use typed_events;

/// What generic readers need of an `Event` that [`typed_events!`] makes.
pub(crate) trait TypedEvent {
    /// The payload struct every known type carries.
    type Payload;

    /// The payload of a known type, else the data of `Other` as sent.
    fn payload_or_data(&self) -> Result<&Self::Payload, &serde_json::Value>;

    /// The event type: the canonical name of a known type, else as sent.
    fn event_type(&self) -> &str;

    /// The normalized kind of this event.
    fn kind(&self) -> crate::kind::Kind;
}

/// A provider's `EventType` enum when its types carry different payloads
/// (Decoda): `ALL`, `as_str`, `from_name` (aliases accepted) and `kind`, with
/// `EVENT_TYPES` and `SAMPLES` as [`typed_events!`] makes them.
///
/// Each type is written `Variant = "name" | "alias" (dir) => Kind,`, with
/// the table's default folder of samples as in [`typed_events!`]; an alias's
/// `(dir)` is there when it has a sample of its own.
macro_rules! event_types {
    (
        fixtures: $folder:literal in $default:ident,
        $( $(#[$doc:meta])* $variant:ident = $name:literal $(($dir:ident))? $(| $alias:literal $(($alias_dir:ident))?)* => $kind:ident, )*
    ) => {
        /// An event type this version knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $( $(#[$doc])* $variant, )*
        }

        impl EventType {
            /// Every known type, in a stable order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            /// The type's canonical name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( EventType::$variant => $name, )*
                }
            }

            /// Reads a type name; other spellings of a type are accepted.
            pub fn from_name(name: &str) -> Option<EventType> {
                match name {
                    $( $name $(| $alias)* => Some(EventType::$variant), )*
                    _ => None,
                }
            }

            /// The normalized kind of this type.
            pub const fn kind(self) -> $crate::kind::Kind {
                match self {
                    $( EventType::$variant => $crate::kind::Kind::$kind, )*
                }
            }
        }

        $crate::provider::event_types::event_type_listing!($( $name [$($alias)*] $kind )*);

        /// The sample of every listed type, and of each alias that has one.
        #[cfg(feature = "testing")]
        const SAMPLES: &[Option<(&str, &str)>] = &[
            $(
                $crate::provider::event_types::listed_sample!($folder, $name, [$($dir)?] $default),
                $( $crate::provider::event_types::sample!($folder, $alias $(, $alias_dir)?), )*
            )*
        ];
    };
}
pub(crate) use event_types;
