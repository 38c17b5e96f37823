//! One `bookhook.delivery` span per delivery, a child of the caller's span
//! (a request span set by the user's middleware, carried onto the delivery's
//! task), around verification, the store calls and the handler: through
//! `resource`, `WebhookLayer` and `inbox_resource`.

use std::sync::Arc;

use actix_web::dev::{HttpServiceFactory, Service};
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use bookhook_actix::bookhook::testing::signed_request;
use bookhook_actix::bookhook::testing::spans::SpanRecorder;
use bookhook_actix::inbox::{Ingest, MemoryInbox};
use bookhook_actix::{
    Context, Dispatcher, Endpoint, HandlerError, Provider, VerifiedEvent, WebhookLayer,
};
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

/// Sends a signed request to `/hook` of an app serving `service`, inside the
/// user's request span, with `recorder` installed, and returns the status.
fn send<F>(recorder: &SpanRecorder, service: F) -> u16
where
    F: HttpServiceFactory + 'static,
{
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, || {
        actix_web::rt::System::new().block_on(async move {
            let app = test::init_service(App::new().service(service)).await;
            let (headers, _) = signed_request(&endpoint(), BODY);
            let mut request = TestRequest::post().uri("/hook").set_payload(BODY);
            for header in headers {
                request = request.insert_header(header);
            }
            let called = app.call(request.to_request());
            let response = called
                .instrument(tracing::info_span!(USERS_SPAN))
                .await
                .unwrap();
            response.status().as_u16()
        })
    })
}

async fn users_handler(_ctx: Context) -> Result<(), HandlerError> {
    tracing::info!(target: "users_handler", "handled");
    Ok(())
}

#[test]
fn resource_runs_the_delivery_in_one_span_under_the_callers_span() {
    let recorder = SpanRecorder::default();
    let dispatcher = Dispatcher::builder(endpoint())
        .fallback(users_handler)
        .build()
        .unwrap();
    assert_eq!(
        send(&recorder, bookhook_actix::resource("/hook", dispatcher)),
        200
    );
    recorder.check_delivery(USERS_SPAN, HANDLED, EVENT, &["users_handler", "bookhook"]);
}

#[test]
fn layer_runs_the_users_handler_in_the_delivery_span() {
    let recorder = SpanRecorder::default();
    let handler = |_event: VerifiedEvent| async {
        tracing::info!(target: "users_handler", "handled");
        HttpResponse::Ok().finish()
    };
    let resource = web::resource("/hook")
        .wrap(WebhookLayer::new(endpoint()))
        .route(web::post().to(handler));
    assert_eq!(send(&recorder, resource), 200);
    recorder.check_delivery(USERS_SPAN, HANDLED, EVENT, &["users_handler"]);
}

#[test]
fn inbox_resource_stores_in_one_delivery_span() {
    let recorder = SpanRecorder::default();
    let ingest = Ingest::new(endpoint(), Arc::new(MemoryInbox::new()));
    assert_eq!(
        send(&recorder, bookhook_actix::inbox_resource("/hook", ingest)),
        200
    );
    recorder.check_delivery(USERS_SPAN, ("queued", 200), EVENT, &["bookhook"]);
}
