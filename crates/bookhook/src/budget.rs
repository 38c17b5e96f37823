//! A bound on the bytes of request bodies held before their signature is checked.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The default memory budget for unverified bodies: 64 MiB.
pub const DEFAULT_UNVERIFIED_BUDGET: usize = 64 * 1024 * 1024;

/// How many bytes of request bodies may be held, in total, before their
/// signature has been checked.
///
/// Adapters take a [`BudgetHold`] for each body they read and grow it by
/// every chunk received; when the budget is spent, the request is refused
/// with 503 and `Retry-After` ([`Rejection::Busy`](crate::Rejection::Busy))
/// instead of being buffered. The hold is given back as soon as the body has
/// been read. Unsigned clients can therefore make a server hold at most this
/// many body bytes, however many connections they open.
///
/// Clones share the same count. Every [`Endpoint`](crate::Endpoint) uses
/// [`UnverifiedBudget::shared`] (64 MiB for the whole process) unless given
/// one of its own with
/// [`EndpointBuilder::unverified_budget`](crate::EndpointBuilder::unverified_budget).
///
/// ```
/// use bookhook::endpoint::UnverifiedBudget;
///
/// let budget = UnverifiedBudget::new(10);
/// let mut first = budget.hold();
/// assert!(first.grow(8).is_ok());
/// let mut second = budget.hold();
/// assert!(second.grow(4).is_err()); // 8 + 4 > 10
/// drop(first);
/// assert!(second.grow(4).is_ok());
/// assert_eq!(budget.in_use(), 4);
/// ```
#[derive(Clone)]
pub struct UnverifiedBudget {
    inner: Arc<Inner>,
}

struct Inner {
    limit: usize,
    used: AtomicUsize,
    /// Unix seconds of the last "budget spent" warning, to log it at most
    /// once every ten seconds.
    warned_at: AtomicU64,
}

impl UnverifiedBudget {
    /// A budget of `bytes`, shared by every clone.
    pub fn new(bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                limit: bytes,
                used: AtomicUsize::new(0),
                warned_at: AtomicU64::new(0),
            }),
        }
    }

    /// The process-wide budget of [`DEFAULT_UNVERIFIED_BUDGET`] bytes that
    /// endpoints use by default.
    pub fn shared() -> Self {
        static SHARED: OnceLock<UnverifiedBudget> = OnceLock::new();
        SHARED
            .get_or_init(|| UnverifiedBudget::new(DEFAULT_UNVERIFIED_BUDGET))
            .clone()
    }

    /// The budget, in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// The bytes held right now.
    pub fn in_use(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// An empty hold on this budget, for one body.
    pub fn hold(&self) -> BudgetHold {
        BudgetHold {
            budget: self.clone(),
            held: 0,
        }
    }

    fn take(&self, bytes: usize) -> bool {
        let taken = self
            .inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes)
                    .filter(|total| *total <= self.inner.limit)
            })
            .is_ok();
        if !taken {
            self.warn_spent();
        }
        taken
    }

    fn give_back(&self, bytes: usize) {
        self.inner.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    fn warn_spent(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.inner.warned_at.load(Ordering::Relaxed);
        if now >= last + 10
            && self
                .inner
                .warned_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                limit = self.inner.limit,
                "unverified body budget reached ({} bytes held before verification); answering 503 until bodies are verified or time out",
                self.inner.limit
            );
        }
    }
}

impl fmt::Debug for UnverifiedBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedBudget")
            .field("limit", &self.limit())
            .field("in_use", &self.in_use())
            .finish()
    }
}

/// One body's share of an [`UnverifiedBudget`]; given back when dropped.
#[derive(Debug)]
pub struct BudgetHold {
    budget: UnverifiedBudget,
    held: usize,
}

impl BudgetHold {
    /// Takes `bytes` more, or refuses (and takes nothing) when the budget
    /// would be exceeded. The refusal is logged, at most once every ten seconds.
    pub fn grow(&mut self, bytes: usize) -> Result<(), BudgetSpent> {
        if self.budget.take(bytes) {
            self.held += bytes;
            Ok(())
        } else {
            Err(BudgetSpent {
                limit: self.budget.limit(),
            })
        }
    }

    /// The bytes this hold has taken.
    pub fn held(&self) -> usize {
        self.held
    }
}

impl Drop for BudgetHold {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

/// The [`UnverifiedBudget`] has no room left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the unverified body budget of {limit} bytes is spent")]
#[non_exhaustive]
pub struct BudgetSpent {
    /// The budget, in bytes.
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_given_back_on_drop() {
        let budget = UnverifiedBudget::new(100);
        {
            let mut a = budget.hold();
            let mut b = budget.hold();
            a.grow(60).unwrap();
            assert_eq!(b.grow(41), Err(BudgetSpent { limit: 100 }));
            b.grow(40).unwrap();
            assert_eq!(budget.in_use(), 100);
            assert_eq!(a.held(), 60);
        }
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn clones_share_the_count_and_shared_is_one_budget() {
        let budget = UnverifiedBudget::new(10);
        let mut hold = budget.clone().hold();
        hold.grow(10).unwrap();
        assert_eq!(budget.in_use(), 10);
        assert_eq!(
            UnverifiedBudget::shared().limit(),
            DEFAULT_UNVERIFIED_BUDGET
        );
        assert!(Arc::ptr_eq(
            &UnverifiedBudget::shared().inner,
            &UnverifiedBudget::shared().inner
        ));
    }
}
