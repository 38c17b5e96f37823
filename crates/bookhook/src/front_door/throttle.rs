//! A warning let through at most once every ten seconds.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a [`Throttle`] lets a warning through.
const EVERY: Duration = Duration::from_secs(10);

/// Lets a warning through at most once every ten seconds, so that a cap
/// reached under load is logged without flooding the log.
///
/// ```
/// use bookhook::front_door::Throttle;
///
/// let throttle = Throttle::default();
/// let mut logged = 0;
/// throttle.warn(|| logged += 1);
/// throttle.warn(|| logged += 1);
/// assert_eq!(logged, 1);
/// ```
#[derive(Debug, Default)]
pub struct Throttle {
    last: Mutex<Option<Instant>>,
}

impl Throttle {
    /// Runs `log` unless it ran less than ten seconds ago.
    pub fn warn(&self, log: impl FnOnce()) {
        let mut last = match self.last.lock() {
            Ok(last) => last,
            Err(poisoned) => poisoned.into_inner(),
        };
        if last.is_none_or(|at| at.elapsed() >= EVERY) {
            *last = Some(Instant::now());
            drop(last);
            log();
        }
    }
}
