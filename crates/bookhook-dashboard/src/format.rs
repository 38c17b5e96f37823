//! How times, ages, durations and long texts read on the pages.

use chrono::{DateTime, NaiveDateTime, Utc};

/// `2026-03-24 14:30:05` (UTC), or an empty string for a time out of range.
pub(crate) fn time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `14:30` (UTC): the chart's labels.
pub(crate) fn clock(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default()
}

/// An age or a wait in words: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub(crate) fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// How long an attempt took: `85 ms`, `1.24 s`.
pub(crate) fn duration(ms: i64) -> String {
    if ms < 1000 {
        format!("{} ms", ms.max(0))
    } else {
        format!("{:.2} s", ms as f64 / 1000.0)
    }
}

/// `text` cut to `max` characters on one line, with `…` when cut.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Reads a time from a filter field: `2026-03-24T14:30` (as a browser's
/// `datetime-local` sends it, read as UTC), with seconds, or RFC 3339.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

/// The body as text: JSON pretty-printed, other UTF-8 as it is, anything
/// else as an escaped byte string; cut at `max` bytes.
pub(crate) fn body(bytes: &[u8], max: usize) -> (String, bool) {
    let pretty = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok());
    let text = pretty.unwrap_or_else(|| match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.escape_ascii().to_string(),
    });
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_the_largest_units() {
        assert_eq!(span(45_000), "45 s");
        assert_eq!(span(12 * 60_000 + 5), "12 min");
        assert_eq!(span(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
        assert_eq!(span(2 * 86_400_000 + 4 * 3_600_000), "2 d 4 h");
        assert_eq!(span(-5), "0 s");
    }

    #[test]
    fn filter_times_are_read_as_utc() {
        assert_eq!(parse_time("1970-01-01T00:01"), Some(60_000));
        assert_eq!(parse_time("1970-01-01T00:00:02"), Some(2_000));
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn long_text_is_cut_on_one_line() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }

    #[test]
    fn bodies_are_pretty_printed_and_cut_on_a_character() {
        let (text, cut) = body(br#"{"a":1}"#, 100);
        assert_eq!((text.as_str(), cut), ("{\n  \"a\": 1\n}", false));
        let (text, cut) = body("ééé".as_bytes(), 3);
        assert_eq!((text.as_str(), cut), ("é", true));
        let (text, _) = body(&[0xff, b'a'], 100);
        assert_eq!(text, "\\xffa");
    }
}
