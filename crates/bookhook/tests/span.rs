//! One `bookhook.delivery` span per delivery, a child of the caller's span,
//! around verification, the store or inbox calls and the handler: through a
//! dispatcher and through the inbox's request path.
#![cfg(feature = "testing")]

use std::future::Future;
use std::sync::Arc;

use bookhook::inbox::{Ingest, MemoryInbox};
use bookhook::testing::signed_request;
use bookhook::testing::spans::SpanRecorder;
use bookhook::{Context, Dispatcher, Endpoint, HandlerError, Provider, endpoint::Request};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const BODY: &[u8] =
    br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-span"}}"#;

fn endpoint() -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret("span-secret")
        .build()
        .unwrap()
}

/// Runs `future` inside a span named `callers_span`, with `recorder` installed.
fn recorded<F: Future>(recorder: &SpanRecorder, future: F) -> F::Output {
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future.instrument(tracing::info_span!("callers_span")))
    })
}

#[test]
fn dispatch_runs_verification_store_and_handler_inside_one_delivery_span() {
    let recorder = SpanRecorder::default();
    let endpoint = endpoint();
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .fallback(|_ctx: Context| async {
            tracing::info!(target: "users_handler", "handled");
            Ok::<_, HandlerError>(())
        })
        .build()
        .unwrap();
    let (headers, _) = signed_request(&endpoint, BODY);
    let finished = recorded(
        &recorder,
        dispatcher.dispatch(Request::post(&headers, BODY.into())),
    );
    assert_eq!(finished.status(), 200);
    let span = recorder.check_delivery(
        "callers_span",
        ("handled", 200),
        Some("booking.created"),
        &["users_handler", "bookhook"],
    );
    assert_eq!(span.field("provider"), Some("calendence"));
}

#[test]
fn rejected_delivery_has_its_span_without_event_fields() {
    let recorder = SpanRecorder::default();
    let dispatcher = Dispatcher::builder(endpoint()).build().unwrap();
    let headers = [("X-Calendence-Signature", "sha256=00")];
    let finished = recorded(
        &recorder,
        dispatcher.dispatch(Request::post(&headers, BODY.into())),
    );
    assert_eq!(finished.status(), 401);
    recorder.check_delivery("callers_span", ("rejected", 401), None, &["bookhook"]);
}

#[test]
fn inbox_ingest_runs_inside_one_delivery_span() {
    let recorder = SpanRecorder::default();
    let endpoint = endpoint();
    let ingest = Ingest::new(endpoint.clone(), Arc::new(MemoryInbox::new()));
    let (headers, _) = signed_request(&endpoint, BODY);
    let ingested = recorded(
        &recorder,
        ingest.receive("POST", &headers, None, BODY.into()),
    );
    assert_eq!(ingested.status(), 200);
    let span = recorder.check_delivery(
        "callers_span",
        ("queued", 200),
        Some("booking.created"),
        &["bookhook"],
    );
    assert_eq!(span.field("provider"), Some("calendence"));
}
