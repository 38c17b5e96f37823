//! The durable inbox: acknowledge a delivery once it is stored, handle it in the background.
//!
//! In inbox mode the request path is size → verify → parse → **one durable
//! write** ([`Inbox::enqueue`]) → 200. The write both deduplicates and
//! enqueues: the row's unique key is the endpoint namespace plus the
//! delivery's idempotency key. No handler runs on the request path, and no 200
//! is sent for a row that has not committed.
//!
//! A worker then takes rows with [`Inbox::claim`], runs the handler, and
//! finishes each row with [`Inbox::complete`] or [`Inbox::fail`]. Rows move
//! through these [`State`]s:
//!
//! ```text
//! enqueue ─► pending(run_at) ─claim─► processing(lease) ─complete─► done ─(retention)─► removed
//!                ▲                          │
//!                └──── fail: Retry(at) ─────┤
//!                                           └── fail: Dead ──► dead ─(purge)─► removed
//! replay: done | dead | pending ─► pending(now), next attempt is manual
//! ```
//!
//! Handling is at-least-once and storage exactly-once: a worker that dies
//! after its handler ran but before `complete` committed leaves a lease that
//! expires, and the row runs again. Handlers must be idempotent.
//!
//! Backends implement [`Inbox`] and prove it with the contract suite in
//! `bookhook::testing::inbox`.
//!
//! The pieces:
//! - [`Ingest`]: the request path (verify, parse, [`Inbox::enqueue`], answer),
//!   which the web adapters' inbox modes serve;
//! - [`Worker`]: runs a [`Dispatcher`](crate::Dispatcher)'s routes on stored
//!   events, with a handler timeout and the [`RetrySchedule`];
//! - [`MemoryInbox`]: the in-process reference backend, for tests.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;

use crate::idempotency::{BoxFuture, ClaimToken};
use crate::kind::Kind;
use crate::provider::Provider;

mod ingest;
mod memory;
mod redact;
mod schedule;
mod worker;

pub use ingest::{Ingest, Ingested, Wakeup};
pub use memory::MemoryInbox;
pub use redact::{REDACTED, is_secret_header};
pub use schedule::{DEFAULT_DELAYS, DEFAULT_JITTER, RetrySchedule};
pub use worker::{
    AttemptReport, AttemptResult, DEFAULT_HANDLER_TIMEOUT, DEFAULT_RETENTION, DEFAULT_WORKER_LEASE,
    ShutdownReport, Worker, WorkerBuilder, WorkerHandle,
};

/// The inbox's own id of a stored event: unique within one inbox, and
/// increasing in the order events were received.
///
/// ```
/// use bookhook::inbox::InboxId;
///
/// let id: InboxId = "42".parse().unwrap();
/// assert_eq!(id, InboxId::new(42));
/// assert_eq!(id.to_string(), "42");
/// assert!(InboxId::new(41) < id);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InboxId(u64);

impl InboxId {
    /// Wraps a raw id.
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The raw id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for InboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for InboxId {
    type Err = InboxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<u64>()
            .map(Self)
            .map_err(|_| InboxError::InvalidId { id: s.to_owned() })
    }
}

/// Where a stored event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Waiting to run at its `next_attempt_at` (now, or later for a retry).
    Pending,
    /// A worker holds a lease on it and runs its handler.
    Processing,
    /// Handled. Kept for the retention period, which is also the dedup window.
    Done,
    /// No more automatic attempts: the attempts ran out, the handler said the
    /// failure is permanent, or someone marked it dead. Kept until purged.
    Dead,
}

impl State {
    /// Every state, in the order of the life of a row.
    pub const ALL: [State; 4] = [State::Pending, State::Processing, State::Done, State::Dead];

    /// The lower-case name used by the CLI, the dashboard and the backends.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Processing => "processing",
            State::Done => "done",
            State::Dead => "dead",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = InboxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| InboxError::InvalidState {
                state: s.to_owned(),
            })
    }
}

/// What started an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trigger {
    /// The row was due: its first run or a scheduled retry.
    Automatic,
    /// Someone replayed the row ([`Inbox::replay`]).
    Manual,
}

impl Trigger {
    /// `automatic` or `manual`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Trigger::Automatic => "automatic",
            Trigger::Manual => "manual",
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// Still running: its lease is live.
    Running,
    /// The handler succeeded; the row is done.
    Processed,
    /// The handler failed; the row waits for a retry.
    Retrying,
    /// The handler failed for the last time, or permanently; the row is dead.
    Dead,
    /// The worker's lease expired before it finished (it died, or was too
    /// slow); another worker may have run the row again since.
    Expired,
}

impl AttemptOutcome {
    /// `running`, `processed`, `retrying`, `dead` or `expired`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Running => "running",
            AttemptOutcome::Processed => "processed",
            AttemptOutcome::Retrying => "retrying",
            AttemptOutcome::Dead => "dead",
            AttemptOutcome::Expired => "expired",
        }
    }
}

/// One run of a row's handler.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// 1 for the first attempt, then 2, 3, … (replays keep counting).
    pub number: u32,
    /// When the row was claimed for it, in ms since the Unix epoch.
    pub started_at_ms: i64,
    /// When it ended (`None` while it runs or when its lease expired unseen).
    pub ended_at_ms: Option<i64>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The handler's error, for failed attempts.
    pub error: Option<String>,
    /// What started it.
    pub trigger: Trigger,
}

impl Attempt {
    /// An attempt record, as a backend reads it back.
    pub fn new(
        number: u32,
        started_at_ms: i64,
        ended_at_ms: Option<i64>,
        outcome: AttemptOutcome,
        error: Option<String>,
        trigger: Trigger,
    ) -> Self {
        Self {
            number,
            started_at_ms,
            ended_at_ms,
            outcome,
            error,
            trigger,
        }
    }
}

/// A verified, parsed delivery to store: what [`Inbox::enqueue`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewEvent {
    /// The endpoint's namespace: keys are unique per namespace.
    pub namespace: String,
    /// The delivery's idempotency key (not namespaced).
    pub key: String,
    /// Events with the same ordering key run one at a time, oldest first:
    /// the appointment id where the provider has one.
    pub ordering_key: Option<String>,
    /// The provider that sent it.
    pub provider: Provider,
    /// The event type as the provider wrote it.
    pub event_type: String,
    /// The normalized kind.
    pub kind: Kind,
    /// When the request was received, in ms since the Unix epoch.
    pub received_at_ms: i64,
    /// The event's own time, when it has one.
    pub occurred_at_ms: Option<i64>,
    /// The raw body, exactly as verified.
    pub body: Bytes,
    /// The request headers kept with the event (secrets and tokens redacted),
    /// in the order received. Parsing the body again may need some of them.
    pub headers: Vec<(String, String)>,
}

impl NewEvent {
    /// An event to store. `received_at_ms` is also when it first becomes due.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        namespace: impl Into<String>,
        key: impl Into<String>,
        ordering_key: Option<String>,
        provider: Provider,
        event_type: impl Into<String>,
        kind: Kind,
        received_at_ms: i64,
        occurred_at_ms: Option<i64>,
        body: Bytes,
        headers: Vec<(String, String)>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            key: key.into(),
            ordering_key,
            provider,
            event_type: event_type.into(),
            kind,
            received_at_ms,
            occurred_at_ms,
            body,
            headers,
        }
    }
}

/// The answer to [`Inbox::enqueue`]. Either way the event is durably stored
/// when this is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new row was committed.
    Queued(InboxId),
    /// A row with the same namespace and key exists already (in any state);
    /// nothing was written.
    Duplicate(InboxId),
}

impl Enqueued {
    /// The row's id.
    pub fn id(self) -> InboxId {
        match self {
            Enqueued::Queued(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// A stored event without its body: what listings show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventRecord {
    /// The inbox id.
    pub id: InboxId,
    /// The endpoint namespace.
    pub namespace: String,
    /// The idempotency key (not namespaced).
    pub key: String,
    /// The ordering key (the appointment id), when there is one.
    pub ordering_key: Option<String>,
    /// The provider.
    pub provider: Provider,
    /// The event type.
    pub event_type: String,
    /// The normalized kind.
    pub kind: Kind,
    /// When it was received, in ms since the Unix epoch.
    pub received_at_ms: i64,
    /// The event's own time.
    pub occurred_at_ms: Option<i64>,
    /// Where it stands.
    pub state: State,
    /// How many attempts have started.
    pub attempts: u32,
    /// When a pending row is due (`None` in the other states).
    pub next_attempt_at_ms: Option<i64>,
    /// Until when a processing row's lease runs (`None` in the other states).
    pub lease_until_ms: Option<i64>,
    /// The last failed attempt's error, or why it was marked dead.
    pub last_error: Option<String>,
}

impl EventRecord {
    /// A record as a backend reads it back; the lifecycle fields start as a
    /// new pending row's and are set with the public fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: InboxId,
        namespace: impl Into<String>,
        key: impl Into<String>,
        ordering_key: Option<String>,
        provider: Provider,
        event_type: impl Into<String>,
        kind: Kind,
        received_at_ms: i64,
        occurred_at_ms: Option<i64>,
    ) -> Self {
        Self {
            id,
            namespace: namespace.into(),
            key: key.into(),
            ordering_key,
            provider,
            event_type: event_type.into(),
            kind,
            received_at_ms,
            occurred_at_ms,
            state: State::Pending,
            attempts: 0,
            next_attempt_at_ms: Some(received_at_ms),
            lease_until_ms: None,
            last_error: None,
        }
    }
}

/// Everything stored about one event: what [`Inbox::get`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventDetail {
    /// The row.
    pub record: EventRecord,
    /// The raw body.
    pub body: Bytes,
    /// The stored (redacted) headers.
    pub headers: Vec<(String, String)>,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
}

impl EventDetail {
    /// Bundles a row with its body, headers and attempts.
    pub fn new(
        record: EventRecord,
        body: Bytes,
        headers: Vec<(String, String)>,
        attempts: Vec<Attempt>,
    ) -> Self {
        Self {
            record,
            body,
            headers,
            attempts,
        }
    }
}

/// Proof that a worker holds a row. [`Inbox::complete`] and [`Inbox::fail`]
/// check it, so a worker whose lease expired cannot overwrite the result of
/// the worker that took the row next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The row.
    pub id: InboxId,
    /// The token the backend wrote with the claim.
    pub token: ClaimToken,
    /// The attempt this lease is for.
    pub attempt: u32,
    /// When the lease runs out, in ms since the Unix epoch.
    pub until_ms: i64,
}

impl Lease {
    /// A lease as a backend hands it out.
    pub fn new(id: InboxId, token: ClaimToken, attempt: u32, until_ms: i64) -> Self {
        Self {
            id,
            token,
            attempt,
            until_ms,
        }
    }
}

/// A row a worker now holds: what [`Inbox::claim`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claimed {
    /// The row, already in state [`State::Processing`] with this attempt counted.
    pub record: EventRecord,
    /// The raw body.
    pub body: Bytes,
    /// The stored headers.
    pub headers: Vec<(String, String)>,
    /// The worker's lease.
    pub lease: Lease,
    /// Why this attempt runs.
    pub trigger: Trigger,
    /// The largest `occurred_at` among the **done** rows with the same
    /// namespace and ordering key, when it is later than this event's own
    /// time: the event is stale ([`Freshness::Stale`](crate::Freshness::Stale)).
    pub newer_done_at_ms: Option<i64>,
}

impl Claimed {
    /// A claimed row as a backend hands it out.
    pub fn new(
        record: EventRecord,
        body: Bytes,
        headers: Vec<(String, String)>,
        lease: Lease,
        trigger: Trigger,
        newer_done_at_ms: Option<i64>,
    ) -> Self {
        Self {
            record,
            body,
            headers,
            lease,
            trigger,
            newer_done_at_ms,
        }
    }
}

/// What to do with a row whose attempt failed: decided by the worker (retry
/// schedule, attempts left, the handler's own verdict), applied by [`Inbox::fail`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// Back to pending, due at `at_ms`.
    Retry {
        /// When the next attempt is due, in ms since the Unix epoch.
        at_ms: i64,
        /// The handler's error.
        error: String,
    },
    /// No more automatic attempts.
    Dead {
        /// The handler's error.
        error: String,
    },
}

/// Which rows a listing, a count, a replay or a purge takes. Every field that
/// is set must match; the default matches every row.
///
/// ```
/// use bookhook::inbox::{Filter, State};
///
/// let dead_today = Filter::default().state(State::Dead).since_ms(1_764_547_200_000);
/// assert_eq!(dead_today.state, Some(State::Dead));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// Only this endpoint namespace.
    pub namespace: Option<String>,
    /// Only rows in this state.
    pub state: Option<State>,
    /// Only this provider.
    pub provider: Option<Provider>,
    /// Only this exact event type.
    pub event_type: Option<String>,
    /// Only this ordering key (appointment id).
    pub ordering_key: Option<String>,
    /// Only rows received at or after this time (ms since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only rows received strictly before this time (ms since the Unix epoch).
    pub before_ms: Option<i64>,
}

impl Filter {
    /// Only this endpoint namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Only rows in `state`.
    #[must_use]
    pub fn state(mut self, state: State) -> Self {
        self.state = Some(state);
        self
    }

    /// Only `provider`.
    #[must_use]
    pub fn provider(mut self, provider: Provider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Only this exact event type.
    #[must_use]
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// Only this ordering key (appointment id).
    #[must_use]
    pub fn ordering_key(mut self, ordering_key: impl Into<String>) -> Self {
        self.ordering_key = Some(ordering_key.into());
        self
    }

    /// Only rows received at or after `ms`.
    #[must_use]
    pub fn since_ms(mut self, ms: i64) -> Self {
        self.since_ms = Some(ms);
        self
    }

    /// Only rows received strictly before `ms`.
    #[must_use]
    pub fn before_ms(mut self, ms: i64) -> Self {
        self.before_ms = Some(ms);
        self
    }

    /// Whether `record` matches: the reference every backend's query must agree with.
    pub fn matches(&self, record: &EventRecord) -> bool {
        self.namespace
            .as_ref()
            .is_none_or(|n| *n == record.namespace)
            && self.state.is_none_or(|s| s == record.state)
            && self.provider.is_none_or(|p| p == record.provider)
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| *t == record.event_type)
            && self
                .ordering_key
                .as_ref()
                .is_none_or(|k| record.ordering_key.as_ref() == Some(k))
            && self.since_ms.is_none_or(|t| record.received_at_ms >= t)
            && self.before_ms.is_none_or(|t| record.received_at_ms < t)
    }
}

/// One page of a newest-first listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// Only rows with an id smaller than this one (the cursor: the last id of
    /// the previous page). `None` starts at the newest row.
    pub before: Option<InboxId>,
    /// At most this many rows.
    pub limit: usize,
}

impl Page {
    /// The newest `limit` rows.
    pub fn first(limit: usize) -> Self {
        Self {
            before: None,
            limit,
        }
    }

    /// The `limit` rows that come after `cursor`, newest first.
    pub fn after(cursor: InboxId, limit: usize) -> Self {
        Self {
            before: Some(cursor),
            limit,
        }
    }
}

/// Which rows [`Inbox::replay`] puts back to pending.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selection {
    /// These rows (unknown ids are skipped).
    Ids(Vec<InboxId>),
    /// Every row that matches.
    Matching(Filter),
}

/// How many rows are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Rows waiting to run (due now or later).
    pub pending: u64,
    /// Rows under a lease.
    pub processing: u64,
    /// Handled rows within retention.
    pub done: u64,
    /// Dead rows.
    pub dead: u64,
    /// When the oldest pending row was received, in ms since the Unix epoch.
    /// A backend may read it from the pending row of the lowest id (ids
    /// grow in the order rows were stored, as SQLite does): the same time
    /// unless the clock stepped back between two receipts.
    pub oldest_pending_received_ms: Option<i64>,
}

impl Stats {
    /// Counts as a backend reads them.
    pub fn new(
        pending: u64,
        processing: u64,
        done: u64,
        dead: u64,
        oldest_pending_received_ms: Option<i64>,
    ) -> Self {
        Self {
            pending,
            processing,
            done,
            dead,
            oldest_pending_received_ms,
        }
    }
}

/// The inbox could not do what was asked.
///
/// On the request path, any error answers 503 with `Retry-After`: the event
/// was not stored, so the sender must retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The backend cannot be reached or cannot write (disk full, read-only,
    /// locked, connection refused).
    #[error("inbox unavailable: {reason}")]
    Unavailable {
        /// What the backend reported.
        reason: String,
    },
    /// The stored data is not what this version understands (a corrupt file,
    /// a schema newer than the code, an unexpected reply).
    #[error("inbox storage is not usable: {reason}")]
    Incompatible {
        /// What was found.
        reason: String,
    },
    /// The lease no longer holds: it expired and the row was claimed again,
    /// finished, replayed or removed. The caller's result is discarded.
    #[error("lease lost on inbox event {id}: it expired or the event was taken over")]
    LeaseLost {
        /// The row.
        id: InboxId,
    },
    /// No row has this id.
    #[error("no inbox event has the id {id}")]
    NotFound {
        /// The id asked for.
        id: InboxId,
    },
    /// A text that should be an inbox id is not one.
    #[error("invalid inbox id `{id}`: ids are whole numbers")]
    InvalidId {
        /// The text given.
        id: String,
    },
    /// A text that should be a state is not one.
    #[error("invalid state `{state}`: expected pending, processing, done or dead")]
    InvalidState {
        /// The text given.
        state: String,
    },
}

/// A durable queue of verified deliveries that also deduplicates them.
///
/// Times are passed in (milliseconds since the Unix epoch) rather than read
/// by the backend, so that the contract suite can run on a test clock.
/// Every method is atomic: it happens whole or not at all.
pub trait Inbox: Send + Sync + 'static {
    /// Stores `event` as a pending row due at once, unless a row with the
    /// same namespace and key exists (in any state, until retention removes
    /// it): then nothing is written and the existing id is returned as
    /// [`Enqueued::Duplicate`]. Returns only once the write is durable.
    fn enqueue(&self, event: NewEvent) -> BoxFuture<'_, Result<Enqueued, InboxError>>;

    /// Takes up to `max` rows of `namespace` that may run now, oldest id
    /// first, and leases each until `now_ms + lease`:
    /// - a pending row whose `next_attempt_at` is at or before `now_ms`, or a
    ///   processing row whose lease ran out before `now_ms` (its running
    ///   attempt is recorded as [`AttemptOutcome::Expired`]);
    /// - but never a row while an older row (smaller id) of the same
    ///   namespace and ordering key is pending (due or not) or processing
    ///   with a live lease. Dead and done rows do not block. Two rows of one
    ///   ordering key are never both returned by one call.
    ///
    /// Each returned row is processing, its attempt count is one higher, and
    /// a running attempt is recorded with the trigger.
    fn claim(
        &self,
        namespace: &str,
        now_ms: i64,
        lease: Duration,
        max: usize,
    ) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>>;

    /// Marks the leased row done and its attempt processed, if `lease` still
    /// holds (same token, row still processing); otherwise
    /// [`InboxError::LeaseLost`] and nothing changes. A lease past its
    /// `until_ms` still holds as long as no one claimed the row again.
    fn complete(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>>;

    /// Records the failed attempt and moves the row back to pending (at the
    /// retry time) or to dead, if `lease` still holds; otherwise
    /// [`InboxError::LeaseLost`] and nothing changes.
    fn fail(
        &self,
        lease: &Lease,
        now_ms: i64,
        failure: Failure,
    ) -> BoxFuture<'_, Result<(), InboxError>>;

    /// Gives up a lease without counting the attempt as failed (a worker that
    /// shuts down): the row is pending and due at `now_ms`, and the attempt
    /// is recorded as expired. A lost lease is [`InboxError::LeaseLost`].
    fn abandon(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>>;

    /// Everything stored about one row, or `None`.
    fn get(&self, id: InboxId) -> BoxFuture<'_, Result<Option<EventDetail>, InboxError>>;

    /// The rows that match `filter`, newest first (largest id first), one page.
    fn list<'a>(
        &'a self,
        filter: &'a Filter,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, InboxError>>;

    /// How many rows match `filter`.
    fn count<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>>;

    /// Counts per state, and the oldest pending row's time.
    fn stats(&self) -> BoxFuture<'_, Result<Stats, InboxError>>;

    /// How many rows that match `filter` were received in each of `buckets`
    /// consecutive windows of `width`, the first starting at `start_ms`:
    /// one count per window, oldest first (what the dashboard's chart draws).
    ///
    /// The default asks [`count`](Inbox::count) once per window, with the
    /// window's bounds narrowing the filter's own; backends that can count
    /// every window in one query override it.
    fn received_histogram<'a>(
        &'a self,
        filter: &'a Filter,
        start_ms: i64,
        width: Duration,
        buckets: usize,
    ) -> BoxFuture<'a, Result<Vec<u64>, InboxError>> {
        Box::pin(async move {
            let mut counts = Vec::with_capacity(buckets);
            for window in histogram_windows(start_ms, width, buckets) {
                let counted = match window.narrow(filter) {
                    Some(narrowed) => self.count(&narrowed).await?,
                    None => 0,
                };
                counts.push(counted);
            }
            Ok(counts)
        })
    }

    /// Puts the selected rows that are done, dead or pending back to pending,
    /// due at `now_ms`, with their next attempt marked [`Trigger::Manual`].
    /// Processing rows are left alone. Deduplication is bypassed on purpose:
    /// handlers must be idempotent. Returns how many rows were put back.
    fn replay<'a>(
        &'a self,
        selection: &'a Selection,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<u64, InboxError>>;

    /// Marks a pending or done row dead with `reason` as its last error.
    /// A processing row is left alone (`Ok(false)`); an unknown id is
    /// [`InboxError::NotFound`].
    fn mark_dead<'a>(
        &'a self,
        id: InboxId,
        now_ms: i64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<bool, InboxError>>;

    /// Removes the rows that match `filter`, except processing ones, with
    /// their attempts; their keys are free again. Returns how many.
    fn purge<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>>;

    /// Removes the done rows whose last attempt ended before
    /// `now_ms - retention`: the end of their dedup window. Returns how many.
    fn expire(&self, now_ms: i64, retention: Duration) -> BoxFuture<'_, Result<u64, InboxError>>;
}

/// One window of [`Inbox::received_histogram`]: received at or after
/// `start_ms` and strictly before `end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Window {
    /// The first millisecond of the window.
    pub start_ms: i64,
    /// The first millisecond after it.
    pub end_ms: i64,
}

impl Window {
    /// `filter` with its time range narrowed to this window, or `None` when
    /// the two do not overlap (no row can match).
    pub fn narrow(&self, filter: &Filter) -> Option<Filter> {
        let since = filter
            .since_ms
            .map_or(self.start_ms, |since| since.max(self.start_ms));
        let before = filter
            .before_ms
            .map_or(self.end_ms, |before| before.min(self.end_ms));
        (since < before).then(|| filter.clone().since_ms(since).before_ms(before))
    }
}

/// The `buckets` windows of `width` from `start_ms`, oldest first: the
/// windows [`Inbox::received_histogram`] counts.
///
/// ```
/// use std::time::Duration;
/// use bookhook::inbox::histogram_windows;
///
/// let windows = histogram_windows(1_000, Duration::from_secs(60), 2);
/// assert_eq!((windows[0].start_ms, windows[0].end_ms), (1_000, 61_000));
/// assert_eq!((windows[1].start_ms, windows[1].end_ms), (61_000, 121_000));
/// ```
pub fn histogram_windows(start_ms: i64, width: Duration, buckets: usize) -> Vec<Window> {
    let width = i64::try_from(width.as_millis()).unwrap_or(i64::MAX).max(1);
    (0..buckets)
        .map(|n| {
            let start = start_ms.saturating_add(width.saturating_mul(n as i64));
            Window {
                start_ms: start,
                end_ms: start.saturating_add(width),
            }
        })
        .collect()
}
