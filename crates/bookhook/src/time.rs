//! Timestamps as platforms send them, offsets kept.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat};

/// A point in time from a payload, kept as the platform wrote it.
///
/// Most platforms send RFC 3339 with an offset, which is kept (`-03:00` stays
/// `-03:00`). MonCréneau's `dateTime` has no offset at all: it is the local time
/// of the office, and stays [`Timestamp::Local`] rather than being guessed into UTC.
///
/// ```
/// use bookhook::Timestamp;
///
/// let t = Timestamp::parse("2026-06-10T09:00:00-03:00").unwrap();
/// assert_eq!(t.to_string(), "2026-06-10T09:00:00-03:00");
/// let local = Timestamp::parse("2026-01-25T14:30:00").unwrap();
/// assert!(matches!(local, Timestamp::Local(_)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timestamp {
    /// A time with a known offset from UTC.
    Offset(DateTime<FixedOffset>),
    /// A wall-clock time with no offset (the platform's local time).
    Local(NaiveDateTime),
}

impl Timestamp {
    /// Parses RFC 3339 (`2026-03-24T14:30:00+00:00`, `...Z`), or an ISO 8601
    /// date-time without offset (`2026-01-25T14:30:00`, optionally with
    /// fractional seconds or a space instead of `T`).
    pub fn parse(input: &str) -> Option<Self> {
        let input = input.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(input) {
            return Some(Timestamp::Offset(t));
        }
        for format in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(t) = NaiveDateTime::parse_from_str(input, format) {
                return Some(Timestamp::Local(t));
            }
        }
        // Some senders put a space before the offset or omit the colon.
        for format in [
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f %z",
        ] {
            if let Ok(t) = DateTime::parse_from_str(input, format) {
                return Some(Timestamp::Offset(t));
            }
        }
        None
    }

    /// Milliseconds since the Unix epoch. A [`Timestamp::Local`] time is read
    /// as if it were UTC; use it for ordering events of one platform only.
    pub fn unix_ms(&self) -> i64 {
        match self {
            Timestamp::Offset(t) => t.timestamp_millis(),
            Timestamp::Local(t) => t.and_utc().timestamp_millis(),
        }
    }

    /// The offset-aware time, if the platform sent an offset.
    pub fn with_offset(&self) -> Option<DateTime<FixedOffset>> {
        match self {
            Timestamp::Offset(t) => Some(*t),
            Timestamp::Local(_) => None,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timestamp::Offset(t) => f.write_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
            Timestamp::Local(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.f")),
        }
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format_args!("invalid date-time `{text}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_offset() {
        let t = Timestamp::parse("2026-06-04T14:30:00-03:00").unwrap();
        assert_eq!(t.to_string(), "2026-06-04T14:30:00-03:00");
        assert_eq!(
            t.with_offset().unwrap().offset().local_minus_utc(),
            -3 * 3600
        );
    }

    #[test]
    fn utc_z_prints_as_zero_offset() {
        let t = Timestamp::parse("2026-01-21T14:30:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-01-21T14:30:00+00:00");
    }

    #[test]
    fn local_time_stays_local() {
        let t = Timestamp::parse("2026-01-25T14:30:00").unwrap();
        assert!(t.with_offset().is_none());
        assert_eq!(t.to_string(), "2026-01-25T14:30:00");
    }

    #[test]
    fn orders_across_offsets() {
        let a = Timestamp::parse("2026-06-04T14:30:00-03:00").unwrap();
        let b = Timestamp::parse("2026-06-04T17:30:00Z").unwrap();
        assert_eq!(a.unix_ms(), b.unix_ms());
    }

    #[test]
    fn rejects_garbage() {
        assert!(Timestamp::parse("yesterday").is_none());
        assert!(Timestamp::parse("").is_none());
    }

    #[test]
    fn round_trips_through_serde() {
        let t: Timestamp = serde_json::from_str("\"2026-03-25T14:00:00+00:00\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-03-25T14:00:00+00:00\""
        );
    }
}
