//! When a failed event runs again: the retry schedule.

use std::time::Duration;

use crate::error::{ConfigError, HandlerError};
use crate::idempotency::ClaimToken;

use super::Failure;

/// The default delays between attempts: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The default jitter: each delay is moved by up to ±20 %.
pub const DEFAULT_JITTER: f64 = 0.2;

/// How failed attempts are retried: a delay per failed attempt, moved by a
/// random jitter so that events that failed together do not all come back
/// at the same instant, and a maximum number of attempts after which the
/// event is dead.
///
/// The default runs an event up to 8 times: at once, then 5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h and 10 h after each failure (about 28 hours in
/// all), each delay ±20 %. With more attempts than delays, the last delay
/// repeats. A handler's [`HandlerError::retry_after`] replaces the delay of
/// its attempt; a [`HandlerError::permanent`] error ends the event at once.
///
/// ```
/// use std::time::Duration;
/// use bookhook::HandlerError;
/// use bookhook::inbox::{Failure, RetrySchedule};
///
/// let schedule = RetrySchedule::new([Duration::from_secs(10), Duration::from_secs(60)])
///     .jitter(0.0)
///     .max_attempts(3);
/// let now = 1_000_000;
/// let boom = HandlerError::new("crm unreachable");
/// assert!(matches!(schedule.failure(1, now, &boom), Failure::Retry { at_ms: 1_010_000, .. }));
/// assert!(matches!(schedule.failure(2, now, &boom), Failure::Retry { at_ms: 1_060_000, .. }));
/// assert!(matches!(schedule.failure(3, now, &boom), Failure::Dead { .. }));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter: f64,
    max_attempts: u32,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            delays: DEFAULT_DELAYS.to_vec(),
            jitter: DEFAULT_JITTER,
            max_attempts: 8,
        }
    }
}

impl RetrySchedule {
    /// A schedule with these delays (the first after the first failure), the
    /// default jitter, and as many attempts as delays plus one.
    pub fn new(delays: impl IntoIterator<Item = Duration>) -> Self {
        let delays: Vec<Duration> = delays.into_iter().collect();
        let max_attempts = u32::try_from(delays.len())
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1);
        Self {
            delays,
            jitter: DEFAULT_JITTER,
            max_attempts,
        }
    }

    /// Moves each delay by a random amount of up to `fraction` of it, both
    /// ways (0.2 is ±20 %; 0 turns jitter off, as tests want).
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// The number of attempts, the first one included, after which an event
    /// that keeps failing is dead.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The delays, the first after the first failure.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// The jitter fraction.
    pub fn jitter_fraction(&self) -> f64 {
        self.jitter
    }

    /// The maximum number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Checks the settings: at least one attempt, a jitter in `0..1`, and a
    /// delay for every retry.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(invalid("max_attempts", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(invalid("jitter", "must be at least 0 and less than 1"));
        }
        if self.max_attempts > 1 && self.delays.is_empty() {
            return Err(invalid(
                "delays",
                "give at least one delay, or allow a single attempt",
            ));
        }
        Ok(())
    }

    /// The delay after failed attempt number `failed` (1 for the first)
    /// before jitter, or `None` when it was the last attempt.
    pub fn base_delay(&self, failed: u32) -> Option<Duration> {
        if failed >= self.max_attempts {
            return None;
        }
        let index = usize::try_from(failed.max(1) - 1).unwrap_or(usize::MAX);
        self.delays
            .get(index)
            .or_else(|| self.delays.last())
            .copied()
    }

    /// The delay after failed attempt `failed` with the jitter set by
    /// `unit`, a number from -1 (the shortest) to 1 (the longest).
    pub fn delay_with(&self, failed: u32, unit: f64) -> Option<Duration> {
        let base = self.base_delay(failed)?;
        let factor = 1.0 + self.jitter * unit.clamp(-1.0, 1.0);
        Some(base.mul_f64(factor.max(0.0)))
    }

    /// The delay after failed attempt `failed`, with random jitter.
    pub fn delay(&self, failed: u32) -> Option<Duration> {
        self.delay_with(failed, random_unit())
    }

    /// What to do after attempt `failed` ended with `error` at `now_ms`:
    /// retry (at the schedule's time, or the handler's own retry-after) or
    /// dead (the attempts ran out, or the error is permanent).
    pub fn failure(&self, failed: u32, now_ms: i64, error: &HandlerError) -> Failure {
        let message = error.to_string();
        if error.is_permanent() {
            return Failure::Dead { error: message };
        }
        let delay = match (self.delay(failed), error.retry_hint()) {
            (None, _) => return Failure::Dead { error: message },
            (Some(_), Some(hint)) => hint,
            (Some(delay), None) => delay,
        };
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        Failure::Retry {
            at_ms: now_ms.saturating_add(delay_ms),
            error: message,
        }
    }
}

/// A random number from -1 to 1.
fn random_unit() -> f64 {
    // The low bits of a claim token are a masked counter; the high half is a
    // keyed hash, which is what makes it random.
    let bits = (ClaimToken::random().as_u128() >> 64) as u64;
    (bits >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn invalid(setting: &'static str, reason: &str) -> ConfigError {
    ConfigError::InvalidSetting {
        setting,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_is_the_documented_one() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 8);
        let secs: Vec<u64> = (1..8)
            .map(|n| schedule.base_delay(n).unwrap().as_secs())
            .collect();
        assert_eq!(secs, [5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(schedule.base_delay(8), None);
        schedule.validate().unwrap();
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.delay_with(1, -1.0), Some(Duration::from_secs(4)));
        assert_eq!(schedule.delay_with(1, 1.0), Some(Duration::from_secs(6)));
        for _ in 0..1000 {
            let delay = schedule.delay(2).unwrap();
            assert!(delay >= Duration::from_secs(240) && delay <= Duration::from_secs(360));
        }
    }

    #[test]
    fn jittered_delays_are_spread_out() {
        let schedule = RetrySchedule::default();
        let delays: std::collections::HashSet<Duration> =
            (0..100).map(|_| schedule.delay(3).unwrap()).collect();
        assert!(delays.len() > 50, "only {} distinct delays", delays.len());
    }

    #[test]
    fn last_delay_repeats_when_attempts_outnumber_delays() {
        let schedule = RetrySchedule::new([Duration::from_secs(1)])
            .jitter(0.0)
            .max_attempts(4);
        assert_eq!(schedule.base_delay(3), Some(Duration::from_secs(1)));
        assert_eq!(schedule.base_delay(4), None);
    }

    #[test]
    fn permanent_errors_die_at_once_and_hints_replace_the_delay() {
        let schedule = RetrySchedule::default().jitter(0.0);
        assert!(matches!(
            schedule.failure(1, 0, &HandlerError::permanent("no")),
            Failure::Dead { .. }
        ));
        let hinted = HandlerError::retry_after(Duration::from_secs(42), "busy");
        assert_eq!(
            schedule.failure(1, 1_000, &hinted),
            Failure::Retry {
                at_ms: 43_000,
                error: hinted.to_string()
            }
        );
        assert!(matches!(
            schedule.failure(8, 0, &hinted),
            Failure::Dead { .. }
        ));
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(RetrySchedule::default().max_attempts(0).validate().is_err());
        assert!(RetrySchedule::default().jitter(1.0).validate().is_err());
        assert!(RetrySchedule::new([]).validate().is_ok());
        assert!(RetrySchedule::new([]).max_attempts(2).validate().is_err());
    }
}
