//! One `bookhook.delivery` span per delivery, a child of the caller's span
//! (a request span set by the user's middleware, carried onto the delivery's
//! task), around verification, the store calls and the handler: through
//! `resource`, `WebhookLayer` and `inbox_resource`, by the checks of
//! `bookhook::testing::spans`, which axum's entry points pass too.

use actix_web::dev::{HttpServiceFactory, Service};
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use bookhook_actix::bookhook::testing::spans::{self, PATH, SpanRequest, USERS_HANDLER};
use bookhook_actix::{VerifiedEvent, WebhookLayer};
use tracing::Instrument;

/// Sends the request to an app serving `service`, inside the user's request
/// span, and returns the status.
fn send<F>(service: F, request: SpanRequest) -> u16
where
    F: HttpServiceFactory + 'static,
{
    actix_web::rt::System::new().block_on(async move {
        let app = test::init_service(App::new().service(service)).await;
        let mut sent = TestRequest::post().uri(PATH).set_payload(request.body);
        for header in request.headers {
            sent = sent.insert_header(header);
        }
        let called = app.call(sent.to_request()).instrument(request.span);
        called.await.unwrap().status().as_u16()
    })
}

#[test]
fn resource_runs_the_delivery_in_one_span_under_the_callers_span() {
    spans::check_dispatcher(|dispatcher, request| {
        send(bookhook_actix::resource(PATH, dispatcher), request)
    });
}

#[test]
fn layer_runs_the_users_handler_in_the_delivery_span() {
    spans::check_layer(|endpoint, request| {
        let handler = |_event: VerifiedEvent| async {
            tracing::info!(target: USERS_HANDLER, "handled");
            HttpResponse::Ok().finish()
        };
        let resource = web::resource(PATH)
            .wrap(WebhookLayer::new(endpoint))
            .route(web::post().to(handler));
        send(resource, request)
    });
}

#[test]
fn inbox_resource_stores_in_one_delivery_span() {
    spans::check_inbox(|ingest, request| {
        send(bookhook_actix::inbox_resource(PATH, ingest), request)
    });
}
