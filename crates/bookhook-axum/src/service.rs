//! A tower `Service` that serves one [`Dispatcher`].

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response as AxumResponse;
use bookhook::{
    Dispatcher,
    endpoint::{Finished, Request},
};

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
/// The delivery runs on its own task ([`bookhook::task::spawn`]), inside the
/// caller's span: a sender that hangs up does not cut a handler off
/// half-way, and its claim is always completed or released.
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
}

impl<S> Clone for WebhookService<S> {
    fn clone(&self) -> Self {
        Self {
            dispatcher: self.dispatcher.clone(),
        }
    }
}

impl<S> fmt::Debug for WebhookService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("dispatcher", &self.dispatcher)
            .finish()
    }
}

impl<S: Clone + Send + Sync + 'static> WebhookService<S> {
    /// Serves `dispatcher`. Its observer ([`Dispatcher::on_finished`]) sees
    /// every request, the ones this service refuses while reading the body
    /// included.
    pub fn new(dispatcher: Dispatcher<S>) -> Self {
        Self { dispatcher }
    }

    /// Sets the dispatcher's observer: the same as
    /// [`Dispatcher::on_finished`], kept so that code written against this
    /// service goes on working.
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
    pub fn on_finished(self, observer: impl Fn(&Finished) + Send + Sync + 'static) -> Self {
        Self {
            dispatcher: self.dispatcher.on_finished(observer),
        }
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
        ResponseFuture::new(async move {
            let (parts, body) = request.into_parts();
            let bytes = match read_limited(dispatcher.endpoint(), &parts, body).await {
                Ok(bytes) => bytes,
                Err(refused) => {
                    dispatcher.observe(&refused);
                    return Ok(into_axum(refused.response()));
                }
            };
            let cutoff = parts.extensions.get::<Cutoff>().cloned();
            let delivery = async move {
                let headers = HttpHeaders::new(&parts.headers);
                let request =
                    Request::new(parts.method.as_str(), &headers, parts.uri.query(), bytes);
                let finished = dispatcher
                    .dispatch_until(request, Cutoff::wait_for(cutoff))
                    .await;
                finished.response()
            };
            let response = bookhook::task::spawn(delivery)
                .await
                .unwrap_or_else(|lost| lost.response());
            Ok(into_axum(response))
        })
    }
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
