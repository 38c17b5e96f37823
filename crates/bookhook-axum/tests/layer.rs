//! `WebhookLayer` and the `VerifiedEvent` extractor around a handler of the user's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::post;
use bookhook::testing::signed_request;
use bookhook_axum::bookhook::idempotency::Freshness;
use bookhook_axum::{Endpoint, Kind, Provider, VerifiedEvent, WebhookLayer};
use http::StatusCode;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Event type, kind, appointment id, and whether it was the latest.
type Sighting = (String, Kind, String, bool);

#[derive(Clone, Default)]
struct Seen {
    calls: Arc<AtomicUsize>,
    last: Arc<std::sync::Mutex<Option<Sighting>>>,
}

async fn handler(State(seen): State<Seen>, event: VerifiedEvent) -> (StatusCode, &'static str) {
    let call = seen.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let id = event
        .appointment()
        .map(|a| a.id.clone())
        .unwrap_or_default();
    *seen.last.lock().unwrap() = Some((
        event.delivery().event_type().to_owned(),
        event.kind(),
        id.clone(),
        event.freshness() == Freshness::Latest,
    ));
    if id == "panics-first" && call == 1 {
        panic!("inner handler panics on purpose");
    }
    if id == "fails-first" && call == 1 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "not now");
    }
    (StatusCode::ACCEPTED, "done by the handler")
}

fn endpoint() -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret("layer-secret")
        .max_body(4096)
        .build()
        .unwrap()
}

fn app(endpoint: &Endpoint, seen: &Seen) -> Router {
    Router::new()
        .route("/hook", post(handler))
        .layer(WebhookLayer::new(endpoint.clone()))
        .with_state(seen.clone())
}

fn booking(event: &str, id: &str) -> Vec<u8> {
    serde_json::json!({
        "event": event,
        "timestamp": "2026-03-24T14:30:00+00:00",
        "data": {"id": id, "status": "confirmed"}
    })
    .to_string()
    .into_bytes()
}

fn signed(endpoint: &Endpoint, body: &[u8]) -> http::Request<Body> {
    let (headers, _query) = signed_request(endpoint, body);
    let mut builder = http::Request::post("/hook");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body.to_vec())).unwrap()
}

async fn send(app: &Router, request: http::Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn handled_event_reaches_the_inner_handler_typed() {
    let endpoint = endpoint();
    let seen = Seen::default();
    let app = app(&endpoint, &seen);
    let body = booking("booking.cancelled", "b-7");
    let (status, text) = send(&app, signed(&endpoint, &body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        text, "done by the handler",
        "the inner response passes unchanged"
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        seen.last.lock().unwrap().clone(),
        Some((
            "booking.cancelled".to_owned(),
            Kind::Cancelled,
            "b-7".to_owned(),
            true
        ))
    );
}

#[tokio::test]
async fn duplicate_does_not_call_the_inner_handler() {
    let endpoint = endpoint();
    let seen = Seen::default();
    let app = app(&endpoint, &seen);
    let body = booking("booking.created", "b-8");
    assert_eq!(
        send(&app, signed(&endpoint, &body)).await.0,
        StatusCode::ACCEPTED
    );
    let (status, text) = send(&app, signed(&endpoint, &body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, r#"{"status":"duplicate"}"#);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn failed_inner_handler_releases_the_claim() {
    let endpoint = endpoint();
    let seen = Seen::default();
    let app = app(&endpoint, &seen);
    let body = booking("booking.created", "fails-first");
    let (status, text) = send(&app, signed(&endpoint, &body)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(text, "not now", "the inner response passes unchanged");
    let (status, _) = send(&app, signed(&endpoint, &body)).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the retry ran the handler again"
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 2);
    let (status, _) = send(&app, signed(&endpoint, &body)).await;
    assert_eq!(status, StatusCode::OK, "then it is a duplicate");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn panicking_inner_handler_releases_the_claim() {
    let endpoint = endpoint();
    let seen = Seen::default();
    let app = app(&endpoint, &seen);
    let body = booking("booking.created", "panics-first");
    let (status, text) = send(&app, signed(&endpoint, &body)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(text.contains(r#""error":"handler_failed""#), "{text}");
    let (status, _) = send(&app, signed(&endpoint, &body)).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the retry ran the handler again"
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn unsigned_request_is_refused_by_the_layer() {
    let endpoint = endpoint();
    let seen = Seen::default();
    let app = app(&endpoint, &seen);
    let request = http::Request::post("/hook")
        .body(Body::from(booking("booking.created", "b-9")))
        .unwrap();
    let (status, text) = send(&app, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains(r#""error":"invalid_signature""#), "{text}");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn oversized_body_is_refused_before_the_handler() {
    let endpoint = endpoint();
    let seen = Seen::default();
    let app = app(&endpoint, &seen);
    let body = vec![b' '; 4097];
    let (status, text) = send(&app, signed(&endpoint, &body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text.contains("payload_too_large"), "{text}");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn extractor_without_the_layer_answers_500_json() {
    async fn bare(event: VerifiedEvent) -> String {
        event.delivery().event_type().to_owned()
    }
    let app: Router = Router::new().route("/hook", post(bare));
    let request = http::Request::post("/hook").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.headers()[http::header::CONTENT_TYPE],
        "application/json"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"], "missing_webhook_layer");
}

#[tokio::test]
async fn optional_extractor_sees_none_without_the_layer() {
    async fn optional(event: Option<VerifiedEvent>) -> &'static str {
        if event.is_some() { "some" } else { "none" }
    }
    let app: Router = Router::new().route("/hook", post(optional));
    let request = http::Request::post("/hook").body(Body::empty()).unwrap();
    let (status, text) = send(&app, request).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "none"));
}
