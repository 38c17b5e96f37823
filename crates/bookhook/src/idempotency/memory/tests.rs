//! The store's tests, from its sizing and fingerprints to its slots, table
//! and eviction, and its answers to the store contract's operations.

use super::eviction::SWEEP_PER_INSERT;
use super::sizing::*;
use super::slot::*;
use super::table::*;
use super::*;
use crate::clock::ManualClock;
use crate::error::ConfigError;

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
