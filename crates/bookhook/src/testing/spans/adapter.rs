//! The delivery-span checks every web adapter runs through each of its three entry points.
//!
//! Each check builds what the adapter mounts at [`PATH`] (a dispatcher, the
//! endpoint of a `WebhookLayer`, an inbox's [`Ingest`]), installs a
//! [`SpanRecorder`], and asks the adapter's `send` to send a signed request
//! there inside the user's own request span ([`SpanRequest::span`], named
//! [`USERS_SPAN`]) and return the status. It then checks the one delivery
//! span: a child of the user's span, with its fields recorded, and the
//! handler's lines (target [`USERS_HANDLER`]) and bookhook's own inside it.

use std::sync::Arc;

use tracing::Span;
use tracing_subscriber::layer::SubscriberExt;

use super::SpanRecorder;
use crate::dispatch::{Context, Dispatcher};
use crate::endpoint::Endpoint;
use crate::error::HandlerError;
use crate::inbox::{Ingest, MemoryInbox};
use crate::provider::Provider;
use crate::testing::signed_request;

/// Where the adapter mounts what a check gives it, and sends the request.
pub const PATH: &str = "/hook";
/// The name of the user's own request span, around the request the adapter sends.
pub const USERS_SPAN: &str = "users_request_span";
/// The target of the line the user's handler logs: behind a layer, the
/// adapter's handler must log one (`tracing::info!(target: USERS_HANDLER, ..)`).
pub const USERS_HANDLER: &str = "users_handler";

const BODY: &[u8] =
    br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-span"}}"#;
const EVENT: Option<&str> = Some("booking.created");

/// The request the adapter sends: a signed Calendence delivery, to be sent
/// to [`PATH`] as a POST inside `span`.
#[derive(Debug)]
pub struct SpanRequest {
    /// The request headers, signature included.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: &'static [u8],
    /// The user's own request span ([`USERS_SPAN`]): send the request
    /// inside it (`tracing::Instrument::instrument`).
    pub span: Span,
}

fn endpoint() -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret("span-secret")
        .build()
        .expect("a valid endpoint")
}

async fn users_handler(_ctx: Context) -> Result<(), HandlerError> {
    tracing::info!(target: USERS_HANDLER, "handled");
    Ok(())
}

/// Sends the request through `send`, given `mounted`, with a recorder
/// installed, and checks the answer was 200.
fn record<T>(mounted: T, send: impl FnOnce(T, SpanRequest) -> u16) -> SpanRecorder {
    let recorder = SpanRecorder::default();
    let (headers, _) = signed_request(&endpoint(), BODY);
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let status = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!(USERS_SPAN);
        let request = SpanRequest {
            headers,
            body: BODY,
            span,
        };
        send(mounted, request)
    });
    assert_eq!(status, 200, "the delivery was not handled");
    recorder
}

/// Direct mode: the adapter mounts the given dispatcher (whose handler logs
/// [`USERS_HANDLER`]) at [`PATH`]. The delivery, verification to handler,
/// runs in one span under the user's.
///
/// # Panics
///
/// If the answer is not 200 or the span is not so.
///
/// ```
/// use bookhook::testing::spans::{self, SpanRequest};
/// use bookhook::endpoint::Request;
/// use tracing::Instrument;
///
/// // The core itself as the adapter: the dispatcher is called directly.
/// spans::check_dispatcher(|dispatcher, request: SpanRequest| {
///     let headers = request.headers;
///     let dispatched = dispatcher.dispatch(Request::post(&headers, request.body.into()));
///     let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
///     runtime.block_on(dispatched.instrument(request.span)).status()
/// });
/// ```
pub fn check_dispatcher(send: impl FnOnce(Dispatcher, SpanRequest) -> u16) {
    let dispatcher = Dispatcher::builder(endpoint())
        .fallback(users_handler)
        .build()
        .expect("a valid dispatcher");
    let recorder = record(dispatcher, send);
    recorder.check_delivery(
        USERS_SPAN,
        ("handled", 200),
        EVENT,
        &[USERS_HANDLER, "bookhook"],
    );
}

/// A layer: the adapter mounts, at [`PATH`], a `WebhookLayer` of the given
/// endpoint in front of a handler of its own that logs [`USERS_HANDLER`]
/// and answers 200. That handler runs in the delivery span.
///
/// # Panics
///
/// If the answer is not 200 or the span is not so.
pub fn check_layer(send: impl FnOnce(Endpoint, SpanRequest) -> u16) {
    let recorder = record(endpoint(), send);
    recorder.check_delivery(USERS_SPAN, ("handled", 200), EVENT, &[USERS_HANDLER]);
}

/// Inbox mode: the adapter mounts the given [`Ingest`] at [`PATH`]. The
/// delivery is stored in one delivery span under the user's.
///
/// # Panics
///
/// If the answer is not 200 or the span is not so.
pub fn check_inbox(send: impl FnOnce(Ingest, SpanRequest) -> u16) {
    let ingest = Ingest::new(endpoint(), Arc::new(MemoryInbox::new()));
    let recorder = record(ingest, send);
    recorder.check_delivery(USERS_SPAN, ("queued", 200), EVENT, &["bookhook"]);
}
