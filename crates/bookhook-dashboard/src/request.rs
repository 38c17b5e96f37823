//! The framework-free request the dashboard reads and the response it writes.

use bytes::Bytes;

/// The most bytes of a form body the dashboard reads; adapters stop reading
/// (and answer 413) beyond it.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// One HTTP request, as an adapter hands it to [`Dashboard::handle`](crate::Dashboard::handle).
///
/// `path` is the request's whole path, prefix included: the dashboard strips
/// its own prefix. Give it every header (or at least `authorization`,
/// `cookie`, `host`, `origin` and `sec-fetch-site`).
///
/// ```
/// use bookhook_dashboard::Request;
///
/// let request = Request::new("POST", "/inbox/events/7/replay")
///     .query("from=list")
///     .header("Cookie", "a=b")
///     .body("csrf=abc");
/// assert_eq!(request.method(), "POST");
/// assert_eq!(request.header_value("cookie"), Some("a=b"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Request {
    /// A request with no query, headers or body.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            ..Self::default()
        }
    }

    /// The query string, without its `?`.
    #[must_use]
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = query.into();
        self
    }

    /// Adds a header (names are compared without regard to case).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds every header of a framework's header map whose value is text;
    /// the others, which the dashboard never reads, are left out. This is
    /// how the adapters copy a request's headers.
    ///
    /// ```
    /// use bookhook_dashboard::Request;
    ///
    /// let headers = [("cookie", b"a=b".as_slice()), ("x-binary", b"\xff".as_slice())];
    /// let request = Request::new("GET", "/").headers(headers);
    /// assert_eq!(request.header_value("cookie"), Some("a=b"));
    /// assert_eq!(request.header_value("x-binary"), None);
    /// ```
    #[must_use]
    pub fn headers<'a>(mut self, headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        for (name, value) in headers {
            if let Ok(value) = std::str::from_utf8(value) {
                self = self.header(name, value);
            }
        }
        self
    }

    /// The body: an `application/x-www-form-urlencoded` form for actions.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The method, as given.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The first value of header `name`.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn query_str(&self) -> &str {
        &self.query
    }

    pub(crate) fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Every value of header `name` (cookies may come in several headers).
    pub(crate) fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The dashboard's answer: a status, headers and a body, for the adapter to
/// turn into its framework's response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Bytes,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.into(),
        }
    }

    pub(crate) fn html(status: u16, body: String) -> Self {
        Self::new(status, "text/html; charset=utf-8", body)
    }

    pub(crate) fn redirect(location: String) -> Self {
        let mut response = Self::new(303, "text/plain; charset=utf-8", "see other");
        response.headers.push(("location", location));
        response
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
