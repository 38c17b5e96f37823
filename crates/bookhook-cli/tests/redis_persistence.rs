//! `listen --redis` says once, on stderr, when Redis keeps nothing across a
//! restart, and says nothing when it keeps an append-only file; `listen
//! --inbox redis://…` stores and handles events, and refuses a Redis without
//! an append-only file.
//!
//! The server without persistence is the one named by `BOOKHOOK_REDIS_URL`
//! (CI starts it with `.ci/redis.sh`, without persistence) when it has none,
//! else a private `redis-server`. Without `redis-server` the test says so and
//! returns, except with `CI=true`, where it fails.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::redis::start;
use support::{bookhook, free_port};

const WARNING: &str = "redis keeps nothing across a restart";

/// Runs `listen --redis url` until it is listening, then stops it; returns
/// the stderr lines written before `listening on`.
fn startup_lines(url: &str) -> Vec<String> {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = bookhook()
        .args(["listen", "--provider", "calendence", "--secret", "s"])
        .args(["--addr", &addr, "--redis", url])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bookhook listen starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut before = Vec::new();
    let deadline = Instant::now() + support::COMMAND_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("listening on") => break,
            Ok(line) => before.push(line),
            Err(err) => {
                let _ = child.kill();
                panic!("listen did not start: {err:?}; stderr: {before:?}");
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    before
}

#[test]
fn listen_warns_once_when_redis_keeps_nothing() {
    // The shared test server when it runs without persistence (as in CI),
    // else a private one.
    let shared = std::env::var("BOOKHOOK_REDIS_URL")
        .ok()
        .filter(|url| !url.trim().is_empty());
    let private;
    let url = match shared {
        Some(url) if !keeps_anything(&url) => url,
        _ => {
            let Some(server) = start(false) else {
                return;
            };
            private = server;
            private.url.clone()
        }
    };
    let lines = startup_lines(&url);
    let warnings: Vec<&String> = lines.iter().filter(|l| l.contains(WARNING)).collect();
    assert_eq!(warnings.len(), 1, "{lines:?}");
    assert!(warnings[0].contains("WARN"), "{lines:?}");
    assert!(warnings[0].contains("appendonly yes"), "{lines:?}");
}

#[test]
fn listen_says_nothing_when_redis_keeps_an_append_only_file() {
    let Some(server) = start(true) else {
        return;
    };
    let lines = startup_lines(&server.url);
    assert!(
        lines.iter().all(|line| !line.contains(WARNING)),
        "{lines:?}"
    );
}

/// Whether the server at `url` has the AOF on or snapshot rules, asked with
/// `CONFIG GET` over a plain socket.
fn keeps_anything(url: &str) -> bool {
    let Some(port) = url
        .strip_prefix("redis://127.0.0.1:")
        .and_then(|rest| rest.trim_end_matches('/').parse::<u16>().ok())
    else {
        // Not a plain loopback url: do not rely on it.
        return true;
    };
    let ask = |name: &str| -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.write_all(format!("CONFIG GET {name}\r\nQUIT\r\n").as_bytes());
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply
    };
    // `*2 $10 appendonly $3 yes` or `$2 no`; `save` with an empty value is `$0`.
    ask("appendonly").contains("\r\nyes\r\n") || !ask("save").contains("$4\r\nsave\r\n$0\r\n")
}

/// POSTs one signed Calendence event to `url` with `bookhook send`; returns its output.
fn send_one(url: &str, secret: &str) -> String {
    let mut command = bookhook();
    command.args(["send", "--provider", "calendence", "--secret", secret]);
    command.args(["--url", url, "--event", "booking.created"]);
    let output = support::run(command, b"");
    support::stdout(&output)
}

#[test]
fn listen_with_a_redis_inbox_stores_then_runs_the_command() {
    let Some(server) = start(true) else {
        return;
    };
    let listener = support::Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        "s",
        "--inbox",
        &server.url,
        "--exec",
        "true",
    ]);
    assert!(send_one(&listener.url, "s").starts_with("200 "));
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let line = listener.next_line();
        let kind = if line.get("attempt").is_some() {
            "attempt"
        } else {
            "request"
        };
        outcomes.push(format!(
            "{kind}:{}",
            line["outcome"].as_str().unwrap_or_default()
        ));
    }
    outcomes.sort();
    assert_eq!(outcomes, ["attempt:processed", "request:queued"]);
    assert!(listener.terminate().success());
}

#[test]
fn listen_refuses_a_redis_inbox_without_an_append_only_file() {
    let Some(server) = start(false) else {
        return;
    };
    let mut command = bookhook();
    command.args(["listen", "--provider", "calendence", "--secret", "s"]);
    command.args(["--addr", &format!("127.0.0.1:{}", free_port())]);
    command.args(["--inbox", &server.url]);
    let output = support::run(command, b"");
    assert_eq!(output.status.code(), Some(1));
    let stderr = support::stderr(&output);
    assert!(stderr.contains(&server.url), "{stderr}");
    assert!(stderr.contains("appendonly"), "{stderr}");
}
