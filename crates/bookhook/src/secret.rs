//! Secret material that never shows up in logs.

use std::fmt;

use subtle::ConstantTimeEq;

/// A shared secret: an HMAC key, a Standard Webhooks key (base64, with or
/// without `whsec_`) or a token.
///
/// Its `Debug` output is `Secret(***)`, so it can sit in configuration structs
/// that are logged without leaking the value. There is no `Display`.
/// Equality is constant time in the bytes compared (`subtle`); only the
/// lengths may show.
///
/// ```
/// use bookhook::signature::Secret;
///
/// let secret = Secret::new("whsec_c2VjcmV0");
/// assert_eq!(format!("{secret:?}"), "Secret(***)");
/// assert_eq!(secret.expose(), b"whsec_c2VjcmV0");
/// ```
#[derive(Clone)]
pub struct Secret(Box<[u8]>);

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret {}

impl Secret {
    /// Wraps the bytes of a secret, used exactly as given.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Self(value.into().into_boxed_slice())
    }

    /// The raw bytes. Call this only where the secret is really needed.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether the secret has no bytes. Builders refuse empty secrets.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&[u8]> for Secret {
    fn from(value: &[u8]) -> Self {
        Self::new(value)
    }
}

impl From<Vec<u8>> for Secret {
    fn from(value: Vec<u8>) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_compares_the_bytes() {
        assert_eq!(Secret::new("same-value"), Secret::new("same-value"));
        assert_ne!(Secret::new("same-value"), Secret::new("same-valuf"));
        assert_ne!(Secret::new("same-value"), Secret::new("same-value-longer"));
    }

    #[test]
    fn debug_hides_the_value() {
        let secret = Secret::new("super-secret-value");
        let shown = format!("{secret:?} {:#?}", secret);
        assert!(!shown.contains("super-secret-value"));
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }

    #[test]
    fn keeps_non_utf8_bytes() {
        let secret = Secret::new(vec![0xff, 0x00, 0xfe]);
        assert_eq!(secret.expose(), &[0xff, 0x00, 0xfe]);
        assert!(!secret.is_empty());
        assert!(Secret::new("").is_empty());
    }
}
