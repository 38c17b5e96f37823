//! Running the `bookhook` binary as a real process, with every wait bounded.

#![allow(dead_code, unreachable_pub)]

pub mod inbox;
pub mod redis;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest any one command of a test may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary under test, with no secret inherited from the environment.
pub fn bookhook() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bookhook"));
    command.env_remove("BOOKHOOK_SECRET").env_remove("RUST_LOG");
    command
}

/// Runs `command` to completion with `input` on stdin; kills it and fails
/// the test if it takes longer than [`COMMAND_TIMEOUT`].
pub fn run(mut command: Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bookhook binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        // The command may exit without reading everything: ignore a closed pipe.
        let _ = stdin.write_all(&input);
    });
    let stdout = reader(child.stdout.take().expect("stdout is piped"));
    let stderr = reader(child.stderr.take().expect("stderr is piped"));
    let status = wait_bounded(&mut child, COMMAND_TIMEOUT)
        .unwrap_or_else(|| panic!("{command:?} did not finish within {COMMAND_TIMEOUT:?}"));
    let _ = writer.join();
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn reader(mut source: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut out = Vec::new();
        let _ = source.read_to_end(&mut out);
        out
    })
}

/// Waits for `child` at most `timeout`; kills it and returns `None` past that.
pub fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Text of a command's stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Text of a command's stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "bookhook-cli-{name}-{}-{nanos}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a temporary directory");
        Self(path)
    }

    pub fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("a temporary file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `bookhook listen`: its stdout and stderr lines arrive on
/// channels. Dropping it kills the process.
pub struct Listener {
    pub child: Child,
    pub url: String,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Listener {
    /// Starts `bookhook listen` with `args` on a free port of 127.0.0.1 and
    /// waits for its `listening on` line. A port taken by someone else in the
    /// meantime is retried with another.
    pub fn start(args: &[&str]) -> Self {
        let mut seen = Vec::new();
        for _ in 0..3 {
            match Self::try_start(args) {
                Ok(listener) => return listener,
                Err(stderr) => seen.push(stderr),
            }
        }
        panic!("bookhook listen did not start: {seen:?}");
    }

    fn try_start(args: &[&str]) -> Result<Self, Vec<String>> {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = bookhook()
            .arg("listen")
            .args(args)
            .args(["--addr", &addr, "--path", "/webhook"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bookhook listen starts");
        let stdout = lines(child.stdout.take().expect("stdout is piped"));
        let stderr = lines(child.stderr.take().expect("stderr is piped"));
        let mut listener = Self {
            child,
            url: format!("http://{addr}/webhook"),
            stdout,
            stderr,
        };
        let expected = format!("listening on {}", listener.url);
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let mut said = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match listener.stderr.recv_timeout(left) {
                Ok(line) if line.contains(&expected) => return Ok(listener),
                Ok(line) => said.push(line),
                Err(err) => {
                    let _ = listener.child.kill();
                    said.push(format!("no `{expected}` line on stderr: {err:?}"));
                    return Err(said);
                }
            }
        }
    }

    /// The next JSON line on stdout, within `COMMAND_TIMEOUT`.
    pub fn next_line(&self) -> serde_json::Value {
        match self.stdout.recv_timeout(COMMAND_TIMEOUT) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|err| panic!("not a json line: {line:?}: {err}")),
            Err(RecvTimeoutError::Timeout) => panic!("no line on stdout in time"),
            Err(RecvTimeoutError::Disconnected) => panic!("listen closed its stdout"),
        }
    }

    /// Whether a line arrives within `wait` (there should be none).
    pub fn line_within(&self, wait: Duration) -> Option<String> {
        self.stdout.recv_timeout(wait).ok()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(self) -> std::process::ExitStatus {
        self.sigterm();
        self.wait()
    }

    /// Sends SIGTERM, with the `kill` command.
    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("the kill command runs");
        assert!(sent.success(), "kill -TERM {pid} failed");
    }

    /// Waits for the process to exit, within `COMMAND_TIMEOUT`.
    pub fn wait(mut self) -> std::process::ExitStatus {
        wait_bounded(&mut self.child, COMMAND_TIMEOUT).expect("listen stops after SIGTERM")
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn lines(source: impl Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = channel();
    thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// A port that was free a moment ago: bind port 0, read it, let it go.
pub fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    socket.local_addr().expect("a bound address").port()
}
