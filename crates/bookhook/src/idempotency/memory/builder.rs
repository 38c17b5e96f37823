//! [`MemoryStoreBuilder`]: the settings of a [`MemoryStore`], checked when it
//! is built.

use super::MemoryStore;
use super::sizing::{
    DEFAULT_CAPACITY, default_shards, deliveries_for_keys, keys_estimate,
    shard_caps_for_deliveries, split_keys,
};
use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;

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
    /// The defaults of [`MemoryStore::new`].
    pub(super) fn new() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            max_keys: None,
            shards: None,
            clock: None,
        }
    }

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
    /// use bookhook::idempotency::MemoryStore;
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
