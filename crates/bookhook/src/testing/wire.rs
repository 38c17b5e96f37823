//! Raw HTTP/1.1 on a socket, for the front-door tests every server kind runs:
//! a signed request as bytes, a head that stalls, a reply read to the end,
//! and the check that a delivery still gets its 200 while others stall.

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
    let mut request = format!(
        "POST /webhook HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    request.into_bytes()
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
