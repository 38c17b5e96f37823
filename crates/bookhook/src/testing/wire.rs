//! Raw HTTP/1.1 on a socket, for the front-door tests every server kind runs
//! and the tests that kill a server under load: a request as bytes (signed
//! here or elsewhere), a head that stalls, a reply read to the end, its
//! status, and the check that a delivery still gets its 200 while others
//! stall.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::endpoint::Endpoint;

/// The start of a request that stops in the middle of its headers.
pub const PARTIAL_HEADERS: &[u8] = b"POST /webhook HTTP/1.1\r\nHost: test\r\nContent-Le";

/// How long [`read_to_close`] reads at the most.
const READ_BOUND: Duration = Duration::from_secs(10);

/// A `POST /webhook` of `body`, signed for `endpoint`, with
/// `Connection: close`, as the bytes a client writes on the socket.
///
/// ```
/// use bookhook::{Endpoint, Provider};
///
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build().unwrap();
/// let request = bookhook::testing::wire::signed_post(&endpoint, "{}");
/// let text = String::from_utf8(request).unwrap();
/// assert!(text.starts_with("POST /webhook HTTP/1.1\r\n"));
/// assert!(text.contains("Content-Length: 2\r\n"));
/// assert!(text.ends_with("\r\n\r\n{}"));
/// ```
pub fn signed_post(endpoint: &Endpoint, body: &str) -> Vec<u8> {
    let (headers, _query) = super::signed_request(endpoint, body.as_bytes());
    post_bytes("/webhook", &headers, body.as_bytes())
}

/// A `POST` of `body` to `path` with `headers`, `Host: test`, a
/// `Content-Length` and `Connection: close`, as the bytes a client writes
/// on the socket: for requests signed elsewhere, or sent to another path.
///
/// ```
/// let headers = vec![("x-calendence-signature".to_owned(), "sha256=00".to_owned())];
/// let request = bookhook::testing::wire::post_bytes("/webhook/calendence", &headers, b"{}");
/// let text = String::from_utf8(request).unwrap();
/// assert!(text.starts_with("POST /webhook/calendence HTTP/1.1\r\n"));
/// assert!(text.contains("x-calendence-signature: sha256=00\r\n"));
/// assert!(text.ends_with("\r\n\r\n{}"));
/// ```
pub fn post_bytes(path: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    request
}

/// Writes `request` on `stream` (a fresh connection), reads the answer
/// until the peer closes it (10 s at the most, as [`read_to_close`]), and
/// returns its status code: `None` if the write failed or no status line
/// came back, as when the server died.
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (mut client, mut server) = tokio::io::duplex(4096);
/// tokio::spawn(async move {
///     let mut head = [0u8; 64];
///     let _ = server.read(&mut head).await;
///     server.write_all(b"HTTP/1.1 503 Service Unavailable\r\n\r\n").await.unwrap();
/// });
/// let request = bookhook::testing::wire::post_bytes("/webhook", &[], b"{}");
/// assert_eq!(bookhook::testing::wire::status_of(&mut client, &request).await, Some(503));
/// # });
/// ```
pub async fn status_of<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
) -> Option<u16> {
    stream.write_all(request).await.ok()?;
    let (reply, _) = read_to_close(stream).await;
    let status_line = reply.strip_prefix("HTTP/")?;
    status_line.split(' ').nth(1)?.parse().ok()
}

/// Reads `stream` until the peer closes it, an error, or 10 s; returns what
/// was read (as text, lossily) and how long it took.
pub async fn read_to_close<S: AsyncRead + Unpin>(stream: &mut S) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = READ_BOUND.checked_sub(started.elapsed()) {
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// Sends a delivery signed for `endpoint` on `stream` (a fresh connection)
/// and checks that it is answered `200` within 5 s: what a server must still
/// do while other clients hold connections open with stalled heads or bodies.
///
/// # Panics
///
/// If the write fails, or the answer is not a 200 within 5 s.
pub async fn check_delivery_answered<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    endpoint: &Endpoint,
    body: &str,
) {
    let started = Instant::now();
    stream
        .write_all(&signed_post(endpoint, body))
        .await
        .expect("the request is written");
    let (reply, _) = read_to_close(stream).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered after {:?}",
        started.elapsed()
    );
}
