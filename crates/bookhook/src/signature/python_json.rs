//! Python's `json.dumps(json.loads(body))`, for Decoda's Python sample.
//!
//! A streaming re-serializer over the JSON text: it never builds a tree, keeps
//! key order, and writes what CPython's `json` module writes with its default
//! settings: separators `", "` and `": "`, `ensure_ascii=True` (anything
//! outside printable ASCII becomes `\uXXXX`, lower-case hex, astral characters
//! as surrogate pairs), integers verbatim (`-0` becomes `0`), floats as
//! `repr(float)`, and `NaN`/`Infinity`/`-Infinity` accepted and kept.
//!
//! Anything Python would refuse, and objects with a repeated key (where Python
//! keeps the first position but the last value), give `None`.

use std::collections::HashSet;

/// Deeper nesting is refused (Python itself stops near its recursion limit).
const MAX_DEPTH: usize = 512;

/// Python refuses to convert integers longer than this (`sys.int_info`).
const MAX_INT_DIGITS: usize = 4300;

/// Re-serializes `body` as Python's `json.dumps(json.loads(body))` would.
pub(crate) fn reserialize(body: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    Writer::new(text).run()
}

enum Frame {
    Array,
    Object(HashSet<Vec<u16>>),
}

struct Writer<'a> {
    text: &'a str,
    pos: usize,
    out: Vec<u8>,
}

impl<'a> Writer<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            out: Vec::with_capacity(text.len() + text.len() / 4),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.bump()? == byte).then_some(())
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.get(self.pos..)?;
        rest.starts_with(word).then_some(())?;
        self.pos += word.len();
        self.out.extend_from_slice(word.as_bytes());
        Some(())
    }

    fn run(mut self) -> Option<Vec<u8>> {
        let mut stack: Vec<Frame> = Vec::new();
        self.skip_ws();
        'value: loop {
            // One value starts here.
            match self.peek()? {
                b'{' => {
                    self.pos += 1;
                    self.out.push(b'{');
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        self.out.push(b'}');
                    } else {
                        if stack.len() >= MAX_DEPTH {
                            return None;
                        }
                        let mut keys = HashSet::new();
                        self.key(&mut keys)?;
                        stack.push(Frame::Object(keys));
                        continue 'value;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    self.out.push(b'[');
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        self.out.push(b']');
                    } else {
                        if stack.len() >= MAX_DEPTH {
                            return None;
                        }
                        stack.push(Frame::Array);
                        continue 'value;
                    }
                }
                b'"' => {
                    self.string(None)?;
                }
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                b'N' => self.literal("NaN")?,
                b'I' => self.literal("Infinity")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            // After a complete value: close containers or move to the next item.
            loop {
                self.skip_ws();
                match stack.last_mut() {
                    None => return (self.pos == self.text.len()).then_some(self.out),
                    Some(Frame::Array) => match self.bump()? {
                        b',' => {
                            self.out.extend_from_slice(b", ");
                            self.skip_ws();
                            continue 'value;
                        }
                        b']' => {
                            self.out.push(b']');
                            stack.pop();
                        }
                        _ => return None,
                    },
                    Some(Frame::Object(keys)) => match self.bump()? {
                        b',' => {
                            self.out.extend_from_slice(b", ");
                            self.skip_ws();
                            self.key(keys)?;
                            continue 'value;
                        }
                        b'}' => {
                            self.out.push(b'}');
                            stack.pop();
                        }
                        _ => return None,
                    },
                }
            }
        }
    }

    /// A key, the colon and the whitespace before the value.
    fn key(&mut self, keys: &mut HashSet<Vec<u16>>) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        let mut units = Vec::new();
        self.string(Some(&mut units))?;
        if !keys.insert(units) {
            return None;
        }
        self.skip_ws();
        self.expect(b':')?;
        self.out.extend_from_slice(b": ");
        self.skip_ws();
        Some(())
    }

    /// A string, decoded to UTF-16 code units and written back the way
    /// Python's `ensure_ascii` encoder does.
    fn string(&mut self, mut units: Option<&mut Vec<u16>>) -> Option<()> {
        self.expect(b'"')?;
        self.out.push(b'"');
        loop {
            let c = self.text.get(self.pos..)?.chars().next()?;
            self.pos += c.len_utf8();
            let unit = match c {
                '"' => break,
                '\\' => match self.bump()? {
                    b'"' => 0x22,
                    b'\\' => 0x5c,
                    b'/' => 0x2f,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => 0x0a,
                    b'r' => 0x0d,
                    b't' => 0x09,
                    b'u' => self.hex4()?,
                    _ => return None,
                },
                c if u32::from(c) < 0x20 => return None,
                c => {
                    let mut buf = [0u16; 2];
                    for &unit in c.encode_utf16(&mut buf).iter() {
                        self.emit(unit);
                        if let Some(units) = units.as_deref_mut() {
                            units.push(unit);
                        }
                    }
                    continue;
                }
            };
            self.emit(unit);
            if let Some(units) = units.as_deref_mut() {
                units.push(unit);
            }
        }
        self.out.push(b'"');
        Some(())
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.text.get(self.pos..self.pos.checked_add(4)?)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u16::from_str_radix(digits, 16).ok()
    }

    fn emit(&mut self, unit: u16) {
        match unit {
            0x22 => self.out.extend_from_slice(b"\\\""),
            0x5c => self.out.extend_from_slice(b"\\\\"),
            0x0a => self.out.extend_from_slice(b"\\n"),
            0x0d => self.out.extend_from_slice(b"\\r"),
            0x09 => self.out.extend_from_slice(b"\\t"),
            0x08 => self.out.extend_from_slice(b"\\b"),
            0x0c => self.out.extend_from_slice(b"\\f"),
            0x20..=0x7e => self.out.push(unit as u8),
            _ => self
                .out
                .extend_from_slice(format!("\\u{unit:04x}").as_bytes()),
        }
    }

    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.peek() == Some(b'I') {
                self.out.push(b'-');
                return self.literal("Infinity");
            }
        }
        match self.bump()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
            is_float = true;
        }
        let text = self.text.get(start..self.pos)?;
        if is_float {
            let value: f64 = text.parse().ok()?;
            self.out
                .extend_from_slice(python_float_repr(value).as_bytes());
        } else if text == "-0" {
            self.out.push(b'0');
        } else {
            if text.trim_start_matches('-').len() > MAX_INT_DIGITS {
                return None;
            }
            self.out.extend_from_slice(text.as_bytes());
        }
        Some(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }
}

/// Python's `repr(float)`, as `json.dumps` writes it: the shortest digits
/// that round-trip, in fixed notation when the decimal exponent is in
/// `-4..16`, in scientific notation otherwise (`1e-05`, `1.5e+300`).
pub(crate) fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    // Rust's `{:e}` gives the shortest round-trip digit count. When two
    // candidates of that length are equally close, Python picks the even one,
    // so the digits are re-rendered with exact, round-half-even formatting.
    let shortest = format!("{:e}", value.abs());
    let count = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.bytes().filter(u8::is_ascii_digit).count());
    let sci = format!("{:.*e}", count.saturating_sub(1), value.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = if value == 0.0 {
        "0".to_string()
    } else {
        digits
    };

    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        if point <= 0 {
            let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
            format!("{sign}0.{zeros}{digits}")
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                let zeros = "0".repeat(point - digits.len());
                format!("{sign}{digits}{zeros}.0")
            } else {
                let (int, frac) = digits.split_at(point);
                format!("{sign}{int}.{frac}")
            }
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{dot}{rest}e{exp_sign}{:02}",
            exponent.unsigned_abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps(input: &str) -> Option<String> {
        reserialize(input.as_bytes()).map(|out| String::from_utf8(out).expect("ascii output"))
    }

    #[test]
    fn uses_python_separators_and_keeps_key_order() {
        assert_eq!(
            dumps("{\"b\":1,\"a\":[true,false,null,{}],\"c\":{\"z\":[]}}").as_deref(),
            Some("{\"b\": 1, \"a\": [true, false, null, {}], \"c\": {\"z\": []}}")
        );
        assert_eq!(
            dumps(" \n{ \"a\" : [ 1 , 2 ] }\r\n\t").as_deref(),
            Some("{\"a\": [1, 2]}")
        );
    }

    #[test]
    fn escapes_like_ensure_ascii() {
        assert_eq!(
            dumps(r#""é/\/\"\\\n\r\t\b\f\u0001\u007F ""#).as_deref(),
            Some(r#""\u00e9//\"\\\n\r\t\b\f\u0001\u007f ""#)
        );
        assert_eq!(dumps("\"😀\"").as_deref(), Some(r#""\ud83d\ude00""#));
        assert_eq!(
            dumps(r#""\uD83D\uDE00""#).as_deref(),
            Some(r#""\ud83d\ude00""#)
        );
        assert_eq!(dumps(r#""\ud800""#).as_deref(), Some(r#""\ud800""#));
        assert_eq!(dumps("\"\u{7f}\"").as_deref(), Some(r#""\u007f""#));
    }

    #[test]
    fn formats_numbers_like_python() {
        let cases = [
            ("1.50", "1.5"),
            ("1e5", "100000.0"),
            ("1E+2", "100.0"),
            ("1.5e300", "1.5e+300"),
            ("-0.0", "-0.0"),
            ("-0", "0"),
            ("0", "0"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("1e16", "1e+16"),
            ("1e15", "1000000000000000.0"),
            ("9999999999999998.0", "9999999999999998.0"),
            ("0.1", "0.1"),
            ("2.5e-7", "2.5e-07"),
            ("1e999", "Infinity"),
            ("-1e999", "-Infinity"),
            ("1e-999", "0.0"),
            ("123.456e-2", "1.23456"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            // Two shortest candidates equally close: Python picks the even digit.
            ("-1267860061485775.2", "-1267860061485775.2"),
            ("7139030565557212e-1", "713903056555721.2"),
        ];
        for (input, expected) in cases {
            assert_eq!(dumps(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn keeps_python_constants() {
        assert_eq!(
            dumps("[NaN,Infinity,-Infinity]").as_deref(),
            Some("[NaN, Infinity, -Infinity]")
        );
    }

    #[test]
    fn refuses_what_python_refuses() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "1e",
            "-",
            ".5",
            "\"\u{1}\"",
            "\"\\x\"",
            "\"\\u12\"",
            "{\"a\" 1}",
            "{1: 2}",
            "[1] [2]",
            "tru",
            "\"open",
            "{\"a\":1,\"a\":2}",
        ] {
            assert_eq!(dumps(bad), None, "{bad:?}");
        }
        assert_eq!(reserialize(b"\"\xff\""), None);
    }

    #[test]
    fn refuses_very_deep_nesting_without_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(dumps(&deep), None);
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(dumps(&ok).as_deref(), Some(ok.as_str()));
    }
}
