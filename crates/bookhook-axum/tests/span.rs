//! One `bookhook.delivery` span per delivery, a child of the caller's span
//! (a request span set by the user's middleware, carried onto the delivery's
//! task), around verification, the store calls and the handler: through
//! `WebhookService`, `WebhookLayer` and `InboxService`, by the checks of
//! `bookhook::testing::spans`, which actix-web's entry points pass too.

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use bookhook::testing::spans::{self, PATH, SpanRequest, USERS_HANDLER};
use bookhook_axum::inbox::InboxService;
use bookhook_axum::{VerifiedEvent, WebhookLayer, WebhookService};
use tower::ServiceExt;
use tracing::Instrument;

/// Sends the request to `app` inside the user's request span, and returns the status.
fn send(app: Router, request: SpanRequest) -> u16 {
    let mut sent = http::Request::post(PATH);
    for (name, value) in request.headers {
        sent = sent.header(name, value);
    }
    let sent = app
        .oneshot(sent.body(Body::from(request.body)).unwrap())
        .instrument(request.span);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(sent)
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn service_runs_the_delivery_in_one_span_under_the_callers_span() {
    spans::check_dispatcher(|dispatcher, request| {
        let app = Router::new().route_service(PATH, WebhookService::new(dispatcher));
        send(app, request)
    });
}

#[test]
fn layer_runs_the_users_handler_in_the_delivery_span() {
    spans::check_layer(|endpoint, request| {
        let handler = |_event: VerifiedEvent| async {
            tracing::info!(target: USERS_HANDLER, "handled");
            "ok"
        };
        let app = Router::new()
            .route(PATH, post(handler))
            .layer(WebhookLayer::new(endpoint));
        send(app, request)
    });
}

#[test]
fn inbox_service_stores_in_one_delivery_span() {
    spans::check_inbox(|ingest, request| {
        let app = Router::new().route_service(PATH, InboxService::new(ingest));
        send(app, request)
    });
}
