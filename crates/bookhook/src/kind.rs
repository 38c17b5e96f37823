//! The normalized kinds of events, the same for every platform.

use std::fmt;
use std::str::FromStr;

/// What happened to an appointment, the same for every platform.
///
/// A handler registered for a kind (say [`Kind::Cancelled`]) receives the
/// matching events of every platform.
///
/// ```
/// use bookhook::Kind;
///
/// assert_eq!(Kind::NoShow.as_str(), "no_show");
/// assert_eq!("checked_in".parse::<Kind>().unwrap(), Kind::CheckedIn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// A new appointment was booked.
    Created,
    /// A patient asked for an appointment, not yet scheduled.
    Requested,
    /// Details of an appointment changed.
    Updated,
    /// The appointment moved to another time.
    Rescheduled,
    /// The appointment was cancelled.
    Cancelled,
    /// The appointment was confirmed.
    Confirmed,
    /// Staff confirmed that the attendee is present.
    CheckedIn,
    /// The appointment took place and was closed.
    Completed,
    /// The attendee did not come.
    NoShow,
    /// Anything else: payments, patients, messages, new event types.
    Other,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 10] = [
        Kind::Created,
        Kind::Requested,
        Kind::Updated,
        Kind::Rescheduled,
        Kind::Cancelled,
        Kind::Confirmed,
        Kind::CheckedIn,
        Kind::Completed,
        Kind::NoShow,
        Kind::Other,
    ];

    /// The `snake_case` name the CLI prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Created => "created",
            Kind::Requested => "requested",
            Kind::Updated => "updated",
            Kind::Rescheduled => "rescheduled",
            Kind::Cancelled => "cancelled",
            Kind::Confirmed => "confirmed",
            Kind::CheckedIn => "checked_in",
            Kind::Completed => "completed",
            Kind::NoShow => "no_show",
            Kind::Other => "other",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind `{0}`")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>().unwrap(), kind);
        }
        assert!("deleted".parse::<Kind>().is_err());
    }
}
