//! One `bookhook.delivery` span per delivery, a child of the caller's span
//! (a request span set by the user's middleware, carried onto the delivery's
//! task), around verification, the store calls and the handler: through
//! `WebhookService`, `WebhookLayer` and `InboxService`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use bookhook::testing::signed_request;
use bookhook::testing::spans::SpanRecorder;
use bookhook_axum::inbox::{InboxService, Ingest, MemoryInbox};
use bookhook_axum::{
    Context, Dispatcher, Endpoint, HandlerError, Provider, VerifiedEvent, WebhookLayer,
    WebhookService,
};
use tower::ServiceExt;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const BODY: &[u8] =
    br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-span"}}"#;
const USERS_SPAN: &str = "users_request_span";
const HANDLED: (&str, u16) = ("handled", 200);
const EVENT: Option<&str> = Some("booking.created");

fn endpoint() -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret("span-secret")
        .build()
        .unwrap()
}

/// Sends a signed request to `app` inside the user's request span, with
/// `recorder` installed, and returns the status.
fn send(recorder: &SpanRecorder, app: Router) -> u16 {
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let (headers, _) = signed_request(&endpoint(), BODY);
    let mut request = http::Request::post("/hook");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request.body(Body::from(BODY)).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let sent = app
            .oneshot(request)
            .instrument(tracing::info_span!(USERS_SPAN));
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(sent)
            .unwrap()
            .status()
            .as_u16()
    })
}

async fn users_handler(_ctx: Context) -> Result<(), HandlerError> {
    tracing::info!(target: "users_handler", "handled");
    Ok(())
}

#[test]
fn service_runs_the_delivery_in_one_span_under_the_callers_span() {
    let recorder = SpanRecorder::default();
    let dispatcher = Dispatcher::builder(endpoint())
        .fallback(users_handler)
        .build()
        .unwrap();
    let app = Router::new().route_service("/hook", WebhookService::new(dispatcher));
    assert_eq!(send(&recorder, app), 200);
    recorder.check_delivery(USERS_SPAN, HANDLED, EVENT, &["users_handler", "bookhook"]);
}

#[test]
fn layer_runs_the_users_handler_in_the_delivery_span() {
    let recorder = SpanRecorder::default();
    let handler = |_event: VerifiedEvent| async {
        tracing::info!(target: "users_handler", "handled");
        "ok"
    };
    let app = Router::new()
        .route("/hook", post(handler))
        .layer(WebhookLayer::new(endpoint()));
    assert_eq!(send(&recorder, app), 200);
    recorder.check_delivery(USERS_SPAN, HANDLED, EVENT, &["users_handler"]);
}

#[test]
fn inbox_service_stores_in_one_delivery_span() {
    let recorder = SpanRecorder::default();
    let ingest = Ingest::new(endpoint(), Arc::new(MemoryInbox::new()));
    let app = Router::new().route_service("/hook", InboxService::new(ingest));
    assert_eq!(send(&recorder, app), 200);
    recorder.check_delivery(USERS_SPAN, ("queued", 200), EVENT, &["bookhook"]);
}
