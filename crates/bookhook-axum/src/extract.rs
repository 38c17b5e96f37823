//! The [`VerifiedEvent`] extractor.

use std::ops::Deref;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response as AxumResponse};
use bookhook::endpoint::{ClaimedEvent, MissingWebhookLayer};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::request::Parts;

/// A delivery verified and claimed by [`WebhookLayer`](crate::WebhookLayer),
/// for a handler of your own.
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
/// ```
/// use axum::Json;
/// use bookhook_axum::VerifiedEvent;
///
/// async fn on_webhook(event: VerifiedEvent) -> Json<serde_json::Value> {
///     println!("{} ({:?})", event.delivery().event_type(), event.freshness());
///     Json(serde_json::json!({"status": "ok"}))
/// }
/// ```
///
/// It dereferences to [`ClaimedEvent`] (`delivery()`, `event()`,
/// `appointment()`, `kind()`, `freshness()`), the same as actix-web's
/// `VerifiedEvent` under its `WebhookLayer`.
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

impl<S: Send + Sync> FromRequestParts<S> for VerifiedEvent {
    type Rejection = VerifiedEventRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<VerifiedEvent>().cloned().ok_or(
            VerifiedEventRejection::MissingWebhookLayer(MissingWebhookLayer::default()),
        )
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedEvent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<VerifiedEvent>().cloned())
    }
}

/// Why [`VerifiedEvent`] could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifiedEventRejection {
    /// The route is not behind a [`WebhookLayer`](crate::WebhookLayer).
    #[error("{0}")]
    MissingWebhookLayer(#[from] MissingWebhookLayer),
}

impl VerifiedEventRejection {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingWebhookLayer(inner) => {
                StatusCode::from_u16(inner.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    /// The JSON body.
    pub fn body_text(&self) -> String {
        match self {
            Self::MissingWebhookLayer(inner) => inner.body_text(),
        }
    }
}

impl IntoResponse for VerifiedEventRejection {
    fn into_response(self) -> AxumResponse {
        tracing::error!("{self}");
        let mut response = (self.status(), self.body_text()).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(bookhook::endpoint::Response::CONTENT_TYPE),
        );
        response
    }
}
