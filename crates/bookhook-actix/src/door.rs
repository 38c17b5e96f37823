//! `FrontDoor`: the core's cap and shutdown cut-off of deliveries
//! ([`bookhook::front_door::Deliveries`]), put on an actix-web server.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use actix_http::body::MessageBody;
use actix_http::{Request, Response};
use actix_service::{IntoServiceFactory, Service, ServiceFactory};
use actix_web::HttpServer;
use actix_web::dev::AppConfig;
use bookhook::endpoint::Rejection;
pub use bookhook::front_door::shutdown_signal;
use bookhook::front_door::{Deliveries, Pass};

use crate::server::ServerLimits;

/// Default number of deliveries in progress at once, all workers together: 256.
pub const DEFAULT_MAX_DELIVERIES: usize = 256;

/// How long connections still open once the deliveries have drained may take
/// to finish (actix-web's `shutdown_timeout`, in whole seconds).
const CLOSE_AFTER_DRAIN_SECS: u64 = 1;

/// The deliveries in progress on one actix-web server, shared by all its
/// workers: at most [`ServerLimits::max_deliveries`] at once, and at shutdown
/// a grace period ([`ServerLimits::grace`]) after which those still running
/// are cut off **with their claims released**, so that the sender's retry
/// runs them again.
///
/// Put a clone in the app's data with `App::app_data` and harden the server
/// with [`FrontDoor::harden`]: [`resource`](crate::resource),
/// [`route`](crate::route), [`handle`](crate::handle) and the inbox entry
/// points find it there. Without one they use a door shared by the whole
/// process with the default limits, which is the one [`harden`](crate::harden)
/// drains. With a door of your own, harden the server with that door: the
/// free `harden` would drain only the process-wide one.
///
/// - Past the cap, a request gets 503 with `Retry-After` (the core's
///   [`Rejection::Busy`]), and a warning is logged (at most every ten seconds).
///   A request counts from the end of its body read (slow bodies are bounded
///   by the endpoint's body timeout and unverified budget, not by this cap)
///   until its delivery ends, even if its sender hung up.
/// - At shutdown ([`FrontDoor::shutdown`]) new deliveries get 503; those in
///   progress get the grace period; then the ones still running are cut off
///   (their handler futures dropped, their claims released, 500 answered).
///   Only then does actix-web stop its workers, so no delivery is dropped
///   with its worker.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use bookhook_actix::{Dispatcher, Endpoint, FrontDoor, Provider, ServerLimits};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
/// let dispatcher = Dispatcher::builder(endpoint).build()?;
///
/// let mut limits = ServerLimits::default();
/// limits.max_deliveries = 64;
/// limits.grace = std::time::Duration::from_secs(20);
/// let door = FrontDoor::new(limits);
///
/// let server = HttpServer::new({
///     let door = door.clone();
///     move || {
///         App::new()
///             .app_data(door.clone())
///             .service(bookhook_actix::resource("/webhook", dispatcher.clone()))
///     }
/// });
/// // Timeouts and connection cap; at the first SIGTERM or SIGINT the
/// // deliveries drain for 20 s, then the rest are cut off; a second signal
/// // exits at once.
/// door.harden(server).bind(("127.0.0.1", 8080))?.run().await?;
/// # Ok(())
/// # }
/// ```
///
/// To start the shutdown from a signal of your own, give actix-web
/// [`shutdown_after`](FrontDoor::shutdown_after) it (after `harden`):
///
/// ```no_run
/// # use actix_web::{App, HttpServer};
/// # use bookhook_actix::FrontDoor;
/// # async fn run(door: FrontDoor, stop: impl std::future::Future<Output = ()> + Send + 'static)
/// # -> std::io::Result<()> {
/// # let server = HttpServer::new({ let door = door.clone(); move || App::new().app_data(door.clone()) });
/// door.harden(server)
///     .shutdown_signal(door.shutdown_after(stop))
///     .bind(("127.0.0.1", 8080))?
///     .run()
///     .await
/// # }
/// ```
#[derive(Clone)]
pub struct FrontDoor {
    inner: Arc<Inner>,
}

struct Inner {
    limits: ServerLimits,
    /// The cap and the cut-off, kept by the core.
    deliveries: Deliveries,
}

impl fmt::Debug for FrontDoor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrontDoor")
            .field("limits", &self.inner.limits)
            .field("in_progress", &self.in_progress())
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}

impl Default for FrontDoor {
    fn default() -> Self {
        Self::new(ServerLimits::default())
    }
}

impl FrontDoor {
    /// A door with `limits` (its `max_deliveries`, at least 1, and `grace`
    /// here; the rest when it [hardens](Self::harden) a server).
    pub fn new(limits: ServerLimits) -> Self {
        Self {
            inner: Arc::new(Inner {
                limits,
                deliveries: Deliveries::new(limits.max_deliveries),
            }),
        }
    }

    /// The door shared by the whole process, used by requests whose app has
    /// no [`FrontDoor`] in its data, and drained by [`harden`](crate::harden).
    pub(crate) fn process() -> &'static FrontDoor {
        static PROCESS: OnceLock<FrontDoor> = OnceLock::new();
        PROCESS.get_or_init(FrontDoor::default)
    }

    /// The door in `request`'s app data, or the process-wide one.
    pub(crate) fn of(request: &actix_web::HttpRequest) -> &FrontDoor {
        request
            .app_data::<FrontDoor>()
            .unwrap_or_else(|| FrontDoor::process())
    }

    /// The limits this door was made with.
    pub fn limits(&self) -> ServerLimits {
        self.inner.limits
    }

    /// Deliveries in progress now.
    pub fn in_progress(&self) -> usize {
        self.inner.deliveries.in_progress()
    }

    /// Whether [`shutdown`](Self::shutdown) has begun: new deliveries are refused.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.deliveries.is_shutting_down()
    }

    /// Sets the door's [`ServerLimits`] on `server` and makes the first
    /// SIGTERM or SIGINT ([`shutdown_signal`]) begin [`shutdown`](Self::shutdown);
    /// a second signal exits at once. Once the deliveries have drained (or
    /// been cut off), actix-web stops its workers and gives connections
    /// still open one more second. Call it before `bind`.
    pub fn harden<F, I, S, B>(&self, server: HttpServer<F, I, S, B>) -> HttpServer<F, I, S, B>
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
        self.inner
            .limits
            .apply(server)
            .shutdown_timeout(CLOSE_AFTER_DRAIN_SECS)
            .shutdown_signal(self.shutdown_after(shutdown_signal()))
    }

    /// A future for actix-web's `HttpServer::shutdown_signal`: waits for
    /// `signal`, then runs [`shutdown`](Self::shutdown), and completes when
    /// the server may stop its workers.
    pub fn shutdown_after(
        &self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let door = self.clone();
        async move {
            signal.await;
            door.shutdown().await;
        }
    }

    /// Begins the shutdown: new deliveries get 503; those in progress have
    /// the grace period; then those still running are cut off and their
    /// claims released. Completes when no delivery is left (or, should a
    /// cut-off one hang while releasing, a few seconds after the grace
    /// period). Calling it again waits for the same deadline.
    pub async fn shutdown(&self) {
        let grace = self.inner.limits.grace;
        self.inner.deliveries.shutdown_within(grace).await;
    }

    /// Lets one delivery in, or refuses it with the core's answer.
    pub(crate) fn enter(&self) -> Result<Pass, Rejection> {
        self.inner.deliveries.enter()
    }
}
