//! The one view of an HTTP request that the core reads: method, headers, query and raw body.

use std::fmt;

use bytes::Bytes;

use crate::headers::Headers;

/// An HTTP request as the core sees it: method, headers, query and raw body.
///
/// Adapters build one per request, and it is what an
/// [`Endpoint`](crate::Endpoint), a [`Dispatcher`](crate::Dispatcher) and a
/// [`Verifier`](crate::signature::Verifier) take; tests can build one too.
/// The body is a [`Bytes`], so cloning a request, or handing its body on to
/// parsing, never copies the body. The headers must be `Sync` so that the
/// future of [`Dispatcher::dispatch`](crate::Dispatcher::dispatch) is `Send`
/// and can be spawned on a multi-threaded runtime.
///
/// ```
/// use bookhook::endpoint::Request;
///
/// let headers = [("Authorization", "Bearer t0ken")];
/// let request = Request::post(&headers, br#"{"eventType":"BOOK"}"#.as_slice().into())
///     .with_query(Some("a=1&token=a%2Bb"));
/// assert_eq!(request.method(), "POST");
/// assert_eq!(request.body().len(), 20);
/// assert_eq!(request.query(), Some("a=1&token=a%2Bb"));
/// assert_eq!(request.query_param("token").as_deref(), Some(&b"a+b"[..]));
/// assert_eq!(request.headers().get_one("authorization"), Some(&b"Bearer t0ken"[..]));
/// ```
///
/// `Debug` shows the method and sizes only: the body and the query may carry
/// secrets (a token parameter).
#[derive(Clone)]
pub struct Request<'a> {
    method: &'a str,
    headers: &'a (dyn Headers + Sync),
    query: Option<&'a str>,
    body: Bytes,
}

impl<'a> Request<'a> {
    /// A request with any method.
    pub fn new(
        method: &'a str,
        headers: &'a (dyn Headers + Sync),
        query: Option<&'a str>,
        body: Bytes,
    ) -> Self {
        Self {
            method,
            headers,
            query,
            body,
        }
    }

    /// A POST request with no query string.
    pub fn post(headers: &'a (dyn Headers + Sync), body: Bytes) -> Self {
        Self::new("POST", headers, None, body)
    }

    /// Sets the raw query string (without `?`).
    #[must_use]
    pub fn with_query(mut self, query: Option<&'a str>) -> Self {
        self.query = query;
        self
    }

    /// The HTTP method.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request headers.
    pub fn headers(&self) -> &'a (dyn Headers + Sync) {
        self.headers
    }

    /// The raw query string, without `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The raw body, exactly as received.
    pub fn body(&self) -> &Bytes {
        &self.body
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

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body and the query may carry secrets (a token parameter): show sizes only.
        f.debug_struct("Request")
            .field("method", &self.method)
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
    use crate::headers::NoHeaders;

    fn with_query(query: &'static str) -> Request<'static> {
        Request::post(&NoHeaders, Bytes::new()).with_query(Some(query))
    }

    #[test]
    fn query_param_is_percent_decoded() {
        let request = with_query("x=1&token=a%2Bb+c&y");
        assert_eq!(request.query_param("token").as_deref(), Some(&b"a+b c"[..]));
        assert_eq!(request.query_param("y").as_deref(), Some(&b""[..]));
        assert_eq!(request.query_param("z"), None);
    }

    #[test]
    fn repeated_query_param_yields_every_value() {
        let request = with_query("token=a&x=1&token=b");
        let values: Vec<Vec<u8>> = request.query_params("token").collect();
        assert_eq!(values, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(request.query_param("token").as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn truncated_percent_escape_is_kept_literally() {
        let request = with_query("t=ab%2");
        assert_eq!(request.query_param("t").as_deref(), Some(&b"ab%2"[..]));
    }

    #[test]
    fn no_query_has_no_params() {
        let request = Request::post(&NoHeaders, Bytes::new());
        assert_eq!(request.query(), None);
        assert_eq!(request.query_params("token").count(), 0);
    }

    #[test]
    fn clone_shares_the_body() {
        let request = Request::post(&NoHeaders, Bytes::from(vec![7u8; 64]));
        let copy = request.clone();
        assert_eq!(copy.body().as_ptr(), request.body().as_ptr());
    }

    #[test]
    fn debug_shows_no_body_and_no_query() {
        let request = Request::post(&NoHeaders, Bytes::from_static(b"secret-body"))
            .with_query(Some("token=s3cr3t"));
        let shown = format!("{request:?}");
        assert!(!shown.contains("secret-body"));
        assert!(!shown.contains("s3cr3t"));
        assert!(shown.contains("POST"));
    }
}
