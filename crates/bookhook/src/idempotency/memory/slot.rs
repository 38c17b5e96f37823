//! One key's slot in a shard's table: its fingerprint, entry and used bit
//! packed into 32 bytes, and the [`Entry`] the store's operations read from it.
//!
//! Fast path: a packed `[u64; 4]` replaces a 48-byte struct, and an all-zero
//! slot is empty so a new table is one zeroed allocation: 106.6 → 71.3 bytes
//! per key at a million keys, claim + complete −7.5 % (BENCHMARKS.md, 10).

use super::fingerprint::Fingerprint;

/// The state of one key, as the store's operations see it. It is never kept
/// as such: a [`Slot`] holds it packed into its last two words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
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
    pub(super) fn until(&self) -> u64 {
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
pub(super) type Slot = [u64; 4];

/// The empty slot.
pub(super) const EMPTY: Slot = [0; 4];

/// The tag bits of a slot's meta word; 0 when the slot is empty.
pub(super) const TAG: u64 = 0b11;
/// The tag of an [`Entry::Claimed`].
pub(super) const TAG_CLAIMED: u64 = 1;
/// The tag of an [`Entry::Done`].
pub(super) const TAG_DONE: u64 = 2;
/// The tag of an [`Entry::Seen`].
pub(super) const TAG_SEEN: u64 = 3;
/// The used bit of a slot's meta word.
pub(super) const USED: u64 = 1 << 2;
/// Where `until` starts in a slot's meta word.
pub(super) const UNTIL_SHIFT: u32 = 8;
/// The latest `until` a slot holds, 2^56 − 1 ms; later deadlines are clamped
/// to it.
pub(super) const MAX_UNTIL: u64 = u64::MAX >> UNTIL_SHIFT;

/// A slot holding `entry` for `fingerprint`, with its used bit.
#[inline]
pub(super) fn encode(fingerprint: Fingerprint, entry: Entry, used: bool) -> Slot {
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
pub(super) trait SlotFields {
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
