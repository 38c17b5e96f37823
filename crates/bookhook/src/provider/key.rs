//! The idempotency keys that providers build from several parts of an
//! envelope, or from the body's hash.

use sha2::{Digest, Sha256};

/// Hex SHA-256 of the raw body: the dedup key of last resort, identical across
/// retries of one delivery since a retry resends the same bytes.
pub(crate) fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// An unambiguous key made of several parts (a JSON array of strings).
pub(crate) fn composite_key(parts: &[&str]) -> String {
    // Sized for the usual case (no escapes: brackets, quotes and commas), so
    // the key is written without growing its buffer.
    let size = parts.iter().map(|part| part.len() + 3).sum::<usize>() + 1;
    let mut key = Vec::with_capacity(size);
    match serde_json::to_writer(&mut key, parts) {
        // serde_json writes valid UTF-8 only.
        Ok(()) => String::from_utf8(key).unwrap_or_else(|_| parts.join("\u{1f}")),
        Err(_) => parts.join("\u{1f}"),
    }
}

/// A key of `(type, id, time)`, or `(type, body hash)` when a part is missing.
pub(crate) fn triple_key(
    event_type: &str,
    id: Option<&str>,
    time: Option<&str>,
    body: &[u8],
) -> String {
    let id = id.filter(|p| !p.trim().is_empty());
    let time = time.filter(|p| !p.trim().is_empty());
    match (id, time) {
        (Some(id), Some(time)) => composite_key(&[event_type, id, time]),
        _ => composite_key(&[event_type, &format!("sha256:{}", sha256_hex(body))]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_keys_are_unambiguous() {
        assert_ne!(composite_key(&["a:b", "c"]), composite_key(&["a", "b:c"]));
        assert_eq!(composite_key(&["x", "y"]), r#"["x","y"]"#);
        // Parts that need escapes, or none at all, give serde_json's own text.
        let cases: [&[&str]; 4] = [
            &[],
            &[""],
            &["quote\"", "back\\slash", "tab\t", "\u{1}"],
            &["événement", "🗓", "a,b", "[]"],
        ];
        for parts in cases {
            assert_eq!(composite_key(parts), serde_json::to_string(parts).unwrap());
        }
    }
}
