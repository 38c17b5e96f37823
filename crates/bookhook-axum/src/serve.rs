//! A hardened HTTP/1 server for an axum `Router`: timeouts, connection and
//! delivery caps, and a shutdown with a deadline.

use std::convert::Infallible;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use bookhook::Outcome;
use bookhook::front_door::{Deliveries, Pass, Throttle};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::body::into_axum;

pub use bookhook::front_door::shutdown_signal;

/// Default time a client has to send a request's headers: 10 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a kept-alive connection may stay idle between requests: 5 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of connections served at once: 512.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default number of requests in progress at once: 256.
pub const DEFAULT_MAX_DELIVERIES: usize = 256;
/// Default grace period given to requests in progress at shutdown: 30 s.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// The largest buffer kept per connection (headers, and body bytes read
/// ahead): 64 KiB. Longer request heads are refused.
pub const MAX_CONNECTION_BUFFER: usize = 64 * 1024;

/// Serves `app` on `listener` with limits against slow and hostile clients.
///
/// `axum::serve` has no header timeout and no connection cap, and waits
/// forever for a stalled client at shutdown. This server is HTTP/1.1 only
/// (what webhook senders use) and, with its defaults:
///
/// | limit | default | setter |
/// |---|---|---|
/// | time to send the request headers (counted from the end of the previous response) | 10 s | [`header_timeout`](Serve::header_timeout) |
/// | idle time between requests on a kept-alive connection | 5 s | [`idle_timeout`](Serve::idle_timeout) |
/// | time to send the whole body (408) | 15 s | the endpoint's [`body_timeout`](bookhook::endpoint::EndpointBuilder::body_timeout) |
/// | body bytes held before verification, all connections together (503) | 64 MiB | the endpoint's [`unverified_budget`](bookhook::endpoint::EndpointBuilder::unverified_budget) |
/// | connections open at once (more wait in the listen backlog) | 512 | [`max_connections`](Serve::max_connections) |
/// | requests in progress at once (503 with `Retry-After` beyond) | 256 | [`max_deliveries`](Serve::max_deliveries) |
/// | buffer per connection | 64 KiB | [`MAX_CONNECTION_BUFFER`] |
/// | grace period at shutdown | 30 s | [`grace`](Serve::grace) |
///
/// The body limits belong to the webhook services and layers themselves, so
/// they also hold under a server of your own. Reaching the connection or
/// delivery cap is logged (`tracing` warning, at most every ten seconds).
///
/// At shutdown ([`with_graceful_shutdown`](Serve::with_graceful_shutdown))
/// the listener is closed and idle connections too; requests in progress
/// get the grace period. Then every connection is closed, and a
/// [`WebhookService`](crate::WebhookService) or
/// [`WebhookLayer`](crate::WebhookLayer) delivery still running is cut off:
/// its handler is stopped and its claim released, so that the sender's retry
/// runs it again. [`shutdown_signal`] also makes a second SIGTERM or SIGINT
/// end the process at once.
///
/// ```no_run
/// use axum::Router;
/// use bookhook_axum::{Dispatcher, Endpoint, Provider, WebhookService};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
/// let app = Router::new()
///     .route_service("/webhook", WebhookService::new(Dispatcher::builder(endpoint).build()?));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// bookhook_axum::serve(listener, app)
///     .with_graceful_shutdown(bookhook_axum::shutdown_signal())
///     .await?;
/// # Ok(())
/// # }
/// ```
pub fn serve(listener: TcpListener, app: Router) -> Serve {
    Serve {
        listener,
        app,
        header_timeout: DEFAULT_HEADER_TIMEOUT,
        idle_timeout: DEFAULT_IDLE_TIMEOUT,
        max_connections: DEFAULT_MAX_CONNECTIONS,
        max_deliveries: DEFAULT_MAX_DELIVERIES,
        grace: DEFAULT_GRACE,
        shutdown: None,
    }
}

/// The server built by [`serve`]: set its limits, then `.await` it.
#[must_use = "a server does nothing until it is awaited"]
#[derive(Debug)]
pub struct Serve {
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    max_deliveries: usize,
    grace: Duration,
    shutdown: Option<Signal>,
}

/// What begins the shutdown, given to [`Serve::with_graceful_shutdown`].
struct Signal(Pin<Box<dyn Future<Output = ()> + Send>>);

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signal")
    }
}

impl Serve {
    /// How long a client has to send a request's headers, counted from the
    /// moment the server waits for them (default 10 s). Past it the
    /// connection is closed.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a kept-alive connection may receive nothing between two
    /// requests before it is closed (default 5 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many connections are served at once (default 512, at least 1).
    /// Further connections wait in the listen backlog until one closes.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How many requests are in progress at once (default 256, at least 1).
    /// Beyond it requests get 503 with `Retry-After`.
    pub fn max_deliveries(mut self, requests: usize) -> Self {
        self.max_deliveries = requests.max(1);
        self
    }

    /// How long requests in progress may run once shutdown has begun
    /// (default 30 s); then their connections are closed and their
    /// deliveries cut off.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Begins the shutdown when `signal` completes, for example
    /// [`shutdown_signal`]. Without it the server runs until dropped.
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.shutdown = Some(Signal(Box::pin(signal)));
        self
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    async fn run(self) -> io::Result<()> {
        let Serve {
            listener,
            app,
            header_timeout,
            idle_timeout,
            max_connections,
            max_deliveries,
            grace,
            shutdown,
        } = self;
        let mut shutdown = match shutdown {
            Some(Signal(signal)) => signal,
            None => Box::pin(std::future::pending()),
        };
        let connections = Arc::new(Semaphore::new(max_connections));
        let deliveries = Deliveries::new(max_deliveries);
        let graceful = GracefulShutdown::new();
        let mut tasks = tokio::task::JoinSet::new();
        let conn_warning = Throttle::default();

        loop {
            if connections.available_permits() == 0 {
                bookhook::metrics::front_door_refused("connections");
                conn_warning.warn(|| {
                    tracing::warn!(
                        max_connections,
                        "connection limit reached ({max_connections} open); new connections wait in the backlog"
                    );
                });
            }
            let permit = tokio::select! {
                permit = Arc::clone(&connections).acquire_owned() => permit,
                () = &mut shutdown => break,
            };
            let Ok(permit) = permit else { break };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = &mut shutdown => break,
            };
            // Reap finished connection tasks so the set does not grow.
            while tasks.try_join_next().is_some() {}
            let stream = match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    // Out of file descriptors and the like: wait a little
                    // rather than spin.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let activity = Arc::new(Activity::new());
            let io = TokioIo::new(Tracked {
                stream,
                activity: Arc::clone(&activity),
            });
            let service = hyper::service::service_fn({
                let app = app.clone();
                let deliveries = deliveries.clone();
                let activity = Arc::clone(&activity);
                move |request: http::Request<Incoming>| {
                    let app = app.clone();
                    let entered = deliveries.enter();
                    let activity = Arc::clone(&activity);
                    async move {
                        let pass = match entered {
                            Ok(pass) => Cutoff(Arc::new(pass)),
                            Err(busy) => {
                                bookhook::metrics::front_door_refused("deliveries");
                                return Ok::<_, Infallible>(into_axum(
                                    Outcome::Rejected(busy).response(),
                                ));
                            }
                        };
                        let _busy = activity.begin_request();
                        let mut request = request.map(Body::new);
                        // The delivery keeps a clone until it ends, even if
                        // its sender hangs up; this one lasts until the answer.
                        request.extensions_mut().insert(pass.clone());
                        let response = app.oneshot(request).await;
                        drop(pass);
                        response
                    }
                }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(MAX_CONNECTION_BUFFER)
                .serve_connection(io, service);
            let connection = graceful.watch(connection);
            tasks.spawn(async move {
                tokio::select! {
                    served = connection => {
                        if let Err(err) = served {
                            tracing::debug!(error = %err, "connection ended with an error");
                        }
                    }
                    () = activity.idle_for(idle_timeout) => {
                        tracing::debug!("idle connection closed");
                    }
                }
                drop(permit);
            });
        }

        drop(listener);
        let open = tasks.len();
        tracing::info!(
            connections = open,
            grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
            "shutting down: no new connections; requests in progress have the grace period"
        );
        let deadline = tokio::time::Instant::now() + grace;
        let drained = tokio::time::timeout_at(deadline, graceful.shutdown())
            .await
            .is_ok();
        if !drained {
            tracing::warn!(
                connections = tasks.len(),
                "grace period over: closing the remaining connections and cutting off their deliveries"
            );
            tasks.abort_all();
        }
        // Deliveries whose sender hung up run on after their connection:
        // they get what is left of the grace period too; then those still
        // running are cut off (their claims are released), briefly waited for.
        deliveries.shutdown_at(deadline).await;
        tasks.shutdown().await;
        Ok(())
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Put in each request's extensions by [`serve`]: the request's [`Pass`]
/// through the delivery cap. While a clone lives the delivery is counted
/// and shutdown waits for it; it tells when the grace period is over.
#[derive(Clone)]
pub(crate) struct Cutoff(Arc<Pass>);

impl Cutoff {
    /// Completes once deliveries are to be cut off, keeping the delivery
    /// counted until then; never for a request that came without a cut-off
    /// (not served by [`serve`]).
    pub(crate) async fn wait_for(cutoff: Option<Cutoff>) {
        match cutoff {
            Some(Cutoff(pass)) => pass.cutoff().await,
            None => std::future::pending().await,
        }
    }
}

/// When a connection last received bytes, and whether a request is in progress.
struct Activity {
    started: Instant,
    last_read_ms: AtomicU64,
    requests: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            last_read_ms: AtomicU64::new(0),
            requests: AtomicUsize::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_read_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn begin_request(self: &Arc<Self>) -> RequestGuard {
        self.requests.fetch_add(1, Ordering::AcqRel);
        RequestGuard(Arc::clone(self))
    }

    /// Completes once nothing was received for `idle` while no request was
    /// in progress.
    async fn idle_for(&self, idle: Duration) {
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        loop {
            let quiet_since = self.last_read_ms.load(Ordering::Relaxed);
            let due = quiet_since.saturating_add(idle_ms);
            let now = self.now_ms();
            if now >= due && self.requests.load(Ordering::Acquire) == 0 {
                return;
            }
            let wait = if now >= due { idle_ms } else { due - now };
            tokio::time::sleep(Duration::from_millis(wait.max(1))).await;
        }
    }
}

struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A TCP stream that records when it last received bytes.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
