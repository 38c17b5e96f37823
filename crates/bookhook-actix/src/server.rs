//! Limits for actix-web's `HttpServer` against slow and hostile clients.

use std::fmt;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{KeepAlive, Request, Response};
use actix_service::{IntoServiceFactory, Service, ServiceFactory};
use actix_web::HttpServer;
use actix_web::dev::AppConfig;

use crate::door::{DEFAULT_MAX_DELIVERIES, FrontDoor};

/// The server settings that bound what a client can hold, with bookhook's
/// defaults. Apply them with [`harden`] (or [`ServerLimits::apply`]).
///
/// | limit | default | `HttpServer` setting |
/// |---|---|---|
/// | time to send the request headers (408 past it) | 10 s | `client_request_timeout` |
/// | idle time between requests on a kept-alive connection | 5 s | `keep_alive` |
/// | time a closing connection may take | 1 s | `client_disconnect_timeout` |
/// | connections open at once, **per worker** | 512 | `max_connections` |
/// | grace period for requests in progress at SIGTERM | 30 s | `shutdown_timeout` |
/// | deliveries in progress at once, all workers together (503 beyond) | 256 | none: a [`FrontDoor`] |
///
/// The body is bounded by the adapter itself, so these hold under any
/// server: the endpoint's [`body_timeout`](bookhook::endpoint::EndpointBuilder::body_timeout)
/// (whole body, 408, default 15 s) and its
/// [`unverified_budget`](bookhook::endpoint::EndpointBuilder::unverified_budget)
/// (503 with `Retry-After`, default 64 MiB per process).
///
/// [`ServerLimits::apply`] sets the server settings only, and leaves the
/// signals to actix-web (SIGTERM stops gracefully within the grace period,
/// SIGINT and SIGQUIT at once; a delivery still running when a worker stops
/// is dropped and keeps its claim until the claim's lease expires).
/// [`harden`] and [`FrontDoor::harden`] also cap the deliveries in progress
/// and cut off, with their claims released, those still running at the end
/// of the grace period.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Idle time allowed between two requests on one connection.
    pub idle_timeout: Duration,
    /// Time a connection being closed may take.
    pub disconnect_timeout: Duration,
    /// Connections served at once by each worker.
    pub max_connections_per_worker: usize,
    /// Grace period for requests in progress at shutdown.
    pub grace: Duration,
    /// Deliveries in progress at once, all workers together (through a
    /// [`FrontDoor`]); beyond it 503 with `Retry-After`.
    pub max_deliveries: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            disconnect_timeout: Duration::from_secs(1),
            max_connections_per_worker: 512,
            grace: Duration::from_secs(30),
            max_deliveries: DEFAULT_MAX_DELIVERIES,
        }
    }
}

impl fmt::Debug for ServerLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLimits")
            .field("header_timeout", &self.header_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("disconnect_timeout", &self.disconnect_timeout)
            .field(
                "max_connections_per_worker",
                &self.max_connections_per_worker,
            )
            .field("grace", &self.grace)
            .field("max_deliveries", &self.max_deliveries)
            .finish()
    }
}

impl ServerLimits {
    /// Sets these limits' server settings on `server` (not the delivery cap
    /// nor the cut-off at shutdown: see [`FrontDoor::harden`]). Call it
    /// before `bind`.
    pub fn apply<F, I, S, B>(&self, server: HttpServer<F, I, S, B>) -> HttpServer<F, I, S, B>
    where
        F: Fn() -> I + Send + Clone + 'static,
        I: IntoServiceFactory<S, Request>,
        S: ServiceFactory<Request, Config = AppConfig> + 'static,
        S::Error: Into<actix_web::Error> + 'static,
        S::InitError: fmt::Debug,
        S::Response: Into<Response<B>> + 'static,
        <S::Service as Service<Request>>::Future: 'static,
        S::Service: 'static,
        B: MessageBody + 'static,
    {
        server
            .client_request_timeout(self.header_timeout)
            .keep_alive(KeepAlive::Timeout(self.idle_timeout))
            .client_disconnect_timeout(self.disconnect_timeout)
            .max_connections(self.max_connections_per_worker.max(1))
            .shutdown_timeout(self.grace.as_secs().max(1))
    }
}

/// Sets bookhook's [`ServerLimits`] defaults on an actix-web `HttpServer`,
/// and drains the process-wide [`FrontDoor`] at shutdown.
///
/// Requests whose app has no `FrontDoor` in its data share one per process:
/// at most [`DEFAULT_MAX_DELIVERIES`] deliveries in progress (503 with
/// `Retry-After` beyond). At the first SIGTERM or SIGINT new deliveries get
/// 503, those in progress have the 30 s grace period, then those still
/// running are cut off with their claims released (so the sender's retry
/// runs them again); then the workers stop, giving connections still open
/// one more second. A second signal exits at once. For other limits, use
/// [`FrontDoor::harden`].
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use bookhook_actix::{Dispatcher, Endpoint, Provider};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
/// let dispatcher = Dispatcher::builder(endpoint).build()?;
/// let server = HttpServer::new(move || {
///     App::new().service(bookhook_actix::resource("/webhook", dispatcher.clone()))
/// });
/// bookhook_actix::harden(server).bind(("127.0.0.1", 8080))?.run().await?;
/// # Ok(())
/// # }
/// ```
pub fn harden<F, I, S, B>(server: HttpServer<F, I, S, B>) -> HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    FrontDoor::process().harden(server)
}
