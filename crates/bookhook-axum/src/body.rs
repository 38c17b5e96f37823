//! Reading a request body within the endpoint's limits, and writing the core's responses.
use axum::body::{Body, HttpBody};
use axum::response::Response as AxumResponse;
use bookhook::{
    Endpoint,
    endpoint::{Finished, Rejection, Request, Response},
};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;

use crate::headers::HttpHeaders;

/// Reads the whole body within the endpoint's limits.
///
/// In order: a declared `Content-Length` above `endpoint.max_body()` gets
/// 413; then what the headers alone can refuse is refused
/// ([`Endpoint::precheck`]: method, signature header, token) before a byte
/// of the body is read; then the body is read, within the endpoint's body
/// timeout (408 past it) and its share of the unverified budget (503 with
/// `Retry-After` when spent), and cut off at the limit (413). Nothing is
/// allocated from the declared length: the buffer grows with what arrives.
pub(crate) async fn read_limited(
    endpoint: &Endpoint,
    parts: &Parts,
    mut body: Body,
) -> Result<Bytes, Finished> {
    let limit = endpoint.max_body();
    let too_large = || endpoint.reject(Rejection::PayloadTooLarge { limit });
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if declared_length(&parts.headers).is_some_and(|length| length > limit_u64)
        || body.size_hint().lower() > limit_u64
    {
        return Err(too_large());
    }
    let headers = HttpHeaders::new(&parts.headers);
    endpoint.precheck(&Request::new(
        parts.method.as_str(),
        &headers,
        parts.uri.query(),
        Bytes::new(),
    ))?;

    let timeout = endpoint.body_timeout();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut hold = endpoint.unverified_budget().hold();
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_elapsed) => {
                return Err(endpoint.reject(Rejection::BodyTimeout { after: timeout }));
            }
            Ok(None) => break,
            Ok(Some(Err(err))) => {
                tracing::debug!(error = %err, "webhook request body could not be read");
                return Err(endpoint.reject(Rejection::IncompleteBody));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let needed = buffer.len().saturating_add(data.len());
        if needed > limit {
            return Err(too_large());
        }
        if needed > buffer.capacity() {
            // Grow by doubling (bounded by the limit), and count what is
            // allocated, not what was declared.
            let target = needed.max(buffer.capacity().saturating_mul(2)).min(limit);
            if hold.grow(target - buffer.capacity()).is_err() {
                return Err(endpoint.reject(Rejection::Busy {
                    limit: "unverified_bytes",
                    retry_after: bookhook::front_door::BUSY_RETRY_AFTER,
                }));
            }
            buffer.reserve_exact(target - buffer.len());
        }
        buffer.extend_from_slice(&data);
    }
    Ok(Bytes::from(buffer))
}

/// The declared `Content-Length`, when it is a single valid number.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// The core's response as an axum response: status, JSON body, `Retry-After`.
pub(crate) fn into_axum(response: Response) -> AxumResponse {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = AxumResponse::new(Body::from(response.body));
    *out.status_mut() = status;
    out.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(Response::CONTENT_TYPE),
    );
    if let Some(seconds) = response.retry_after {
        out.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook::{Outcome, Provider, endpoint::UnverifiedBudget};
    use std::time::Duration;

    fn endpoint(max_body: usize) -> Endpoint {
        Endpoint::builder(Provider::Calendence)
            .unverified()
            .max_body(max_body)
            .build()
            .unwrap()
    }

    fn post(headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::post("/webhook");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[tokio::test]
    async fn body_within_the_limit_is_read_whole() {
        let bytes = read_limited(&endpoint(4), &post(&[]), Body::from("abcd"))
            .await
            .unwrap();
        assert_eq!(bytes, Bytes::from_static(b"abcd"));
    }

    #[tokio::test]
    async fn declared_length_above_the_limit_is_refused_unread() {
        // The body itself is empty: only the declaration can have refused it.
        let refused = read_limited(
            &endpoint(4),
            &post(&[("content-length", "5")]),
            Body::empty(),
        )
        .await
        .unwrap_err();
        assert_eq!(refused.status(), 413);
    }

    #[tokio::test]
    async fn unsigned_request_is_refused_before_its_body_is_read() {
        let signed = Endpoint::builder(Provider::Calendence)
            .secret("s3cr3t")
            .build()
            .unwrap();
        // A body that never ends: reading it would hang the test.
        let never =
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
        let refused = read_limited(&signed, &post(&[]), never).await.unwrap_err();
        assert_eq!(refused.status(), 401);
    }

    #[tokio::test]
    async fn wrong_token_is_refused_before_its_body_is_read() {
        let orufy = Endpoint::builder(Provider::Orufy)
            .secret("t0ken")
            .build()
            .unwrap();
        let never =
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
        let refused = read_limited(&orufy, &post(&[("authorization", "Bearer nope")]), never)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), 401);
    }

    #[tokio::test(start_paused = true)]
    async fn stalled_body_gets_408_at_the_body_timeout() {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .unverified()
            .body_timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let first =
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(b"{"))]);
        let stalled = futures_util::StreamExt::chain(first, futures_util::stream::pending());
        let started = tokio::time::Instant::now();
        let refused = read_limited(&endpoint, &post(&[]), Body::from_stream(stalled))
            .await
            .unwrap_err();
        assert_eq!(refused.status(), 408);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn spent_budget_gets_503_with_retry_after_and_is_given_back() {
        let budget = UnverifiedBudget::new(6);
        let endpoint = Endpoint::builder(Provider::Calendence)
            .unverified()
            .unverified_budget(budget.clone())
            .build()
            .unwrap();
        let mut elsewhere = budget.hold();
        elsewhere.grow(4).unwrap();
        let refused = read_limited(&endpoint, &post(&[]), Body::from("abcd"))
            .await
            .unwrap_err();
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.response().retry_after, Some(5));
        assert_eq!(budget.in_use(), 4);
        drop(elsewhere);
        let read = read_limited(&endpoint, &post(&[]), Body::from("abcd")).await;
        assert_eq!(read.unwrap(), Bytes::from_static(b"abcd"));
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn stream_longer_than_the_limit_is_cut_off() {
        let chunks = futures_util::stream::iter(vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"def")),
        ]);
        let refused = read_limited(&endpoint(4), &post(&[]), Body::from_stream(chunks))
            .await
            .unwrap_err();
        assert_eq!(refused.status(), 413);
        assert!(refused.response().body.contains("payload_too_large"));
    }

    #[tokio::test]
    async fn broken_stream_is_unreadable() {
        let chunks = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"ab")),
            Err(std::io::Error::other("connection reset")),
        ]);
        let refused = read_limited(&endpoint(64), &post(&[]), Body::from_stream(chunks))
            .await
            .unwrap_err();
        assert_eq!(refused.status(), 400);
        assert!(refused.response().body.contains("incomplete_body"));
    }

    #[test]
    fn response_carries_status_type_and_retry_after() {
        let response = into_axum(
            Outcome::InFlight {
                retry_after: Duration::from_secs(7),
            }
            .response(),
        );
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[RETRY_AFTER], "7");
        let handled = into_axum(Outcome::Handled.response());
        assert_eq!(handled.status(), StatusCode::OK);
        assert!(handled.headers().get(RETRY_AFTER).is_none());
    }
}
