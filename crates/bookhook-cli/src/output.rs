//! `listen`'s standard output: one JSON line per request or attempt, written
//! in order by one task that flushes whenever no other line is waiting.
//!
//! A line is rendered on the request's task (into one `String`, with no map in
//! between) and handed over a channel to the writer task, on the same runtime.
//! The writer takes every line waiting, writes them, and flushes once the
//! channel is empty. When requests come one at a time every line is flushed
//! at once, as before; under load, the lines of many requests share one
//! `write` call instead of taking one each on the request path. A task rather
//! than a thread: waking a thread for every line cost a context switch per
//! request (`bench/inbox.sh`, target l, and BENCHMARKS.md).

use std::io::Write;
use std::time::Duration;

use bookhook::{Delivery, Outcome};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What the writer task is given.
enum Message {
    Line(String),
    /// Answered once every line sent before it is written and flushed.
    Flush(oneshot::Sender<()>),
}

/// The sending side: cheap to clone, one per place that prints.
#[derive(Clone)]
pub(crate) struct Lines {
    sender: mpsc::UnboundedSender<Message>,
}

/// The writer task, to wait for at the end.
pub(crate) struct Writer {
    lines: Lines,
    task: JoinHandle<()>,
}

impl Lines {
    /// Starts the writer task on standard output. Needs a Tokio runtime.
    pub(crate) fn start() -> Writer {
        Self::start_on(std::io::stdout())
    }

    fn start_on<W: Write + Send + 'static>(out: W) -> Writer {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_loop(out, receiver));
        Writer {
            lines: Lines { sender },
            task,
        }
    }

    /// Queues one line (its text without the newline).
    pub(crate) fn print(&self, line: String) {
        // The writer only stops once every sender is gone.
        let _ = self.sender.send(Message::Line(line));
    }

    /// Queues `value` as one JSON line.
    pub(crate) fn print_json(&self, value: &impl Serialize) {
        match serde_json::to_string(value) {
            Ok(line) => self.print(line),
            Err(err) => eprintln!("error: cannot render an output line: {err}"),
        }
    }

    /// Waits (at most `timeout`) until every line queued so far is written.
    pub(crate) async fn flush(&self, timeout: Duration) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = tokio::time::timeout(timeout, written).await;
        }
    }
}

impl Writer {
    /// A sender for this writer.
    pub(crate) fn lines(&self) -> Lines {
        self.lines.clone()
    }

    /// Writes what is queued and waits (at most `timeout`) for it to reach
    /// standard output. Senders still held elsewhere (a request cut off at
    /// shutdown) do not hold this up.
    pub(crate) async fn finish(self, timeout: Duration) {
        self.lines.flush(timeout).await;
        drop(self.lines);
        if self.task.is_finished() {
            let _ = self.task.await;
        }
    }
}

async fn write_loop<W: Write>(out: W, mut receiver: mpsc::UnboundedReceiver<Message>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut broken = false;
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        // Everything already waiting goes into the buffer before one flush.
        while let Some(message) = next {
            match message {
                Message::Line(line) => {
                    if !broken {
                        let written = out
                            .write_all(line.as_bytes())
                            .and_then(|()| out.write_all(b"\n"));
                        if let Err(err) = written {
                            broken = report(err);
                        }
                    }
                }
                Message::Flush(done) => {
                    if !broken && let Err(err) = out.flush() {
                        broken = report(err);
                    }
                    let _ = done.send(());
                }
            }
            next = receiver.try_recv().ok();
        }
        if !broken && let Err(err) = out.flush() {
            broken = report(err);
        }
    }
    if !broken {
        let _ = out.flush();
    }
}

/// Says once that standard output is gone; later lines are dropped.
fn report(err: std::io::Error) -> bool {
    eprintln!("error: cannot write to standard output: {err}");
    true
}

/// The line of one request. Its fields are in the order in which the line
/// has always printed them (alphabetical), since scripts may compare lines.
#[derive(Serialize)]
pub(crate) struct RequestLine<'a> {
    appointment_id: Option<&'a str>,
    error: Option<String>,
    event: Option<&'a str>,
    /// Only in inbox mode, where it is the inbox id or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<Option<u64>>,
    key: Option<&'a str>,
    kind: Option<&'static str>,
    outcome: &'static str,
    provider: &'static str,
    starts_at: Option<String>,
    status: u16,
}

impl<'a> RequestLine<'a> {
    /// The line of a request answered with `status` after `outcome`.
    pub(crate) fn new(
        provider: bookhook::Provider,
        delivery: Option<&'a Delivery>,
        outcome: &Outcome,
        status: u16,
    ) -> Self {
        Self {
            appointment_id: delivery.and_then(Delivery::appointment_id),
            error: error_of(outcome),
            event: delivery.map(Delivery::event_type),
            id: None,
            key: delivery.map(Delivery::idempotency_key),
            kind: delivery.map(|d| d.kind().as_str()),
            outcome: outcome_name(outcome),
            provider: provider.as_str(),
            starts_at: delivery
                .and_then(Delivery::appointment)
                .and_then(|a| a.starts_at)
                .map(|t| t.to_string()),
            status,
        }
    }

    /// The same line with the inbox id field (inbox mode).
    pub(crate) fn with_id(mut self, id: Option<u64>) -> Self {
        self.id = Some(id);
        self
    }
}

/// The outcome as printed: the core's name, with `unavailable` shown as `failed`.
fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::StoreUnavailable(_) | Outcome::InboxUnavailable(_) => "failed",
        other => other.as_str(),
    }
}

/// Why a request was refused or failed, if it was.
fn error_of(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Rejected(rejection) => Some(rejection.to_string()),
        Outcome::Failed(err) => Some(err.to_string()),
        Outcome::StoreUnavailable(err) => Some(err.to_string()),
        Outcome::InboxUnavailable(err) => Some(err.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A `Write` that keeps what it is given and counts the flushes.
    #[derive(Clone, Default)]
    struct Kept {
        bytes: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Kept {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn lines_are_written_whole_and_in_order() {
        let kept = Kept::default();
        let writer = Lines::start_on(kept.clone());
        let lines = writer.lines();
        for i in 0..1000 {
            lines.print(format!("{{\"n\":{i}}}"));
        }
        writer.finish(Duration::from_secs(5)).await;
        let text = String::from_utf8(kept.bytes.lock().unwrap().clone()).unwrap();
        let numbers: Vec<usize> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                    .as_u64()
                    .unwrap() as usize
            })
            .collect();
        assert_eq!(numbers, (0..1000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn flush_returns_once_earlier_lines_are_out() {
        let kept = Kept::default();
        let writer = Lines::start_on(kept.clone());
        writer.lines().print("first".into());
        writer.lines().flush(Duration::from_secs(5)).await;
        assert_eq!(&*kept.bytes.lock().unwrap(), b"first\n");
        writer.finish(Duration::from_secs(5)).await;
    }

    #[test]
    fn unavailable_is_printed_as_failed() {
        let unavailable =
            Outcome::StoreUnavailable(bookhook::idempotency::StoreError::Unavailable {
                reason: "connection refused".into(),
            });
        assert_eq!(outcome_name(&unavailable), "failed");
        assert!(
            error_of(&unavailable)
                .unwrap()
                .contains("connection refused")
        );
        assert_eq!(outcome_name(&Outcome::Duplicate), "duplicate");
        assert_eq!(error_of(&Outcome::Handled), None);
    }

    #[test]
    fn rejections_are_printed_with_their_reason() {
        let endpoint = bookhook::Endpoint::builder(bookhook::Provider::Calendence)
            .secret("s")
            .build()
            .unwrap();
        let finished = endpoint.reject(bookhook::endpoint::Rejection::MethodNotAllowed);
        let line = RequestLine::new(
            bookhook::Provider::Calendence,
            finished.delivery().map(|d| d.as_ref()),
            finished.outcome(),
            finished.status(),
        );
        let value = serde_json::to_value(&line).unwrap();
        assert_eq!(value["outcome"], "rejected");
        assert_eq!(value["status"], 405);
        assert_eq!(value["event"], serde_json::Value::Null);
        assert!(
            value["error"]
                .as_str()
                .unwrap()
                .contains("method not allowed")
        );
    }

    #[test]
    fn request_line_keeps_the_fields_in_their_printed_order() {
        let outcome = Outcome::Rejected(bookhook::endpoint::Rejection::MethodNotAllowed);
        let line = RequestLine::new(bookhook::Provider::Calendence, None, &outcome, 401);
        let text = serde_json::to_string(&line).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        // The order serde_json's own map prints, which is what listen printed.
        assert_eq!(text, value.to_string());
        assert_eq!(value["outcome"], "rejected");
        assert!(value.get("id").is_none());
        let with_id = serde_json::to_string(&line.with_id(None)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&with_id).unwrap();
        assert_eq!(with_id, value.to_string());
        assert!(value["id"].is_null());
    }
}
