//! Runs a delivery to its end, even when its request is dropped.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use bookhook::{HandlerError, Outcome};
use futures_util::FutureExt as _;

/// What a delivery's future gives back: its output, or the panic it raised.
pub(crate) type Ended<T> = Result<T, Box<dyn Any + Send>>;

/// Drives a delivery's future on the request's own task and, if the request
/// is dropped before the future ends (the sender hung up, or a timeout layer
/// gave up on it), hands the rest of the future to a new task.
///
/// So a handler is never cut off half-way and its claim is always completed
/// or released, as with a task per delivery, but the common case costs no
/// spawn, no second task and no wake-up of another worker thread. A panic
/// inside the future is caught and returned as `Err`.
pub(crate) struct RunToEnd<T: Send + 'static> {
    /// `None` once the future has ended.
    future: Option<Pin<Box<dyn Future<Output = Ended<T>> + Send>>>,
}

impl<T: Send + 'static> RunToEnd<T> {
    pub(crate) fn new(future: impl Future<Output = T> + Send + 'static) -> Self {
        Self {
            future: Some(Box::pin(AssertUnwindSafe(future).catch_unwind())),
        }
    }
}

impl<T: Send + 'static> Future for RunToEnd<T> {
    type Output = Ended<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(future) = this.future.as_mut() else {
            // Polled again after it ended: nothing is left to run.
            return Poll::Pending;
        };
        let ended = std::task::ready!(future.as_mut().poll(cx));
        this.future = None;
        Poll::Ready(ended)
    }
}

impl<T: Send + 'static> Drop for RunToEnd<T> {
    fn drop(&mut self) {
        let Some(future) = self.future.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            // The future is boxed and pinned: it moves to its new task as is,
            // and resumes where the request's task left it.
            Ok(runtime) => {
                runtime.spawn(future);
            }
            Err(_) => tracing::warn!(
                "webhook request dropped outside a tokio runtime; its delivery cannot be finished"
            ),
        }
    }
}

/// The outcome of a delivery that panicked outside the handler (whose own
/// panics the core catches).
pub(crate) fn lost(panic: &(dyn Any + Send)) -> Outcome {
    let message = panic_message(panic);
    tracing::error!(panic = %message, "webhook delivery panicked");
    Outcome::Failed(HandlerError::Panicked { message })
}

/// The text of a panic's payload, when it has one.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn ends_inline_with_the_futures_output() {
        assert_eq!(RunToEnd::new(async { 7 }).await.ok(), Some(7));
    }

    #[tokio::test]
    async fn a_panic_is_returned_not_raised() {
        let ended = RunToEnd::new(async {
            if true {
                panic!("boom");
            }
        })
        .await;
        let panic = ended.expect_err("the panic is caught");
        assert_eq!(panic_message(&*panic), "boom");
        assert!(matches!(
            lost(&*panic),
            Outcome::Failed(HandlerError::Panicked { message }) if message == "boom"
        ));
    }

    #[tokio::test]
    async fn a_dropped_run_finishes_on_its_own_task() {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let run = RunToEnd::new(async move {
            let _ = started_tx.send(());
            let _ = go_rx.await;
            let _ = done_tx.send("finished");
        });
        // Poll it until it waits, as a request's task would, then drop it.
        let mut run = Box::pin(run);
        tokio::select! {
            _ = &mut run => panic!("it cannot end before it is let go"),
            _ = started_rx => {}
        }
        drop(run);
        go_tx.send(()).expect("the moved future still listens");
        assert_eq!(done_rx.await, Ok("finished"));
    }

    #[test]
    fn a_run_dropped_outside_a_runtime_is_dropped_quietly() {
        let dropped = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(Arc::clone(&dropped));
        let run = RunToEnd::new(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        drop(run);
        assert!(dropped.load(Ordering::SeqCst));
    }
}
