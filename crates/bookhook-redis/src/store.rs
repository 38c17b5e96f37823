//! [`RedisStore`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bookhook::idempotency::{
    BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore, Observation, StoreError,
};
use redis::Value;
use redis::aio::ConnectionManager;

use crate::error::from_redis;
use crate::persistence::Persistence;
use crate::script::{self, Scripts};

/// The key prefix used unless [`RedisStoreBuilder::prefix`] says otherwise.
pub const DEFAULT_PREFIX: &str = "bookhook:";

/// The longest expiry sent to Redis, about 4,000 years: longer ones would
/// overflow Redis' own clock arithmetic.
const MAX_EXPIRY_MS: u64 = 1 << 47;

/// An [`IdempotencyStore`] kept in Redis, shared by every replica that points
/// at the same server and prefix.
///
/// Every operation is one Lua script, so it is atomic on the server, and
/// [`claim_and_observe`](IdempotencyStore::claim_and_observe) claims and
/// records the appointment's time in a single round trip. A handled delivery
/// therefore costs two round trips: `claim_and_observe`, then `complete`.
///
/// Cloning is cheap and clones share the connection.
///
/// # Availability
///
/// [`connect`](Self::connect) fails with [`StoreError::Unavailable`] if Redis
/// cannot be reached at start. Once connected, an outage makes each call
/// return [`StoreError::Unavailable`] within about the configured timeouts
/// (one second by default), and the store reconnects by itself: calls succeed
/// again as soon as Redis is back, with the same `RedisStore`.
///
/// Claims live in Redis with their lease as expiry, so a replica that dies
/// holding one blocks the key only until the lease passes. Expiry is measured
/// by Redis' clock, never the replicas'.
///
/// The store needs a standalone Redis (or a primary): it does not speak the
/// Redis Cluster protocol.
///
/// # Durability
///
/// Deduplication across a Redis restart needs Redis to keep its keys: run it
/// with the append-only file on (`appendonly yes`), or at least RDB
/// snapshots. [`connect`](RedisStoreBuilder::connect) reads the server's
/// persistence settings and logs a `tracing` warning when it has neither;
/// [`persistence`](Self::persistence) returns what it found.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: ConnectionManager,
    prefix: String,
    scripts: Scripts,
    persistence: Persistence,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection URL may hold a password, so it is never kept or shown.
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects with the default settings: prefix `"bookhook:"`, 500 ms
    /// connection and response timeouts, no reconnect retries within a call.
    ///
    /// `url` is a Redis URL such as `redis://127.0.0.1:6379`,
    /// `redis://:password@host:6379/2` or `rediss://host` (TLS needs the
    /// `redis` crate's TLS features enabled by the application).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the URL is invalid or Redis cannot be
    /// reached. The message never contains the URL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder().connect(url).await
    }

    /// Starts a builder to change the prefix, timeouts or retries.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::default()
    }

    /// The prefix put in front of every key this store writes.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// How the server persisted its data when the store connected: whether
    /// handled deliveries survive a Redis restart.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), bookhook::idempotency::StoreError> {
    /// let store = bookhook_redis::RedisStore::connect("redis://127.0.0.1:6379").await?;
    /// if let Some(warning) = store.persistence().warning() {
    ///     eprintln!("warning: {warning}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn persistence(&self) -> Persistence {
        self.inner.persistence
    }

    fn claim_key(&self, key: &str) -> String {
        format!("{}k:{key}", self.inner.prefix)
    }

    fn freshness_key(&self, appointment: &str) -> String {
        format!("{}f:{appointment}", self.inner.prefix)
    }

    async fn run(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<Value, StoreError> {
        let mut connection = self.inner.connection.clone();
        invocation
            .invoke_async::<Value>(&mut connection)
            .await
            .map_err(|err| from_redis(&err))
    }
}

/// Milliseconds for `PX`, at least 1 (Redis refuses 0) and at most
/// [`MAX_EXPIRY_MS`].
fn expiry_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_EXPIRY_MS)
}

impl IdempotencyStore for RedisStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let token = ClaimToken::random();
            let reply = self
                .run(
                    self.inner
                        .scripts
                        .claim
                        .key(self.claim_key(key))
                        .arg(script::claim_value(token))
                        .arg(expiry_ms(lease)),
                )
                .await?;
            script::decode_claim_reply(&reply, token)
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let reply = self
                .run(
                    self.inner
                        .scripts
                        .complete
                        .key(self.claim_key(key))
                        .arg(script::claim_value(token))
                        .arg(expiry_ms(ttl)),
                )
                .await?;
            // A stale token is a no-op, not an error.
            script::decode_owned_reply(&reply).map(drop)
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let reply = self
                .run(
                    self.inner
                        .scripts
                        .release
                        .key(self.claim_key(key))
                        .arg(script::claim_value(token)),
                )
                .await?;
            script::decode_owned_reply(&reply).map(drop)
        })
    }

    fn observe<'a>(
        &'a self,
        appointment: &'a str,
        occurred_at_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, StoreError>> {
        Box::pin(async move {
            let reply = self
                .run(
                    self.inner
                        .scripts
                        .observe
                        .key(self.freshness_key(appointment))
                        .arg(occurred_at_ms.to_string())
                        .arg(expiry_ms(ttl)),
                )
                .await?;
            script::decode_observe_reply(&reply)
        })
    }

    fn claim_and_observe<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
        appointment: Option<Observation<'a>>,
    ) -> BoxFuture<'a, Result<(Claim, Freshness), StoreError>> {
        Box::pin(async move {
            let Some(obs) = appointment else {
                let claim = self.claim(key, lease).await?;
                return Ok((claim, Freshness::Latest));
            };
            let token = ClaimToken::random();
            let reply = self
                .run(
                    self.inner
                        .scripts
                        .claim_and_observe
                        .key(self.claim_key(key))
                        .key(self.freshness_key(obs.appointment))
                        .arg(script::claim_value(token))
                        .arg(expiry_ms(lease))
                        .arg(obs.occurred_at_ms.to_string())
                        .arg(expiry_ms(obs.ttl)),
                )
                .await?;
            script::decode_claim_and_observe_reply(&reply, token)
        })
    }
}

/// Settings for a [`RedisStore`], applied by [`connect`](Self::connect).
///
/// ```no_run
/// # async fn run() -> Result<(), bookhook::idempotency::StoreError> {
/// use std::time::Duration;
/// use bookhook_redis::RedisStore;
///
/// let store = RedisStore::builder()
///     .prefix("shop-a:bookhook:")
///     .response_timeout(Duration::from_millis(300))
///     .connection_timeout(Duration::from_millis(300))
///     .reconnect_retries(0)
///     .connect("redis://127.0.0.1:6379")
///     .await?;
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct RedisStoreBuilder {
    prefix: String,
    response_timeout: Duration,
    connection_timeout: Duration,
    reconnect_retries: usize,
}

impl Default for RedisStoreBuilder {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            response_timeout: Duration::from_millis(500),
            connection_timeout: Duration::from_millis(500),
            reconnect_retries: 0,
        }
    }
}

impl RedisStoreBuilder {
    /// The prefix put in front of every key (default `"bookhook:"`). Stores
    /// with different prefixes on one server never see each other's keys.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long to wait for Redis to answer a command (default 500 ms). A
    /// call that gets no answer in time fails with
    /// [`StoreError::Unavailable`].
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

    /// How long one attempt to open a connection may take (default 500 ms).
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

    /// How many times a connection attempt is retried before a call (or
    /// [`connect`](Self::connect)) gives up (default 0).
    ///
    /// Each retry first waits about one to two seconds, so every retry adds
    /// that much to how long a call takes to fail while Redis is down. With
    /// no retries a call fails at once, and the next call tries to reconnect
    /// again: recovery does not depend on retries.
    pub fn reconnect_retries(mut self, retries: usize) -> Self {
        self.reconnect_retries = retries;
        self
    }

    /// Connects to `url` with these settings, and reads the server's
    /// persistence settings ([`RedisStore::persistence`]), logging a warning
    /// when the server keeps nothing across a restart.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the URL is invalid or Redis cannot be
    /// reached. The message never contains the URL.
    pub async fn connect(self, url: &str) -> Result<RedisStore, StoreError> {
        let settings = crate::connection::Settings {
            response_timeout: self.response_timeout,
            connection_timeout: self.connection_timeout,
            reconnect_retries: self.reconnect_retries,
        };
        let connection = crate::connection::open(url, settings)
            .await
            .map_err(|reason| StoreError::Unavailable { reason })?;
        // Loading the scripts now makes every later call one `EVALSHA`. After
        // a server restart they are loaded again on first use.
        let scripts = Scripts::new();
        let mut loader = connection.clone();
        for script in scripts.all() {
            script
                .load_async(&mut loader)
                .await
                .map_err(|err| StoreError::Unavailable {
                    reason: format!("redis: loading scripts: {err}"),
                })?;
        }
        let persistence = Persistence::read(&mut loader).await;
        match persistence.warning() {
            Some(warning) => tracing::warn!("{warning}"),
            None => tracing::debug!(persistence = %persistence, "redis persistence"),
        }
        Ok(RedisStore {
            inner: Arc::new(Inner {
                connection,
                prefix: self.prefix,
                scripts,
                persistence,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_clamped_to_what_redis_accepts() {
        assert_eq!(expiry_ms(Duration::ZERO), 1);
        assert_eq!(expiry_ms(Duration::from_micros(300)), 1);
        assert_eq!(expiry_ms(Duration::from_millis(1500)), 1500);
        assert_eq!(expiry_ms(Duration::MAX), MAX_EXPIRY_MS);
    }

    #[test]
    fn builder_defaults_fail_fast() {
        let builder = RedisStore::builder();
        assert_eq!(builder.prefix, DEFAULT_PREFIX);
        assert_eq!(builder.reconnect_retries, 0);
        assert!(builder.response_timeout + builder.connection_timeout <= Duration::from_secs(1));
    }

    #[test]
    #[should_panic(expected = "response timeout must be positive")]
    fn zero_response_timeout_is_refused() {
        let _ = RedisStore::builder().response_timeout(Duration::ZERO);
    }

    #[tokio::test]
    async fn invalid_url_is_unavailable_without_echoing_it() {
        let err = RedisStore::connect("nonsense://user:hunter2@host")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable { .. }));
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
