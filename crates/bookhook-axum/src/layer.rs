//! A tower `Layer` that verifies and claims deliveries for a handler of your own.

use std::fmt;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::response::Response as AxumResponse;
use bookhook::{Endpoint, endpoint::Request, task};
use bytes::Bytes;
use tower::{Layer, Service, ServiceExt};

use crate::body::{into_axum, read_limited};
use crate::extract::VerifiedEvent;
use crate::headers::HttpHeaders;
use crate::serve::Cutoff;
use crate::service::ResponseFuture;

/// Runs steps 1 to 5 of a delivery (size, verify, parse, replay window,
/// claim) in front of a handler of your own, which reads the event with the
/// [`VerifiedEvent`] extractor.
///
/// - A refused, duplicate or in-flight delivery is answered by the layer with
///   the core's status and body; the inner service is not called.
/// - Otherwise the inner service runs with the body as it was received and a
///   [`VerifiedEvent`] in the request's extensions. A 2xx answer marks the
///   delivery done; any other answer releases the claim so that the sender's
///   retry runs again. The inner response is passed through unchanged.
/// - A panic in the inner service is caught: the claim is released and the
///   layer answers the core's 500.
///
/// ```
/// use axum::{Router, routing::post};
/// use bookhook_axum::{Endpoint, Provider, VerifiedEvent, WebhookLayer};
///
/// async fn on_webhook(event: VerifiedEvent) -> &'static str {
///     println!("received {}", event.delivery().event_type());
///     "ok"
/// }
///
/// let endpoint = Endpoint::builder(Provider::Orufy).secret("t0ken").build()?;
/// let app: Router = Router::new()
///     .route("/webhook/orufy", post(on_webhook))
///     .layer(WebhookLayer::new(endpoint));
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

impl<I> Layer<I> for WebhookLayer {
    type Service = WebhookMiddleware<I>;

    fn layer(&self, inner: I) -> Self::Service {
        WebhookMiddleware {
            endpoint: self.endpoint.clone(),
            inner,
        }
    }
}

/// The service made by [`WebhookLayer`].
#[derive(Clone)]
pub struct WebhookMiddleware<I> {
    endpoint: Endpoint,
    inner: I,
}

impl<I> fmt::Debug for WebhookMiddleware<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookMiddleware")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl<I, B> Service<http::Request<Body>> for WebhookMiddleware<I>
where
    I: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    I::Future: Send + 'static,
    I::Error: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = AxumResponse;
    type Error = I::Error;
    type Future = ResponseFuture<I::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner service is driven to readiness when (and if) it is called.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let endpoint = self.endpoint.clone();
        let inner = self.inner.clone();
        ResponseFuture::new(async move {
            let (mut parts, body) = request.into_parts();
            let bytes = match read_limited(&endpoint, &parts, body).await {
                Ok(bytes) => bytes,
                Err(refused) => return Ok(into_axum(refused.response())),
            };
            // On its own task, so that a sender that hangs up does not leave
            // the claim held until its lease runs out.
            let delivery = async move {
                let begun = {
                    let headers = HttpHeaders::new(&parts.headers);
                    let request = Request::new(
                        parts.method.as_str(),
                        &headers,
                        parts.uri.query(),
                        bytes.clone(),
                    );
                    endpoint.begin(&request).await
                };
                let accepted = match begun {
                    Ok(accepted) => accepted,
                    Err(finished) => return Ok(into_axum(finished.response())),
                };
                let cutoff = parts.extensions.get::<Cutoff>().cloned();
                let call = move |event| {
                    parts.extensions.insert(VerifiedEvent::new(event));
                    inner.oneshot(http::Request::from_parts(parts, Body::from(bytes)))
                };
                let status = |response: &http::Response<B>| response.status().as_u16();
                match accepted
                    .pass_to(call, status, Cutoff::wait_for(cutoff))
                    .await
                {
                    Ok(answered) => answered.map(|response| response.map(Body::new)),
                    // A panic or a cut-off: the core's answer.
                    Err(finished) => Ok(into_axum(finished.response())),
                }
            };
            task::spawn(delivery)
                .await
                .unwrap_or_else(|lost| Ok(into_axum(lost.response())))
        })
    }
}
