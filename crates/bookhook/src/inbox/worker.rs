//! Handling stored events in the background: the worker.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::clock::{Clock, SystemClock};
use crate::dispatch::{Context, Dispatcher, run_caught};
use crate::error::{ConfigError, HandlerError};
use crate::event::Delivery;
use crate::idempotency::Freshness;
use crate::provider::Provider;
use crate::provider::hmac::HmacEnvelope;

use super::ingest::{Ingest, Wakeup};
use super::schedule::RetrySchedule;
use super::{Claimed, Failure, Inbox, InboxError, InboxId, Lease, Trigger};

/// The default time a handler may run before its attempt fails: 30 s.
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// The default lease on a claimed row: 60 s, longer than the handler timeout.
pub const DEFAULT_WORKER_LEASE: Duration = Duration::from_secs(60);
/// The default time done rows are kept (and so the dedup window): 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How many handlers a worker runs at once unless told: 16 (see
/// [`WorkerBuilder::concurrency`]).
const DEFAULT_CONCURRENCY: usize = 16;
/// How often the running worker reads the inbox's counts for the metrics' gauges.
const STATS_EVERY: Duration = Duration::from_secs(10);

type Observer = Arc<dyn Fn(&AttemptReport) + Send + Sync>;

/// Runs a [`Dispatcher`]'s handlers on the events stored in an [`Inbox`].
///
/// The routes are the dispatcher's own (`on`, `on_prefix`, `on_kind`,
/// `fallback`) and handlers get the same [`Context`], with
/// [`freshness`](crate::endpoint::ClaimedEvent::freshness) telling whether a newer event of the
/// same appointment was already handled. The worker:
///
/// - claims due rows of the dispatcher's endpoint namespace, up to
///   [`concurrency`](WorkerBuilder::concurrency) at a time, as soon as a
///   [`Wakeup`] says one was stored and otherwise every
///   [`poll`](WorkerBuilder::poll) interval;
/// - parses each stored body again, with its stored headers, and runs its
///   handler with a [`timeout`](WorkerBuilder::timeout), catching panics;
/// - completes the row, or fails it on the [`RetrySchedule`] (a timeout and a
///   panic count as failed attempts; [`HandlerError::permanent`] ends the
///   row dead at once, [`HandlerError::retry_after`] sets its own delay);
/// - removes done rows older than the [`retention`](WorkerBuilder::retention);
/// - reports each finished attempt to an [`observer`](WorkerBuilder::observer).
///
/// Handling is at-least-once: a worker that dies after a handler ran but
/// before the row was completed leaves a lease that expires, and the event
/// runs again. Handlers must be idempotent.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use bookhook::inbox::{Ingest, MemoryInbox, Worker};
/// use bookhook::{Context, Dispatcher, Endpoint, Kind, Provider, signature::SignRequest};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
/// let handled = Arc::new(AtomicUsize::new(0));
/// let dispatcher = Dispatcher::builder(endpoint.clone())
///     .on_kind(Kind::Created, {
///         let handled = handled.clone();
///         move |_ctx: Context| {
///             let handled = handled.clone();
///             async move {
///                 handled.fetch_add(1, Ordering::SeqCst);
///                 Ok::<_, std::convert::Infallible>(())
///             }
///         }
///     })
///     .build()?;
/// let inbox = Arc::new(MemoryInbox::new());
///
/// // The request path stores the event and answers at once...
/// let ingest = Ingest::new(endpoint.clone(), inbox.clone());
/// let body = br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
/// let headers = endpoint.sign(body, &SignRequest::now()).headers;
/// assert_eq!(ingest.receive("POST", &headers, None, body.as_slice().into()).await.status(), 200);
///
/// // ...and the worker handles it. `spawn` runs it in the background until
/// // `shutdown`; `drain` handles what is due now and returns.
/// let worker = Worker::builder(dispatcher, inbox).build()?;
/// assert_eq!(worker.drain().await, 1);
/// assert_eq!(handled.load(Ordering::SeqCst), 1);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Worker<S = ()> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for Worker<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<S> {
    dispatcher: Dispatcher<S>,
    inbox: Arc<dyn Inbox>,
    namespace: String,
    concurrency: usize,
    lease: Duration,
    timeout: Duration,
    schedule: RetrySchedule,
    poll: Duration,
    retention: Duration,
    expire_every: Duration,
    grace: Duration,
    abandon_on_shutdown: bool,
    clock: Arc<dyn Clock>,
    wakeup: Wakeup,
    observer: Option<Observer>,
    envelope: Option<HmacEnvelope>,
}

impl<S> fmt::Debug for Worker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("Worker")
            .field("namespace", &s.namespace)
            .field("concurrency", &s.concurrency)
            .field("lease", &s.lease)
            .field("timeout", &s.timeout)
            .field("schedule", &s.schedule)
            .field("poll", &s.poll)
            .field("retention", &s.retention)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> Worker<S> {
    /// Starts configuring a worker that runs `dispatcher`'s handlers on the
    /// rows of its endpoint's namespace in `inbox`.
    pub fn builder(dispatcher: Dispatcher<S>, inbox: Arc<dyn Inbox>) -> WorkerBuilder<S> {
        WorkerBuilder {
            dispatcher,
            inbox,
            concurrency: DEFAULT_CONCURRENCY,
            lease: DEFAULT_WORKER_LEASE,
            timeout: DEFAULT_HANDLER_TIMEOUT,
            schedule: RetrySchedule::default(),
            poll: Duration::from_secs(1),
            retention: DEFAULT_RETENTION,
            expire_every: Duration::from_secs(60),
            grace: Duration::from_secs(30),
            abandon_on_shutdown: false,
            clock: Arc::new(SystemClock),
            wakeup: None,
            observer: None,
            envelope: None,
        }
    }

    /// The signal that wakes this worker: give it to the [`Ingest`](super::Ingest)
    /// of the same process with [`Ingest::wakeup`](super::Ingest::wakeup).
    pub fn wakeup(&self) -> Wakeup {
        self.shared.wakeup.clone()
    }

    /// The request side for this worker: an [`Ingest`] for the dispatcher's
    /// endpoint and the worker's inbox, which wakes this worker on each new
    /// event. Hand it to a web adapter's inbox mode.
    pub fn ingest(&self) -> Ingest {
        Ingest::new(
            self.shared.dispatcher.endpoint().clone(),
            Arc::clone(&self.shared.inbox),
        )
        .wakeup(self.shared.wakeup.clone())
    }

    /// Runs the worker beside `server` (a web server's future, say) on the
    /// current tokio runtime: starts it, awaits `server`, then shuts the
    /// worker down as [`WorkerHandle::shutdown`] does. The worker stops with
    /// the server, whose graceful shutdown has let in-flight requests finish.
    ///
    /// ```no_run
    /// # async fn run(worker: bookhook::inbox::Worker) {
    /// let server = async { /* axum::serve(...).await, HttpServer::run().await */ };
    /// let ((), report) = worker.alongside(server).await;
    /// assert_eq!(report.cut_off, 0);
    /// # }
    /// ```
    pub async fn alongside<F: IntoFuture>(&self, server: F) -> (F::Output, ShutdownReport) {
        let handle = self.spawn();
        let served = server.await;
        (served, handle.shutdown().await)
    }

    /// Handles every row that is due now, `concurrency` at a time, until
    /// none is left, and returns how many attempts ran. Rows that fail are
    /// rescheduled and not run again by this call unless they are due at
    /// once. For tests (with a [`ManualClock`](crate::ManualClock)) and for
    /// one-shot jobs.
    pub async fn drain(&self) -> usize {
        let shared = &self.shared;
        let mut ran = 0;
        loop {
            let claimed = match shared.claim(shared.concurrency).await {
                Ok(claimed) if !claimed.is_empty() => claimed,
                Ok(_) => return ran,
                Err(err) => {
                    tracing::warn!(error = %err, "inbox worker could not claim events");
                    return ran;
                }
            };
            ran += claimed.len();
            join_all(claimed.into_iter().map(|row| shared.run(row))).await;
        }
    }

    /// Runs the worker on the current tokio runtime until
    /// [`WorkerHandle::shutdown`].
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn(&self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(run_loop(shared, stopped));
        WorkerHandle { stop, task }
    }
}

/// A worker running in the background; see [`Worker::spawn`]. Dropping it
/// shuts the worker down as [`shutdown`](Self::shutdown) does, without waiting.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<ShutdownReport>,
}

impl WorkerHandle {
    /// Stops claiming, waits for the running handlers up to the worker's
    /// [`shutdown_grace`](WorkerBuilder::shutdown_grace), then cuts off the
    /// ones still running: their leases expire and their events run again
    /// later (or, with [`abandon_on_shutdown`](WorkerBuilder::abandon_on_shutdown),
    /// they are put back at once).
    pub async fn shutdown(self) -> ShutdownReport {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(report) => report,
            Err(err) => {
                tracing::error!(error = %err, "inbox worker task failed");
                ShutdownReport::default()
            }
        }
    }

    /// Whether the worker has stopped.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// How a worker's shutdown went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Handlers that finished within the grace period.
    pub finished: usize,
    /// Handlers still running at the deadline, cut off.
    pub cut_off: usize,
}

async fn run_loop<S: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    mut stopped: watch::Receiver<bool>,
) -> ShutdownReport {
    let slots = Arc::new(Semaphore::new(shared.concurrency));
    let freed = Arc::new(Notify::new());
    let mut tasks: JoinSet<()> = JoinSet::new();
    let running: Arc<std::sync::Mutex<Vec<Lease>>> = Arc::default();
    let mut last_expire: Option<i64> = None;
    let mut last_stats: Option<i64> = None;
    loop {
        if *stopped.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let now = shared.now_ms();
        if last_stats.is_none_or(|at| now.saturating_sub(at) >= ms(STATS_EVERY)) {
            last_stats = Some(now);
            match shared.inbox.stats().await {
                Ok(stats) => crate::metrics::record_inbox_stats(&stats, now),
                Err(err) => {
                    crate::metrics::inbox_error("stats");
                    tracing::warn!(error = %err, "inbox: could not read its counts");
                }
            }
        }
        if last_expire.is_none_or(|at| now.saturating_sub(at) >= ms(shared.expire_every)) {
            last_expire = Some(now);
            match shared.inbox.expire(now, shared.retention).await {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::debug!(removed, "inbox: done events past retention removed")
                }
                Err(err) => {
                    crate::metrics::inbox_error("expire");
                    tracing::warn!(error = %err, "inbox: could not remove old events");
                }
            }
        }
        let free = slots.available_permits();
        let mut full_batch = false;
        if free > 0 {
            match shared.claim(free).await {
                Ok(claimed) => {
                    full_batch = claimed.len() == free;
                    for row in claimed {
                        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                            break;
                        };
                        let shared = Arc::clone(&shared);
                        let freed = Arc::clone(&freed);
                        let running = Arc::clone(&running);
                        let lease = row.lease;
                        lock(&running).push(lease);
                        tasks.spawn(async move {
                            shared.run(row).await;
                            lock(&running).retain(|held| held.id != lease.id);
                            drop(permit);
                            freed.notify_one();
                        });
                    }
                }
                Err(err) => tracing::warn!(error = %err, "inbox worker could not claim events"),
            }
        }
        if full_batch && slots.available_permits() > 0 {
            continue;
        }
        tokio::select! {
            // A dropped handle stops the worker as shutdown() would.
            changed = stopped.changed() => if changed.is_err() { break },
            () = shared.wakeup.notified() => {}
            () = freed.notified(), if slots.available_permits() == 0 || full_batch => {}
            () = tokio::time::sleep(shared.poll) => {}
        }
    }
    // Shutting down: no more claims; give running handlers their grace.
    let mut report = ShutdownReport::default();
    let deadline = tokio::time::sleep(shared.grace);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(_) => report.finished += 1,
                None => break,
            },
            () = &mut deadline => break,
        }
    }
    report.cut_off = tasks.len();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let left: Vec<Lease> = lock(&running).drain(..).collect();
    if shared.abandon_on_shutdown {
        let now = shared.now_ms();
        for lease in &left {
            if let Err(err) = shared.inbox.abandon(lease, now).await {
                tracing::warn!(id = %lease.id, error = %err, "inbox: could not give an event back");
            }
        }
    }
    if report.cut_off > 0 {
        tracing::warn!(
            cut_off = report.cut_off,
            "inbox worker stopped with handlers still running; their events will run again"
        );
    }
    report
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl<S: Clone + Send + Sync + 'static> Shared<S> {
    fn now_ms(&self) -> i64 {
        i64::try_from(self.clock.now_unix_ms()).unwrap_or(i64::MAX)
    }

    async fn claim(&self, max: usize) -> Result<Vec<Claimed>, InboxError> {
        let claimed = self
            .inbox
            .claim(&self.namespace, self.now_ms(), self.lease, max)
            .await;
        if claimed.is_err() {
            crate::metrics::inbox_error("claim");
        }
        claimed
    }

    fn parse(&self, claimed: &Claimed) -> Result<Delivery, crate::error::ParseError> {
        let body: Bytes = claimed.body.clone();
        match &self.envelope {
            Some(envelope) => Delivery::parse_hmac(envelope, &claimed.headers, body),
            None => Delivery::parse(claimed.record.provider, &claimed.headers, body),
        }
    }

    /// One attempt: parse, route, run with timeout, record the result.
    async fn run(&self, claimed: Claimed) {
        let started = Instant::now();
        let lease = claimed.lease;
        let result = match self.parse(&claimed) {
            Err(err) => Err(HandlerError::permanent(format!(
                "the stored body no longer parses: {err}"
            ))),
            Ok(delivery) => {
                let delivery = Arc::new(delivery);
                match self
                    .dispatcher
                    .route(delivery.event_type(), delivery.kind())
                {
                    None => Ok(false),
                    Some(handler) => {
                        let freshness = claimed.newer_done_at_ms.map_or(Freshness::Latest, |at| {
                            Freshness::Stale { newer_seen_at: at }
                        });
                        let ctx =
                            Context::new(delivery, freshness, self.dispatcher.state().clone());
                        match tokio::time::timeout(self.timeout, run_caught(handler.as_ref(), ctx))
                            .await
                        {
                            Ok(Ok(())) => Ok(true),
                            Ok(Err(err)) => Err(err),
                            Err(_) => Err(HandlerError::TimedOut {
                                after: self.timeout,
                            }),
                        }
                    }
                }
            }
        };
        let now = self.now_ms();
        let (result, error, recorded) = match result {
            Ok(routed) => {
                let recorded = self.inbox.complete(&lease, now).await;
                let result = if routed {
                    AttemptResult::Processed
                } else {
                    AttemptResult::Unrouted
                };
                (result, None, recorded)
            }
            Err(err) => {
                let failure = self.schedule.failure(lease.attempt, now, &err);
                let result = match &failure {
                    Failure::Retry { at_ms, .. } => AttemptResult::Retrying { at_ms: *at_ms },
                    _ => AttemptResult::Dead,
                };
                let recorded = self.inbox.fail(&lease, now, failure).await;
                (result, Some(err.to_string()), recorded)
            }
        };
        let result = match recorded {
            Ok(()) => result,
            Err(InboxError::LeaseLost { .. }) => AttemptResult::LeaseLost,
            Err(err) => {
                crate::metrics::inbox_error(if error.is_some() { "fail" } else { "complete" });
                tracing::error!(id = %lease.id, error = %err, "inbox: could not record an attempt; it will run again");
                AttemptResult::NotRecorded
            }
        };
        let report = AttemptReport {
            id: lease.id,
            attempt: lease.attempt,
            trigger: claimed.trigger,
            provider: claimed.record.provider,
            event_type: claimed.record.event_type,
            key: claimed.record.key,
            result,
            error,
            duration: started.elapsed(),
        };
        report.log();
        crate::metrics::record_attempt(report.provider, report.result.as_str(), report.duration);
        if let Some(observer) = &self.observer {
            observer(&report);
        }
    }
}

/// How one attempt ended, as the worker recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptResult {
    /// The handler succeeded; the event is done.
    Processed,
    /// No route matched; the event is done without a handler run.
    Unrouted,
    /// The handler failed; the event runs again at `at_ms`.
    Retrying {
        /// When the next attempt is due, in ms since the Unix epoch.
        at_ms: i64,
    },
    /// The handler failed for the last time, or permanently; the event is dead.
    Dead,
    /// The lease ran out and another worker took the event: this result was
    /// discarded.
    LeaseLost,
    /// The inbox could not record the result; the lease will expire and the
    /// event will run again.
    NotRecorded,
}

impl AttemptResult {
    /// `processed`, `unrouted`, `retrying`, `dead`, `lease_lost` or `not_recorded`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Processed => "processed",
            AttemptResult::Unrouted => "unrouted",
            AttemptResult::Retrying { .. } => "retrying",
            AttemptResult::Dead => "dead",
            AttemptResult::LeaseLost => "lease_lost",
            AttemptResult::NotRecorded => "not_recorded",
        }
    }
}

/// One finished attempt, as given to the [`observer`](WorkerBuilder::observer).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptReport {
    /// The inbox row.
    pub id: InboxId,
    /// The attempt's number, from 1.
    pub attempt: u32,
    /// What started it.
    pub trigger: Trigger,
    /// The provider.
    pub provider: Provider,
    /// The event type.
    pub event_type: String,
    /// The idempotency key.
    pub key: String,
    /// How it ended.
    pub result: AttemptResult,
    /// The handler's error, for failed attempts.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration: Duration,
}

impl AttemptReport {
    /// The report as one JSON object, for a log line.
    ///
    /// ```
    /// # use bookhook::inbox::AttemptReport;
    /// fn print(report: &AttemptReport) {
    ///     println!("{}", report.to_json());
    /// }
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::json!({
            "id": self.id.get(),
            "attempt": self.attempt,
            "trigger": self.trigger.as_str(),
            "provider": self.provider.as_str(),
            "event_type": self.event_type,
            "key": self.key,
            "result": self.result.as_str(),
            "error": self.error,
            "duration_ms": u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
        });
        if let AttemptResult::Retrying { at_ms } = self.result {
            value["next_attempt_at_ms"] = at_ms.into();
        }
        value
    }

    fn log(&self) {
        let duration_us = u64::try_from(self.duration.as_micros()).unwrap_or(u64::MAX);
        match self.result {
            AttemptResult::Processed | AttemptResult::Unrouted => tracing::info!(
                id = self.id.get(),
                attempt = self.attempt,
                provider = self.provider.as_str(),
                event_type = %self.event_type,
                key = %self.key,
                result = self.result.as_str(),
                duration_us,
                "inbox event handled"
            ),
            _ => tracing::warn!(
                id = self.id.get(),
                attempt = self.attempt,
                provider = self.provider.as_str(),
                event_type = %self.event_type,
                key = %self.key,
                result = self.result.as_str(),
                error = self.error.as_deref(),
                duration_us,
                "inbox event attempt failed"
            ),
        }
    }
}

/// Configures a [`Worker`]. Mistakes are reported by [`build`](Self::build).
#[must_use = "call build() to get a Worker"]
pub struct WorkerBuilder<S> {
    dispatcher: Dispatcher<S>,
    inbox: Arc<dyn Inbox>,
    concurrency: usize,
    lease: Duration,
    timeout: Duration,
    schedule: RetrySchedule,
    poll: Duration,
    retention: Duration,
    expire_every: Duration,
    grace: Duration,
    abandon_on_shutdown: bool,
    clock: Arc<dyn Clock>,
    wakeup: Option<Wakeup>,
    observer: Option<Observer>,
    envelope: Option<HmacEnvelope>,
}

impl<S> fmt::Debug for WorkerBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("concurrency", &self.concurrency)
            .field("lease", &self.lease)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> WorkerBuilder<S> {
    /// How many handlers run at once (default 16).
    ///
    /// It also sets how many events the worker claims and completes per
    /// write to the inbox: the worker claims as many rows as it has free
    /// slots, and each claim and each batch of results is a transaction. A
    /// low figure costs more per event: draining SQLite with a no-op
    /// handler took about 140 µs of CPU per event at 4, 55 µs at 16,
    /// 43 µs at 32 and 36 µs at 64 (`BENCHMARKS.md`, "The worker's drain").
    /// Lower it for handlers whose downstream allows few calls at once.
    pub fn concurrency(mut self, tasks: usize) -> Self {
        self.concurrency = tasks;
        self
    }

    /// How long a claimed row is held before another worker may take it
    /// (default 60 s). Must be longer than the [`timeout`](Self::timeout).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a handler may run before it is cancelled and its attempt
    /// fails (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry schedule (default [`RetrySchedule::default`]).
    pub fn schedule(mut self, schedule: RetrySchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// How often to look for due rows when nothing wakes the worker
    /// (default 1 s): retries coming due, and rows stored by other processes.
    pub fn poll(mut self, every: Duration) -> Self {
        self.poll = every;
        self
    }

    /// How long done rows are kept (default 7 days). In inbox mode this is
    /// also how long a redelivered event is recognised as a duplicate.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How long [`WorkerHandle::shutdown`] waits for running handlers
    /// (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Whether handlers cut off at shutdown give their rows back at once
    /// ([`Inbox::abandon`]) instead of leaving their leases to expire
    /// (default false).
    pub fn abandon_on_shutdown(mut self, abandon: bool) -> Self {
        self.abandon_on_shutdown = abandon;
        self
    }

    /// The clock (default the system clock); tests use a
    /// [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The signal that wakes the worker when an event is stored (default a
    /// new one, see [`Worker::wakeup`]).
    pub fn wakeup(mut self, wakeup: Wakeup) -> Self {
        self.wakeup = Some(wakeup);
        self
    }

    /// Calls `observer` after every attempt, with how it ended.
    pub fn observer(mut self, observer: impl Fn(&AttemptReport) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Parses stored bodies with `envelope` instead of the dispatcher's
    /// endpoint's own ([`Endpoint::envelope`](crate::Endpoint::envelope),
    /// which is the default, so that stored bodies are parsed as they were
    /// received).
    pub fn envelope(mut self, envelope: HmacEnvelope) -> Self {
        self.envelope = Some(envelope);
        self
    }

    /// Validates the settings.
    pub fn build(self) -> Result<Worker<S>, ConfigError> {
        self.schedule.validate()?;
        let invalid = |setting: &'static str, reason: &str| ConfigError::InvalidSetting {
            setting,
            reason: reason.to_owned(),
        };
        if self.concurrency == 0 {
            return Err(invalid("concurrency", "must be at least 1"));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be longer than zero"));
        }
        if self.lease <= self.timeout {
            return Err(invalid(
                "lease",
                "must be longer than the handler timeout, or a slow handler's event runs twice at once",
            ));
        }
        if self.poll.is_zero() {
            return Err(invalid("poll", "must be longer than zero"));
        }
        if self.retention.is_zero() {
            return Err(invalid("retention", "must be longer than zero"));
        }
        let namespace = self.dispatcher.endpoint().namespace().to_owned();
        let envelope = self
            .envelope
            .or_else(|| self.dispatcher.endpoint().envelope().cloned());
        Ok(Worker {
            shared: Arc::new(Shared {
                dispatcher: self.dispatcher,
                inbox: self.inbox,
                namespace,
                concurrency: self.concurrency,
                lease: self.lease,
                timeout: self.timeout,
                schedule: self.schedule,
                poll: self.poll,
                retention: self.retention,
                expire_every: self.expire_every,
                grace: self.grace,
                abandon_on_shutdown: self.abandon_on_shutdown,
                clock: self.clock,
                wakeup: self.wakeup.unwrap_or_default(),
                observer: self.observer,
                envelope,
            }),
        })
    }
}
