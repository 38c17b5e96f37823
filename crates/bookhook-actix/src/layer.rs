//! An actix-web middleware that verifies and claims deliveries for a handler of your own.

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{Error, HttpMessage};
use bookhook::{Endpoint, endpoint::Request, task};
use futures_util::future::LocalBoxFuture;

use crate::door::FrontDoor;
use crate::extract::VerifiedEvent;
use crate::service::{ActixHeaders, read_body, to_http_response};

/// Runs steps 1 to 5 of a delivery (size, verify, parse, replay window,
/// claim) in front of a handler of your own, which reads the event with the
/// [`VerifiedEvent`] extractor: the actix-web twin of `bookhook-axum`'s
/// `WebhookLayer`, with the same answers.
///
/// - A refused, duplicate or in-flight delivery is answered by the layer with
///   the core's status and body; the inner service is not called.
/// - Otherwise the inner service runs with the body as it was received and a
///   [`VerifiedEvent`] in the request's extensions. A 2xx answer marks the
///   delivery done; any other answer (or an error) releases the claim so
///   that the sender's retry runs again. The inner response is passed
///   through unchanged.
/// - A panic in the inner service is caught: the claim is released and the
///   layer answers the core's 500.
/// - The delivery runs on a task of its own, counted by the app's
///   [`FrontDoor`] like a mounted dispatcher's: a sender that hangs up does
///   not leave the claim held, and at the end of the shutdown grace period
///   the handler is cut off with its claim released.
///
/// ```
/// use actix_web::{App, HttpResponse, web};
/// use bookhook_actix::{Endpoint, Provider, VerifiedEvent, WebhookLayer};
///
/// async fn on_webhook(event: VerifiedEvent) -> HttpResponse {
///     println!("received {}", event.delivery().event_type());
///     HttpResponse::Ok().finish()
/// }
///
/// let endpoint = Endpoint::builder(Provider::Orufy).secret("t0ken").build()?;
/// let app = App::new().service(
///     web::resource("/webhook/orufy")
///         .wrap(WebhookLayer::new(endpoint))
///         .route(web::post().to(on_webhook)),
/// );
/// # let _ = app;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct WebhookLayer {
    endpoint: Endpoint,
}

impl WebhookLayer {
    /// Verifies and claims deliveries for `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Wraps any service [`WebhookMiddleware`] can serve: the bounds and the
/// answer's type are the middleware's, stated once on its `Service` impl.
impl<S> Transform<S, ServiceRequest> for WebhookLayer
where
    WebhookMiddleware<S>: Service<ServiceRequest>,
{
    type Response = <WebhookMiddleware<S> as Service<ServiceRequest>>::Response;
    type Error = <WebhookMiddleware<S> as Service<ServiceRequest>>::Error;
    type Transform = WebhookMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(WebhookMiddleware {
            endpoint: self.endpoint.clone(),
            service: Rc::new(service),
        }))
    }
}

/// The service made by [`WebhookLayer`].
pub struct WebhookMiddleware<S> {
    endpoint: Endpoint,
    service: Rc<S>,
}

impl<S> fmt::Debug for WebhookMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookMiddleware")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for WebhookMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let endpoint = self.endpoint.clone();
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let http = request.request().clone();
            let answer = |response: &bookhook::endpoint::Response| {
                Ok(
                    ServiceResponse::new(http.clone(), to_http_response(response))
                        .map_into_right_body(),
                )
            };
            let body = match read_body(&endpoint, &http, request.take_payload()).await {
                Ok(body) => body,
                Err(refused) => return answer(&refused.response()),
            };
            let pass = match FrontDoor::of(&http).enter() {
                Ok(pass) => pass,
                Err(busy) => return answer(&endpoint.reject(busy).response()),
            };
            let cutoff = pass.cutoff();
            let delivery = async move {
                let begun = {
                    let headers = ActixHeaders(request.headers());
                    let incoming = Request::new(
                        request.method().as_str(),
                        &headers,
                        request.uri().query(),
                        body.clone(),
                    );
                    endpoint.begin(&incoming).await
                };
                let call = move |event| {
                    request.extensions_mut().insert(VerifiedEvent::new(event));
                    request.set_payload(Payload::from(body));
                    service.call(request)
                };
                let status = |response: &ServiceResponse<B>| response.status().as_u16();
                let passed = match begun {
                    Ok(accepted) => accepted.pass_to(call, status, cutoff).await,
                    Err(finished) => Err(finished),
                };
                drop(pass);
                passed
            };
            match task::spawn_local(delivery).await {
                Ok(Ok(answered)) => answered.map(ServiceResponse::map_into_left_body),
                // Refused, a duplicate, in flight, a panic or a cut-off: the core's answer.
                Ok(Err(finished)) => answer(&finished.response()),
                Err(lost) => answer(&lost.response()),
            }
        })
    }
}
