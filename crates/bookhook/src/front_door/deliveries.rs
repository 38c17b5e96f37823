//! The deliveries in progress on one server: their cap, and their cut-off
//! at the end of the shutdown grace period.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{BUSY_RETRY_AFTER, Throttle};
use crate::outcome::Rejection;

/// How long cut-off deliveries get to release their claims.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// The deliveries in progress on one server, shared by all its connections
/// and workers: at most `max` at once, and at shutdown a grace period after
/// which those still running are cut off **with their claims released**, so
/// that the sender's retry runs them again.
///
/// - [`enter`](Self::enter) lets a delivery in and counts it until its
///   [`Pass`] is dropped. Past the cap it refuses with
///   [`Rejection::Busy`] (503 with `Retry-After`) and logs a warning, at most
///   every ten seconds. Once the shutdown has begun it refuses every delivery.
/// - [`shutdown_at`](Self::shutdown_at) waits for the deliveries in progress
///   until a deadline; then [`Pass::cutoff`] completes for those still
///   running, and their claims are released by whoever runs them (for
///   example [`Dispatcher::dispatch_until`](crate::Dispatcher::dispatch_until)).
///
/// Clones share the same count.
#[derive(Clone)]
pub struct Deliveries {
    inner: Arc<Inner>,
}

struct Inner {
    max: usize,
    /// Deliveries in progress.
    in_progress: watch::Sender<usize>,
    phase: watch::Sender<Phase>,
    /// When the grace period ends, set by the first shutdown.
    deadline: OnceLock<Instant>,
    warning: Throttle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    Draining,
    CutOff,
}

impl fmt::Debug for Deliveries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliveries")
            .field("max", &self.inner.max)
            .field("in_progress", &self.in_progress())
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}

impl Deliveries {
    /// At most `max` deliveries in progress at once (at least 1).
    pub fn new(max: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max: max.max(1),
                in_progress: watch::Sender::new(0),
                phase: watch::Sender::new(Phase::Serving),
                deadline: OnceLock::new(),
                warning: Throttle::default(),
            }),
        }
    }

    /// The cap: deliveries in progress at once.
    pub fn max(&self) -> usize {
        self.inner.max
    }

    /// Deliveries in progress now.
    pub fn in_progress(&self) -> usize {
        *self.inner.in_progress.borrow()
    }

    /// Whether the shutdown has begun: new deliveries are refused.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.phase.borrow() != Phase::Serving
    }

    /// Lets one delivery in, counted until the [`Pass`] is dropped, or
    /// refuses it with [`Rejection::Busy`] (`limit: "deliveries"`): past the
    /// cap (a warning is logged, at most every ten seconds) or once the
    /// shutdown has begun.
    pub fn enter(&self) -> Result<Pass, Rejection> {
        let inner = &self.inner;
        let max = inner.max;
        // Count first, then look at the phase: a shutdown that begins
        // in between sees this delivery and waits for it.
        let counted = inner.in_progress.send_if_modified(|n| {
            let room = *n < max;
            if room {
                *n += 1;
            }
            room
        });
        if !counted {
            inner.warning.warn(|| {
                tracing::warn!(
                    max_deliveries = max,
                    "delivery limit reached ({max} in progress); answering 503"
                );
            });
            return Err(busy());
        }
        let pass = Pass {
            deliveries: self.clone(),
            phase: inner.phase.subscribe(),
        };
        if *pass.phase.borrow() != Phase::Serving {
            tracing::debug!("shutting down: delivery refused with 503");
            return Err(busy());
        }
        Ok(pass)
    }

    /// [`shutdown_at`](Self::shutdown_at) a deadline `grace` from now (or
    /// the deadline of an earlier call).
    pub async fn shutdown_within(&self, grace: Duration) {
        self.shutdown_at(Instant::now() + grace).await;
    }

    /// Begins the shutdown: new deliveries are refused; those in progress
    /// run until `deadline` (the deadline of the first call, if called
    /// again); then those still running are cut off ([`Pass::cutoff`]
    /// completes). Completes when no delivery is left or, should a cut-off
    /// one hang while releasing its claim, a few seconds after the deadline.
    pub async fn shutdown_at(&self, deadline: Instant) {
        let inner = &self.inner;
        let deadline = *inner.deadline.get_or_init(|| deadline);
        let began = inner.phase.send_if_modified(|phase| {
            let serving = *phase == Phase::Serving;
            if serving {
                *phase = Phase::Draining;
            }
            serving
        });
        let mut in_progress = inner.in_progress.subscribe();
        if began {
            let grace = deadline.saturating_duration_since(Instant::now());
            tracing::info!(
                deliveries = *in_progress.borrow(),
                grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                "shutting down: new deliveries get 503; those in progress have the grace period"
            );
        }
        let drained = tokio::time::timeout_at(deadline, in_progress.wait_for(|n| *n == 0))
            .await
            .is_ok();
        if !drained {
            let left = *in_progress.borrow();
            if inner.phase.send_replace(Phase::CutOff) != Phase::CutOff {
                tracing::warn!(
                    deliveries = left,
                    "grace period over: cutting off the deliveries still running and releasing their claims"
                );
            }
            let _ = tokio::time::timeout(RELEASE_WAIT, in_progress.wait_for(|n| *n == 0)).await;
        }
    }
}

fn busy() -> Rejection {
    Rejection::Busy {
        limit: "deliveries",
        retry_after: BUSY_RETRY_AFTER,
    }
}

/// One delivery let in by [`Deliveries::enter`]: counted until dropped.
pub struct Pass {
    deliveries: Deliveries,
    phase: watch::Receiver<Phase>,
}

impl fmt::Debug for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pass")
            .field("deliveries", &self.deliveries)
            .finish()
    }
}

impl Pass {
    /// Completes when the shutdown cuts off the deliveries still running;
    /// give it to the code that runs the delivery, so that its claim is
    /// released then.
    pub fn cutoff(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut phase = self.phase.clone();
        async move {
            // The sender lives in the deliveries, which this pass keeps
            // while it is counted.
            if phase
                .wait_for(|phase| *phase == Phase::CutOff)
                .await
                .is_err()
            {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.deliveries
            .inner
            .in_progress
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_in_up_to_the_cap_and_counts_passes_until_dropped() {
        let deliveries = Deliveries::new(2);
        let first = deliveries.enter().expect("room");
        let second = deliveries.enter().expect("room");
        assert_eq!(deliveries.in_progress(), 2);
        assert!(matches!(
            deliveries.enter(),
            Err(Rejection::Busy {
                limit: "deliveries",
                ..
            })
        ));
        assert_eq!(deliveries.in_progress(), 2);
        drop(first);
        assert_eq!(deliveries.in_progress(), 1);
        let third = deliveries.enter().expect("room again");
        drop((second, third));
        assert_eq!(deliveries.in_progress(), 0);
    }

    #[tokio::test]
    async fn shutdown_refuses_new_deliveries_and_cuts_off_running_ones() {
        let deliveries = Deliveries::new(4);
        let running = deliveries.enter().expect("room");
        let cutoff = running.cutoff();
        let released = tokio::spawn(async move {
            cutoff.await;
            drop(running);
        });
        deliveries.shutdown_within(Duration::from_millis(50)).await;
        assert!(deliveries.is_shutting_down());
        assert!(deliveries.enter().is_err());
        released.await.expect("the cut-off fired");
        assert_eq!(deliveries.in_progress(), 0);
    }

    #[tokio::test]
    async fn a_second_shutdown_keeps_the_first_deadline() {
        let deliveries = Deliveries::new(1);
        let running = deliveries.enter().expect("room");
        let cutoff = running.cutoff();
        let released = tokio::spawn(async move {
            cutoff.await;
            drop(running);
        });
        let first = deliveries.shutdown_within(Duration::from_millis(50));
        let second = deliveries.shutdown_within(Duration::from_secs(3600));
        tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(first, second);
        })
        .await
        .expect("both end at the first deadline");
        released.await.expect("the cut-off fired");
    }
}
