//! Exactly-once handling on top of at-least-once delivery.
//!
//! A store answers three questions about an idempotency key: may I process
//! it ([`claim`](IdempotencyStore::claim)), I did ([`complete`](IdempotencyStore::complete)),
//! I could not ([`release`](IdempotencyStore::release)). A claim is a lease: if the
//! process holding it dies, it expires and a retry gets through.
//!
//! The same store also records, per appointment, the newest `occurred_at`
//! handled so far ([`observe`](IdempotencyStore::observe)), which gives handlers
//! a [`Freshness`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

mod memory;

pub use memory::{MemoryStore, MemoryStoreBuilder};

pub use crate::error::StoreError;

/// A boxed future, as returned by [`IdempotencyStore`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Proof of a claim. Completing or releasing with a stale token does nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimToken(u128);

impl ClaimToken {
    /// Wraps a raw token value (stores that persist tokens use this).
    pub const fn from_u128(value: u128) -> Self {
        Self(value)
    }

    /// The raw token value.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// A fresh token that is unpredictable and unique within the process.
    ///
    /// The low 64 bits are a process-wide count masked by a random value (so
    /// no two tokens of one process are equal before 2^64 of them); the high
    /// 64 bits are a keyed SipHash of the count, with a key drawn at random
    /// once per process. No clock is read, and threads do not contend: each
    /// takes its counts from the shared counter a block at a time.
    pub fn random() -> Self {
        use std::cell::Cell;
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        use std::sync::LazyLock;
        use std::sync::atomic::{AtomicU64, Ordering};

        /// Counts a thread takes from the shared counter at once.
        const BLOCK: u64 = 1 << 16;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static KEY: LazyLock<(RandomState, u64)> =
            LazyLock::new(|| (RandomState::new(), RandomState::new().hash_one(0_u8)));
        thread_local! {
            /// The next count of this thread's block, and the end of the block.
            static BLOCK_LEFT: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }

        let count = BLOCK_LEFT.with(|left| {
            let (mut next, mut end) = left.get();
            if next == end {
                next = COUNTER.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            left.set((next + 1, end));
            next
        });
        let (key, mask) = &*KEY;
        let mut high = key.build_hasher();
        high.write_u64(count);
        Self((u128::from(high.finish()) << 64) | u128::from(count ^ mask))
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimToken({:032x})", self.0)
    }
}

/// The answer to [`IdempotencyStore::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or its lease expired): the caller owns it now.
    Claimed(ClaimToken),
    /// Someone else holds a live lease on the key.
    InFlight,
    /// The key was processed already, within its TTL.
    Done,
}

/// Whether an event is the newest one seen for its appointment.
///
/// Platforms do not promise order: a cancellation can arrive before the
/// creation it cancels. bookhook never drops a late event; it tells the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Freshness {
    /// No newer event for this appointment has been seen (or the event has no
    /// appointment or time to compare).
    Latest,
    /// An event with a later `occurred_at` was already handled.
    Stale {
        /// The newest `occurred_at` seen, in milliseconds since the Unix epoch.
        newer_seen_at: i64,
    },
}

impl Freshness {
    /// Whether the event is the newest seen.
    pub fn is_latest(self) -> bool {
        matches!(self, Freshness::Latest)
    }
}

/// Where the dispatcher records which deliveries were handled.
///
/// Implementations must be atomic per key: two concurrent `claim`s of one key
/// never both return [`Claim::Claimed`] while the first lease is live.
/// `complete` and `release` with a token that no longer owns the key must not
/// change anything. A token owns its key from the claim until the lease runs
/// out, or until the key is completed or released, whichever comes first.
///
/// The `testing` feature provides the contract as reusable checks, in
/// `bookhook::testing::store`.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Tries to take the key for `lease`.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// Marks the key done for `ttl`, if `token` still owns it.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Frees the key, if `token` still owns it, so that a retry is processed.
    fn release<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Atomically records `occurred_at_ms` as the newest time seen for
    /// `appointment` if it is newer, keeping the record for `ttl`, and returns
    /// whether the event is the newest seen. An equal time counts as latest.
    fn observe<'a>(
        &'a self,
        appointment: &'a str,
        occurred_at_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, StoreError>>;

    /// [`claim`](Self::claim), then, only if the key was claimed,
    /// [`observe`](Self::observe) for `appointment`. The dispatcher calls this
    /// once per delivery.
    ///
    /// The default makes two calls. A networked store should override it to
    /// do both in one round trip.
    fn claim_and_observe<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
        appointment: Option<Observation<'a>>,
    ) -> BoxFuture<'a, Result<(Claim, Freshness), StoreError>> {
        Box::pin(async move {
            let claim = self.claim(key, lease).await?;
            let freshness = match (claim, appointment) {
                (Claim::Claimed(_), Some(obs)) => {
                    self.observe(obs.appointment, obs.occurred_at_ms, obs.ttl)
                        .await?
                }
                _ => Freshness::Latest,
            };
            Ok((claim, freshness))
        })
    }
}

/// What [`IdempotencyStore::claim_and_observe`] records for an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation<'a> {
    /// The appointment's key, namespaced like idempotency keys.
    pub appointment: &'a str,
    /// The event's `occurred_at`, in milliseconds since the Unix epoch.
    pub occurred_at_ms: i64,
    /// How long the record is kept.
    pub ttl: Duration,
}

impl<S: IdempotencyStore + ?Sized> IdempotencyStore for std::sync::Arc<S> {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        (**self).claim(key, lease)
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).complete(key, token, ttl)
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).release(key, token)
    }

    fn observe<'a>(
        &'a self,
        appointment: &'a str,
        occurred_at_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, StoreError>> {
        (**self).observe(appointment, occurred_at_ms, ttl)
    }

    fn claim_and_observe<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
        appointment: Option<Observation<'a>>,
    ) -> BoxFuture<'a, Result<(Claim, Freshness), StoreError>> {
        (**self).claim_and_observe(key, lease, appointment)
    }
}

#[cfg(test)]
mod tests {
    use super::ClaimToken;

    #[test]
    fn claim_tokens_are_distinct_in_both_halves() {
        use std::collections::HashSet;
        let tokens: Vec<u128> = (0..50_000)
            .map(|_| ClaimToken::random().as_u128())
            .collect();
        let high: HashSet<u64> = tokens.iter().map(|t| (t >> 64) as u64).collect();
        let low: HashSet<u64> = tokens.iter().map(|t| *t as u64).collect();
        assert_eq!(low.len(), tokens.len(), "the counter half never repeats");
        assert_eq!(
            high.len(),
            tokens.len(),
            "the hashed half does not repeat either"
        );
    }

    #[test]
    fn claim_tokens_from_many_threads_never_repeat() {
        use std::collections::HashSet;
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..10_000)
                        .map(|_| ClaimToken::random())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for handle in handles {
            for token in handle.join().expect("no panic") {
                assert!(seen.insert(token), "{token:?} was issued twice");
            }
        }
        assert_eq!(seen.len(), 40_000);
    }
}
