//! Framework-neutral access to request headers.

/// The result of looking up one header name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderLookup<'a> {
    /// The header is absent.
    Missing,
    /// The header appears exactly once, with this value.
    One(&'a [u8]),
    /// The header appears more than once. Signature headers that repeat are
    /// ambiguous, so verification refuses them.
    Repeated,
}

impl<'a> HeaderLookup<'a> {
    /// The value when the header appears exactly once.
    pub fn one(self) -> Option<&'a [u8]> {
        match self {
            HeaderLookup::One(value) => Some(value),
            _ => None,
        }
    }
}

/// Read-only access to a request's headers.
///
/// The core never sees a web framework's types: adapters implement this trait
/// over their own header maps. Names are passed in lower case and must be
/// compared ASCII case-insensitively.
///
/// It is implemented for slices and vectors of `(name, value)` pairs, which is
/// handy in tests:
///
/// ```
/// use bookhook::endpoint::{HeaderLookup, Headers};
///
/// let headers = [("X-Calendence-Signature", "sha256=00"), ("Content-Type", "application/json")];
/// assert_eq!(headers.lookup("x-calendence-signature"), HeaderLookup::One(b"sha256=00"));
/// assert_eq!(headers.lookup("webhook-id"), HeaderLookup::Missing);
/// ```
pub trait Headers {
    /// Looks up every value of the header `name`.
    fn lookup(&self, name: &str) -> HeaderLookup<'_>;

    /// The single value of `name`, if it appears exactly once.
    fn get_one(&self, name: &str) -> Option<&[u8]> {
        self.lookup(name).one()
    }
}

impl<T: Headers + ?Sized> Headers for &T {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        (**self).lookup(name)
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> Headers for [(K, V)] {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        let mut found = HeaderLookup::Missing;
        for (key, value) in self {
            if key.as_ref().eq_ignore_ascii_case(name) {
                if found != HeaderLookup::Missing {
                    return HeaderLookup::Repeated;
                }
                found = HeaderLookup::One(value.as_ref());
            }
        }
        found
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>, const N: usize> Headers for [(K, V); N] {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        self.as_slice().lookup(name)
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> Headers for Vec<(K, V)> {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        self.as_slice().lookup(name)
    }
}

/// A request with no headers at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHeaders;

impl Headers for NoHeaders {
    fn lookup(&self, _name: &str) -> HeaderLookup<'_> {
        HeaderLookup::Missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        let headers = vec![("Webhook-Id".to_string(), "msg_1".to_string())];
        assert_eq!(headers.lookup("webhook-id"), HeaderLookup::One(b"msg_1"));
    }

    #[test]
    fn repeated_header_is_reported() {
        let headers = [("x-sig", "a"), ("X-Sig", "b")];
        assert_eq!(headers.lookup("x-sig"), HeaderLookup::Repeated);
        assert_eq!(headers.get_one("x-sig"), None);
    }
}
