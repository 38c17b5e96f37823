//! How a capacity in deliveries becomes a number of shards and the keys each
//! shard holds.

/// Deliveries remembered by [`MemoryStore::new`].
pub(super) const DEFAULT_CAPACITY: usize = 250_000;

/// Keys one delivery may take: its idempotency key, and the record of its
/// appointment (shared by every delivery about that appointment).
pub(super) const KEYS_PER_DELIVERY: usize = 2;

/// The share of a full shard's keys that a key written once stays for, at
/// least, under CLOCK: it is forgotten after between about 2/3 and 4/3 of the
/// shard's keys in newer ones (see
/// `a_key_used_once_is_remembered_for_about_the_capacity`); sized below
/// that, with room for chance.
pub(super) const RETENTION: f64 = 0.55;

/// Standard deviations of room for the uneven spread of keys over shards:
/// the keys of the last deliveries land on one shard as a binomial draw.
pub(super) const SPREAD_SIGMAS: f64 = 6.0;

/// Keys added to every shard, for the small numbers where neither estimate
/// above holds well.
pub(super) const SHARD_SLACK: usize = 8;

/// Upper bound for the default number of shards.
pub(super) const MAX_DEFAULT_SHARDS: usize = 256;

/// The keys one shard of `shards` holds so that it remembers its part of the
/// last `deliveries` deliveries: their keys on this shard (a binomial draw,
/// plus [`SPREAD_SIGMAS`] standard deviations), over [`RETENTION`], plus
/// [`SHARD_SLACK`].
pub(super) fn shard_keys(deliveries: usize, shards: usize) -> usize {
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
pub(super) fn shard_caps_for_deliveries(deliveries: usize, shards: usize) -> Vec<usize> {
    vec![shard_keys(deliveries, shards); shards]
}

/// `keys` split over `shards` shards as evenly as can be.
pub(super) fn split_keys(keys: usize, shards: usize) -> Vec<usize> {
    let base = keys / shards;
    let extra = keys % shards;
    (0..shards)
        .map(|index| base + usize::from(index < extra))
        .collect()
}

/// About the keys a store of `deliveries` deliveries holds, to choose its
/// number of shards.
pub(super) fn keys_estimate(deliveries: usize) -> usize {
    let keys = (deliveries as f64 * KEYS_PER_DELIVERY as f64 / RETENTION).ceil() as usize;
    keys.max(1)
}

/// The most deliveries whose keys fit in the smallest shard of `keys` keys
/// split over `shards`: the capacity a bound in keys guarantees.
pub(super) fn deliveries_for_keys(keys: usize, shards: usize) -> usize {
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
pub(super) const KEYS_PER_SHARD: usize = 8_192;

/// Four shards per core, or one per [`KEYS_PER_SHARD`] keys of capacity if
/// that is more, as a power of two, within `1..=min(256, capacity)`.
pub(super) fn default_shards(capacity: usize) -> usize {
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
