//! The embedded [`IdempotencyStore`]: sharded, bounded LRU maps in process memory.
//!
//! Keys are never stored as strings. Each key is reduced to a 128-bit
//! fingerprint: one SipHash, keyed at random when the store is created, read
//! out twice, over the key and over the key followed by one more byte. The key
//! is hashed once; only the last block and the finalization run twice. At a
//! million keys the chance that two different keys share a fingerprint is
//! about 1e-27.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lru::LruCache;

use super::{BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore, Observation};
use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, StoreError};

/// Keys held by [`MemoryStore::new`].
const DEFAULT_CAPACITY: usize = 1_000_000;

/// Upper bound for the default number of shards.
const MAX_DEFAULT_SHARDS: usize = 256;

/// Expired entries removed from the least recently used end of a shard on
/// every insertion, so that memory is given back without a background task.
const SWEEP_PER_INSERT: usize = 2;

/// An in-memory [`IdempotencyStore`], bounded by capacity and by TTL.
///
/// This is the default store. It serves one process: use a shared store (such
/// as `bookhook-redis`) once several replicas receive the same webhooks.
///
/// - **Bounded.** At most `capacity` keys are held (idempotency keys and
///   appointment records together). When a shard is full, its least recently
///   used key is forgotten, even if its TTL has not run out, so size the
///   capacity for the number of deliveries you expect within the done TTL.
/// - **Expiring.** A done key is forgotten after the `ttl` given to
///   [`complete`](IdempotencyStore::complete), a claim after the `lease` given
///   to [`claim`](IdempotencyStore::claim) (so a worker that died does not block
///   retries), and an appointment record after the `ttl` given to
///   [`observe`](IdempotencyStore::observe). Expired entries are removed lazily,
///   when touched or when they reach the least recently used end of their shard,
///   or all at once with [`purge_expired`](Self::purge_expired).
/// - **Sharded.** Keys are spread by hash over independently locked shards.
///   No lock is held across an `.await`: every operation is synchronous
///   work inside its future. Least recently used order is kept per shard.
/// - **Compact.** About 100 bytes per key at a million keys: keys are kept as
///   128-bit fingerprints, never as strings.
///
/// Time is read only from the store's [`Clock`], so tests can use a
/// [`ManualClock`](crate::ManualClock) instead of sleeping. Operations never
/// fail.
///
/// ```
/// use std::time::Duration;
/// use bookhook::{Claim, IdempotencyStore, MemoryStore};
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
    clock: Box<dyn Clock>,
    hasher: RandomState,
}

impl MemoryStore {
    /// A store for 1,000,000 keys, on the system clock, with a number of shards
    /// suited to this machine.
    pub fn new() -> Self {
        Self::from_parts(
            DEFAULT_CAPACITY,
            default_shards(DEFAULT_CAPACITY),
            Box::new(SystemClock),
        )
    }

    /// Configures a store: capacity, shards and clock.
    ///
    /// ```
    /// use bookhook::{ManualClock, MemoryStore};
    ///
    /// let store = MemoryStore::builder()
    ///     .capacity(10_000)
    ///     .shards(4)
    ///     .clock(ManualClock::at_unix(1_700_000_000))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(store.capacity(), 10_000);
    /// assert!(MemoryStore::builder().capacity(0).build().is_err());
    /// ```
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            capacity: DEFAULT_CAPACITY,
            shards: None,
            clock: None,
        }
    }

    /// The most keys the store holds at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// The number of keys held, counting expired ones not removed yet.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).map.len()).sum()
    }

    /// Whether the store holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|shard| lock(shard).map.is_empty())
    }

    /// Removes every expired entry now and returns how many were removed.
    ///
    /// Expired entries never change an answer, and are removed lazily anyway.
    /// This gives their memory back at once; it locks one shard at a time.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now_unix_ms();
        self.shards
            .iter()
            .map(|shard| lock(shard).purge_expired(now))
            .sum()
    }

    fn from_parts(capacity: usize, shards: usize, clock: Box<dyn Clock>) -> Self {
        let base = capacity / shards;
        let extra = capacity % shards;
        let shards = (0..shards)
            .map(|index| {
                Padded(Mutex::new(Shard {
                    map: LruCache::unbounded_with_hasher(PassThrough),
                    cap: base + usize::from(index < extra),
                }))
            })
            .collect();
        Self {
            shards,
            capacity,
            clock,
            hasher: RandomState::new(),
        }
    }

    fn fingerprint(&self, space: Space, key: &str) -> Fingerprint {
        let mut first = self.hasher.build_hasher();
        first.write_u8(space as u8);
        first.write(key.as_bytes());
        // The same keyed state, extended by one byte: a second output of the
        // keyed hash, on a different input, without hashing the key again.
        // 0xff never occurs in UTF-8, so this input is never another key's.
        let mut second = first.clone();
        second.write_u8(0xff);
        // The lowest bit carries the space, so that an idempotency key and an
        // appointment can never share a fingerprint, whatever their hashes.
        Fingerprint([first.finish(), (second.finish() & !1) | space as u64])
    }

    fn shard(&self, fingerprint: &Fingerprint) -> MutexGuard<'_, Shard> {
        // The map hashes the first word; the shard comes from the second.
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
            Some(Entry::Claimed { .. }) => Claim::InFlight,
            Some(Entry::Done { .. }) => Claim::Done,
            // Not reachable through the fingerprint's space bit; overwritten
            // in place all the same.
            Some(entry @ Entry::Seen { .. }) => {
                let token = ClaimToken::random();
                *entry = claim(token);
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
        if let Some(entry) = shard.live(&fingerprint, now) {
            if matches!(entry, Entry::Claimed { token: owner, .. } if *owner == fold(token)) {
                *entry = Entry::Done {
                    until: deadline(now, ttl),
                };
            }
        }
    }

    fn release_now(&self, key: &str, token: ClaimToken) {
        let fingerprint = self.fingerprint(Space::Key, key);
        let mut shard = self.shard(&fingerprint);
        // An expired claim with this token is removed too: nobody else owns it.
        let owned = matches!(
            shard.map.peek(&fingerprint),
            Some(Entry::Claimed { token: owner, .. }) if *owner == fold(token)
        );
        if owned {
            shard.map.pop(&fingerprint);
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
            Some(Entry::Seen { newest, until }) => {
                if occurred_at_ms >= *newest {
                    *newest = occurred_at_ms;
                    *until = (*until).max(deadline(now, ttl));
                    Freshness::Latest
                } else {
                    Freshness::Stale {
                        newer_seen_at: *newest,
                    }
                }
            }
            // Not reachable through the fingerprint's space bit; overwritten
            // in place all the same.
            Some(entry @ (Entry::Claimed { .. } | Entry::Done { .. })) => {
                *entry = seen;
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

/// Configures a [`MemoryStore`]; [`build`](Self::build) checks the settings.
#[derive(Debug)]
#[must_use]
pub struct MemoryStoreBuilder {
    capacity: usize,
    shards: Option<usize>,
    clock: Option<Box<dyn Clock>>,
}

impl MemoryStoreBuilder {
    /// The most keys held at once, at least 1. Default: 1,000,000.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The number of independently locked shards: a power of two, at most the
    /// capacity. Default: four per available core, rounded up to a power of
    /// two, at most 256 and at most the capacity.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// The clock that decides when leases and TTLs run out. Default:
    /// [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Checks the settings and builds the store.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] if the capacity is 0, or if the number
    /// of shards is not a power of two or exceeds the capacity.
    pub fn build(self) -> Result<MemoryStore, ConfigError> {
        if self.capacity == 0 {
            return Err(ConfigError::InvalidSetting {
                setting: "capacity",
                reason: "must be at least 1".into(),
            });
        }
        let shards = match self.shards {
            None => default_shards(self.capacity),
            Some(shards) if !shards.is_power_of_two() => {
                return Err(ConfigError::InvalidSetting {
                    setting: "shards",
                    reason: format!("must be a power of two, got {shards}"),
                });
            }
            Some(shards) if shards > self.capacity => {
                return Err(ConfigError::InvalidSetting {
                    setting: "shards",
                    reason: format!(
                        "must not exceed the capacity ({}), got {shards}",
                        self.capacity
                    ),
                });
            }
            Some(shards) => shards,
        };
        let clock = self.clock.unwrap_or_else(|| Box::new(SystemClock));
        Ok(MemoryStore::from_parts(self.capacity, shards, clock))
    }
}

/// Four shards per core, as a power of two, within `1..=min(256, capacity)`.
fn default_shards(capacity: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let wanted = cores
        .saturating_mul(4)
        .min(MAX_DEFAULT_SHARDS)
        .next_power_of_two();
    // The largest power of two not above the capacity (capacity is at least 1).
    let most = 1_usize << capacity.max(1).ilog2();
    wanted.min(most)
}

fn lock(shard: &Padded<Mutex<Shard>>) -> MutexGuard<'_, Shard> {
    // A panic while a shard was locked cannot leave an entry half written
    // (every update is a single assignment), so a poisoned shard is still sound.
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

/// What a key names. Part of the hashed input and of the fingerprint itself.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Space {
    Key = 0,
    Appointment = 1,
}

/// Two independently keyed SipHash values of a namespaced key.
///
/// Two words rather than a `u128`, so that an LRU node (key, value and two
/// links, 56 bytes) fits a 64-byte allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Fingerprint([u64; 2]);

impl Hash for Fingerprint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a keyed hash: hashing it again would only cost time.
        state.write_u64(self.0[0]);
    }
}

/// The state of one key, 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// Leased to the holder of a token (folded to 64 bits) until `until`.
    Claimed { token: u64, until: u64 },
    /// Handled; remembered until `until`.
    Done { until: u64 },
    /// The newest `occurred_at` seen for an appointment, kept until `until`.
    Seen { newest: i64, until: u64 },
}

impl Entry {
    /// Whether the entry still counts at `now` (milliseconds since the epoch).
    fn is_live(&self, now: u64) -> bool {
        let until = match *self {
            Entry::Claimed { until, .. } | Entry::Done { until } | Entry::Seen { until, .. } => {
                until
            }
        };
        now < until
    }
}

struct Shard {
    map: LruCache<Fingerprint, Entry, PassThrough>,
    cap: usize,
}

impl Shard {
    /// The live entry for `fingerprint`, marked as recently used. An expired
    /// entry is removed and reads as absent.
    ///
    /// An absent key, the common case (every new delivery), costs one probe
    /// of the map; a present one costs two.
    fn live(&mut self, fingerprint: &Fingerprint, now: u64) -> Option<&mut Entry> {
        let live = self.map.get_mut(fingerprint)?.is_live(now);
        if !live {
            self.map.pop(fingerprint);
            return None;
        }
        self.map.get_mut(fingerprint)
    }

    /// Inserts an entry for a key that [`live`](Self::live) just found
    /// absent, making room first.
    fn insert_absent(&mut self, fingerprint: Fingerprint, entry: Entry, now: u64) {
        for _ in 0..SWEEP_PER_INSERT {
            match self.map.peek_lru() {
                Some((_, oldest)) if !oldest.is_live(now) => {
                    self.map.pop_lru();
                }
                _ => break,
            }
        }
        if self.map.len() >= self.cap {
            if let Some((_, evicted)) = self.map.pop_lru() {
                if evicted.is_live(now) {
                    tracing::debug!(
                        capacity = self.cap,
                        "idempotency shard full, forgetting its least recently used key"
                    );
                }
            }
        }
        self.map.put(fingerprint, entry);
    }

    fn purge_expired(&mut self, now: u64) -> usize {
        let expired: Vec<Fingerprint> = self
            .map
            .iter()
            .filter(|(_, entry)| !entry.is_live(now))
            .map(|(fingerprint, _)| *fingerprint)
            .collect();
        for fingerprint in &expired {
            self.map.pop(fingerprint);
        }
        expired.len()
    }
}

/// Hashes a [`Fingerprint`] to its first word: it is a keyed hash already.
#[derive(Clone, Copy, Default)]
struct PassThrough;

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;

    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; mix anything else rather than drop it.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn store(capacity: usize, shards: usize) -> (MemoryStore, ManualClock) {
        let clock = ManualClock::at_unix(1_700_000_000);
        let store = MemoryStore::builder()
            .capacity(capacity)
            .shards(shards)
            .clock(clock.clone())
            .build()
            .unwrap();
        (store, clock)
    }

    #[test]
    fn rejects_zero_capacity() {
        let err = MemoryStore::builder().capacity(0).build().unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::InvalidSetting {
                    setting: "capacity",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_shards_that_are_not_a_power_of_two() {
        for shards in [0, 3, 12] {
            let err = MemoryStore::builder().shards(shards).build().unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::InvalidSetting {
                        setting: "shards",
                        ..
                    }
                ),
                "{shards}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_more_shards_than_capacity() {
        let err = MemoryStore::builder()
            .capacity(4)
            .shards(8)
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("must not exceed the capacity"),
            "{err}"
        );
    }

    #[test]
    fn default_shards_never_exceed_capacity() {
        for capacity in [1, 2, 3, 5, 100, 1_000_000] {
            let shards = default_shards(capacity);
            assert!(shards.is_power_of_two(), "{capacity}: {shards}");
            assert!(shards <= capacity, "{capacity}: {shards}");
            assert!(shards <= MAX_DEFAULT_SHARDS, "{capacity}: {shards}");
        }
        let store = MemoryStore::builder().capacity(3).build().unwrap();
        assert_eq!(store.shards(), 2);
    }

    #[test]
    fn shard_capacities_add_up_to_capacity() {
        let (store, _) = store(1_003, 8);
        let total: usize = store.shards.iter().map(|shard| lock(shard).cap).sum();
        assert_eq!(total, 1_003);
    }

    #[test]
    fn key_and_appointment_of_same_name_have_different_fingerprints() {
        let (store, _) = store(16, 1);
        let key = store.fingerprint(Space::Key, "appt_1");
        let appointment = store.fingerprint(Space::Appointment, "appt_1");
        assert_ne!(key.0[1] & 1, appointment.0[1] & 1);
        assert!(key != appointment);
        assert!(store.fingerprint(Space::Key, "appt_1") == key);
    }

    #[test]
    fn fingerprints_of_distinct_keys_differ_in_each_word() {
        use std::collections::HashSet;
        let (store, _) = store(16, 1);
        let keys: Vec<String> = (0..50_000).map(|i| format!("evt_{i}")).collect();
        let mut first = HashSet::new();
        let mut second = HashSet::new();
        for key in &keys {
            let fingerprint = store.fingerprint(Space::Key, key);
            // The two words are two outputs, not one repeated.
            assert_ne!(fingerprint.0[0], fingerprint.0[1] | 1);
            first.insert(fingerprint.0[0]);
            second.insert(fingerprint.0[1]);
        }
        // Each word alone tells 50,000 keys apart (a 64-bit collision
        // among them has a probability near 1e-10).
        assert_eq!(first.len(), keys.len());
        assert_eq!(second.len(), keys.len());
        // Keys are UTF-8, so no key's bytes end in the marker byte 0xff; a key
        // ending in the character U+00FF is just another key.
        let base = store.fingerprint(Space::Key, "k");
        let extended = store.fingerprint(Space::Key, "k\u{ff}");
        assert!(base != extended);
    }

    #[test]
    fn stores_compact_entries() {
        assert_eq!(std::mem::size_of::<Entry>(), 24);
        assert_eq!(std::mem::size_of::<Fingerprint>(), 16);
        assert_eq!(std::mem::align_of::<Fingerprint>(), 8);
    }

    #[test]
    fn sub_millisecond_lease_does_not_expire_at_once() {
        assert_eq!(deadline(1_000, Duration::from_micros(1)), 1_001);
        assert_eq!(deadline(1_000, Duration::from_millis(5)), 1_005);
        assert_eq!(deadline(u64::MAX - 1, Duration::MAX), u64::MAX);
    }

    #[test]
    fn purge_expired_removes_only_expired_entries() {
        let (store, clock) = store(100, 4);
        let short = store.claim_now("short", Duration::from_secs(1), store.clock.now_unix_ms());
        assert!(matches!(short, Claim::Claimed(_)));
        store.observe_now(
            "appt",
            10,
            Duration::from_secs(1),
            store.clock.now_unix_ms(),
        );
        let long = store.claim_now("long", Duration::from_secs(60), store.clock.now_unix_ms());
        assert!(matches!(long, Claim::Claimed(_)));
        assert_eq!(store.len(), 3);

        clock.advance(Duration::from_secs(2));
        assert_eq!(store.purge_expired(), 2);
        assert_eq!(store.len(), 1);
        assert_eq!(
            store.claim_now("long", Duration::from_secs(60), store.clock.now_unix_ms()),
            Claim::InFlight
        );
    }

    #[test]
    fn insert_sweeps_expired_entries_from_the_lru_end() {
        let (store, clock) = store(100, 1);
        for i in 0..4 {
            store.claim_now(
                &format!("old_{i}"),
                Duration::from_secs(1),
                store.clock.now_unix_ms(),
            );
        }
        clock.advance(Duration::from_secs(2));
        store.claim_now("new", Duration::from_secs(1), store.clock.now_unix_ms());
        assert_eq!(store.len(), 5 - SWEEP_PER_INSERT);
    }

    #[test]
    fn poisoned_shard_keeps_working() {
        let (store, _) = store(16, 1);
        let store = std::sync::Arc::new(store);
        let poisoner = std::sync::Arc::clone(&store);
        let joined = std::thread::spawn(move || {
            let _guard = lock(&poisoner.shards[0]);
            panic!("poison the shard");
        })
        .join();
        assert!(joined.is_err());
        assert!(store.shards[0].0.is_poisoned());
        assert!(matches!(
            store.claim_now("k", Duration::from_secs(1), store.clock.now_unix_ms()),
            Claim::Claimed(_)
        ));
    }
}
