//! Builds the test requests for the shared conformance table's cases, and
//! reads what came back, for every test that sends the table through
//! actix-web.

use std::pin::Pin;

use actix_web::dev::{Payload, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::Method;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use actix_web::test::{self, TestRequest};
use bookhook_actix::bookhook::testing::conformance::{Answered, Case};
use bytes::Bytes;
use futures_util::Stream;

/// A test request for `case`: with a `Content-Length`, or streamed without one.
pub(crate) fn request(case: &Case) -> actix_http::Request {
    let uri = match &case.query {
        Some(query) => format!("{}?{query}", case.path),
        None => case.path.to_owned(),
    };
    let method = Method::from_bytes(case.method.as_bytes()).expect("a valid method");
    let mut request = TestRequest::default().method(method).uri(&uri);
    for (name, value) in &case.headers {
        request = request.append_header((name.as_str(), value.as_str()));
    }
    if case.declare_length {
        return request.set_payload(case.body.clone()).to_request();
    }
    let request = request.to_request();
    assert!(!request.head().headers.contains_key("content-length"));
    let (request, _) = request.replace_payload(streamed(&case.body));
    request
}

/// `body` as a stream of small chunks, with no length known in advance.
pub(crate) fn streamed(body: &[u8]) -> Payload {
    let chunks: Vec<Result<Bytes, PayloadError>> = body
        .chunks(4096)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(futures_util::stream::iter(chunks));
    Payload::from(stream)
}

/// All of `response`, for [`Conformance::check_answered`](bookhook_actix::bookhook::testing::conformance::Conformance::check_answered).
pub(crate) async fn answered(response: ServiceResponse) -> Answered {
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or("not ascii").to_owned())
    };
    let status = response.status().as_u16();
    let content_type = header(CONTENT_TYPE);
    let retry_after = header(RETRY_AFTER);
    let body = test::read_body(response).await;
    Answered {
        status,
        content_type,
        retry_after,
        body,
    }
}
