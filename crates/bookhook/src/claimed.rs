//! What the code that handles a claimed delivery is given: the event, or why there is none.
//!
//! A [`Dispatcher`](crate::Dispatcher)'s handler reads the event through its
//! [`Context`](crate::Context); a handler of the user's own behind either
//! adapter's `WebhookLayer` (a tower layer in axum, a middleware in
//! actix-web) reads it with the adapter's `VerifiedEvent` extractor. Both
//! dereference to the same [`ClaimedEvent`]; a route that is not behind a
//! layer gets [`MissingWebhookLayer`]. The layer's own steps are
//! [`Endpoint::begin`](crate::Endpoint::begin) and
//! [`Accepted::settle`](crate::Accepted::settle).

use std::fmt;
use std::sync::Arc;

use crate::appointment::Appointment;
use crate::endpoint::Accepted;
use crate::event::{Delivery, Event};
use crate::idempotency::Freshness;
use crate::kind::Kind;

/// A verified delivery whose key is claimed for the code that handles it,
/// and its freshness: what a dispatcher's [`Context`](crate::Context) and the
/// adapters' `VerifiedEvent` extractors (behind a `WebhookLayer`) give a
/// handler; both dereference to it.
///
/// The claim is not the handler's to finish: a dispatcher completes it when
/// the handler succeeds, a layer when the handler answers 2xx, and both
/// release it otherwise, so that the sender's retry runs again.
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// use bookhook::endpoint::ClaimedEvent;
/// use bookhook::{Endpoint, Provider, endpoint::Request, idempotency::Freshness};
///
/// let endpoint = Endpoint::builder(Provider::Calendence).unverified().build().unwrap();
/// let body = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
/// let headers: [(&str, &str); 0] = [];
/// let accepted = endpoint.begin(&Request::post(&headers, body.into())).await.unwrap();
/// let event = ClaimedEvent::new(&accepted);
/// assert_eq!(event.delivery().event_type(), "booking.created");
/// assert_eq!(event.freshness(), Freshness::Latest);
/// let _finished = accepted.complete().await;
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct ClaimedEvent {
    delivery: Arc<Delivery>,
    freshness: Freshness,
}

impl ClaimedEvent {
    /// The event of the claim `accepted`.
    pub fn new(accepted: &Accepted) -> Self {
        Self::from_parts(Arc::clone(accepted.delivery()), accepted.freshness())
    }

    /// The event of a delivery claimed elsewhere (an inbox row's lease).
    pub(crate) fn from_parts(delivery: Arc<Delivery>, freshness: Freshness) -> Self {
        Self {
            delivery,
            freshness,
        }
    }

    /// The verified delivery.
    pub fn delivery(&self) -> &Arc<Delivery> {
        &self.delivery
    }

    /// The typed event.
    pub fn event(&self) -> &Event {
        self.delivery.event()
    }

    /// The normalized appointment view, for appointment events.
    pub fn appointment(&self) -> Option<&Appointment> {
        self.delivery.appointment()
    }

    /// The normalized kind.
    pub fn kind(&self) -> Kind {
        self.delivery.kind()
    }

    /// Whether a newer event for the same appointment was handled already.
    pub fn freshness(&self) -> Freshness {
        self.freshness
    }
}

impl fmt::Debug for ClaimedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedEvent")
            .field("delivery", &self.delivery)
            .field("freshness", &self.freshness)
            .finish()
    }
}

/// A request reached a `VerifiedEvent` extractor without passing through a
/// `WebhookLayer`: a mistake in the server's set-up, not in the request.
/// Answers 500 with a JSON body.
///
/// ```
/// use bookhook::endpoint::MissingWebhookLayer;
///
/// assert_eq!(MissingWebhookLayer::default().status(), 500);
/// assert!(MissingWebhookLayer::default().body_text().contains("missing_webhook_layer"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingWebhookLayer;

impl MissingWebhookLayer {
    const MESSAGE: &'static str = "no verified event: this route is not behind a WebhookLayer";

    /// 500: the server is set up wrongly.
    pub fn status(&self) -> u16 {
        500
    }

    /// The JSON body.
    pub fn body_text(&self) -> String {
        serde_json::json!({
            "error": "missing_webhook_layer",
            "message": Self::MESSAGE,
        })
        .to_string()
    }
}

impl fmt::Display for MissingWebhookLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

impl std::error::Error for MissingWebhookLayer {}
