//! Which request headers an inbox row keeps, and how secrets are kept out.

use std::sync::Mutex;

use crate::headers::{HeaderLookup, Headers};

/// What a stored header's value is replaced with when it carries a secret.
pub const REDACTED: &str = "[redacted]";

/// Header names whose values are always secrets, whatever the scheme.
const SECRET_NAMES: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
];

/// Words that mark a header name as carrying a secret.
const SECRET_WORDS: [&str; 4] = ["token", "secret", "password", "apikey"];

/// Whether a header called `name` carries a secret by its name alone:
/// `Authorization`, `Cookie`, API keys, and any name with `token`, `secret`
/// or `password` in it.
///
/// ```
/// use bookhook::inbox::is_secret_header;
///
/// assert!(is_secret_header("Authorization"));
/// assert!(is_secret_header("X-Webhook-Token"));
/// assert!(!is_secret_header("X-Calendence-Signature"));
/// ```
pub fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let squashed: String = lower.chars().filter(|c| *c != '-' && *c != '_').collect();
    SECRET_NAMES.contains(&lower.as_str()) || SECRET_WORDS.iter().any(|w| squashed.contains(w))
}

/// Headers that remember every name looked up through them, so that the
/// inbox keeps exactly the headers verification and parsing read.
pub(crate) struct Recording<'a> {
    inner: &'a (dyn Headers + Sync),
    names: Mutex<Vec<String>>,
}

impl<'a> Recording<'a> {
    pub(crate) fn new(inner: &'a (dyn Headers + Sync)) -> Self {
        Self {
            inner,
            names: Mutex::new(Vec::new()),
        }
    }

    /// The names looked up so far, each once, lower case, in order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.names.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Headers for Recording<'_> {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if !names.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
            names.push(name.to_ascii_lowercase());
        }
        drop(names);
        self.inner.lookup(name)
    }
}

/// The `(name, value)` pairs to store for `names`: each header present once,
/// with its value replaced by [`REDACTED`] when `secret(name)` says so.
/// Headers that are absent or repeated are left out (a repeated header reads
/// as absent, or fails verification and parsing, so nothing that was stored
/// depended on it).
pub(crate) fn kept(
    headers: &dyn Headers,
    names: impl IntoIterator<Item = String>,
    secret: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in names {
        if out.iter().any(|(seen, _)| seen.eq_ignore_ascii_case(&name)) {
            continue;
        }
        if let HeaderLookup::One(value) = headers.lookup(&name) {
            let value = if secret(&name) {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value).into_owned()
            };
            out.push((name, value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_remembers_each_name_once() {
        let headers = [("X-Sig", "abc"), ("Content-Type", "application/json")];
        let recording = Recording::new(&headers);
        assert_eq!(recording.lookup("x-sig"), HeaderLookup::One(b"abc"));
        assert_eq!(recording.lookup("X-SIG"), HeaderLookup::One(b"abc"));
        assert_eq!(recording.lookup("webhook-id"), HeaderLookup::Missing);
        assert_eq!(recording.names(), ["x-sig", "webhook-id"]);
    }

    #[test]
    fn kept_headers_skip_absent_and_repeated_and_redact_secrets() {
        let headers = [
            ("Authorization", "Bearer s3cr3t"),
            ("X-Sig", "abc"),
            ("X-Twice", "1"),
            ("x-twice", "2"),
        ];
        let names = ["authorization", "x-sig", "x-twice", "x-missing", "x-sig"]
            .map(str::to_owned)
            .to_vec();
        let kept = kept(&headers, names, is_secret_header);
        assert_eq!(
            kept,
            [
                ("authorization".to_owned(), REDACTED.to_owned()),
                ("x-sig".to_owned(), "abc".to_owned()),
            ]
        );
    }

    #[test]
    fn secret_names_are_recognised() {
        for name in ["Cookie", "X-API-Key", "x_auth_token", "X-Webhook-Secret"] {
            assert!(is_secret_header(name), "{name}");
        }
        for name in ["webhook-id", "x-moncreneau-event", "user-agent"] {
            assert!(!is_secret_header(name), "{name}");
        }
    }
}
