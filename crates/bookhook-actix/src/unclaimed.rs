//! The [`UnclaimedEvent`] extractor: verified and parsed, never claimed.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use bookhook::{
    Delivery, Endpoint, HandlerError, Outcome,
    endpoint::{Finished, Response},
};

use crate::service::{ActixHeaders, read_body, to_http_response};

/// A verified, parsed webhook, extracted in a handler of your own, **without
/// a claim**: for exactly-once handling use [`VerifiedEvent`](crate::VerifiedEvent)
/// under a [`WebhookLayer`](crate::WebhookLayer).
///
/// (Before, this extractor was called `VerifiedEvent`; that name now means
/// what it means in `bookhook-axum`: verified *and* claimed by a layer.)
///
/// The extractor takes the [`Endpoint`] from the app data, reads the body up
/// to [`Endpoint::max_body`], verifies the signature and parses the event
/// ([`Endpoint::verify_and_parse`]). A request that fails any step gets the
/// core's status and JSON body ([`UnclaimedEventRejection`]) and your handler
/// does not run.
///
/// **No deduplication.** An extractor cannot see whether your handler
/// succeeded, so it cannot mark a delivery done or release it for a retry:
/// a repeated delivery reaches your handler again. For exactly-once handling
/// mount a [`Dispatcher`](bookhook::Dispatcher) with [`route`](crate::route)
/// or [`resource`](crate::resource) instead, put your handler behind a
/// [`WebhookLayer`](crate::WebhookLayer) and read a
/// [`VerifiedEvent`](crate::VerifiedEvent), or use
/// [`UnclaimedEvent::delivery`]'s [`idempotency_key`](Delivery::idempotency_key)
/// with a store of your own.
///
/// Register the endpoint as app data, either plain or in a
/// [`web::Data`]. Register it on a [`web::resource`] or [`web::scope`] to
/// serve several endpoints from one app; the innermost one wins.
///
/// Under a [`web::post`] guard, as below, actix-web answers other methods
/// with its own empty 405 before the extractor runs; mount the handler with
/// [`web::route`] instead to have them get the core's JSON 405. A panic in
/// your handler is not caught by the extractor: actix-web closes the
/// connection without an answer, and the sender retries.
///
/// ```
/// use actix_web::{App, HttpResponse, web};
/// use bookhook_actix::{Endpoint, Provider, UnclaimedEvent};
///
/// async fn webhook(event: UnclaimedEvent) -> HttpResponse {
///     println!("{} {}", event.event_type(), event.idempotency_key());
///     HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
/// }
///
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build().unwrap();
/// let app = App::new().service(
///     web::resource("/webhook/calendence")
///         .app_data(endpoint)
///         .route(web::post().to(webhook)),
/// );
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct UnclaimedEvent {
    delivery: Delivery,
}

impl UnclaimedEvent {
    /// The verified delivery.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// Takes the delivery out.
    pub fn into_inner(self) -> Delivery {
        self.delivery
    }
}

impl Deref for UnclaimedEvent {
    type Target = Delivery;

    fn deref(&self) -> &Delivery {
        &self.delivery
    }
}

impl FromRequest for UnclaimedEvent {
    type Error = UnclaimedEventRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let endpoint = find_endpoint(request);
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move {
            let Some(endpoint) = endpoint else {
                tracing::error!(
                    path = request.path(),
                    "no bookhook Endpoint in the app data; register one with `App::app_data(endpoint)`"
                );
                return Err(UnclaimedEventRejection::unconfigured());
            };
            let body = read_body(&endpoint, &request, payload)
                .await
                .map_err(UnclaimedEventRejection::from)?;
            let headers = ActixHeaders(request.headers());
            let incoming = bookhook::endpoint::Request::new(
                request.method().as_str(),
                &headers,
                request.uri().query(),
                body,
            );
            match endpoint.verify_and_parse(&incoming) {
                Ok(delivery) => Ok(UnclaimedEvent { delivery }),
                Err(rejection) => Err(endpoint.reject(rejection).into()),
            }
        })
    }
}

fn find_endpoint(request: &HttpRequest) -> Option<Endpoint> {
    request.app_data::<Endpoint>().cloned().or_else(|| {
        request
            .app_data::<web::Data<Endpoint>>()
            .map(|data| (***data).clone())
    })
}

/// Why [`UnclaimedEvent`] refused a request. Its response is the core's
/// status and JSON body, the same as a mounted dispatcher would send.
#[derive(Debug)]
pub struct UnclaimedEventRejection {
    reason: Reason,
}

#[derive(Debug)]
enum Reason {
    /// Refused by the endpoint, and logged by the core.
    Finished(Finished),
    /// No endpoint to ask.
    Unconfigured(Outcome),
}

impl UnclaimedEventRejection {
    fn unconfigured() -> Self {
        Self {
            reason: Reason::Unconfigured(Outcome::Failed(HandlerError::new(
                "no bookhook endpoint is registered for this route",
            ))),
        }
    }

    /// What went wrong.
    pub fn outcome(&self) -> &Outcome {
        match &self.reason {
            Reason::Finished(finished) => finished.outcome(),
            Reason::Unconfigured(outcome) => outcome,
        }
    }

    /// The response to send, framework-neutral.
    pub fn response(&self) -> Response {
        self.outcome().response()
    }
}

impl From<Finished> for UnclaimedEventRejection {
    fn from(finished: Finished) -> Self {
        Self {
            reason: Reason::Finished(finished),
        }
    }
}

impl fmt::Display for UnclaimedEventRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outcome() {
            Outcome::Rejected(rejection) => fmt::Display::fmt(rejection, f),
            Outcome::Failed(err) => fmt::Display::fmt(err, f),
            other => f.write_str(other.as_str()),
        }
    }
}

impl std::error::Error for UnclaimedEventRejection {}

impl ResponseError for UnclaimedEventRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.outcome().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        to_http_response(&self.response())
    }
}
