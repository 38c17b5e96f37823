//! The embedded [`IdempotencyStore`], [`MemoryStore`]: its operations over
//! sharded, bounded hash tables in process memory.
//!
//! Keys are never stored as strings. Each key is reduced to a 128-bit
//! fingerprint: one SipHash, keyed at random when the store is created, read
//! out twice, over the key and over the key followed by one more byte. The key
//! is hashed once; only the last block and the finalization run twice. At a
//! million keys the chance that two different keys share a fingerprint is
//! about 1e-27.
//!
//! Each shard is one open-addressing table (linear probing, backward-shift
//! deletion, no tombstones) whose 32-byte slots hold the fingerprint, the
//! entry and a "used" bit inline, packed into four words: a lookup or an
//! insertion of a new key reads one run of adjacent slots, and allocates
//! nothing. An all-zero slot is empty, so a new table is one zeroed
//! allocation: a large one is served with fresh pages from the operating
//! system, already zero, rather than by writing every byte. When a shard is
//! full, a clock hand walks its slots in order to pick the key to forget
//! (CLOCK, or second chance, an approximation of least recently used).

mod builder;
mod eviction;
mod fingerprint;
mod sizing;
mod slot;
mod table;
#[cfg(test)]
mod tests;

use std::fmt;
use std::hash::RandomState;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use self::builder::MemoryStoreBuilder;
use self::fingerprint::{Fingerprint, Space};
use self::sizing::{DEFAULT_CAPACITY, default_shards, keys_estimate, shard_caps_for_deliveries};
use self::slot::{Entry, SlotFields};
use self::table::Shard;
use super::{BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore, Observation};
use crate::clock::{Clock, SystemClock};
use crate::error::StoreError;

/// An in-memory [`IdempotencyStore`], bounded by capacity and by TTL.
///
/// This is the default store. It serves one process: use a shared store (such
/// as `bookhook-redis`) once several replicas receive the same webhooks.
///
/// - **Sized in deliveries.** The `capacity` is a number of deliveries: the
///   store remembers at least the last `capacity` deliveries it handled
///   (within the done TTL), each taking up to two keys, its idempotency key
///   and the record of its appointment. The store holds at most
///   [`max_keys`](Self::max_keys) keys, about four per delivery of capacity
///   (a million for the default 250,000 deliveries): room for two keys per
///   delivery, for CLOCK's approximation and for the uneven spread of keys
///   over shards. When a shard is full, one key is forgotten for each new
///   one, even if its TTL has not run out. The key is chosen by CLOCK, an
///   approximation of least recently used: a hand walks the shard's slots in
///   order; a key read or written since the hand last passed it is spared once
///   (the hand clears its mark), and the first key not used since is
///   forgotten. A key written once and never read again is remembered for
///   between about 2/3 and 4/3 of the shard's keys in newer keys; the sizing
///   counts on the lower end, and is tested with streams of new deliveries,
///   each written and read once. A delivery seen again is recent again, as
///   under least recently used. [`MemoryStoreBuilder::max_keys`] sets the
///   bound in keys instead.
/// - **Expiring.** A done key is forgotten after the `ttl` given to
///   [`complete`](IdempotencyStore::complete), a claim after the `lease` given
///   to [`claim`](IdempotencyStore::claim) (so a worker that died does not block
///   retries), and an appointment record after the `ttl` given to
///   [`observe`](IdempotencyStore::observe). Expired entries are removed lazily:
///   when touched, when the clock hand meets them (it moves a few slots on
///   every insertion, and when a shard is full it takes an expired key it
///   meets before any live one), or all at once with
///   [`purge_expired`](Self::purge_expired).
/// - **Sharded.** Keys are spread by hash over independently locked shards.
///   No lock is held across an `.await`: every operation is synchronous
///   work inside its future. Each shard has its own clock hand.
/// - **Compact.** Keys are kept as 128-bit fingerprints, never as strings,
///   in 32-byte slots of a per-shard table that is at most 3/4 full and
///   grows by doubling as keys arrive (nothing is allocated up front, nor per
///   key): between about 43 and 85 bytes per key held once a shard holds more
///   than a few keys, about 70 at a million keys (the default capacity, full).
///   A table shrinks only in [`purge_expired`](Self::purge_expired).
///
/// Time is read only from the store's [`Clock`], so tests can use a
/// [`ManualClock`](crate::ManualClock) instead of sleeping. Operations never
/// fail.
///
/// ```
/// use std::time::Duration;
/// use bookhook::idempotency::{Claim, IdempotencyStore, MemoryStore};
///
/// let store = MemoryStore::new();
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// runtime.block_on(async {
///     let lease = Duration::from_secs(30);
///     let Claim::Claimed(token) = store.claim("evt_1", lease).await.unwrap() else {
///         panic!("a new key is claimed");
///     };
///     // A copy delivered while the first is being handled is in flight.
///     assert_eq!(store.claim("evt_1", lease).await.unwrap(), Claim::InFlight);
///
///     store.complete("evt_1", token, Duration::from_secs(72 * 3600)).await.unwrap();
///     // A copy delivered later is recognised as done.
///     assert_eq!(store.claim("evt_1", lease).await.unwrap(), Claim::Done);
/// });
/// ```
pub struct MemoryStore {
    shards: Box<[Padded<Mutex<Shard>>]>,
    capacity: usize,
    max_keys: usize,
    clock: Box<dyn Clock>,
    hasher: RandomState,
}

impl MemoryStore {
    /// A store that remembers the last 250,000 deliveries (at most about a
    /// million keys), on the system clock, with a number of shards suited to
    /// this machine and to the capacity (128 or more, so that no shard's table
    /// grows past about 8,192 keys).
    pub fn new() -> Self {
        let shards = default_shards(keys_estimate(DEFAULT_CAPACITY));
        Self::from_parts(
            DEFAULT_CAPACITY,
            shard_caps_for_deliveries(DEFAULT_CAPACITY, shards),
            Box::new(SystemClock),
        )
    }

    /// Configures a store: capacity (in deliveries), shards and clock.
    ///
    /// ```
    /// use bookhook::{endpoint::ManualClock, idempotency::MemoryStore};
    ///
    /// let store = MemoryStore::builder()
    ///     .capacity(10_000) // the last 10,000 deliveries are remembered
    ///     .shards(4)
    ///     .clock(ManualClock::at_unix(1_700_000_000))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(store.capacity(), 10_000);
    /// assert!(store.max_keys() >= 2 * 10_000);
    /// assert!(MemoryStore::builder().capacity(0).build().is_err());
    /// ```
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::new()
    }

    /// The number of most recent deliveries the store remembers, at least
    /// (within the done TTL). With a bound set by
    /// [`MemoryStoreBuilder::max_keys`], the most this bound guarantees, which
    /// may be 0 for a bound of a few keys.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most keys (idempotency keys and appointment records) the store
    /// holds at once.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// The number of keys held, counting expired ones not removed yet.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len).sum()
    }

    /// Whether the store holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|shard| lock(shard).len == 0)
    }

    /// Removes every expired entry now and returns how many were removed.
    ///
    /// Expired entries never change an answer, and are removed lazily anyway.
    /// This removes them at once, and gives memory back to the allocator when
    /// a shard's table is left at most a quarter as full as it may be; it
    /// locks one shard at a time.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now_unix_ms();
        self.shards
            .iter()
            .map(|shard| lock(shard).purge_expired(now))
            .sum()
    }

    /// A store of `capacity` deliveries whose shards hold `caps` keys each.
    pub(super) fn from_parts(capacity: usize, caps: Vec<usize>, clock: Box<dyn Clock>) -> Self {
        let max_keys = caps
            .iter()
            .fold(0_usize, |sum, cap| sum.saturating_add(*cap));
        let shards = caps
            .into_iter()
            .map(|cap| Padded(Mutex::new(Shard::new(cap))))
            .collect();
        Self {
            shards,
            capacity,
            max_keys,
            clock,
            hasher: RandomState::new(),
        }
    }

    fn fingerprint(&self, space: Space, key: &str) -> Fingerprint {
        Fingerprint::of(&self.hasher, space, key)
    }

    fn shard(&self, fingerprint: &Fingerprint) -> MutexGuard<'_, Shard> {
        // The table is indexed by the first word; the shard comes from the second.
        let mask = self.shards.len() - 1;
        let index = (fingerprint.0[1] >> 32) as usize & mask;
        lock(&self.shards[index])
    }

    fn claim_now(&self, key: &str, lease: Duration, now: u64) -> Claim {
        let fingerprint = self.fingerprint(Space::Key, key);
        let mut shard = self.shard(&fingerprint);
        let claim = |token: ClaimToken| Entry::Claimed {
            token: fold(token),
            until: deadline(now, lease),
        };
        match shard.live(&fingerprint, now) {
            Some((_, Entry::Claimed { .. })) => Claim::InFlight,
            Some((_, Entry::Done { .. })) => Claim::Done,
            // Not reachable through the fingerprint's space bit; overwritten
            // in place all the same.
            Some((index, Entry::Seen { .. })) => {
                let token = ClaimToken::random();
                shard.slots[index].set_entry(claim(token));
                Claim::Claimed(token)
            }
            None => {
                let token = ClaimToken::random();
                shard.insert_absent(fingerprint, claim(token), now);
                Claim::Claimed(token)
            }
        }
    }

    fn complete_now(&self, key: &str, token: ClaimToken, ttl: Duration) {
        let fingerprint = self.fingerprint(Space::Key, key);
        let now = self.clock.now_unix_ms();
        let mut shard = self.shard(&fingerprint);
        if let Some((index, Entry::Claimed { token: owner, .. })) = shard.live(&fingerprint, now) {
            if owner == fold(token) {
                shard.slots[index].set_entry(Entry::Done {
                    until: deadline(now, ttl),
                });
            }
        }
    }

    fn release_now(&self, key: &str, token: ClaimToken) {
        let fingerprint = self.fingerprint(Space::Key, key);
        let mut shard = self.shard(&fingerprint);
        // An expired claim with this token is removed too: nobody else owns it.
        if let Some(index) = shard.find(&fingerprint) {
            let owned = matches!(
                shard.slots[index].entry(),
                Some(Entry::Claimed { token: owner, .. }) if owner == fold(token)
            );
            if owned {
                shard.remove_at(index);
            }
        }
    }

    fn observe_now(
        &self,
        appointment: &str,
        occurred_at_ms: i64,
        ttl: Duration,
        now: u64,
    ) -> Freshness {
        let fingerprint = self.fingerprint(Space::Appointment, appointment);
        let mut shard = self.shard(&fingerprint);
        let seen = Entry::Seen {
            newest: occurred_at_ms,
            until: deadline(now, ttl),
        };
        match shard.live(&fingerprint, now) {
            Some((index, Entry::Seen { newest, until })) => {
                if occurred_at_ms >= newest {
                    shard.slots[index].set_entry(Entry::Seen {
                        newest: occurred_at_ms,
                        until: until.max(deadline(now, ttl)),
                    });
                    Freshness::Latest
                } else {
                    Freshness::Stale {
                        newer_seen_at: newest,
                    }
                }
            }
            // Not reachable through the fingerprint's space bit; overwritten
            // in place all the same.
            Some((index, Entry::Claimed { .. } | Entry::Done { .. })) => {
                shard.slots[index].set_entry(seen);
                Freshness::Latest
            }
            None => {
                shard.insert_absent(fingerprint, seen, now);
                Freshness::Latest
            }
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity)
            .field("max_keys", &self.max_keys)
            .field("shards", &self.shards.len())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl IdempotencyStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move { Ok(self.claim_now(key, lease, self.clock.now_unix_ms())) })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.complete_now(key, token, ttl);
            Ok(())
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.release_now(key, token);
            Ok(())
        })
    }

    fn observe<'a>(
        &'a self,
        appointment: &'a str,
        occurred_at_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, StoreError>> {
        Box::pin(async move {
            let now = self.clock.now_unix_ms();
            Ok(self.observe_now(appointment, occurred_at_ms, ttl, now))
        })
    }

    fn claim_and_observe<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
        appointment: Option<Observation<'a>>,
    ) -> BoxFuture<'a, Result<(Claim, Freshness), StoreError>> {
        Box::pin(async move {
            // One clock read serves both: they happen at the same moment.
            let now = self.clock.now_unix_ms();
            let claim = self.claim_now(key, lease, now);
            let freshness = match (claim, appointment) {
                (Claim::Claimed(_), Some(obs)) => {
                    self.observe_now(obs.appointment, obs.occurred_at_ms, obs.ttl, now)
                }
                _ => Freshness::Latest,
            };
            Ok((claim, freshness))
        })
    }
}

fn lock(shard: &Padded<Mutex<Shard>>) -> MutexGuard<'_, Shard> {
    // A panic while a shard was locked cannot leave its table half updated:
    // what may panic under the lock (drawing a token, a tracing subscriber)
    // runs before a change or after it, never while slots are being moved, and
    // a failed allocation aborts. So a poisoned shard is still sound.
    shard.0.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `now + by` in milliseconds, rounding a partial millisecond up so that a
/// non-zero lease never expires at once.
fn deadline(now: u64, by: Duration) -> u64 {
    let ms = by.as_nanos().div_ceil(1_000_000);
    now.saturating_add(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// The 64 bits of a token that the store keeps: a stale token matches a newer
/// claim with probability 2^-64.
fn fold(token: ClaimToken) -> u64 {
    let value = token.as_u128();
    (value >> 64) as u64 ^ value as u64
}

/// Keeps each shard's lock on its own cache line.
#[repr(align(64))]
struct Padded<T>(T);
