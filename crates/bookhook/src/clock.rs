//! Injectable time, so that tests never sleep.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
///
/// The dispatcher and [`MemoryStore`](crate::MemoryStore) read time only through
/// a clock, so tests can move time forward with a [`ManualClock`] instead of
/// sleeping.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time in milliseconds since the Unix epoch (0 before it).
    fn now_unix_ms(&self) -> u64 {
        unix_ms(self.now())
    }
}

/// The system's real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use bookhook::endpoint::{Clock, ManualClock};
///
/// let clock = ManualClock::at_unix(1_700_000_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(shared.now(), UNIX_EPOCH + Duration::from_secs(1_700_000_090));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock stopped at `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self(Arc::new(AtomicU64::new(secs.saturating_mul(1000))))
    }

    /// A clock stopped at `time`.
    pub fn at(time: SystemTime) -> Self {
        Self(Arc::new(AtomicU64::new(unix_ms(time))))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `time`.
    pub fn set(&self, time: SystemTime) {
        self.0.store(unix_ms(time), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }

    fn now_unix_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Milliseconds since the Unix epoch, 0 for earlier times.
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_unix(10);
        assert_eq!(clock.now_unix_ms(), 10_000);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now_unix_ms(), 11_500);
        clock.set(UNIX_EPOCH + Duration::from_secs(3));
        assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(3));
    }

    #[test]
    fn times_before_the_epoch_read_as_zero() {
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(5)), 0);
    }
}
