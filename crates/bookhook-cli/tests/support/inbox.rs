//! What the inbox tests share: an inbox on each backend, sending, running
//! `bookhook inbox …`, and reading `listen --inbox` lines.

use serde_json::Value;

use super::redis::{RedisServer, start};
use super::{Listener, TempDir, bookhook, run, stderr, stdout};

/// The secret of the Calendence events these tests send.
pub const SECRET: &str = "cal_test_secret";

/// Where an inbox lives.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    /// A SQLite file in the test's directory.
    Sqlite,
    /// A private `redis-server` with `appendonly yes` (a Redis inbox refuses
    /// a server that would forget acknowledged events), one per test.
    Redis,
}

/// A fresh inbox for one test, and what must outlive its users.
pub struct TestInbox {
    /// The URL to pass as `--inbox`.
    pub url: String,
    /// A directory of the test's own, for its files.
    pub dir: TempDir,
    _server: Option<RedisServer>,
}

impl Backend {
    /// A fresh, empty inbox; `None` when Redis cannot run here (outside CI).
    pub fn inbox(self, name: &str) -> Option<TestInbox> {
        let dir = TempDir::new(name);
        match self {
            Backend::Sqlite => Some(TestInbox {
                url: format!("sqlite:{}", dir.0.join("inbox.db").display()),
                dir,
                _server: None,
            }),
            Backend::Redis => {
                let server = start(true)?;
                Some(TestInbox {
                    url: server.url.clone(),
                    dir,
                    _server: Some(server),
                })
            }
        }
    }
}

/// The `send` command for one fresh Calendence `booking.created` to `url`.
pub fn send_command(url: &str) -> std::process::Command {
    let mut command = bookhook();
    command.args(["send", "--provider", "calendence", "--secret", SECRET]);
    command.args(["--url", url, "--event", "booking.created"]);
    command
}

/// Sends one fresh Calendence `booking.created`; returns the status line.
pub fn send(url: &str) -> String {
    let output = run(send_command(url), b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

/// Runs `bookhook inbox ARGS --inbox URL`; returns (exit code, stdout, stderr).
pub fn inbox(url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = bookhook();
    command.arg("inbox").args(args).args(["--inbox", url]);
    let output = run(command, b"");
    (output.status.code(), stdout(&output), stderr(&output))
}

/// Every line of `text` as JSON.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

/// `bookhook listen` for Calendence in inbox mode on `url`, with `extra` flags.
pub fn listen(url: &str, extra: &[&str]) -> Listener {
    let mut args = vec![
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--inbox",
        url,
    ];
    args.extend_from_slice(extra);
    Listener::start(&args)
}

/// The next attempt line of inbox mode (lines that carry `attempt`).
pub fn next_attempt(listener: &Listener) -> Value {
    loop {
        let line = listener.next_line();
        if line.get("attempt").is_some() {
            return line;
        }
    }
}

/// A recorder (`listen --inbox URL` without `--exec`) that has stored
/// `count` fresh events, each marked done; with their keys, in sent order.
pub fn recorded(url: &str, count: usize) -> (Listener, Vec<String>) {
    let recorder = listen(url, &[]);
    let mut keys = Vec::new();
    for _ in 0..count {
        assert!(send(&recorder.url).starts_with("200 "));
        let received = recorder.next_line();
        keys.push(received["key"].as_str().expect("a key").to_owned());
        assert_eq!(next_attempt(&recorder)["outcome"], "processed");
    }
    (recorder, keys)
}
