//! [`RedisInbox`]: the durable inbox on Redis Streams, shared by every replica.

mod codec;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bookhook::idempotency::{BoxFuture, ClaimToken, StoreError};
use bookhook::inbox::{
    Claimed, Enqueued, EventDetail, EventRecord, Failure, Filter, Inbox, InboxError, InboxId,
    Lease, NewEvent, Page, Selection, State, Stats,
};
use redis::aio::ConnectionManager;
use redis::{Script, ScriptInvocation, Value};

use crate::error::from_redis;
use crate::persistence::{AppendFsync, Persistence};

/// The key prefix used unless [`RedisInboxBuilder::prefix`] says otherwise.
pub const DEFAULT_INBOX_PREFIX: &str = "bookhook:inbox:";

/// How many done rows one `expire` script removes before the next round trip,
/// so that a large expiry never blocks Redis for long.
const EXPIRE_BATCH: usize = 500;

/// The default of [`RedisInboxBuilder::forget_consumers_after`].
const FORGET_CONSUMERS_AFTER: Duration = Duration::from_secs(3600);

const HELPERS: &str = include_str!("lua/helpers.lua");

/// Why a [`RedisInbox`] could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisInboxError {
    /// The URL is invalid, or Redis cannot be reached or refused the scripts.
    #[error("redis inbox unavailable: {reason}")]
    Unavailable {
        /// What failed (never the URL, which may hold a password).
        reason: String,
    },
    /// The server runs with `appendonly no`: an event acknowledged with 200
    /// would be forgotten by a Redis restart. Turn on `appendonly yes`, or
    /// accept that with [`RedisInboxBuilder::allow_without_append_only`].
    #[error(
        "redis runs with appendonly no, so a restart would forget acknowledged events: \
         enable appendonly or opt in with allow_without_append_only"
    )]
    AppendOnlyOff,
    /// Neither `CONFIG GET` nor `INFO persistence` told whether the
    /// append-only file is on.
    #[error("cannot read the redis persistence settings: {reason}")]
    PersistenceUnknown {
        /// What the server answered.
        reason: String,
    },
}

impl From<RedisInboxError> for InboxError {
    fn from(err: RedisInboxError) -> Self {
        InboxError::Unavailable {
            reason: err.to_string(),
        }
    }
}

/// The loaded scripts.
struct Scripts {
    enqueue: Script,
    claim: Script,
    finish: Script,
    replay: Script,
    mark_dead: Script,
    purge: Script,
    expire: Script,
    list: Script,
    count: Script,
    stats: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_helpers = |body: &str| Script::new(&format!("{HELPERS}\n{body}"));
        Self {
            enqueue: with_helpers(include_str!("lua/enqueue.lua")),
            claim: with_helpers(include_str!("lua/claim.lua")),
            finish: with_helpers(include_str!("lua/finish.lua")),
            replay: with_helpers(include_str!("lua/replay.lua")),
            mark_dead: with_helpers(include_str!("lua/mark_dead.lua")),
            purge: with_helpers(include_str!("lua/purge.lua")),
            expire: with_helpers(include_str!("lua/expire.lua")),
            list: with_helpers(include_str!("lua/list.lua")),
            count: with_helpers(include_str!("lua/count.lua")),
            stats: with_helpers(include_str!("lua/stats.lua")),
        }
    }

    fn all(&self) -> [&Script; 10] {
        [
            &self.enqueue,
            &self.claim,
            &self.finish,
            &self.replay,
            &self.mark_dead,
            &self.purge,
            &self.expire,
            &self.list,
            &self.count,
            &self.stats,
        ]
    }
}

/// An [`Inbox`] kept in Redis: several replicas of a receiver enqueue into
/// it and several workers take from it, with the same guarantees as the
/// embedded backend.
///
/// - **Ingest** ([`Inbox::enqueue`]) is one Lua script, so one round trip:
///   the idempotency index, the event's hash (metadata and state), its
///   payload (body and stored headers) and the stream entry are written
///   together or not at all.
/// - **Work distribution**: each namespace has a stream with the consumer
///   group `bookhook`; [`Inbox::claim`] reads new events from it with
///   `XREADGROUP` under this inbox's own consumer name, and [`Inbox::complete`] / [`Inbox::fail`]
///   acknowledge the entry (`XACK`, then `XDEL`) in the same script that
///   changes the state, after checking the lease token.
/// - **Leases** are kept by the caller's clock (the `now_ms` of each call) in
///   a sorted set; a claim takes over the rows whose lease ran out and moves
///   their stream entries to its consumer with `XCLAIM`. A worker killed with
///   SIGKILL therefore loses nothing: its rows run again after the lease.
/// - **Retries**, replays and released rows wait in a sorted set by due time.
///   A claim merges the three sources in id order (new entries of the
///   stream, due rows of that set, rows whose lease ran out), so the oldest
///   rows run first; stream entries it read but did not reach go to the
///   sorted set, due at once. All of it happens in one script, so two
///   workers can never take the same row.
/// - **Order per ordering key**: a row whose key has an older pending or
///   processing row is parked (neither in the stream nor in the delayed set)
///   until that row is done, dead or removed; Redis runs scripts one at a
///   time, so no two replicas ever run rows of one key at once.
///
/// Cloning is cheap and clones share the connection and the consumer name.
/// It needs a standalone Redis (or a primary), not Redis Cluster: the scripts
/// touch keys they derive from the rows.
///
/// # Durability
///
/// [`connect`](Self::connect) reads the server's persistence settings and
/// refuses to start with `appendonly no` ([`RedisInboxError::AppendOnlyOff`])
/// unless [`RedisInboxBuilder::allow_without_append_only`] says so; the
/// `appendfsync` policy is logged (see [`Persistence`] for what each setting
/// survives). `enqueue` returns once Redis has executed the script; with
/// `appendfsync always` that includes the fsync.
#[derive(Clone)]
pub struct RedisInbox {
    inner: Arc<Inner>,
}

struct Inner {
    connection: ConnectionManager,
    prefix: String,
    consumer: String,
    persistence: Persistence,
    forget_consumers_after: Duration,
    scripts: Scripts,
}

impl fmt::Debug for RedisInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection URL may hold a password, so it is never kept or shown.
        f.debug_struct("RedisInbox")
            .field("prefix", &self.inner.prefix)
            .field("consumer", &self.inner.consumer)
            .field("persistence", &self.inner.persistence)
            .finish_non_exhaustive()
    }
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn store_error(err: &redis::RedisError) -> InboxError {
    match from_redis(err) {
        StoreError::Unavailable { reason } => InboxError::Unavailable { reason },
        other => InboxError::Incompatible {
            reason: other.to_string(),
        },
    }
}

/// Adds the 12 filter arguments the scripts' `read_filter` expects.
fn filter_args(invocation: &mut ScriptInvocation<'_>, filter: &Filter) {
    let flag = |set: bool| if set { "1" } else { "0" };
    invocation
        .arg(flag(filter.namespace.is_some()))
        .arg(filter.namespace.as_deref().unwrap_or(""))
        .arg(filter.state.map_or("", State::as_str))
        .arg(filter.provider.map_or("", |p| p.as_str()))
        .arg(flag(filter.event_type.is_some()))
        .arg(filter.event_type.as_deref().unwrap_or(""))
        .arg(flag(filter.ordering_key.is_some()))
        .arg(filter.ordering_key.as_deref().unwrap_or(""))
        .arg(flag(filter.since_ms.is_some()))
        .arg(filter.since_ms.unwrap_or(0).to_string())
        .arg(flag(filter.before_ms.is_some()))
        .arg(filter.before_ms.unwrap_or(0).to_string());
}

const LIST_FIELDS: [&str; 13] = [
    "ns", "key", "ok", "prov", "type", "kind", "recv", "occ", "st", "att", "next", "lease", "err",
];

impl RedisInbox {
    /// Connects with the default settings (prefix `"bookhook:inbox:"`, 1 s
    /// timeouts) and checks that the server persists writes.
    ///
    /// ```no_run
    /// use bookhook_redis::{RedisInbox, RedisInboxError};
    ///
    /// # async fn run() -> Result<(), RedisInboxError> {
    /// let inbox = RedisInbox::connect("redis://127.0.0.1:6379").await?;
    /// println!("appendfsync: {:?}", inbox.persistence().append_fsync());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisInboxError::Unavailable`] if Redis cannot be reached,
    /// [`RedisInboxError::AppendOnlyOff`] if it runs with `appendonly no`,
    /// [`RedisInboxError::PersistenceUnknown`] if that cannot be read.
    pub async fn connect(url: &str) -> Result<Self, RedisInboxError> {
        Self::builder().connect(url).await
    }

    /// Starts a builder to change the prefix, the timeouts or the
    /// persistence check.
    pub fn builder() -> RedisInboxBuilder {
        RedisInboxBuilder::default()
    }

    /// The prefix put in front of every key this inbox writes.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// This inbox's consumer name in the streams' consumer group (random,
    /// one per `connect`).
    pub fn consumer(&self) -> &str {
        &self.inner.consumer
    }

    /// The server's persistence settings, as read at connect.
    pub fn persistence(&self) -> &Persistence {
        &self.inner.persistence
    }

    async fn run(&self, invocation: &ScriptInvocation<'_>) -> Result<Value, InboxError> {
        let mut connection = self.inner.connection.clone();
        invocation
            .invoke_async::<Value>(&mut connection)
            .await
            .map_err(|err| store_error(&err))
    }

    async fn finish(
        &self,
        lease: &Lease,
        now_ms: i64,
        action: &str,
        retry_at_ms: i64,
        error: &str,
    ) -> Result<(), InboxError> {
        let mut invocation = self.inner.scripts.finish.prepare_invoke();
        invocation
            .arg(&self.inner.prefix)
            .arg(lease.id.get())
            .arg(format!("{:032x}", lease.token.as_u128()))
            .arg(now_ms.to_string())
            .arg(action)
            .arg(retry_at_ms.to_string())
            .arg(error);
        match codec::int(&self.run(&invocation).await?)? {
            1 => Ok(()),
            _ => Err(InboxError::LeaseLost { id: lease.id }),
        }
    }

    async fn scan_count(&self, filter: &Filter) -> Result<u64, InboxError> {
        let mut invocation = self.inner.scripts.count.prepare_invoke();
        invocation.arg(&self.inner.prefix);
        filter_args(&mut invocation, filter);
        let count = codec::int(&self.run(&invocation).await?)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn zcard(&self, key: &str) -> Result<u64, InboxError> {
        let mut connection = self.inner.connection.clone();
        redis::cmd("ZCARD")
            .arg(format!("{}{key}", self.inner.prefix))
            .query_async::<u64>(&mut connection)
            .await
            .map_err(|err| store_error(&err))
    }
}

impl Inbox for RedisInbox {
    fn enqueue(&self, event: NewEvent) -> BoxFuture<'_, Result<Enqueued, InboxError>> {
        Box::pin(async move {
            let flag = |set: bool| if set { "1" } else { "0" };
            let mut invocation = self.inner.scripts.enqueue.prepare_invoke();
            invocation
                .arg(&self.inner.prefix)
                .arg(&event.namespace)
                .arg(&event.key)
                .arg(flag(event.ordering_key.is_some()))
                .arg(event.ordering_key.as_deref().unwrap_or(""))
                .arg(event.provider.as_str())
                .arg(&event.event_type)
                .arg(event.kind.as_str())
                .arg(event.received_at_ms.to_string())
                .arg(flag(event.occurred_at_ms.is_some()))
                .arg(event.occurred_at_ms.unwrap_or(0).to_string())
                .arg(codec::encode_payload(&event.headers, &event.body));
            let reply = self.run(&invocation).await?;
            match codec::array(&reply)? {
                [code, id] => {
                    let id = codec::id(id)?;
                    match codec::int(code)? {
                        1 => Ok(Enqueued::Queued(id)),
                        _ => Ok(Enqueued::Duplicate(id)),
                    }
                }
                _ => Err(codec::incompatible("unexpected reply to enqueue")),
            }
        })
    }

    fn claim(
        &self,
        namespace: &str,
        now_ms: i64,
        lease: Duration,
        max: usize,
    ) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>> {
        let namespace = namespace.to_owned();
        Box::pin(async move {
            if max == 0 {
                return Ok(Vec::new());
            }
            let until = now_ms.saturating_add(ms(lease));
            // 96 random bits; the script appends 32 bits counting the rows.
            let base = format!("{:024x}", ClaimToken::random().as_u128() >> 32);
            let mut invocation = self.inner.scripts.claim.prepare_invoke();
            invocation
                .arg(&self.inner.prefix)
                .arg(&namespace)
                .arg(now_ms.to_string())
                .arg(until.to_string())
                .arg(max.min(10_000))
                .arg(&self.inner.consumer)
                .arg(base);
            let reply = self.run(&invocation).await?;
            codec::array(&reply)?.iter().map(codec::claimed).collect()
        })
    }

    fn complete(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        let lease = *lease;
        Box::pin(async move { self.finish(&lease, now_ms, "done", 0, "").await })
    }

    fn fail(
        &self,
        lease: &Lease,
        now_ms: i64,
        failure: Failure,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        let lease = *lease;
        Box::pin(async move {
            match failure {
                Failure::Retry { at_ms, error } => {
                    self.finish(&lease, now_ms, "retry", at_ms, &error).await
                }
                Failure::Dead { error } => self.finish(&lease, now_ms, "dead", 0, &error).await,
                other => Err(codec::incompatible(format!(
                    "this version does not know the failure {other:?}"
                ))),
            }
        })
    }

    fn abandon(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        let lease = *lease;
        Box::pin(async move { self.finish(&lease, now_ms, "abandon", now_ms, "").await })
    }

    fn get(&self, id: InboxId) -> BoxFuture<'_, Result<Option<EventDetail>, InboxError>> {
        Box::pin(async move {
            let mut connection = self.inner.connection.clone();
            // One round trip; the row and its payload are written and
            // removed together, so both or neither are there.
            let (row, payload): (Value, Value) = redis::pipe()
                .atomic()
                .cmd("HGETALL")
                .arg(format!("{}e:{}", self.inner.prefix, id.get()))
                .cmd("GET")
                .arg(format!("{}b:{}", self.inner.prefix, id.get()))
                .query_async(&mut connection)
                .await
                .map_err(|err| store_error(&err))?;
            let fields = codec::Fields::from_flat(&row)?;
            if fields.is_empty() {
                return Ok(None);
            }
            fields.detail(id, &payload).map(Some)
        })
    }

    fn list<'a>(
        &'a self,
        filter: &'a Filter,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, InboxError>> {
        Box::pin(async move {
            let mut invocation = self.inner.scripts.list.prepare_invoke();
            invocation
                .arg(&self.inner.prefix)
                .arg(
                    page.before
                        .map(|id| id.get().to_string())
                        .unwrap_or_default(),
                )
                .arg(page.limit.min(100_000));
            filter_args(&mut invocation, filter);
            let reply = self.run(&invocation).await?;
            codec::array(&reply)?
                .iter()
                .map(|row| match codec::array(row)? {
                    [id, fields] => {
                        codec::Fields::from_named(&LIST_FIELDS, fields)?.record(codec::id(id)?)
                    }
                    _ => Err(codec::incompatible("unexpected listing reply")),
                })
                .collect()
        })
    }

    fn count<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        Box::pin(async move {
            let mut only_state = Filter::default();
            only_state.state = filter.state;
            if *filter == Filter::default() {
                self.zcard("all").await
            } else if *filter == only_state {
                let state = filter.state.map_or("pending", State::as_str);
                self.zcard(&format!("x:{state}")).await
            } else {
                self.scan_count(filter).await
            }
        })
    }

    fn stats(&self) -> BoxFuture<'_, Result<Stats, InboxError>> {
        Box::pin(async move {
            let mut invocation = self.inner.scripts.stats.prepare_invoke();
            invocation.arg(&self.inner.prefix);
            let reply = self.run(&invocation).await?;
            let [pending, processing, done, dead, oldest] = codec::array(&reply)? else {
                return Err(codec::incompatible("unexpected stats reply"));
            };
            let count = |v: &Value| codec::int(v).map(|n| u64::try_from(n).unwrap_or(0));
            let oldest = match oldest {
                Value::BulkString(b) if b.is_empty() => None,
                other => Some(codec::int(other)?),
            };
            Ok(Stats::new(
                count(pending)?,
                count(processing)?,
                count(done)?,
                count(dead)?,
                oldest,
            ))
        })
    }

    fn replay<'a>(
        &'a self,
        selection: &'a Selection,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<u64, InboxError>> {
        Box::pin(async move {
            let mut invocation = self.inner.scripts.replay.prepare_invoke();
            invocation.arg(&self.inner.prefix).arg(now_ms.to_string());
            match selection {
                Selection::Ids(ids) => {
                    let mut ids: Vec<u64> = ids.iter().map(|id| id.get()).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    invocation.arg("ids");
                    for id in ids {
                        invocation.arg(id);
                    }
                }
                Selection::Matching(filter) => {
                    invocation.arg("filter");
                    filter_args(&mut invocation, filter);
                }
                other => {
                    return Err(codec::incompatible(format!(
                        "this version does not know the selection {other:?}"
                    )));
                }
            }
            let count = codec::int(&self.run(&invocation).await?)?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }

    fn mark_dead<'a>(
        &'a self,
        id: InboxId,
        now_ms: i64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<bool, InboxError>> {
        Box::pin(async move {
            let mut invocation = self.inner.scripts.mark_dead.prepare_invoke();
            invocation
                .arg(&self.inner.prefix)
                .arg(id.get())
                .arg(now_ms.to_string())
                .arg(reason);
            match codec::int(&self.run(&invocation).await?)? {
                1 => Ok(true),
                0 => Ok(false),
                _ => Err(InboxError::NotFound { id }),
            }
        })
    }

    fn purge<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        Box::pin(async move {
            let mut invocation = self.inner.scripts.purge.prepare_invoke();
            invocation.arg(&self.inner.prefix);
            filter_args(&mut invocation, filter);
            let count = codec::int(&self.run(&invocation).await?)?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }

    fn expire(&self, now_ms: i64, retention: Duration) -> BoxFuture<'_, Result<u64, InboxError>> {
        Box::pin(async move {
            let horizon = now_ms.saturating_sub(ms(retention));
            let mut total = 0u64;
            let mut forget_idle_ms = ms(self.inner.forget_consumers_after).max(1);
            loop {
                let mut invocation = self.inner.scripts.expire.prepare_invoke();
                invocation
                    .arg(&self.inner.prefix)
                    .arg(horizon.to_string())
                    .arg(EXPIRE_BATCH)
                    .arg(forget_idle_ms);
                forget_idle_ms = 0;
                let removed =
                    u64::try_from(codec::int(&self.run(&invocation).await?)?).unwrap_or(0);
                total += removed;
                if removed < EXPIRE_BATCH as u64 {
                    return Ok(total);
                }
            }
        })
    }
}

/// Settings for a [`RedisInbox`], applied by [`connect`](Self::connect).
///
/// ```no_run
/// # async fn run() -> Result<(), bookhook_redis::RedisInboxError> {
/// use std::time::Duration;
/// use bookhook_redis::RedisInbox;
///
/// let inbox = RedisInbox::builder()
///     .prefix("shop-a:inbox:")
///     .response_timeout(Duration::from_secs(2))
///     .connect("redis://127.0.0.1:6379")
///     .await?;
/// # let _ = inbox;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct RedisInboxBuilder {
    prefix: String,
    response_timeout: Duration,
    connection_timeout: Duration,
    reconnect_retries: usize,
    allow_without_append_only: bool,
    forget_consumers_after: Duration,
}

impl Default for RedisInboxBuilder {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_INBOX_PREFIX.to_owned(),
            response_timeout: Duration::from_secs(1),
            connection_timeout: Duration::from_secs(1),
            reconnect_retries: 0,
            allow_without_append_only: false,
            forget_consumers_after: FORGET_CONSUMERS_AFTER,
        }
    }
}

impl RedisInboxBuilder {
    /// The prefix put in front of every key (default `"bookhook:inbox:"`).
    /// Inboxes with different prefixes on one server never see each other's
    /// rows.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long to wait for Redis to answer (default 1 s). A call that gets
    /// no answer in time fails with [`InboxError::Unavailable`], which the
    /// request path turns into 503. Filtered listings, counts, replays and
    /// purges scan the rows inside one script: give them more time on a
    /// large inbox.
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    #[track_caller]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        assert!(
            !timeout.is_zero(),
            "redis response timeout must be positive"
        );
        self.response_timeout = timeout;
        self
    }

    /// How long one attempt to open a connection may take (default 1 s).
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    #[track_caller]
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        assert!(
            !timeout.is_zero(),
            "redis connection timeout must be positive"
        );
        self.connection_timeout = timeout;
        self
    }

    /// How many times a connection attempt is retried before a call gives
    /// up (default 0: fail at once, reconnect on the next call).
    pub fn reconnect_retries(mut self, retries: usize) -> Self {
        self.reconnect_retries = retries;
        self
    }

    /// How long a consumer of the streams' group may go without reading,
    /// holding no entry, before [`Inbox::expire`] deletes it (default one
    /// hour, by Redis' clock). Each `connect` adds a consumer; this keeps
    /// replicas that are gone from piling up in `XINFO CONSUMERS`. A live
    /// worker that reads again is simply added back.
    pub fn forget_consumers_after(mut self, idle: Duration) -> Self {
        self.forget_consumers_after = idle;
        self
    }

    /// Starts even when the server runs with `appendonly no` (or its
    /// settings cannot be read). Acknowledged events then live only in
    /// Redis' memory and in its RDB snapshots: a restart can forget them.
    /// Fit for tests and for deployments that accept that loss.
    pub fn allow_without_append_only(mut self) -> Self {
        self.allow_without_append_only = true;
        self
    }

    /// Connects to `url`, reads the persistence settings and loads the
    /// scripts.
    ///
    /// # Errors
    ///
    /// As [`RedisInbox::connect`].
    pub async fn connect(self, url: &str) -> Result<RedisInbox, RedisInboxError> {
        let settings = crate::connection::Settings {
            response_timeout: self.response_timeout,
            connection_timeout: self.connection_timeout,
            reconnect_retries: self.reconnect_retries,
        };
        let connection = crate::connection::open(url, settings)
            .await
            .map_err(|reason| RedisInboxError::Unavailable { reason })?;
        let mut check = connection.clone();
        let persistence = Persistence::read(&mut check).await;
        match persistence.append_only() {
            Some(true) => tracing::info!(
                appendfsync = persistence.append_fsync().map_or("unknown", AppendFsync::as_str),
                prefix = %self.prefix,
                "redis inbox: appendonly yes"
            ),
            _ if self.allow_without_append_only => tracing::warn!(
                prefix = %self.prefix,
                persistence = %persistence,
                "redis inbox: no append-only file known, allowed explicitly: a redis restart can forget acknowledged events"
            ),
            Some(false) => return Err(RedisInboxError::AppendOnlyOff),
            None => {
                return Err(RedisInboxError::PersistenceUnknown {
                    reason: "neither CONFIG GET nor INFO persistence shows whether the append-only file is on"
                        .to_owned(),
                });
            }
        }
        let scripts = Scripts::new();
        for script in scripts.all() {
            script
                .load_async(&mut check)
                .await
                .map_err(|err| RedisInboxError::Unavailable {
                    reason: format!("redis: loading scripts: {err}"),
                })?;
        }
        let consumer = format!("c-{:016x}", ClaimToken::random().as_u128() as u64);
        Ok(RedisInbox {
            inner: Arc::new(Inner {
                connection,
                prefix: self.prefix,
                consumer,
                persistence,
                forget_consumers_after: self.forget_consumers_after,
                scripts,
            }),
        })
    }
}
