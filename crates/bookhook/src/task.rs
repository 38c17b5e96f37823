//! Running a delivery on a task of its own, and what a panic or a lost task becomes.
//!
//! Every adapter runs a delivery on a tokio task of its own, so that a sender
//! that hangs up does not cut a handler off half-way: its claim is always
//! completed or released. [`spawn`] and [`spawn_local`] do that for them, with
//! the caller's `tracing` span carried onto the task, and turn a task that
//! panicked outside the handler (whose own panics are caught where it runs)
//! or that a runtime shutting down cancelled into the core's 500.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let answered = bookhook::task::spawn(async { 200 }).await;
//! assert_eq!(answered.ok(), Some(200));
//!
//! let lost = bookhook::task::spawn(async { panic!("lost on purpose") }).await;
//! let lost: Result<(), _> = lost;
//! assert_eq!(lost.unwrap_err().status(), 500);
//! # });
//! ```

use std::any::Any;
use std::future::Future;

use tokio::task::JoinError;
use tracing::Instrument;

use crate::error::HandlerError;
use crate::outcome::Outcome;

/// Runs `delivery` on a tokio task of its own, inside the caller's span, and
/// waits for it. A task that panicked or was cancelled gives
/// [`Outcome::Failed`] (500), logged.
///
/// It needs a tokio runtime; the future must be `Send` (the core's
/// [`Dispatcher::dispatch`](crate::Dispatcher::dispatch) future is).
pub async fn spawn<F>(delivery: F) -> Result<F::Output, Outcome>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    joined(tokio::spawn(delivery.in_current_span()).await)
}

/// [`spawn`] for a future that is not `Send`, such as one that calls an
/// actix-web service: the task runs on the current thread's
/// [`LocalSet`](tokio::task::LocalSet), which actix-web's workers run.
pub async fn spawn_local<F>(delivery: F) -> Result<F::Output, Outcome>
where
    F: Future + 'static,
    F::Output: 'static,
{
    joined(tokio::task::spawn_local(delivery.in_current_span()).await)
}

fn joined<T>(joined: Result<T, JoinError>) -> Result<T, Outcome> {
    joined.map_err(|err| {
        let message = if err.is_panic() {
            panic_message(&*err.into_panic())
        } else {
            "the delivery task was cancelled".to_owned()
        };
        tracing::error!(error = %message, "webhook delivery task lost");
        Outcome::Failed(HandlerError::Panicked { message })
    })
}

/// What a layer makes of the answer of a handler of the user's own, for
/// [`Accepted::settle`](crate::Accepted::settle): a 2xx `status` is success
/// (the claim is completed); any other status, or an error from the service
/// itself, is a failure (the claim is released so that the sender's retry
/// runs again). The answer is passed on unchanged.
///
/// ```
/// use bookhook::task::judge_answer;
///
/// let (verdict, answer) = judge_answer(Ok::<u16, ()>(204), |status| *status);
/// assert!(verdict.is_ok());
/// assert_eq!(answer, Ok(204));
/// let (verdict, _) = judge_answer(Ok::<u16, ()>(500), |status| *status);
/// assert_eq!(verdict.unwrap_err().to_string(), "handler failed: handler answered 500");
/// ```
pub fn judge_answer<R, E>(
    answered: Result<R, E>,
    status: impl FnOnce(&R) -> u16,
) -> (Result<(), HandlerError>, Result<R, E>) {
    let verdict = match &answered {
        Ok(response) => match status(response) {
            200..=299 => Ok(()),
            status => Err(HandlerError::new(format!("handler answered {status}"))),
        },
        Err(_) => Err(HandlerError::new("the inner service returned an error")),
    };
    (verdict, answered)
}

/// A caught panic as a handler error, with its message when it was a string.
pub(crate) fn panicked(panic: &(dyn Any + Send)) -> HandlerError {
    HandlerError::Panicked {
        message: panic_message(panic),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
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
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn spawned_delivery_returns_its_output() {
        assert_eq!(runtime().block_on(spawn(async { 7 })).ok(), Some(7));
    }

    #[test]
    fn panicking_task_becomes_a_500_with_the_panic_message() {
        let lost: Result<(), Outcome> = runtime().block_on(spawn(async { panic!("gone") }));
        let lost = lost.unwrap_err();
        assert_eq!(lost.status(), 500);
        assert!(
            matches!(&lost, Outcome::Failed(HandlerError::Panicked { message }) if message == "gone"),
            "{lost:?}"
        );
    }

    #[test]
    fn local_task_runs_a_future_that_is_not_send() {
        let local = tokio::task::LocalSet::new();
        let shared = std::rc::Rc::new(5);
        let out = local.block_on(&runtime(), spawn_local(async move { *shared + 1 }));
        assert_eq!(out.ok(), Some(6));
    }

    #[test]
    fn panic_payloads_give_their_text() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42_u8), "non-string panic payload");
    }
}
