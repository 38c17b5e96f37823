//! The [`VerifiedEvent`] extractor, for a handler behind a [`WebhookLayer`](crate::WebhookLayer).

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use bookhook::endpoint::{ClaimedEvent, MissingWebhookLayer};

/// A delivery verified and claimed by [`WebhookLayer`](crate::WebhookLayer),
/// for a handler of your own: the same guarantees as `bookhook-axum`'s
/// `VerifiedEvent`.
///
/// **This extractor only works under a [`WebhookLayer`](crate::WebhookLayer).**
/// The layer puts the event into the request's extensions; without it the
/// extractor rejects the request with a 500 ([`MissingWebhookLayer`]), since
/// that is a mistake in the server's set-up, not in the request. Use
/// `Option<VerifiedEvent>` to accept requests without one.
///
/// Answer with a 2xx status when the work is done: the layer then marks the
/// delivery done. Any other status releases the claim so the sender's retry
/// runs the handler again.
///
/// It dereferences to [`ClaimedEvent`] (`delivery()`, `event()`,
/// `appointment()`, `kind()`, `freshness()`).
///
/// ```
/// use actix_web::HttpResponse;
/// use bookhook_actix::VerifiedEvent;
///
/// async fn on_webhook(event: VerifiedEvent) -> HttpResponse {
///     println!("{} ({:?})", event.delivery().event_type(), event.freshness());
///     HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
/// }
/// ```
#[derive(Clone, Debug)]
pub struct VerifiedEvent(ClaimedEvent);

impl VerifiedEvent {
    pub(crate) fn new(event: ClaimedEvent) -> Self {
        Self(event)
    }

    /// Takes the claimed event out.
    pub fn into_inner(self) -> ClaimedEvent {
        self.0
    }
}

impl Deref for VerifiedEvent {
    type Target = ClaimedEvent;

    fn deref(&self) -> &ClaimedEvent {
        &self.0
    }
}

impl FromRequest for VerifiedEvent {
    type Error = VerifiedEventRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let found = request.extensions().get::<VerifiedEvent>().cloned();
        ready(found.ok_or(VerifiedEventRejection::MissingWebhookLayer(
            MissingWebhookLayer::default(),
        )))
    }
}

/// Why [`VerifiedEvent`] could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifiedEventRejection {
    /// The route is not behind a [`WebhookLayer`](crate::WebhookLayer).
    #[error("{0}")]
    MissingWebhookLayer(#[source] MissingWebhookLayer),
}

impl ResponseError for VerifiedEventRejection {
    fn status_code(&self) -> StatusCode {
        let Self::MissingWebhookLayer(inner) = self;
        StatusCode::from_u16(inner.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let Self::MissingWebhookLayer(inner) = self;
        tracing::error!("{self}");
        HttpResponse::build(self.status_code())
            .insert_header((
                CONTENT_TYPE,
                HeaderValue::from_static(bookhook::endpoint::Response::CONTENT_TYPE),
            ))
            .body(inner.body_text())
    }
}
