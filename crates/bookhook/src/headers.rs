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

/// What verification and parsing look at: headers, query string and raw body.
///
/// ```
/// use bookhook::endpoint::Incoming;
///
/// let headers = [("Authorization", "Bearer t0ken")];
/// let incoming = Incoming::new(&headers, br#"{"eventType":"BOOK"}"#).with_query(Some("a=1"));
/// assert_eq!(incoming.body().len(), 20);
/// assert_eq!(incoming.query(), Some("a=1"));
/// ```
#[derive(Clone, Copy)]
pub struct Incoming<'a> {
    headers: &'a dyn Headers,
    query: Option<&'a str>,
    body: &'a [u8],
}

impl<'a> Incoming<'a> {
    /// A request with these headers and this raw body, and no query string.
    pub fn new(headers: &'a dyn Headers, body: &'a [u8]) -> Self {
        Self {
            headers,
            query: None,
            body,
        }
    }

    /// Sets the raw query string (without the leading `?`).
    #[must_use]
    pub fn with_query(mut self, query: Option<&'a str>) -> Self {
        self.query = query;
        self
    }

    /// The request headers.
    pub fn headers(&self) -> &'a dyn Headers {
        self.headers
    }

    /// The raw query string, without `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The raw body bytes, exactly as received.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The value of query parameter `name`, percent-decoded (the first, if
    /// it appears more than once).
    pub fn query_param(&self, name: &str) -> Option<Vec<u8>> {
        self.query_params(name).next()
    }

    /// Every value of query parameter `name`, percent-decoded, in order.
    pub fn query_params<'n>(&self, name: &'n str) -> impl Iterator<Item = Vec<u8>> + use<'a, 'n> {
        self.query
            .into_iter()
            .flat_map(|query| query.split('&'))
            .filter_map(move |pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(key.as_bytes()) == name.as_bytes())
                    .then(|| percent_decode(value.as_bytes()))
            })
    }
}

impl std::fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body and the query may carry secrets (a token parameter): show sizes only.
        f.debug_struct("Incoming")
            .field("query_len", &self.query.map(str::len))
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => {
                let hi = (input[i + 1] as char).to_digit(16);
                let lo = (input[i + 2] as char).to_digit(16);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    out
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

    #[test]
    fn query_param_is_percent_decoded() {
        let incoming = Incoming::new(&NoHeaders, b"").with_query(Some("x=1&token=a%2Bb+c&y"));
        assert_eq!(
            incoming.query_param("token").as_deref(),
            Some(&b"a+b c"[..])
        );
        assert_eq!(incoming.query_param("y").as_deref(), Some(&b""[..]));
        assert_eq!(incoming.query_param("z"), None);
    }

    #[test]
    fn repeated_query_param_yields_every_value() {
        let incoming = Incoming::new(&NoHeaders, b"").with_query(Some("token=a&x=1&token=b"));
        let values: Vec<Vec<u8>> = incoming.query_params("token").collect();
        assert_eq!(values, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(incoming.query_param("token").as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn truncated_percent_escape_is_kept_literally() {
        let incoming = Incoming::new(&NoHeaders, b"").with_query(Some("t=ab%2"));
        assert_eq!(incoming.query_param("t").as_deref(), Some(&b"ab%2"[..]));
    }

    #[test]
    fn debug_shows_no_body() {
        let incoming = Incoming::new(&NoHeaders, b"secret-body").with_query(Some("token=s3cr3t"));
        let shown = format!("{incoming:?}");
        assert!(!shown.contains("secret-body"));
        assert!(!shown.contains("s3cr3t"));
    }
}
