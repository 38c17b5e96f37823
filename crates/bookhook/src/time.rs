//! Timestamps as platforms send them, offsets kept.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat};

/// A point in time from a payload, kept as the platform wrote it.
///
/// Most platforms send RFC 3339 with an offset, which is kept (`-03:00` stays
/// `-03:00`). MonCréneau's `dateTime` has no offset at all: it is the local time
/// of the office, and stays [`Timestamp::Local`] rather than being guessed into UTC.
///
/// ```
/// use bookhook::event::Timestamp;
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
        parse_local(input).or_else(|| parse_any(input))
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

/// A date-time without offset, `YYYY-MM-DDTHH:MM:SS` and an optional
/// fraction of up to nine digits, as MonCréneau sends on every delivery, read
/// without chrono's format-string parser. Anything else (an offset, a space
/// for `T`, no seconds, a leap second, ...) gives `None`, and the other
/// parsers decide. Where this gives a time, it is the one chrono's
/// format-string parser gives (a test compares them).
fn parse_local(input: &str) -> Option<Timestamp> {
    let b = input.as_bytes();
    let number = |from: usize, to: usize| -> Option<u32> {
        let digits = b.get(from..to)?;
        digits.iter().try_fold(0_u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let scale = 10_u32.pow(9 - u32::try_from(digits.len()).ok()?);
            number(20, b.len())? * scale
        }
        _ => return None,
    };
    let second = number(17, 19)?;
    if second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(0, 4)?).ok()?,
        number(5, 7)?,
        number(8, 10)?,
    )?;
    let time = NaiveTime::from_hms_nano_opt(number(11, 13)?, number(14, 16)?, second, nanos)?;
    Some(Timestamp::Local(date.and_time(time)))
}

/// Every form [`Timestamp::parse`] accepts but RFC 3339, through chrono's
/// format-string parsers.
fn parse_any(input: &str) -> Option<Timestamp> {
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

/// `start + minutes`, keeping the offset; `None` on overflow.
pub(crate) fn add_minutes(start: Timestamp, minutes: u64) -> Option<Timestamp> {
    let delta = chrono::TimeDelta::try_minutes(i64::try_from(minutes).ok()?)?;
    match start {
        Timestamp::Offset(t) => t.checked_add_signed(delta).map(Timestamp::Offset),
        Timestamp::Local(t) => t.checked_add_signed(delta).map(Timestamp::Local),
    }
}

/// A Unix time in seconds (or milliseconds, when too large to be seconds), in UTC.
pub(crate) fn from_unix(value: i64) -> Option<Timestamp> {
    let dt = if value.unsigned_abs() >= 100_000_000_000 {
        chrono::DateTime::from_timestamp_millis(value)?
    } else {
        chrono::DateTime::from_timestamp(value, 0)?
    };
    Some(Timestamp::Offset(dt.fixed_offset()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same variant, wall-clock time and offset (chrono's `==` on
    /// `DateTime` compares instants only).
    fn same(a: &Timestamp, b: &Timestamp) -> bool {
        match (a, b) {
            (Timestamp::Offset(x), Timestamp::Offset(y)) => {
                x.naive_local() == y.naive_local() && x.offset() == y.offset()
            }
            (Timestamp::Local(x), Timestamp::Local(y)) => x == y,
            _ => false,
        }
    }

    #[test]
    fn a_time_without_offset_is_read_without_the_format_parser() {
        for input in [
            "2026-01-25T14:30:00",
            "2026-01-25T14:30:00.5",
            "2026-01-25T14:30:00.123456789",
            "2024-02-29T23:59:59",
            "0000-01-01T00:00:00",
        ] {
            let fast = parse_local(input).unwrap_or_else(|| panic!("{input}: not read"));
            let general = parse_any(input).unwrap();
            assert!(same(&fast, &general), "{input}: {fast:?} != {general:?}");
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_general_parsers() {
        for input in [
            "2026-01-25T14:30:00Z",
            "2026-01-25T14:30:00+03:00",
            "2026-01-25 14:30:00",
            "2026-01-25t14:30:00z",
            "2026-01-25T14:30",
            "2026-01-25T14:30:00+0300",
            "2026-01-25T14:30:00 +03:00",
            "2016-12-31T23:59:60Z",
            "2026-01-25T14:30:00.1234567891Z",
            "2026-02-30T14:30:00Z",
            "2026-01-25T24:00:00Z",
            "2026-01-25T14:30:00+24:00",
            "+2026-01-25T14:30:00Z",
            "2026-1-25T14:30:00Z",
            "",
        ] {
            assert!(
                parse_local(input).is_none(),
                "{input}: read by the fast path"
            );
        }
        // The general parsers still read what they always read.
        for input in [
            "2026-01-25T14:30:00Z",
            "2026-01-25 14:30:00",
            "2026-01-25T14:30",
            "2026-01-25T14:30:00+0300",
        ] {
            assert!(Timestamp::parse(input).is_some(), "{input}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Wherever the fast path gives a time, the general parsers give the
        /// same one, on inputs built from valid and invalid parts alike.
        #[test]
        fn the_fast_path_agrees_with_the_general_parsers(
            year in 0_u32..10_000,
            month in 0_u32..14,
            day in 0_u32..33,
            hour in 0_u32..26,
            minute in 0_u32..61,
            second in 0_u32..62,
            separator in proptest::sample::select(vec!["T", "T", "T", "t", " "]),
            fraction in proptest::option::of("[0-9]{0,11}"),
            offset in proptest::sample::select(vec![
                // Mostly none: only times without offset take the fast path.
                "", "", "", "", "", "", "", "Z", "z", "+00:00", "-03:00", "+0300", " +03:00",
            ]),
        ) {
            let fraction = fraction.map(|digits| format!(".{digits}")).unwrap_or_default();
            let input = format!(
                "{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}{fraction}{offset}"
            );
            if let Some(fast) = parse_local(&input) {
                let general = parse_any(&input);
                proptest::prop_assert!(
                    general.is_some_and(|general| same(&fast, &general)),
                    "{input}: fast {fast:?}, general {general:?}"
                );
            }
        }
    }

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

    #[test]
    fn adding_minutes_keeps_the_offset_and_never_overflows() {
        let start = Timestamp::parse("2026-06-10T09:00:00-03:00").unwrap();
        assert_eq!(
            add_minutes(start, 30).unwrap().to_string(),
            "2026-06-10T09:30:00-03:00"
        );
        assert_eq!(add_minutes(start, u64::MAX), None);
    }

    #[test]
    fn unix_times_in_seconds_and_milliseconds() {
        assert_eq!(
            from_unix(1_700_000_000).unwrap().unix_ms(),
            1_700_000_000_000
        );
        assert_eq!(
            from_unix(1_700_000_000_123).unwrap().unix_ms(),
            1_700_000_000_123
        );
        assert_eq!(from_unix(i64::MAX), None);
    }
}
