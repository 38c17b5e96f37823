//! One shard's open-addressing table: linear probing, backward-shift
//! deletion, growth by doubling.
//!
//! Fast path: it replaces a `lru::LruCache` per shard (a boxed node per key,
//! several cache misses per new key): claim + complete 947 → 506 ns, and
//! nothing allocated per key (BENCHMARKS.md, second round, 7). Eviction, the
//! clock hand, is in `eviction.rs`.

use super::fingerprint::Fingerprint;
use super::slot::{EMPTY, Entry, Slot, SlotFields, encode};

/// Slots of a shard's table when its first key arrives.
pub(super) const MIN_SLOTS: usize = 8;

/// One shard: an open-addressing table with linear probing.
///
/// A key lives at the first free slot at or after its home slot (the low bits
/// of its fingerprint's first word), so every slot between its home and its
/// slot is occupied; removal shifts the following entries back to keep it so
/// (no tombstones). The table is empty until the first key arrives, then
/// doubles whenever it would be more than 3/4 full, and never holds more than
/// `cap` keys: at capacity, each new key first takes a slot back through the
/// clock hand.
pub(super) struct Shard {
    /// No slot at all, or a power of two of them, at least one always empty.
    /// Allocated zeroed: every slot starts empty.
    pub(super) slots: Vec<Slot>,
    /// Occupied slots, expired entries included.
    pub(super) len: usize,
    /// The most keys this shard holds, at least 1.
    pub(super) cap: usize,
    /// The clock hand: the next slot it examines.
    pub(super) hand: usize,
}

impl Shard {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            slots: Vec::new(),
            len: 0,
            cap,
            hand: 0,
        }
    }

    /// The slot holding `fingerprint`, if any.
    pub(super) fn find(&self, fingerprint: &Fingerprint) -> Option<usize> {
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
    pub(super) fn vacancy(&self, fingerprint: &Fingerprint) -> usize {
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
    pub(super) fn live(&mut self, fingerprint: &Fingerprint, now: u64) -> Option<(usize, Entry)> {
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
    pub(super) fn insert_absent(&mut self, fingerprint: Fingerprint, entry: Entry, now: u64) {
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
    pub(super) fn remove_at(&mut self, index: usize) {
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
    pub(super) fn rehash(&mut self, slots: usize, now: u64) {
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

    pub(super) fn purge_expired(&mut self, now: u64) -> usize {
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
pub(super) fn home(fingerprint: &Fingerprint, mask: usize) -> usize {
    // Truncation keeps the low bits, the only ones the mask keeps.
    fingerprint.0[0] as usize & mask
}

/// The most keys a table of `slots` slots holds: 3/4 of it, so that probe
/// runs stay short (about 2.5 slots for an absent key at a load of 1/2, 8.5
/// at 3/4) and at least one slot is always empty.
pub(super) fn max_load(slots: usize) -> usize {
    slots - slots / 4
}

/// The fewest slots, a power of two and at least [`MIN_SLOTS`], that hold
/// `keys` keys.
pub(super) fn slots_for(keys: usize) -> usize {
    let mut slots = MIN_SLOTS;
    while max_load(slots) < keys {
        slots *= 2;
    }
    slots
}
