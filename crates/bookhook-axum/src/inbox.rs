//! Inbox mode: acknowledge once stored, handle in the background.
//!
//! Everything of [`bookhook::inbox`] (the [`Inbox`] trait, [`Worker`],
//! [`Ingest`], [`MemoryInbox`], ...) is re-exported here, next to
//! [`InboxService`], which serves an [`Ingest`] from an axum router.

pub use bookhook::inbox::*;

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response as AxumResponse;
use bookhook::{Outcome, endpoint::Rejection};

use crate::body::{into_axum, read_limited};
use crate::headers::HttpHeaders;
use crate::service::ResponseFuture;

type Observer = Arc<dyn Fn(&Ingested) + Send + Sync>;

/// Serves one webhook endpoint in inbox mode: reads the body within the
/// endpoint's limit, verifies and parses it, stores it in the inbox with one
/// write, and answers `200 {"status":"queued","id":…}` (or `duplicate`, or
/// the endpoint's refusal, or 503 when the inbox cannot be written). No
/// handler runs on the request: a [`Worker`] handles
/// stored events in the background.
///
/// Build the worker first and take its [`ingest`](Worker::ingest),
/// so that each new event wakes it; run the worker beside the server with
/// [`Worker::alongside`], which stops it
/// when the server stops:
///
/// ```no_run
/// use std::sync::Arc;
/// use axum::Router;
/// use bookhook_axum::inbox::{InboxService, MemoryInbox, Worker};
/// use bookhook_axum::{Context, Dispatcher, Endpoint, Kind, Provider};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
///     let dispatcher = Dispatcher::builder(endpoint)
///         .on_kind(Kind::Cancelled, |ctx: Context| async move {
///             println!("cancelled: {:?}", ctx.appointment().map(|a| &a.id));
///             Ok::<_, std::convert::Infallible>(())
///         })
///         .build()?;
///     // Use a durable inbox (bookhook-sqlite, bookhook-redis) in production.
///     let worker = Worker::builder(dispatcher, Arc::new(MemoryInbox::new())).build()?;
///     let app = Router::new().route_service("/webhook/calendence", InboxService::new(worker.ingest()));
///
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
///     // Stop on a signal of your choice, for example tokio::signal::ctrl_c().
///     let stop = std::future::pending::<()>();
///     let server = axum::serve(listener, app).with_graceful_shutdown(stop);
///     let (served, _report) = worker.alongside(server).await;
///     served?;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct InboxService {
    ingest: Ingest,
    observer: Option<Observer>,
}

impl fmt::Debug for InboxService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxService")
            .field("ingest", &self.ingest)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl InboxService {
    /// Serves `ingest`.
    pub fn new(ingest: Ingest) -> Self {
        Self {
            ingest,
            observer: None,
        }
    }

    /// Calls `observer` with the report of every request, rejections
    /// included, before the response is sent. Keep it quick.
    #[must_use]
    pub fn on_received(mut self, observer: impl Fn(&Ingested) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The ingest served.
    pub fn ingest(&self) -> &Ingest {
        &self.ingest
    }
}

impl tower::Service<http::Request<Body>> for InboxService {
    type Response = AxumResponse;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let ingest = self.ingest.clone();
        let observer = self.observer.clone();
        ResponseFuture::new(async move {
            let (parts, body) = request.into_parts();
            let report = match read_limited(ingest.endpoint(), &parts, body).await {
                // The endpoint logged the refusal; the observer sees it as inbox mode's.
                Err(refused) => match refused.outcome() {
                    Outcome::Rejected(rejection) => ingest.reject(rejection.clone()),
                    _ => ingest.reject(Rejection::IncompleteBody),
                },
                Ok(bytes) => {
                    let headers = HttpHeaders::new(&parts.headers);
                    ingest
                        .receive(parts.method.as_str(), &headers, parts.uri.query(), bytes)
                        .await
                }
            };
            if let Some(observer) = &observer {
                observer(&report);
            }
            Ok(into_axum(report.response()))
        })
    }
}
