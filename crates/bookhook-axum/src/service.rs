//! A tower `Service` that serves one [`Dispatcher`].

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response as AxumResponse;
use bookhook::{Dispatcher, Finished, HandlerError, Outcome, Request};
use tokio::task::JoinError;
use tracing::Instrument;

use crate::body::{into_axum, read_limited};
use crate::headers::HttpHeaders;
use crate::serve::Cutoff;

/// Serves one webhook endpoint: reads the body within the endpoint's limit,
/// then verifies, deduplicates and routes the delivery with its
/// [`Dispatcher`], and answers with the core's status and JSON body.
///
/// Mount it with [`Router::route_service`](axum::Router::route_service). It
/// answers every method (anything but POST gets 405 from the core).
///
/// The delivery runs on its own task: a sender that hangs up does not cut a
/// handler off half-way, and its claim is always completed or released.
///
/// ```
/// use axum::Router;
/// use bookhook_axum::{Context, Dispatcher, Endpoint, Kind, Provider, WebhookService};
///
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
/// let dispatcher = Dispatcher::builder(endpoint)
///     .on_kind(Kind::Created, |ctx: Context| async move {
///         println!("booked: {:?}", ctx.appointment().map(|a| &a.id));
///         Ok::<_, std::convert::Infallible>(())
///     })
///     .build()?;
/// let app: Router = Router::new().route_service("/webhook/calendence", WebhookService::new(dispatcher));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct WebhookService<S = ()> {
    dispatcher: Dispatcher<S>,
    observer: Option<Observer>,
}

type Observer = Arc<dyn Fn(&Finished) + Send + Sync>;

impl<S> Clone for WebhookService<S> {
    fn clone(&self) -> Self {
        Self {
            dispatcher: self.dispatcher.clone(),
            observer: self.observer.clone(),
        }
    }
}

impl<S> fmt::Debug for WebhookService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("dispatcher", &self.dispatcher)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl<S: Clone + Send + Sync + 'static> WebhookService<S> {
    /// Serves `dispatcher`.
    pub fn new(dispatcher: Dispatcher<S>) -> Self {
        Self {
            dispatcher,
            observer: None,
        }
    }

    /// Calls `observer` with the report of every request, rejections
    /// included, before the response is sent: for metrics, audit lines or a
    /// console. It runs on the delivery's task, so keep it quick.
    ///
    /// ```
    /// use bookhook_axum::{Dispatcher, Endpoint, Provider, WebhookService};
    ///
    /// let endpoint = Endpoint::builder(Provider::Decoda).secret("s3cr3t").build()?;
    /// let service = WebhookService::new(Dispatcher::builder(endpoint).build()?)
    ///     .on_finished(|finished| eprintln!("{} {}", finished.status(), finished.outcome().as_str()));
    /// # let _ = service;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn on_finished(mut self, observer: impl Fn(&Finished) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The dispatcher served.
    pub fn dispatcher(&self) -> &Dispatcher<S> {
        &self.dispatcher
    }
}

impl<S: Clone + Send + Sync + 'static> tower::Service<http::Request<Body>> for WebhookService<S> {
    type Response = AxumResponse;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let dispatcher = self.dispatcher.clone();
        let observer = self.observer.clone();
        ResponseFuture::new(async move {
            let (parts, body) = request.into_parts();
            let bytes = match read_limited(dispatcher.endpoint(), &parts, body).await {
                Ok(bytes) => bytes,
                Err(refused) => {
                    if let Some(observer) = &observer {
                        observer(&refused);
                    }
                    return Ok(into_axum(refused.response()));
                }
            };
            let cutoff = parts.extensions.get::<Cutoff>().cloned();
            let task = tokio::spawn(
                async move {
                    let headers = HttpHeaders::new(&parts.headers);
                    let request =
                        Request::new(parts.method.as_str(), &headers, parts.uri.query(), bytes);
                    let finished = match cutoff {
                        Some(cutoff) => dispatcher.dispatch_until(request, cutoff.wait()).await,
                        None => dispatcher.dispatch(request).await,
                    };
                    if let Some(observer) = &observer {
                        observer(&finished);
                    }
                    finished.response()
                }
                // The caller's span (a request span set by the user's middleware)
                // goes with the delivery onto its task.
                .in_current_span(),
            );
            let response = match task.await {
                Ok(response) => response,
                Err(err) => lost_task(&err).response(),
            };
            Ok(into_axum(response))
        })
    }
}

/// The outcome of a delivery task that panicked outside the handler (whose
/// own panics the core catches) or was cancelled by a runtime shutting down.
pub(crate) fn lost_task(err: &JoinError) -> Outcome {
    let message = if err.is_panic() {
        "the delivery task panicked"
    } else {
        "the delivery task was cancelled"
    };
    tracing::error!(error = %err, "webhook delivery task lost");
    Outcome::Failed(HandlerError::Panicked {
        message: message.to_owned(),
    })
}

/// The future returned by [`WebhookService`] and [`WebhookMiddleware`](crate::WebhookMiddleware).
pub struct ResponseFuture<E = Infallible> {
    inner: Pin<Box<dyn Future<Output = Result<AxumResponse, E>> + Send>>,
}

impl<E> ResponseFuture<E> {
    pub(crate) fn new(
        future: impl Future<Output = Result<AxumResponse, E>> + Send + 'static,
    ) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl<E> Future for ResponseFuture<E> {
    type Output = Result<AxumResponse, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().inner.as_mut().poll(cx)
    }
}

impl<E> fmt::Debug for ResponseFuture<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
