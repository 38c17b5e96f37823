//! The 128-bit fingerprint a key is kept as, never the key itself.
//!
//! Fast path: both words come from one keyed SipHash state, read out, cloned
//! and extended by one byte, so the key is hashed once rather than twice
//! (BENCHMARKS.md, second round, 7).

use std::hash::{BuildHasher, Hasher, RandomState};

/// What a key names. Part of the hashed input and of the fingerprint itself.
#[derive(Clone, Copy)]
#[repr(u8)]
pub(super) enum Space {
    Key = 0,
    Appointment = 1,
}

/// Two independently keyed SipHash values of a namespaced key.
///
/// Words 0 and 1 of a [`Slot`]. The first word, already a keyed hash, places
/// the key in its shard's table; the second picks the shard, and its lowest
/// bit is the key's [`Space`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fingerprint(pub(super) [u64; 2]);

impl Fingerprint {
    /// The fingerprint of `key` in `space`, under the store's keyed `hasher`.
    pub(super) fn of(hasher: &RandomState, space: Space, key: &str) -> Fingerprint {
        let mut first = hasher.build_hasher();
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
}
