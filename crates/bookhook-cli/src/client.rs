//! The HTTP client of `send` and `inbox replay --to`: reqwest over HTTP/1.1,
//! with rustls (and its `ring` provider) for `https://` URLs.
//!
//! An `https://` receiver must show a certificate that chains to a root the
//! system trusts: the roots of the operating system's store, or the PEM file
//! named by `SSL_CERT_FILE` (or the directories of `SSL_CERT_DIR`) instead.
//! No proxy is used and redirects are not followed: the status printed is
//! the receiver's own.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};

/// The longest response read; the rest is ignored.
const MAX_RESPONSE: usize = 1024 * 1024;

/// Where to send: an `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    url: reqwest::Url,
    /// The URL as messages name it: scheme, host, port and path, without
    /// the query (which may carry a token once signed).
    shown: String,
}

impl Target {
    /// Parses an `http[s]://host[:port][/path][?query]` URL.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        // A URL with credentials is not echoed: it would print the password.
        let echo = if url.contains('@') { "" } else { url };
        let bad = |why: &str| format!("invalid url `{echo}`: {why}");
        if url
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b >= 0x80)
        {
            return Err(bad("it holds spaces, control or non-ascii characters"));
        }
        let mut parsed = reqwest::Url::parse(url).map_err(|err| bad(&err.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("only http:// and https:// urls are supported"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("credentials in the url are not supported"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        parsed.set_fragment(None);
        let mut shown = parsed.clone();
        shown.set_query(None);
        Ok(Self {
            url: parsed,
            shown: shown.into(),
        })
    }

    /// The same target with `fragment` (`name=value`) appended to the query.
    pub(crate) fn with_query(&self, fragment: Option<&str>) -> Self {
        let mut target = self.clone();
        if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
            let query = match target.url.query().filter(|q| !q.is_empty()) {
                Some(query) => format!("{query}&{fragment}"),
                None => fragment.to_owned(),
            };
            target.url.set_query(Some(&query));
        }
        target
    }

    fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// The response body (lossy UTF-8), possibly cut at the read limit.
    pub(crate) body: String,
}

/// One client for every request of a command: connections are reused.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    inner: reqwest::Client,
    timeout: Duration,
    /// Why no root certificate is trusted, when none could be loaded.
    no_roots: Option<String>,
}

impl Client {
    /// A client for `target`, each exchange bounded by `timeout`. The
    /// trusted roots are read only when the target is `https://`.
    pub(crate) fn new(target: &Target, timeout: Duration) -> Result<Self, String> {
        // The process's one TLS provider; a second call finds it installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (roots, no_roots) = if target.is_https() {
            trusted_roots()
        } else {
            (Vec::new(), None)
        };
        let inner = reqwest::Client::builder()
            .user_agent(concat!("bookhook/", env!("CARGO_PKG_VERSION")))
            .http1_only()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_only(roots)
            .build()
            .map_err(|err| format!("cannot set up the http client: {}", chain(&err)))?;
        Ok(Self {
            inner,
            timeout,
            no_roots,
        })
    }

    /// POSTs `body` with `headers` (after `Content-Type: application/json`)
    /// and waits at most the client's timeout for the whole exchange.
    pub(crate) async fn post(
        &self,
        target: &Target,
        headers: &[(String, String)],
        body: &Bytes,
    ) -> Result<Reply, String> {
        let mut request = self
            .inner
            .post(target.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name `{name}`"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for the header `{name}`"))?;
            request = request.header(name, value);
        }
        let exchange = async {
            let mut response = request
                .body(body.clone())
                .send()
                .await
                .map_err(|err| self.describe(target, &err))?;
            let status = response.status().as_u16();
            let mut read = Vec::new();
            while read.len() < MAX_RESPONSE {
                match response.chunk().await {
                    Ok(Some(chunk)) => read.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(err) => {
                        return Err(format!(
                            "cannot read the response of {}: {}",
                            target.shown,
                            chain(&err)
                        ));
                    }
                }
            }
            read.truncate(MAX_RESPONSE);
            Ok(Reply {
                status,
                body: String::from_utf8_lossy(&read).into_owned(),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                format!(
                    "no complete response from {} within {} s; check that the receiver answers there",
                    target.shown,
                    self.timeout.as_secs_f64()
                )
            })?
    }

    /// One line on a failed request: what failed, where, and what to do.
    fn describe(&self, target: &Target, err: &reqwest::Error) -> String {
        let to = &target.shown;
        if let Some(tls) = tls_error(err) {
            let hint = match (&self.no_roots, tls) {
                (Some(why), _) => why.clone(),
                (None, rustls::Error::InvalidCertificate(_)) => {
                    "the receiver's certificate is not trusted here: set SSL_CERT_FILE to a PEM \
                     file with its certificate authority, or send to its http:// url"
                        .to_owned()
                }
                (None, _) => "check that the receiver speaks https on that port".to_owned(),
            };
            return format!("tls handshake with {to} failed: {tls}; {hint}");
        }
        if refused(err) {
            return format!(
                "cannot connect to {to}: connection refused; check that the receiver runs and listens there"
            );
        }
        if err.is_connect() {
            return format!(
                "cannot connect to {to}: {}; check the host and port, and that the receiver runs",
                chain(err)
            );
        }
        format!("request to {to} failed: {}", chain(err))
    }
}

/// The roots to trust: the system's, or `SSL_CERT_FILE` / `SSL_CERT_DIR`.
/// With none, the reason and what to do.
fn trusted_roots() -> (Vec<reqwest::Certificate>, Option<String>) {
    let loaded = rustls_native_certs::load_native_certs();
    let roots: Vec<reqwest::Certificate> = loaded
        .certs
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
        .collect();
    if !roots.is_empty() {
        return (roots, None);
    }
    let why = match loaded.errors.first() {
        Some(err) => format!("no trusted root certificate could be loaded ({err})"),
        None => "no trusted root certificate was found".to_owned(),
    };
    (
        roots,
        Some(format!(
            "{why}: install the system's ca-certificates, or set SSL_CERT_FILE to a PEM file"
        )),
    )
}

/// `err` and its causes, outermost first. An `io::Error` that wraps another
/// error is followed into it: its own `source` skips the wrapped error.
fn causes(err: &reqwest::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut found = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = next {
        found.push(current);
        next = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    found
}

/// The rustls error behind a failed request, if the handshake failed.
fn tls_error(err: &reqwest::Error) -> Option<&rustls::Error> {
    causes(err)
        .into_iter()
        .find_map(|cause| cause.downcast_ref::<rustls::Error>())
}

/// Whether the receiver's host refused the connection.
fn refused(err: &reqwest::Error) -> bool {
    causes(err).into_iter().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

/// The innermost cause of `err`: the one that says what happened (reqwest's
/// own outer messages name the URL, which the caller names already).
fn chain(err: &reqwest::Error) -> String {
    causes(err)
        .last()
        .map_or_else(|| err.to_string(), |cause| cause.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_and_https_urls() {
        let target = Target::parse("http://127.0.0.1:5000/webhook?x=1").unwrap();
        assert_eq!(target.url.as_str(), "http://127.0.0.1:5000/webhook?x=1");
        assert_eq!(target.shown, "http://127.0.0.1:5000/webhook");

        let target = Target::parse("HTTPS://localhost").unwrap();
        assert!(target.is_https());
        assert_eq!(target.url.as_str(), "https://localhost/");

        let target = Target::parse("http://[::1]:8080?token=t#frag").unwrap();
        assert_eq!(target.url.as_str(), "http://[::1]:8080/?token=t");
        assert_eq!(target.shown, "http://[::1]:8080/");
    }

    #[test]
    fn refuses_what_it_cannot_send() {
        for url in [
            "ftp://x",
            "http://",
            "http://:80/",
            "http://host:port/",
            "http://host:99999/",
            "http://host/a b",
            "http://host/a\r\nX: y",
            "http://[::1/",
            "h",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
        let err = Target::parse("https://user:hunter2@host/").unwrap_err();
        assert!(err.contains("credentials"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn appends_a_query_fragment() {
        let target = Target::parse("http://h/p").unwrap();
        let signed = target.with_query(Some("token=t"));
        assert_eq!(signed.url.as_str(), "http://h/p?token=t");
        assert_eq!(signed.shown, "http://h/p", "the token is never shown");
        let target = Target::parse("http://h/p?a=1").unwrap();
        assert_eq!(
            target.with_query(Some("token=t")).url.as_str(),
            "http://h/p?a=1&token=t"
        );
        assert_eq!(target.with_query(None), target);
    }

    #[tokio::test]
    async fn reads_the_status_and_body() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.ends_with(b"{}") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            socket
                .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 7\r\n\r\n{\"x\":1}")
                .await
                .unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        let target = Target::parse(&format!("http://{addr}/hook")).unwrap();
        let client = Client::new(&target, Duration::from_secs(10)).unwrap();
        let headers = [("x-sig".to_owned(), "v1=abc".to_owned())];
        let reply = client
            .post(&target, &headers, &Bytes::from_static(b"{}"))
            .await
            .unwrap();
        assert_eq!(
            reply,
            Reply {
                status: 401,
                body: "{\"x\":1}".into()
            }
        );
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(request.starts_with("post /hook http/1.1\r\n"), "{request}");
        assert!(
            request.contains("content-type: application/json"),
            "{request}"
        );
        assert!(request.contains("x-sig: v1=abc"), "{request}");
        assert!(request.contains("user-agent: bookhook/"), "{request}");
    }

    /// POSTs `{}` without headers to `url` with a client of its own.
    async fn post_empty(url: &str, timeout: Duration) -> Result<Reply, String> {
        let target = Target::parse(url).unwrap();
        let client = Client::new(&target, timeout).unwrap();
        client.post(&target, &[], &Bytes::from_static(b"{}")).await
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_times_out_with_one_line() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts and holds the connection without answering.
        let server = tokio::spawn(async move {
            let held = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(held);
        });
        let err = post_empty(&format!("http://{addr}/hook"), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            format!(
                "no complete response from http://{addr}/hook within 0.3 s; check that the receiver answers there"
            )
        );
        server.abort();
    }

    #[tokio::test]
    async fn a_closed_port_is_a_refused_connection() {
        let port = {
            let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            socket.local_addr().unwrap().port()
        };
        let err = post_empty(
            &format!("http://127.0.0.1:{port}/hook"),
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            format!(
                "cannot connect to http://127.0.0.1:{port}/hook: connection refused; check that the receiver runs and listens there"
            )
        );
    }
}
