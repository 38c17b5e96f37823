//! CLOCK eviction: the hand that walks a full shard's slots to pick the key
//! to forget, and that reclaims expired entries on its way.

use super::slot::SlotFields;
use super::table::Shard;

/// Slots the clock hand passes on every insertion into a shard below its
/// capacity, removing the expired entries it meets, so that expired entries
/// are reclaimed without a background task.
pub(super) const SWEEP_PER_INSERT: usize = 4;

impl Shard {
    /// Moves the hand [`SWEEP_PER_INSERT`] slots on, clearing the used bits it
    /// passes and removing the expired entries it meets.
    pub(super) fn sweep(&mut self, now: u64) {
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
    pub(super) fn evict(&mut self, now: u64) {
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
}
