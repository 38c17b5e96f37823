//! The shared conformance table, run through an axum `Router`.

use axum::Router;
use axum::body::Body;
use bookhook::testing::conformance::{Case, Conformance};
use bookhook_axum::WebhookService;
use bytes::Bytes;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn request(case: &Case) -> http::Request<Body> {
    let uri = match &case.query {
        Some(query) => format!("{}?{query}", case.path),
        None => case.path.to_owned(),
    };
    let mut builder = http::Request::builder().method(case.method).uri(uri);
    for (name, value) in &case.headers {
        builder = builder.header(name, value);
    }
    let body = if case.declare_length {
        builder = builder.header(http::header::CONTENT_LENGTH, case.body.len());
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
        use axum::body::HttpBody as _;
        assert!(!request.headers().contains_key(http::header::CONTENT_LENGTH));
        assert_eq!(request.body().size_hint().exact(), None, "{}", case.name);
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_table() {
    let conformance = Conformance::new().await;
    let mut app = Router::new();
    for mount in &conformance.mounts {
        app = app.route_service(mount.path, WebhookService::new(mount.dispatcher.clone()));
    }
    assert!(!conformance.cases.is_empty());
    for case in &conformance.cases {
        let response = app
            .clone()
            .oneshot(request(case))
            .await
            .expect("infallible");
        let status = response.status().as_u16();
        let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .map(|value| value.to_str().unwrap_or("not ascii").to_owned());
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        conformance.check(case, status, &body, retry_after.as_deref());
        assert_eq!(
            content_type.as_ref().map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "case `{}`: content type",
            case.name
        );
    }
    conformance.check_handler_runs();
}
