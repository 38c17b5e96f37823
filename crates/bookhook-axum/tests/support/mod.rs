//! Sends the shared conformance table's cases through an axum `Router`, for
//! every test that runs the table.

use axum::Router;
use axum::body::{Body, HttpBody as _};
use bookhook::testing::conformance::{Answered, Case};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A request for `case`: with a `Content-Length`, or streamed without one.
pub(crate) fn request(case: &Case) -> http::Request<Body> {
    let uri = match &case.query {
        Some(query) => format!("{}?{query}", case.path),
        None => case.path.to_owned(),
    };
    let mut builder = http::Request::builder().method(case.method).uri(uri);
    for (name, value) in &case.headers {
        builder = builder.header(name, value);
    }
    let body = if case.declare_length {
        builder = builder.header(CONTENT_LENGTH, case.body.len());
        Body::from(case.body.clone())
    } else {
        // A stream of small chunks, with no length known in advance.
        let chunks: Vec<Result<Bytes, std::io::Error>> = case
            .body
            .chunks(1000)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    };
    let request = builder.body(body).expect("a valid request");
    if !case.declare_length {
        assert!(!request.headers().contains_key(CONTENT_LENGTH));
        assert_eq!(request.body().size_hint().exact(), None, "{}", case.name);
    }
    request
}

/// Sends [`request`]`(case)` to `app` and reads the whole answer.
pub(crate) async fn send(app: &Router, case: &Case) -> Answered {
    let response = app
        .clone()
        .oneshot(request(case))
        .await
        .expect("infallible");
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|value: &http::HeaderValue| value.to_str().unwrap_or("not ascii").to_owned())
    };
    let status = response.status().as_u16();
    let content_type = header(CONTENT_TYPE);
    let retry_after = header(RETRY_AFTER);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answered {
        status,
        content_type,
        retry_after,
        body,
    }
}
