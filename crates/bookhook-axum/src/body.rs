//! Reading a request body within the endpoint's limit, and writing the core's responses.

use axum::body::{Body, HttpBody};
use axum::response::Response as AxumResponse;
use bookhook::{Endpoint, Finished, Rejection, Response};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Reads the whole body, refusing it with 413 once it passes `endpoint.max_body()`.
///
/// A declared `Content-Length` above the limit is refused before a byte is
/// read; a body of unknown length is cut off at the limit.
pub(crate) async fn read_limited(
    endpoint: &Endpoint,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Finished> {
    let limit = endpoint.max_body();
    let too_large = || endpoint.reject(Rejection::PayloadTooLarge { limit });
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if declared_length(headers).is_some_and(|length| length > limit_u64)
        || body.size_hint().lower() > limit_u64
    {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(err) => {
            tracing::debug!(error = %err, "webhook request body could not be read");
            Err(endpoint.reject(Rejection::IncompleteBody))
        }
    }
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
    use bookhook::{Outcome, Provider};
    use std::time::Duration;

    fn endpoint(max_body: usize) -> Endpoint {
        Endpoint::builder(Provider::Calendence)
            .secret("s3cr3t")
            .max_body(max_body)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn body_within_the_limit_is_read_whole() {
        let bytes = read_limited(&endpoint(4), &HeaderMap::new(), Body::from("abcd"))
            .await
            .unwrap();
        assert_eq!(bytes, Bytes::from_static(b"abcd"));
    }

    #[tokio::test]
    async fn declared_length_above_the_limit_is_refused_unread() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(5_u64));
        // The body itself is empty: only the declaration can have refused it.
        let refused = read_limited(&endpoint(4), &headers, Body::empty())
            .await
            .unwrap_err();
        assert_eq!(refused.status(), 413);
    }

    #[tokio::test]
    async fn stream_longer_than_the_limit_is_cut_off() {
        let chunks = futures_util::stream::iter(vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"def")),
        ]);
        let refused = read_limited(&endpoint(4), &HeaderMap::new(), Body::from_stream(chunks))
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
        let refused = read_limited(&endpoint(64), &HeaderMap::new(), Body::from_stream(chunks))
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
