//! The nesting limit every body is held to before it is parsed: the exact
//! scan, and the bracket count that lets almost every body skip it.
//!
//! Fast path: [`count_openings`] replaces running [`check_depth_exactly`] on
//! every body. Profiled at 11 % of the pipeline when every body took the exact
//! scan; with the count first, Calendence parse went from 1.60x to 1.36x its
//! `serde_json::Value` reference (BENCHMARKS.md, first round, 1 and 6).

use crate::error::ParseError;

/// The deepest nesting serde_json accepts with its default recursion limit
/// of 128. Bodies nested deeper are refused before any parsing, even inside
/// fields that would be skipped.
pub(crate) const MAX_DEPTH: usize = 127;

/// Refuses bodies nested deeper than [`MAX_DEPTH`], in one linear scan with no
/// recursion. serde_json enforces the same limit on what it builds, but skips
/// ignored fields without counting: this keeps the rule uniform.
pub(crate) fn check_depth(body: &[u8]) -> Result<(), ParseError> {
    // Nesting deeper than MAX_DEPTH takes more than MAX_DEPTH opening
    // brackets. Counting them all, even inside strings, is one branch-free pass
    // that the compiler vectorizes; the exact scan runs only when it cannot
    // rule the limit out (a webhook body rarely has more than a few dozen).
    if count_openings(body) <= MAX_DEPTH {
        return Ok(());
    }
    check_depth_exactly(body)
}

/// How many `[` and `{` bytes `body` holds, strings included.
///
/// Counted in byte-wide lanes over blocks of at most 255 bytes, so that no
/// lane can overflow and each block is summed once: the compiler turns the
/// inner loop into compare-and-subtract on whole vector registers, rather
/// than widening every byte to a `usize`.
fn count_openings(body: &[u8]) -> usize {
    const BLOCK: usize = 255;
    body.chunks(BLOCK)
        .map(|block| {
            let count = block.iter().fold(0u8, |count, &byte| {
                count + u8::from((byte == b'[') | (byte == b'{'))
            });
            usize::from(count)
        })
        .sum()
}

/// The exact scan of [`check_depth`]: tracks strings, escapes and positions.
fn check_depth_exactly(body: &[u8]) -> Result<(), ParseError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut line = 1usize;
    let mut column = 0usize;
    for &byte in body {
        column += 1;
        if byte == b'\n' {
            line += 1;
            column = 0;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ParseError::InvalidJson {
                        reason: "recursion limit exceeded",
                        line,
                        column,
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::provider::body::read_value;

    #[test]
    fn depth_at_the_limit_is_accepted_and_beyond_is_refused() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read_value(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        // The same limit as serde_json's own.
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert!(matches!(
            read_value(deep.as_bytes()),
            Err(ParseError::InvalidJson {
                reason: "recursion limit exceeded",
                ..
            })
        ));
    }

    #[test]
    fn few_brackets_skip_the_exact_scan_and_many_take_it() {
        // At most MAX_DEPTH opening brackets: accepted without the exact scan.
        let shallow = format!("{{\"a\":\"{}\"}}", "[".repeat(MAX_DEPTH - 1));
        assert!(check_depth(shallow.as_bytes()).is_ok());
        // More brackets, but inside a string: the exact scan accepts them.
        let in_string = format!("{{\"a\":\"{}\"}}", "{".repeat(MAX_DEPTH + 1));
        assert!(check_depth(in_string.as_bytes()).is_ok());
        // Exactly one level too deep is refused, with its position.
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            check_depth(deep.as_bytes()),
            Err(ParseError::InvalidJson { line: 1, column, .. }) if column == MAX_DEPTH + 1
        ));
    }

    #[test]
    fn opening_count_matches_a_plain_count_across_block_edges() {
        // Lengths around the 255-byte blocks, with every byte an opening
        // bracket (a lane at its fullest) or a mix of brackets and text.
        for len in [0, 1, 254, 255, 256, 509, 510, 511, 1024, 4099] {
            let full = "[{".repeat(len).into_bytes();
            let full = &full[..len];
            let mixed: Vec<u8> = (0..len).map(|i| b"{a[b]c}"[i % 7]).collect();
            for body in [full, &mixed[..]] {
                let plain = body.iter().filter(|&&b| b == b'[' || b == b'{').count();
                assert_eq!(count_openings(body), plain, "length {len}");
            }
        }
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = format!("{{\"a\":\"{}\\\"{}\"}}", "[".repeat(500), "{".repeat(500));
        assert!(read_value(text.as_bytes()).is_ok());
    }
}
