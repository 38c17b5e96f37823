//! The embedded [`IdempotencyStore`]: sharded, bounded hash tables in process
//! memory, with CLOCK eviction.
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

use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore, Observation};
use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, StoreError};

/// Deliveries remembered by [`MemoryStore::new`].
const DEFAULT_CAPACITY: usize = 250_000;

/// Keys one delivery may take: its idempotency key, and the record of its
/// appointment (shared by every delivery about that appointment).
const KEYS_PER_DELIVERY: usize = 2;

/// The share of a full shard's keys that a key written once stays for, at
/// least, under CLOCK: it is forgotten after between about 2/3 and 4/3 of the
/// shard's keys in newer ones (see
/// `a_key_used_once_is_remembered_for_about_the_capacity`); sized below
/// that, with room for chance.
const RETENTION: f64 = 0.55;

/// Standard deviations of room for the uneven spread of keys over shards:
/// the keys of the last deliveries land on one shard as a binomial draw.
const SPREAD_SIGMAS: f64 = 6.0;

/// Keys added to every shard, for the small numbers where neither estimate
/// above holds well.
const SHARD_SLACK: usize = 8;

/// Upper bound for the default number of shards.
const MAX_DEFAULT_SHARDS: usize = 256;

/// Slots the clock hand passes on every insertion into a shard below its
/// capacity, removing the expired entries it meets, so that expired entries
/// are reclaimed without a background task.
const SWEEP_PER_INSERT: usize = 4;

/// Slots of a shard's table when its first key arrives.
const MIN_SLOTS: usize = 8;

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
    /// use bookhook::{ManualClock, MemoryStore};
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
        MemoryStoreBuilder {
            capacity: DEFAULT_CAPACITY,
            max_keys: None,
            shards: None,
            clock: None,
        }
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
    fn from_parts(capacity: usize, caps: Vec<usize>, clock: Box<dyn Clock>) -> Self {
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

/// Configures a [`MemoryStore`]; [`build`](Self::build) checks the settings.
#[derive(Debug)]
#[must_use]
pub struct MemoryStoreBuilder {
    capacity: usize,
    max_keys: Option<usize>,
    shards: Option<usize>,
    clock: Option<Box<dyn Clock>>,
}

impl MemoryStoreBuilder {
    /// How many of the most recent deliveries are remembered, at least 1.
    /// Default: 250,000. The store holds up to about four keys per delivery
    /// ([`MemoryStore::max_keys`]; see [`MemoryStore`] for why), about 70
    /// bytes each when full.
    pub fn capacity(mut self, deliveries: usize) -> Self {
        self.capacity = deliveries;
        self
    }

    /// Bounds the store in keys instead of deliveries: at most `keys` keys
    /// (idempotency keys and appointment records) are held, and
    /// [`capacity`](Self::capacity) is ignored. For sizing by memory: about
    /// 70 bytes per key when full.
    ///
    /// ```
    /// use bookhook::MemoryStore;
    ///
    /// let store = MemoryStore::builder().max_keys(1_000_000).build().unwrap();
    /// assert_eq!(store.max_keys(), 1_000_000);
    /// // The deliveries a million keys are sized to remember.
    /// assert!(store.capacity() > 200_000);
    /// ```
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = Some(keys);
        self
    }

    /// The number of independently locked shards: a power of two, at most
    /// [`max_keys`](Self::max_keys) when that is set. Default: four per
    /// available core, rounded up to a power of two, at most 256 and at most
    /// the number of keys.
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
    /// [`ConfigError::InvalidSetting`] if the capacity (or `max_keys`) is 0,
    /// or if the number of shards is not a power of two or exceeds
    /// `max_keys`.
    pub fn build(self) -> Result<MemoryStore, ConfigError> {
        let (setting, amount, keys) = match self.max_keys {
            Some(keys) => ("max_keys", keys, keys),
            None => ("capacity", self.capacity, keys_estimate(self.capacity)),
        };
        if amount == 0 {
            return Err(ConfigError::InvalidSetting {
                setting,
                reason: "must be at least 1".into(),
            });
        }
        let shards = match self.shards {
            None => default_shards(keys),
            Some(shards) if !shards.is_power_of_two() => {
                return Err(ConfigError::InvalidSetting {
                    setting: "shards",
                    reason: format!("must be a power of two, got {shards}"),
                });
            }
            Some(shards) if self.max_keys.is_some_and(|keys| shards > keys) => {
                return Err(ConfigError::InvalidSetting {
                    setting: "shards",
                    reason: format!("must not exceed max_keys ({keys}), got {shards}"),
                });
            }
            Some(shards) => shards,
        };
        let clock = self.clock.unwrap_or_else(|| Box::new(SystemClock));
        Ok(match self.max_keys {
            Some(keys) => MemoryStore::from_parts(
                deliveries_for_keys(keys, shards),
                split_keys(keys, shards),
                clock,
            ),
            None => MemoryStore::from_parts(
                self.capacity,
                shard_caps_for_deliveries(self.capacity, shards),
                clock,
            ),
        })
    }
}

/// The keys one shard of `shards` holds so that it remembers its part of the
/// last `deliveries` deliveries: their keys on this shard (a binomial draw,
/// plus [`SPREAD_SIGMAS`] standard deviations), over [`RETENTION`], plus
/// [`SHARD_SLACK`].
fn shard_keys(deliveries: usize, shards: usize) -> usize {
    let keys = deliveries as f64 * KEYS_PER_DELIVERY as f64;
    let share = 1.0 / shards as f64;
    let mean = keys * share;
    let spread = (keys * share * (1.0 - share)).sqrt();
    // `as` saturates: an absurd capacity gives the largest bound, allocated
    // only as keys arrive.
    let cap = ((mean + SPREAD_SIGMAS * spread) / RETENTION).ceil() as usize;
    cap.saturating_add(SHARD_SLACK)
}

/// Every shard's keys for `deliveries` deliveries over `shards` shards.
fn shard_caps_for_deliveries(deliveries: usize, shards: usize) -> Vec<usize> {
    vec![shard_keys(deliveries, shards); shards]
}

/// `keys` split over `shards` shards as evenly as can be.
fn split_keys(keys: usize, shards: usize) -> Vec<usize> {
    let base = keys / shards;
    let extra = keys % shards;
    (0..shards)
        .map(|index| base + usize::from(index < extra))
        .collect()
}

/// About the keys a store of `deliveries` deliveries holds, to choose its
/// number of shards.
fn keys_estimate(deliveries: usize) -> usize {
    let keys = (deliveries as f64 * KEYS_PER_DELIVERY as f64 / RETENTION).ceil() as usize;
    keys.max(1)
}

/// The most deliveries whose keys fit in the smallest shard of `keys` keys
/// split over `shards`: the capacity a bound in keys guarantees.
fn deliveries_for_keys(keys: usize, shards: usize) -> usize {
    let smallest = keys / shards;
    let (mut low, mut high) = (0_usize, keys);
    // The largest count whose shard size fits; `shard_keys` grows with it.
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if shard_keys(mid, shards) <= smallest {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    low
}

/// Keys per shard the default number of shards aims at, at most: a shard's
/// table doubles under its lock, and a small table doubles in well under a
/// millisecond, where one of a million-key store's eight shards took several.
const KEYS_PER_SHARD: usize = 8_192;

/// Four shards per core, or one per [`KEYS_PER_SHARD`] keys of capacity if
/// that is more, as a power of two, within `1..=min(256, capacity)`.
fn default_shards(capacity: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let wanted = cores
        .saturating_mul(4)
        .max(capacity / KEYS_PER_SHARD)
        .min(MAX_DEFAULT_SHARDS)
        .next_power_of_two();
    // The largest power of two not above the capacity (capacity is at least 1).
    let most = 1_usize << capacity.max(1).ilog2();
    wanted.min(most)
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

/// What a key names. Part of the hashed input and of the fingerprint itself.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Space {
    Key = 0,
    Appointment = 1,
}

/// Two independently keyed SipHash values of a namespaced key.
///
/// Words 0 and 1 of a [`Slot`]. The first word, already a keyed hash, places
/// the key in its shard's table; the second picks the shard, and its lowest
/// bit is the key's [`Space`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint([u64; 2]);

/// The state of one key, as the store's operations see it. It is never kept
/// as such: a [`Slot`] holds it packed into its last two words.
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
    /// The deadline, in milliseconds since the epoch: the entry counts while
    /// the time is before it.
    #[inline]
    fn until(&self) -> u64 {
        match *self {
            Entry::Claimed { until, .. } | Entry::Done { until } | Entry::Seen { until, .. } => {
                until
            }
        }
    }
}

/// One slot of a shard's table, 32 bytes: a key's fingerprint, its entry and
/// its "used" bit, packed into four words. The all-zero slot is empty.
///
/// - Words 0 and 1: the [`Fingerprint`].
/// - Word 2, "meta": bits 0–1 a tag (0 empty, 1 [`Entry::Claimed`],
///   2 [`Entry::Done`], 3 [`Entry::Seen`]); bit 2 the used bit, set when the
///   entry is inserted or read and cleared by the clock hand; bits 3–7 zero;
///   bits 8–63 the entry's `until`, in milliseconds since the epoch.
/// - Word 3: the folded token of a claim, the `newest` of an appointment
///   record (its `i64` bits), 0 for a done key.
///
/// `until` keeps 56 bits: a later deadline is stored as [`MAX_UNTIL`],
/// 2^56 − 1 ms, over two million years after the epoch. Whether an entry is
/// live at `now` is `now < until`, exactly, for any `now` before then; an
/// entry whose deadline was clamped (such as `u64::MAX`, from a TTL of
/// [`Duration::MAX`]) never expires in practice either.
///
/// A plain array rather than a struct: the standard library allocates
/// `vec![EMPTY; n]` of an all-zero array with `alloc_zeroed`, which needs no
/// writing of a large table (fresh pages from the operating system are
/// already zero). An empty slot's `until` is 0, so it is never live.
type Slot = [u64; 4];

/// The empty slot.
const EMPTY: Slot = [0; 4];

/// The tag bits of a slot's meta word; 0 when the slot is empty.
const TAG: u64 = 0b11;
/// The tag of an [`Entry::Claimed`].
const TAG_CLAIMED: u64 = 1;
/// The tag of an [`Entry::Done`].
const TAG_DONE: u64 = 2;
/// The tag of an [`Entry::Seen`].
const TAG_SEEN: u64 = 3;
/// The used bit of a slot's meta word.
const USED: u64 = 1 << 2;
/// Where `until` starts in a slot's meta word.
const UNTIL_SHIFT: u32 = 8;
/// The latest `until` a slot holds, 2^56 − 1 ms; later deadlines are clamped
/// to it.
const MAX_UNTIL: u64 = u64::MAX >> UNTIL_SHIFT;

/// A slot holding `entry` for `fingerprint`, with its used bit.
#[inline]
fn encode(fingerprint: Fingerprint, entry: Entry, used: bool) -> Slot {
    let (tag, payload) = match entry {
        Entry::Claimed { token, .. } => (TAG_CLAIMED, token),
        Entry::Done { .. } => (TAG_DONE, 0),
        // Two's complement bits, given back unchanged by `as i64`.
        Entry::Seen { newest, .. } => (TAG_SEEN, newest as u64),
    };
    let meta = entry.until().min(MAX_UNTIL) << UNTIL_SHIFT | if used { USED } else { 0 } | tag;
    [fingerprint.0[0], fingerprint.0[1], meta, payload]
}

/// Reading and writing the fields packed into a [`Slot`].
trait SlotFields {
    /// Whether the slot holds a key.
    fn is_occupied(&self) -> bool;
    /// The fingerprint of the key held (meaningless in an empty slot).
    fn fingerprint(&self) -> Fingerprint;
    /// Whether the slot holds `fingerprint`'s key. Words 0 and 1 only: the
    /// caller checks that the slot is occupied.
    fn holds(&self, fingerprint: &Fingerprint) -> bool;
    /// The entry held, `None` if the slot is empty.
    fn entry(&self) -> Option<Entry>;
    /// Replaces the entry of an occupied slot, keeping its key and used bit.
    fn set_entry(&mut self, entry: Entry);
    /// The entry's deadline as stored (clamped to [`MAX_UNTIL`]); 0 if the
    /// slot is empty.
    fn until(&self) -> u64;
    /// Whether the slot holds an entry that still counts at `now`
    /// (milliseconds since the epoch): `now < until`.
    fn is_live(&self, now: u64) -> bool;
    /// The used bit: the entry was inserted or read since the clock hand last
    /// passed it.
    fn used(&self) -> bool;
    /// Sets or clears the used bit of an occupied slot.
    fn set_used(&mut self, used: bool);
}

impl SlotFields for Slot {
    #[inline]
    fn is_occupied(&self) -> bool {
        self[2] & TAG != 0
    }

    #[inline]
    fn fingerprint(&self) -> Fingerprint {
        Fingerprint([self[0], self[1]])
    }

    #[inline]
    fn holds(&self, fingerprint: &Fingerprint) -> bool {
        self[0] == fingerprint.0[0] && self[1] == fingerprint.0[1]
    }

    #[inline]
    fn entry(&self) -> Option<Entry> {
        let until = self.until();
        match self[2] & TAG {
            TAG_CLAIMED => Some(Entry::Claimed {
                token: self[3],
                until,
            }),
            TAG_DONE => Some(Entry::Done { until }),
            TAG_SEEN => Some(Entry::Seen {
                newest: self[3] as i64,
                until,
            }),
            _ => None,
        }
    }

    #[inline]
    fn set_entry(&mut self, entry: Entry) {
        *self = encode(self.fingerprint(), entry, self.used());
    }

    #[inline]
    fn until(&self) -> u64 {
        self[2] >> UNTIL_SHIFT
    }

    #[inline]
    fn is_live(&self, now: u64) -> bool {
        // An empty slot's `until` is 0: never live.
        now < self.until()
    }

    #[inline]
    fn used(&self) -> bool {
        self[2] & USED != 0
    }

    #[inline]
    fn set_used(&mut self, used: bool) {
        if used {
            self[2] |= USED;
        } else {
            self[2] &= !USED;
        }
    }
}

/// One shard: an open-addressing table with linear probing.
///
/// A key lives at the first free slot at or after its home slot (the low bits
/// of its fingerprint's first word), so every slot between its home and its
/// slot is occupied; removal shifts the following entries back to keep it so
/// (no tombstones). The table is empty until the first key arrives, then
/// doubles whenever it would be more than 3/4 full, and never holds more than
/// `cap` keys: at capacity, each new key first takes a slot back through the
/// clock hand.
struct Shard {
    /// No slot at all, or a power of two of them, at least one always empty.
    /// Allocated zeroed: every slot starts empty.
    slots: Vec<Slot>,
    /// Occupied slots, expired entries included.
    len: usize,
    /// The most keys this shard holds, at least 1.
    cap: usize,
    /// The clock hand: the next slot it examines.
    hand: usize,
}

impl Shard {
    fn new(cap: usize) -> Self {
        Self {
            slots: Vec::new(),
            len: 0,
            cap,
            hand: 0,
        }
    }

    /// The slot holding `fingerprint`, if any.
    fn find(&self, fingerprint: &Fingerprint) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut index = home(fingerprint, mask);
        loop {
            let slot = &self.slots[index];
            if !slot.is_occupied() {
                return None;
            }
            if slot.holds(fingerprint) {
                return Some(index);
            }
            index = (index + 1) & mask;
        }
    }

    /// The first empty slot from `fingerprint`'s home on: where it goes. The
    /// table must have a slot.
    fn vacancy(&self, fingerprint: &Fingerprint) -> usize {
        let mask = self.slots.len() - 1;
        let mut index = home(fingerprint, mask);
        while self.slots[index].is_occupied() {
            index = (index + 1) & mask;
        }
        index
    }

    /// The slot and live entry for `fingerprint`, marked as used. An expired
    /// entry is removed and reads as absent. A change to the entry is written
    /// back with [`set_entry`](SlotFields::set_entry) on that slot.
    ///
    /// An absent key, the common case (every new delivery), costs one run of
    /// adjacent slots from its home to the first empty one.
    fn live(&mut self, fingerprint: &Fingerprint, now: u64) -> Option<(usize, Entry)> {
        let index = self.find(fingerprint)?;
        let slot = &mut self.slots[index];
        match slot.entry() {
            Some(entry) if slot.is_live(now) => {
                slot.set_used(true);
                Some((index, entry))
            }
            _ => {
                self.remove_at(index);
                None
            }
        }
    }

    /// Inserts an entry for a key that [`live`](Self::live) just found
    /// absent, making room first: at capacity the clock hand takes a slot
    /// back; below it, the hand reclaims expired entries on its way and the
    /// table doubles if it would be more than 3/4 full.
    fn insert_absent(&mut self, fingerprint: Fingerprint, entry: Entry, now: u64) {
        if self.len >= self.cap {
            self.evict(now);
        } else {
            self.sweep(now);
            if self.len + 1 > max_load(self.slots.len()) {
                let slots = (self.slots.len() * 2).max(MIN_SLOTS);
                self.rehash(slots, now);
            }
        }
        let index = self.vacancy(&fingerprint);
        self.slots[index] = encode(fingerprint, entry, true);
        self.len += 1;
    }

    /// Moves the hand [`SWEEP_PER_INSERT`] slots on, clearing the used bits it
    /// passes and removing the expired entries it meets.
    fn sweep(&mut self, now: u64) {
        if self.slots.is_empty() {
            return;
        }
        let mask = self.slots.len() - 1;
        let mut passed = 0;
        while passed < SWEEP_PER_INSERT {
            let hand = self.hand;
            let slot = &mut self.slots[hand];
            if slot.is_occupied() {
                if !slot.is_live(now) {
                    // The hand stays: an entry may have been shifted into the
                    // slot it just emptied.
                    self.remove_at(hand);
                    continue;
                }
                slot.set_used(false);
            }
            self.hand = (hand + 1) & mask;
            passed += 1;
        }
    }

    /// Takes one slot back: the first expired entry, or the first live entry
    /// whose used bit is clear, that the hand meets. The hand clears the used
    /// bits it passes, so it finds one within one turn of the table and a
    /// few slots. The shard must hold at least one key.
    fn evict(&mut self, now: u64) {
        let mask = self.slots.len() - 1;
        loop {
            let hand = self.hand;
            let slot = &mut self.slots[hand];
            if slot.is_occupied() {
                if !slot.is_live(now) {
                    self.remove_at(hand);
                    return;
                }
                if slot.used() {
                    slot.set_used(false);
                } else {
                    tracing::debug!(
                        capacity = self.cap,
                        "idempotency shard full, forgetting a key not used since the clock hand last passed"
                    );
                    // The hand stays on its slot, which may now hold an entry
                    // shifted back from the next ones: it examines it next.
                    self.remove_at(hand);
                    return;
                }
            }
            self.hand = (hand + 1) & mask;
        }
    }

    /// Empties slot `index` (which must be occupied) by backward-shift
    /// deletion: each following entry of the run moves back into the hole if
    /// that keeps it at or after its home slot, so no lookup ever stops short.
    ///
    /// Shifting bends the hand's order a little, which CLOCK's approximation
    /// allows: an entry shifted back over the hand's position is examined only
    /// on its next turn (spared a little longer), and near the end of a turn
    /// an entry the hand already passed can be shifted back in front of it,
    /// ahead of entries it has not reached yet (examined, and possibly
    /// forgotten, a little sooner). Only an entry whose used bit is clear is
    /// ever forgotten while live.
    fn remove_at(&mut self, index: usize) {
        let mask = self.slots.len() - 1;
        let mut hole = index;
        let mut next = (index + 1) & mask;
        while self.slots[next].is_occupied() {
            let from_home = next.wrapping_sub(home(&self.slots[next].fingerprint(), mask)) & mask;
            let from_hole = next.wrapping_sub(hole) & mask;
            if from_home >= from_hole {
                self.slots[hole] = self.slots[next];
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
    }

    /// Moves every live entry, with its used bit, into a new table of
    /// `slots` slots (a power of two with room for them); expired entries are
    /// dropped on the way. The hand starts over at slot 0.
    ///
    /// The new table is a zeroed allocation (see [`Slot`]): its pages are
    /// written only where entries land.
    fn rehash(&mut self, slots: usize, now: u64) {
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; slots]);
        self.len = 0;
        self.hand = 0;
        for slot in old {
            if slot.is_live(now) {
                let index = self.vacancy(&slot.fingerprint());
                self.slots[index] = slot;
                self.len += 1;
            }
        }
    }

    fn purge_expired(&mut self, now: u64) -> usize {
        let before = self.len;
        let mut index = 0;
        while index < self.slots.len() {
            let slot = &self.slots[index];
            if slot.is_occupied() && !slot.is_live(now) {
                // The slot may now hold an entry shifted back: look again.
                self.remove_at(index);
            } else {
                index += 1;
            }
        }
        let removed = before - self.len;
        // Give memory back once the table is at most a quarter as full as it
        // may be, keeping it within a factor of two of the keys held.
        if self.len == 0 {
            self.slots = Vec::new();
            self.hand = 0;
        } else if slots_for(self.len) <= self.slots.len() / 4 {
            self.rehash(slots_for(self.len), now);
        }
        removed
    }
}

/// The home slot of a fingerprint in a table of `mask + 1` slots.
fn home(fingerprint: &Fingerprint, mask: usize) -> usize {
    // Truncation keeps the low bits, the only ones the mask keeps.
    fingerprint.0[0] as usize & mask
}

/// The most keys a table of `slots` slots holds: 3/4 of it, so that probe
/// runs stay short (about 2.5 slots for an absent key at a load of 1/2, 8.5
/// at 3/4) and at least one slot is always empty.
fn max_load(slots: usize) -> usize {
    slots - slots / 4
}

/// The fewest slots, a power of two and at least [`MIN_SLOTS`], that hold
/// `keys` keys.
fn slots_for(keys: usize) -> usize {
    let mut slots = MIN_SLOTS;
    while max_load(slots) < keys {
        slots *= 2;
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    /// A store bounded in keys, on a manual clock.
    fn store(keys: usize, shards: usize) -> (MemoryStore, ManualClock) {
        let clock = ManualClock::at_unix(1_700_000_000);
        let store = MemoryStore::builder()
            .max_keys(keys)
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
    fn rejects_more_shards_than_keys() {
        let err = MemoryStore::builder()
            .max_keys(4)
            .shards(8)
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("must not exceed max_keys"),
            "{err}"
        );
        assert!(MemoryStore::builder().max_keys(0).build().is_err());
    }

    #[test]
    fn default_shards_never_exceed_the_keys() {
        for keys in [1, 2, 3, 5, 100, 1_000_000] {
            let shards = default_shards(keys);
            assert!(shards.is_power_of_two(), "{keys}: {shards}");
            assert!(shards <= keys, "{keys}: {shards}");
            assert!(shards <= MAX_DEFAULT_SHARDS, "{keys}: {shards}");
        }
        let store = MemoryStore::builder().max_keys(3).build().unwrap();
        assert_eq!(store.shards(), 2);
        // A large store gets enough shards that no table grows large.
        assert!(default_shards(1_000_000) >= 128);
        assert_eq!(default_shards(100_000_000), MAX_DEFAULT_SHARDS);
        assert!(MemoryStore::new().shards() >= 128);
    }

    #[test]
    fn shard_capacities_add_up_to_max_keys() {
        let (store, _) = store(1_003, 8);
        let total: usize = store.shards.iter().map(|shard| lock(shard).cap).sum();
        assert_eq!(total, 1_003);
        assert_eq!(store.max_keys(), 1_003);
    }

    #[test]
    fn capacity_in_deliveries_sizes_about_four_keys_each() {
        let store = MemoryStore::new();
        assert_eq!(store.capacity(), 250_000);
        let per_delivery = store.max_keys() as f64 / store.capacity() as f64;
        assert!((3.6..4.4).contains(&per_delivery), "{per_delivery}");
        let small = MemoryStore::builder().capacity(1_000).build().unwrap();
        assert!(small.max_keys() >= 2 * 1_000, "{}", small.max_keys());
        // A bound in keys gives back the deliveries it is sized for.
        let keys = MemoryStore::builder()
            .max_keys(store.max_keys())
            .shards(store.shards())
            .build()
            .unwrap();
        assert!(keys.capacity() >= 250_000, "{}", keys.capacity());
        assert!(keys.capacity() < 250_100, "{}", keys.capacity());
        assert_eq!(
            MemoryStore::builder()
                .max_keys(3)
                .build()
                .unwrap()
                .capacity(),
            0
        );
        // An absurd capacity saturates instead of overflowing.
        let huge = MemoryStore::builder().capacity(usize::MAX).build().unwrap();
        assert_eq!(huge.capacity(), usize::MAX);
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
        assert_eq!(std::mem::size_of::<Fingerprint>(), 16);
        assert_eq!(std::mem::align_of::<Fingerprint>(), 8);
        // Fingerprint, entry (tag 0 is the empty slot) and used bit.
        assert_eq!(std::mem::size_of::<Slot>(), 32);
        assert_eq!(std::mem::align_of::<Slot>(), 8);
    }

    #[test]
    fn slot_layout_is_as_documented() {
        let fingerprint = Fingerprint([0x1234, 0x5678]);
        let claimed = Entry::Claimed {
            token: 0xabcd,
            until: 5,
        };
        assert_eq!(
            encode(fingerprint, claimed, true),
            [0x1234, 0x5678, 5 << 8 | 0b100 | 1, 0xabcd]
        );
        let done = Entry::Done { until: 7 };
        assert_eq!(
            encode(fingerprint, done, false),
            [0x1234, 0x5678, 7 << 8 | 2, 0]
        );
        let seen = Entry::Seen {
            newest: -2,
            until: 9,
        };
        assert_eq!(
            encode(fingerprint, seen, false),
            [0x1234, 0x5678, 9 << 8 | 3, u64::MAX - 1]
        );
    }

    #[test]
    fn every_entry_round_trips_through_a_slot() {
        let tokens = [0, 1, 0x8000_0000_0000_0000, u64::MAX];
        let newests = [
            i64::MIN,
            i64::MIN + 1,
            -1,
            0,
            1,
            1_700_000_000_000,
            i64::MAX,
        ];
        let untils = [0, 1, NOW, 1_700_000_000_000, MAX_UNTIL - 1, MAX_UNTIL];
        let mut entries = vec![];
        for until in untils {
            entries.push(Entry::Done { until });
            for token in tokens {
                entries.push(Entry::Claimed { token, until });
            }
            for newest in newests {
                entries.push(Entry::Seen { newest, until });
            }
        }
        // The all-zero fingerprint too: emptiness is the tag's alone.
        let fingerprints = [
            Fingerprint([0, 0]),
            Fingerprint([u64::MAX, u64::MAX]),
            key(3, 7),
        ];
        for fingerprint in fingerprints {
            for &entry in &entries {
                for used in [false, true] {
                    let mut slot = encode(fingerprint, entry, used);
                    assert!(slot.is_occupied(), "{entry:?}");
                    assert_eq!(slot.entry(), Some(entry));
                    assert_eq!(slot.fingerprint(), fingerprint);
                    assert!(slot.holds(&fingerprint));
                    assert_eq!(slot.used(), used, "{entry:?}");
                    assert_eq!(slot.until(), entry.until());
                    // The used bit and the entry are independent.
                    slot.set_used(!used);
                    assert_eq!(slot.used(), !used);
                    assert_eq!(slot.entry(), Some(entry));
                    slot.set_used(used);
                    assert_eq!(slot, encode(fingerprint, entry, used));
                    // Replacing the entry keeps the key and the used bit.
                    let other = Entry::Seen {
                        newest: 42,
                        until: NOW,
                    };
                    slot.set_entry(other);
                    assert_eq!(slot, encode(fingerprint, other, used));
                    slot.set_entry(entry);
                    assert_eq!(slot, encode(fingerprint, entry, used));
                }
            }
        }
    }

    #[test]
    fn a_slot_is_live_exactly_before_its_deadline() {
        for until in [1, 2, NOW, 1_700_000_000_000, MAX_UNTIL - 1, MAX_UNTIL] {
            let slot = encode(key(0, 0), done(until), true);
            assert!(slot.is_live(0), "{until}");
            assert!(slot.is_live(until - 1), "{until}");
            assert!(!slot.is_live(until), "{until}");
            assert!(!slot.is_live(until + 1), "{until}");
            assert!(!slot.is_live(u64::MAX), "{until}");
        }
        // A deadline of 0 has always passed, but the slot still holds a key.
        let slot = encode(key(0, 0), done(0), true);
        assert!(slot.is_occupied() && !slot.is_live(0));
        assert_eq!(slot.entry(), Some(done(0)));
    }

    #[test]
    fn a_deadline_past_56_bits_is_clamped_and_never_expires() {
        // 2^56 ms is over two million years.
        const { assert!(MAX_UNTIL / (1_000 * 3_600 * 24 * 366) > 2_000_000) };
        let year_10_000 = 253_402_300_800_000;
        let realistic = [0, NOW, 1_700_000_000_000, year_10_000, 1 << 55];
        for until in [MAX_UNTIL + 1, 1 << 60, u64::MAX - 1, u64::MAX] {
            for entry in [
                done(until),
                Entry::Claimed {
                    token: u64::MAX,
                    until,
                },
                Entry::Seen {
                    newest: i64::MIN,
                    until,
                },
            ] {
                for used in [false, true] {
                    let slot = encode(key(1, 1), entry, used);
                    // Clamped without touching the tag or the used bit.
                    assert_eq!(slot.until(), MAX_UNTIL);
                    assert_eq!(slot.used(), used);
                    let clamped = match entry {
                        Entry::Claimed { token, .. } => Entry::Claimed {
                            token,
                            until: MAX_UNTIL,
                        },
                        Entry::Done { .. } => done(MAX_UNTIL),
                        Entry::Seen { newest, .. } => Entry::Seen {
                            newest,
                            until: MAX_UNTIL,
                        },
                    };
                    assert_eq!(slot.entry(), Some(clamped));
                    for now in realistic {
                        assert!(slot.is_live(now), "{entry:?} at {now}");
                    }
                }
            }
        }
        // Through the store: a TTL of `Duration::MAX` is a deadline of
        // `u64::MAX`, and the key stays done.
        let (store, clock) = store(16, 1);
        let now = store.clock.now_unix_ms();
        let Claim::Claimed(token) = store.claim_now("k", Duration::MAX, now) else {
            panic!("a new key is claimed");
        };
        assert_eq!(store.claim_now("k", Duration::MAX, now), Claim::InFlight);
        store.complete_now("k", token, Duration::MAX);
        clock.advance(Duration::from_secs(1_000 * 366 * 24 * 3_600));
        let later = store.clock.now_unix_ms();
        assert_eq!(store.claim_now("k", Duration::MAX, later), Claim::Done);
        assert_eq!(store.purge_expired(), 0);
    }

    #[test]
    fn an_empty_slot_is_all_zeros() {
        assert_eq!(EMPTY, [0; 4]);
        assert!(!EMPTY.is_occupied());
        assert_eq!(EMPTY.entry(), None);
        assert!(!EMPTY.used());
        assert_eq!(EMPTY.until(), 0);
        for now in [0, NOW, u64::MAX] {
            assert!(!EMPTY.is_live(now));
        }
        // Only the tag tells: a zero tag is empty whatever the other words.
        let mut slot = encode(key(5, 5), done(LATER), true);
        assert!(slot.is_occupied());
        slot[2] &= !TAG;
        assert!(!slot.is_occupied());
        assert_eq!(slot.entry(), None);
        // A removed key leaves an all-zero slot behind.
        let mut shard = Shard::new(8);
        shard.insert_absent(key(2, 2), done(LATER), NOW);
        let index = shard.find(&key(2, 2)).unwrap();
        shard.remove_at(index);
        assert!(shard.slots.iter().all(|slot| *slot == EMPTY));
    }

    #[test]
    fn a_freshly_grown_table_is_all_zeros() {
        let mut shard = Shard::new(10_000);
        let mut sizes = 0;
        let mut id = 0;
        while shard.slots.len() < 1_024 {
            let before = shard.slots.len();
            shard.insert_absent(key(mix(id), id), done(LATER), NOW);
            id += 1;
            if shard.slots.len() != before {
                sizes += 1;
                // Just grown: every slot but the keys' is all zero.
                let zero = shard.slots.iter().filter(|slot| **slot == EMPTY).count();
                assert_eq!(zero, shard.slots.len() - shard.len);
                check(&shard);
            }
        }
        assert!(sizes >= 8, "{sizes}");
        // A table rebuilt without a live key is all zero.
        shard.rehash(4_096, LATER);
        assert_eq!(shard.len, 0);
        assert_eq!(shard.slots.len(), 4_096);
        assert!(shard.slots.iter().all(|slot| *slot == EMPTY));
    }

    #[test]
    fn appointment_times_round_trip_at_their_extremes() {
        let (store, _) = store(16, 1);
        let ttl = Duration::from_secs(60);
        let now = store.clock.now_unix_ms();
        assert_eq!(
            store.observe_now("a", i64::MIN, ttl, now),
            Freshness::Latest
        );
        assert_eq!(
            store.observe_now("a", i64::MIN, ttl, now),
            Freshness::Latest
        );
        assert_eq!(store.observe_now("a", -1, ttl, now), Freshness::Latest);
        assert_eq!(
            store.observe_now("a", i64::MIN, ttl, now),
            Freshness::Stale { newer_seen_at: -1 }
        );
        assert_eq!(
            store.observe_now("a", i64::MAX, ttl, now),
            Freshness::Latest
        );
        assert_eq!(
            store.observe_now("a", i64::MAX - 1, ttl, now),
            Freshness::Stale {
                newer_seen_at: i64::MAX
            }
        );
        assert_eq!(
            store.observe_now("a", i64::MAX, ttl, now),
            Freshness::Latest
        );
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

    // Was `insert_sweeps_expired_entries_from_the_lru_end`: there is no LRU
    // end any more. Below capacity the clock hand passes SWEEP_PER_INSERT
    // slots per insertion and removes the expired entries it meets; where the
    // old keys sit depends on the store's random hash key, so the test inserts
    // until the hand has passed every slot of the (8-slot) table once.
    #[test]
    fn insert_sweeps_expired_entries_ahead_of_the_hand() {
        let (store, clock) = store(100, 1);
        for i in 0..4 {
            store.claim_now(
                &format!("old_{i}"),
                Duration::from_secs(1),
                store.clock.now_unix_ms(),
            );
        }
        assert_eq!(lock(&store.shards[0]).slots.len(), MIN_SLOTS);
        clock.advance(Duration::from_secs(2));
        let inserts = MIN_SLOTS.div_ceil(SWEEP_PER_INSERT);
        for i in 0..inserts {
            store.claim_now(
                &format!("new_{i}"),
                Duration::from_secs(1),
                store.clock.now_unix_ms(),
            );
        }
        // No eviction happened (the store is far below capacity): the old
        // keys were reclaimed because they had expired.
        assert_eq!(store.len(), inserts);
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

    // Shard-level tests. Fingerprints are built by hand so that each key's
    // home slot, and so the order in which the clock hand meets keys, is
    // known: `key(home, id)` lives at slot `home` if that slot is free.

    const NOW: u64 = 1_000_000;
    const LATER: u64 = u64::MAX;

    fn key(home: u64, id: u64) -> Fingerprint {
        Fingerprint([home, id << 1])
    }

    fn done(until: u64) -> Entry {
        Entry::Done { until }
    }

    /// SplitMix64: a deterministic stream of well mixed words.
    fn mix(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Every invariant of a shard's table.
    fn check(shard: &Shard) {
        assert!(
            shard.len <= shard.cap,
            "{} keys, cap {}",
            shard.len,
            shard.cap
        );
        if shard.slots.is_empty() {
            assert_eq!(shard.len, 0);
            return;
        }
        let slots = shard.slots.len();
        assert!(slots.is_power_of_two() && slots >= MIN_SLOTS, "{slots}");
        assert!(
            shard.len <= max_load(slots),
            "{} keys in {slots}",
            shard.len
        );
        assert!(shard.hand < slots);
        let occupied = shard.slots.iter().filter(|s| s.is_occupied()).count();
        assert_eq!(occupied, shard.len);
        let mask = slots - 1;
        for (index, slot) in shard.slots.iter().enumerate() {
            if !slot.is_occupied() {
                // Not marked used, nor holding anything else.
                assert_eq!(*slot, EMPTY, "empty slot {index} not all zero");
                continue;
            }
            assert!(slot.entry().is_some());
            assert_eq!(slot[2] & 0b1111_1000, 0, "unused meta bits set at {index}");
            // No empty slot between a key's home and its slot...
            let mut at = home(&slot.fingerprint(), mask);
            while at != index {
                assert!(shard.slots[at].is_occupied(), "gap at {at} before {index}");
                at = (at + 1) & mask;
            }
            // ...so a lookup finds it, and finds no other copy first.
            assert_eq!(shard.find(&slot.fingerprint()), Some(index));
        }
    }

    /// Claims a key as a delivery does: looked up, inserted if absent.
    fn touch_or_insert(shard: &mut Shard, fingerprint: Fingerprint, entry: Entry, now: u64) {
        if shard.live(&fingerprint, now).is_none() {
            shard.insert_absent(fingerprint, entry, now);
        }
    }

    fn holds(shard: &Shard, fingerprint: Fingerprint) -> bool {
        shard.find(&fingerprint).is_some()
    }

    proptest::proptest! {
        #[test]
        fn capacity_is_never_exceeded_under_random_inserts(
            cap in 1_usize..40,
            seed in proptest::prelude::any::<u64>(),
            spread in proptest::sample::select(vec![0_u64, 3, 15, u64::MAX]),
            ops in proptest::collection::vec((0_u64..120, 0_u64..3, 1_u64..6), 1..400),
        ) {
            let mut shard = Shard::new(cap);
            let mut now = NOW;
            for (id, advance, ttl) in ops {
                now += advance;
                // A small spread piles keys onto a few home slots.
                let fingerprint = key(mix(seed ^ id) & spread, id);
                touch_or_insert(&mut shard, fingerprint, done(now + ttl), now);
                proptest::prop_assert!(shard.len <= cap);
                proptest::prop_assert!(holds(&shard, fingerprint), "the key just inserted is held");
                check(&shard);
            }
        }

        #[test]
        fn removal_keeps_every_remaining_key_findable(
            seed in proptest::prelude::any::<u64>(),
            // Homes crowded onto the last slots wrap runs around the table's end.
            spread in proptest::sample::select(vec![0_u64, 1, 3, 7, u64::MAX]),
            ops in proptest::collection::vec((proptest::prelude::any::<bool>(), 0_u64..64), 1..600),
        ) {
            let mut shard = Shard::new(1_000);
            let mut model = std::collections::HashMap::new();
            let fingerprint_of = |id: u64| key(u64::MAX - (mix(seed ^ id) & spread), id);
            for (insert, id) in ops {
                let fingerprint = fingerprint_of(id);
                if insert {
                    // A deadline a slot holds exactly, so that the entry read
                    // back equals the one written.
                    let entry = Entry::Seen { newest: id as i64, until: MAX_UNTIL };
                    if shard.live(&fingerprint, NOW).is_none() {
                        shard.insert_absent(fingerprint, entry, NOW);
                    }
                    model.insert(id, entry);
                } else if let Some(index) = shard.find(&fingerprint) {
                    shard.remove_at(index);
                    proptest::prop_assert!(model.remove(&id).is_some());
                } else {
                    proptest::prop_assert!(!model.contains_key(&id));
                }
                proptest::prop_assert_eq!(shard.len, model.len());
                for (&id, entry) in &model {
                    let index = shard.find(&fingerprint_of(id));
                    proptest::prop_assert!(index.is_some(), "key {} lost", id);
                    proptest::prop_assert_eq!(shard.slots[index.unwrap()].entry(), Some(*entry));
                }
                check(&shard);
            }
        }
    }

    #[test]
    fn store_never_holds_more_than_its_capacity() {
        for (capacity, shards) in [(1, 1), (5, 1), (7, 2), (64, 4), (100, 8)] {
            let (store, clock) = store(capacity, shards);
            for i in 0..2_000_u64 {
                let word = mix(i);
                let name = format!("k{}", word % 300);
                let now = store.clock.now_unix_ms();
                if word & 1 == 0 {
                    store.claim_now(&name, Duration::from_millis(word % 50), now);
                } else {
                    store.observe_now(&name, 1, Duration::from_millis(word % 50), now);
                }
                assert!(
                    store.len() <= capacity,
                    "{capacity}/{shards}: {}",
                    store.len()
                );
                clock.advance(Duration::from_millis(word % 3));
            }
            for shard in store.shards.iter() {
                check(&lock(shard));
            }
        }
    }

    #[test]
    fn recently_used_entries_survive_a_sweep_that_evicts_unused_ones() {
        let mut shard = Shard::new(4);
        let [a, b, c, d] = [0, 1, 2, 3].map(|home| key(home, home));
        for fingerprint in [a, b, c, d] {
            shard.insert_absent(fingerprint, done(LATER), NOW);
        }
        // The hand has just passed every key; then b and d are read.
        for slot in shard.slots.iter_mut() {
            slot.set_used(false);
        }
        shard.hand = 0;
        assert!(shard.live(&b, NOW).is_some());
        assert!(shard.live(&d, NOW).is_some());

        let (e, f) = (key(5, 5), key(6, 6));
        shard.insert_absent(e, done(LATER), NOW);
        shard.insert_absent(f, done(LATER), NOW);
        check(&shard);
        // a and c were not used since the hand passed: forgotten. b was spared
        // once (its bit is now clear), d was not reached yet.
        assert!(!holds(&shard, a) && !holds(&shard, c));
        assert!(holds(&shard, b) && holds(&shard, d) && holds(&shard, e) && holds(&shard, f));
        assert!(!shard.slots[1].used());
        assert!(shard.slots[3].used());
        assert_eq!(shard.hand, 2);
    }

    #[test]
    fn expired_entries_are_reclaimed_before_live_ones() {
        let mut shard = Shard::new(4);
        // In the hand's order: live and used, expired and used, expired and
        // unused, live and unused.
        let (b, a, c, d) = (key(0, 0), key(1, 1), key(2, 2), key(3, 3));
        shard.insert_absent(b, done(LATER), NOW);
        shard.insert_absent(a, done(NOW + 1), NOW);
        shard.insert_absent(c, done(NOW + 1), NOW);
        shard.insert_absent(d, done(LATER), NOW);
        shard.hand = 0;
        for (index, used) in [true, true, false, false].into_iter().enumerate() {
            shard.slots[index].set_used(used);
        }
        let now = NOW + 2;
        shard.insert_absent(key(5, 5), done(LATER), now);
        // The expired entry is reclaimed although its used bit was set.
        assert!(!holds(&shard, a) && holds(&shard, b) && holds(&shard, c));
        shard.insert_absent(key(6, 6), done(LATER), now);
        assert!(!holds(&shard, c));
        // The live unused entry was met after the expired ones: still held.
        assert!(holds(&shard, b) && holds(&shard, d));
        check(&shard);
    }

    // Wherever the keys sit, an eviction that starts with every live key
    // marked used can only take an expired key: the hand clears live keys'
    // bits until it meets one, which happens within one turn. So every live
    // key is used again before each new key (a stream of deliveries whose
    // earlier keys all keep being retried).
    #[test]
    fn expired_keys_are_reclaimed_before_used_ones_in_a_full_store() {
        let (store, clock) = store(64, 1);
        let lease = Duration::from_secs(1);
        let ttl = Duration::from_secs(3_600);
        let now = || store.clock.now_unix_ms();
        let mut live = vec![];
        for i in 0..32 {
            let key = format!("long_{i}");
            let Claim::Claimed(token) = store.claim_now(&key, lease, now()) else {
                panic!("new key {key} not claimed");
            };
            store.complete_now(&key, token, ttl);
            live.push((key, Claim::Done));
            store.claim_now(&format!("short_{i}"), lease, now());
        }
        assert_eq!(store.len(), 64);
        clock.advance(Duration::from_secs(2));
        for i in 0..32 {
            for (key, answer) in &live {
                assert_eq!(
                    store.claim_now(key, Duration::from_secs(60), now()),
                    *answer,
                    "{key} was forgotten while expired keys were held"
                );
            }
            let key = format!("new_{i}");
            let claim = store.claim_now(&key, Duration::from_secs(60), now());
            assert!(matches!(claim, Claim::Claimed(_)));
            live.push((key, Claim::InFlight));
            assert_eq!(store.len(), 64);
        }
        // The 32 expired keys made room for the 32 new ones.
        for (key, answer) in &live {
            assert_eq!(store.claim_now(key, lease, now()), *answer, "{key}");
        }
        assert_eq!(store.purge_expired(), 0);
    }

    #[test]
    fn full_shard_with_every_used_bit_set_still_evicts() {
        let mut shard = Shard::new(6);
        let old: Vec<Fingerprint> = (0..6).map(|home| key(home, home)).collect();
        for &fingerprint in &old {
            shard.insert_absent(fingerprint, done(LATER), NOW);
        }
        for &fingerprint in &old {
            assert!(shard.live(&fingerprint, NOW).is_some());
        }
        assert_eq!(shard.slots.len(), 8);
        assert!(shard.slots[..6].iter().all(|slot| slot.used()));
        shard.hand = 3;

        let new = key(6, 6);
        shard.insert_absent(new, done(LATER), NOW);
        check(&shard);
        // The hand cleared every bit in one turn, came back to slot 3 and
        // forgot the key there.
        assert_eq!(shard.len, 6);
        assert!(!holds(&shard, old[3]));
        for (home, &fingerprint) in old.iter().enumerate() {
            if home != 3 {
                assert!(holds(&shard, fingerprint), "key at {home} lost");
                assert!(!shard.slots[home].used());
            }
        }
        assert!(shard.slots[6].used(), "the new key counts as used");
        assert_eq!(shard.hand, 3);
    }

    #[test]
    fn table_grows_by_doubling_and_keeps_every_key() {
        const KEYS: u64 = 20_000;
        let mut shard = Shard::new(100_000);
        assert!(shard.slots.is_empty(), "nothing is allocated before a key");
        let mut sizes = vec![];
        for id in 0..KEYS {
            let entry = Entry::Seen {
                newest: id as i64,
                until: LATER,
            };
            shard.insert_absent(key(mix(id), id), entry, NOW);
            if sizes.last() != Some(&shard.slots.len()) {
                sizes.push(shard.slots.len());
            }
            assert!(shard.len <= max_load(shard.slots.len()));
        }
        assert_eq!(sizes.first(), Some(&MIN_SLOTS));
        assert!(
            sizes.windows(2).all(|pair| pair[1] == 2 * pair[0]),
            "{sizes:?}"
        );
        assert_eq!(shard.slots.len(), slots_for(KEYS as usize));
        assert_eq!(shard.slots.len(), 32_768);
        assert_eq!(shard.len, KEYS as usize);
        for id in 0..KEYS {
            let index = shard.find(&key(mix(id), id)).expect("key kept");
            // Inserted with a deadline of `LATER`, kept as the latest a slot holds.
            assert_eq!(
                shard.slots[index].entry(),
                Some(Entry::Seen {
                    newest: id as i64,
                    until: MAX_UNTIL
                })
            );
        }
        check(&shard);
    }

    #[test]
    fn memory_follows_keys_held_not_capacity() {
        let (store, _) = store(1_000_000, 8);
        for i in 0..100 {
            store.claim_now(
                &format!("k{i}"),
                Duration::from_secs(60),
                store.clock.now_unix_ms(),
            );
        }
        let slots: usize = store
            .shards
            .iter()
            .map(|shard| lock(shard).slots.len())
            .sum();
        // At most 32 slots per shard for ~12 keys; a million would need 2^21.
        assert!(slots <= 8 * 32, "{slots} slots for 100 keys");
    }

    #[test]
    fn purge_expired_gives_memory_back() {
        let mut shard = Shard::new(10_000);
        for id in 0..1_000 {
            shard.insert_absent(key(mix(id), id), done(NOW + 1), NOW);
        }
        let kept: Vec<Fingerprint> = (1_000..1_010).map(|id| key(mix(id), id)).collect();
        for &fingerprint in &kept {
            shard.insert_absent(fingerprint, done(LATER), NOW);
        }
        assert_eq!(shard.slots.len(), 2_048);
        assert_eq!(shard.purge_expired(NOW + 2), 1_000);
        assert_eq!(shard.slots.len(), slots_for(10));
        assert!(kept.iter().all(|&fingerprint| holds(&shard, fingerprint)));
        check(&shard);
        assert_eq!(shard.purge_expired(LATER), 10);
        assert!(shard.slots.is_empty());
    }

    /// Backs the claim in [`MemoryStore`]'s documentation: under a stream of
    /// new keys, each written and read once (a claim, then its completion), a
    /// key is forgotten after between about 2/3 and 4/3 of the capacity in
    /// newer keys.
    #[test]
    fn a_key_used_once_is_remembered_for_about_the_capacity() {
        const CAP: u64 = 4_000;
        // Keys still held are looked for every STEP insertions: an age is
        // known to within STEP, and bounded on the safe side below.
        const STEP: u64 = 40;
        let mut shard = Shard::new(CAP as usize);
        let mut held = Vec::new();
        let (mut least, mut most) = (u64::MAX, 0);
        for id in 0..20 * CAP {
            let fingerprint = key(mix(id), id);
            shard.insert_absent(fingerprint, done(LATER), NOW);
            assert!(shard.live(&fingerprint, NOW).is_some());
            held.push(id);
            if id % STEP == 0 {
                held.retain(|&old| {
                    let kept = holds(&shard, key(mix(old), old));
                    // Ages counted once the store has been full for a while.
                    if !kept && old >= 4 * CAP {
                        least = least.min(id - STEP - old);
                        most = most.max(id - old);
                    }
                    kept
                });
            }
        }
        let (least, most) = (least as f64 / CAP as f64, most as f64 / CAP as f64);
        eprintln!("forgotten after {least:.3} to {most:.3} times the capacity in newer keys");
        assert!((0.6..0.75).contains(&least), "least {least}");
        assert!((1.25..1.4).contains(&most), "most {most}");
    }
}
