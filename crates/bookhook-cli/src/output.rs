//! `listen`'s standard output: one JSON line per request or attempt, written
//! in order by one thread that flushes whenever no other line is waiting.
//!
//! A line is rendered on the request's task (into one `String`, with no map in
//! between) and handed over a channel; the writer thread buffers what is
//! waiting and flushes once the channel is empty. When requests come one at a
//! time every line is flushed at once, as before; under load, the lines of
//! many requests share one `write` call instead of taking one each, which the
//! request path would otherwise wait on (`bench/inbox.sh`, target l).

use std::io::Write;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use bookhook::{Delivery, Outcome};
use serde::Serialize;

/// What the writer thread is given.
enum Message {
    Line(String),
    /// Answered once every line sent before it is written and flushed.
    Flush(mpsc::Sender<()>),
}

/// The sending side: cheap to clone, one per place that prints.
#[derive(Clone)]
pub(crate) struct Lines {
    sender: mpsc::Sender<Message>,
}

/// The writer thread, to wait for at the end.
pub(crate) struct Writer {
    lines: Lines,
    thread: JoinHandle<()>,
}

impl Lines {
    /// Starts the writer thread on standard output.
    pub(crate) fn start() -> Writer {
        Self::start_on(std::io::stdout())
    }

    fn start_on<W: Write + Send + 'static>(out: W) -> Writer {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("bookhook-output".into())
            .spawn(move || write_loop(out, &receiver))
            .expect("the output thread starts");
        Writer {
            lines: Lines { sender },
            thread,
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
    pub(crate) fn flush(&self, timeout: Duration) {
        let (done, written) = mpsc::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = written.recv_timeout(timeout);
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
    pub(crate) fn finish(self, timeout: Duration) {
        self.lines.flush(timeout);
        drop(self.lines);
        if self.thread.is_finished() {
            let _ = self.thread.join();
        }
    }
}

fn write_loop<W: Write>(out: W, receiver: &mpsc::Receiver<Message>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut broken = false;
    while let Ok(first) = receiver.recv() {
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

    #[test]
    fn lines_are_written_whole_and_in_order() {
        let kept = Kept::default();
        let writer = Lines::start_on(kept.clone());
        let lines = writer.lines();
        for i in 0..1000 {
            lines.print(format!("{{\"n\":{i}}}"));
        }
        writer.finish(Duration::from_secs(5));
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

    #[test]
    fn flush_returns_once_earlier_lines_are_out() {
        let kept = Kept::default();
        let writer = Lines::start_on(kept.clone());
        writer.lines().print("first".into());
        writer.lines().flush(Duration::from_secs(5));
        assert_eq!(&*kept.bytes.lock().unwrap(), b"first\n");
        writer.finish(Duration::from_secs(5));
    }

    #[test]
    fn unavailable_is_printed_as_failed() {
        let unavailable = Outcome::StoreUnavailable(bookhook::StoreError::Unavailable {
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
        let finished = endpoint.reject(bookhook::Rejection::MethodNotAllowed);
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
        let outcome = Outcome::Rejected(bookhook::Rejection::MethodNotAllowed);
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
