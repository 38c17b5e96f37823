//! The deliveries in progress on an actix-web server: their cap, and their
//! cut-off at the end of the shutdown grace period.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_http::body::MessageBody;
use actix_http::{Request, Response};
use actix_service::{IntoServiceFactory, Service, ServiceFactory};
use actix_web::HttpServer;
use actix_web::dev::AppConfig;
use bookhook::endpoint::Rejection;
use tokio::sync::watch;
use tokio::time::Instant as TimerInstant;

use crate::server::ServerLimits;
use crate::service::BUSY_RETRY_AFTER;

/// Default number of deliveries in progress at once, all workers together: 256.
pub const DEFAULT_MAX_DELIVERIES: usize = 256;

/// How long connections still open once the deliveries have drained may take
/// to finish (actix-web's `shutdown_timeout`, in whole seconds).
const CLOSE_AFTER_DRAIN_SECS: u64 = 1;

/// How long cut-off deliveries get to release their claims.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

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
    /// Deliveries in progress.
    in_progress: watch::Sender<usize>,
    phase: watch::Sender<Phase>,
    /// When the grace period ends, set by the first shutdown.
    deadline: OnceLock<TimerInstant>,
    warning: Throttle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    Draining,
    CutOff,
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
                in_progress: watch::Sender::new(0),
                phase: watch::Sender::new(Phase::Serving),
                deadline: OnceLock::new(),
                warning: Throttle::default(),
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
        *self.inner.in_progress.borrow()
    }

    /// Whether [`shutdown`](Self::shutdown) has begun: new deliveries are refused.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.phase.borrow() != Phase::Serving
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
        let inner = &self.inner;
        let grace = inner.limits.grace;
        let deadline = *inner.deadline.get_or_init(|| TimerInstant::now() + grace);
        let began = inner.phase.send_if_modified(|phase| {
            let serving = *phase == Phase::Serving;
            if serving {
                *phase = Phase::Draining;
            }
            serving
        });
        let mut in_progress = inner.in_progress.subscribe();
        if began {
            tracing::info!(
                deliveries = *in_progress.borrow(),
                grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                "shutting down: new deliveries get 503; those in progress have the grace period"
            );
        }
        let drained = tokio::time::timeout_at(deadline, in_progress.wait_for(|n| *n == 0))
            .await
            .is_ok();
        if !drained {
            let left = *in_progress.borrow();
            if inner.phase.send_replace(Phase::CutOff) != Phase::CutOff {
                tracing::warn!(
                    deliveries = left,
                    "grace period over: cutting off the deliveries still running and releasing their claims"
                );
            }
            let _ =
                actix_web::rt::time::timeout(RELEASE_WAIT, in_progress.wait_for(|n| *n == 0)).await;
        }
    }

    /// Lets one delivery in, or refuses it with the core's answer.
    pub(crate) fn enter(&self) -> Result<Pass, Rejection> {
        let inner = &self.inner;
        let max = inner.limits.max_deliveries.max(1);
        // Count first, then look at the phase: a shutdown that begins
        // in between sees this delivery and waits for it.
        let counted = inner.in_progress.send_if_modified(|n| {
            let room = *n < max;
            if room {
                *n += 1;
            }
            room
        });
        if !counted {
            inner.warning.warn(|| {
                tracing::warn!(
                    max_deliveries = max,
                    "delivery limit reached ({max} in progress); answering 503"
                );
            });
            return Err(busy());
        }
        let pass = Pass {
            door: self.clone(),
            phase: inner.phase.subscribe(),
        };
        if *pass.phase.borrow() != Phase::Serving {
            tracing::debug!("shutting down: delivery refused with 503");
            return Err(busy());
        }
        Ok(pass)
    }
}

fn busy() -> Rejection {
    Rejection::Busy {
        limit: "deliveries",
        retry_after: BUSY_RETRY_AFTER,
    }
}

/// One delivery let in: counted until dropped.
pub(crate) struct Pass {
    door: FrontDoor,
    phase: watch::Receiver<Phase>,
}

impl Pass {
    /// Completes when the door cuts off the deliveries still running.
    pub(crate) fn cutoff(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut phase = self.phase.clone();
        async move {
            // The sender lives in the door, which this future's pass keeps.
            if phase
                .wait_for(|phase| *phase == Phase::CutOff)
                .await
                .is_err()
            {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.door
            .inner
            .in_progress
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Completes at the first SIGTERM or SIGINT (Ctrl-C elsewhere than Unix),
/// for actix-web's `HttpServer::shutdown_signal` (through
/// [`FrontDoor::shutdown_after`]). From then on, a second SIGTERM or SIGINT
/// ends the process at once with exit status 130.
pub async fn shutdown_signal() {
    wait_for_signal().await;
    tracing::warn!("shutting down; a second signal exits at once");
    actix_web::rt::spawn(async {
        wait_for_signal().await;
        eprintln!("second signal: exiting now");
        std::process::exit(130);
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut terminate), Ok(mut interrupt)) => {
            futures_util::future::select(
                std::pin::pin!(terminate.recv()),
                std::pin::pin!(interrupt.recv()),
            )
            .await;
        }
        _ => {
            tracing::error!("cannot listen for SIGTERM or SIGINT");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    if actix_web::rt::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Lets a warning through at most once every ten seconds.
#[derive(Default)]
struct Throttle {
    last: Mutex<Option<Instant>>,
}

impl Throttle {
    fn warn(&self, log: impl FnOnce()) {
        let mut last = match self.last.lock() {
            Ok(last) => last,
            Err(poisoned) => poisoned.into_inner(),
        };
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
            *last = Some(Instant::now());
            drop(last);
            log();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door(max: usize) -> FrontDoor {
        FrontDoor::new(ServerLimits {
            max_deliveries: max,
            grace: Duration::from_millis(50),
            ..ServerLimits::default()
        })
    }

    #[test]
    fn lets_in_up_to_the_cap_and_counts_passes_until_dropped() {
        let door = door(2);
        let first = door.enter().expect("room");
        let second = door.enter().expect("room");
        assert_eq!(door.in_progress(), 2);
        assert!(matches!(
            door.enter(),
            Err(Rejection::Busy {
                limit: "deliveries",
                ..
            })
        ));
        assert_eq!(door.in_progress(), 2);
        drop(first);
        assert_eq!(door.in_progress(), 1);
        let third = door.enter().expect("room again");
        drop((second, third));
        assert_eq!(door.in_progress(), 0);
    }

    #[actix_web::test]
    async fn shutdown_refuses_new_deliveries_and_cuts_off_running_ones() {
        let door = door(4);
        let running = door.enter().expect("room");
        let cutoff = running.cutoff();
        let released = actix_web::rt::spawn(async move {
            cutoff.await;
            drop(running);
        });
        door.shutdown().await;
        assert!(door.is_shutting_down());
        assert!(door.enter().is_err());
        released.await.expect("the cut-off fired");
        assert_eq!(door.in_progress(), 0);
    }
}
