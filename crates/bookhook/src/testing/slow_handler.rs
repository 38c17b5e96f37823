//! A receiver in inbox mode whose handler takes 2 s, to check that an
//! adapter acknowledges a delivery before its handler has run.
//!
//! Each adapter mounts [`SlowHandler::worker`]'s ingest, runs the worker its
//! own way, sends [`SlowHandler::request`] and passes what it got back to
//! [`check_ack`](SlowHandler::check_ack), then awaits
//! [`check_handled`](SlowHandler::check_handled):
//!
//! ```
//! use std::time::Instant;
//! use bookhook::endpoint::Request;
//! use bookhook::testing::slow_handler::SlowHandler;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let slow = SlowHandler::new();
//! let handle = slow.worker().spawn();
//! let (headers, body) = slow.request();
//! let sent = Instant::now();
//! let answered = slow.worker().ingest().receive("POST", &headers, None, body.into()).await;
//! slow.check_ack(answered.status(), answered.response().body.as_bytes(), sent.elapsed());
//! slow.check_handled().await;
//! handle.shutdown().await;
//! # });
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::dispatch::{Context, Dispatcher};
use crate::endpoint::Endpoint;
use crate::error::HandlerError;
use crate::inbox::{Inbox, InboxId, MemoryInbox, State, Worker};
use crate::provider::Provider;
use crate::signature::SignRequest;

/// How long the handler takes.
pub const HANDLER_TAKES: Duration = Duration::from_secs(2);

/// The appointment of the one delivery sent.
const BOOKING: &str = "slow-1";

/// A Calendence endpoint, a [`MemoryInbox`], and a [`Worker`] whose only
/// handler sleeps [`HANDLER_TAKES`] and then records the appointment it ran
/// for.
#[derive(Debug)]
pub struct SlowHandler {
    endpoint: Endpoint,
    inbox: Arc<MemoryInbox>,
    worker: Worker,
    finished: Arc<Mutex<Vec<String>>>,
}

impl Default for SlowHandler {
    fn default() -> Self {
        Self::new()
    }
}

impl SlowHandler {
    /// The endpoint, the inbox and the worker, nothing running yet.
    ///
    /// # Panics
    ///
    /// Never with this fixed configuration.
    pub fn new() -> Self {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret("s3cr3t")
            .build()
            .expect("a valid endpoint");
        let finished: Arc<Mutex<Vec<String>>> = Arc::default();
        let dispatcher = Dispatcher::builder(endpoint.clone())
            .fallback({
                let finished = finished.clone();
                move |ctx: Context| {
                    let finished = finished.clone();
                    async move {
                        tokio::time::sleep(HANDLER_TAKES).await;
                        let id = ctx.appointment().map(|a| a.id.clone()).unwrap_or_default();
                        finished.lock().expect("not poisoned").push(id);
                        Ok::<_, HandlerError>(())
                    }
                }
            })
            .build()
            .expect("valid routes");
        let inbox = Arc::new(MemoryInbox::new());
        let worker = Worker::builder(dispatcher, inbox.clone())
            .build()
            .expect("a valid worker");
        Self {
            endpoint,
            inbox,
            worker,
            finished,
        }
    }

    /// The worker: mount its [`ingest`](Worker::ingest) and run it.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// The signed headers and the body of the one delivery to send.
    pub fn request(&self) -> (Vec<(String, String)>, String) {
        let body = format!(
            r#"{{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"{BOOKING}"}}}}"#
        );
        let headers = self
            .endpoint
            .sign(body.as_bytes(), &SignRequest::now())
            .headers;
        (headers, body)
    }

    /// Checks the answer: `200 {"status":"queued","id":1}` in well under the
    /// handler's 2 s, and the handler not finished yet.
    ///
    /// # Panics
    ///
    /// If any of that does not hold.
    pub fn check_ack(&self, status: u16, body: &[u8], took: Duration) {
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(body));
        assert_eq!(body, br#"{"status":"queued","id":1}"#);
        assert!(
            took < Duration::from_secs(1),
            "the ack took {took:?} while the handler takes {HANDLER_TAKES:?}"
        );
        assert!(
            self.finished.lock().expect("not poisoned").is_empty(),
            "acknowledged first"
        );
    }

    /// Waits (10 s at most) for the handler to finish, then checks that it
    /// ran once for the delivery and that its row is done.
    ///
    /// # Panics
    ///
    /// If the handler did not finish in time, or the row is not done.
    pub async fn check_handled(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.finished.lock().expect("not poisoned").is_empty() {
            assert!(Instant::now() < deadline, "the handler never finished");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(*self.finished.lock().expect("not poisoned"), [BOOKING]);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row = self
                .inbox
                .get(InboxId::new(1))
                .await
                .expect("the inbox answers")
                .expect("the row is stored");
            if row.record.state == State::Done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the row stays {:?}",
                row.record.state
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
