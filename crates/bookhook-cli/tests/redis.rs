//! `listen --redis`: replicas that share one Redis deduplicate together.
//!
//! The server is the one named by `BOOKHOOK_REDIS_URL`, else a private
//! `redis-server` started on a free loopback port. Without either the test
//! says so and returns, except with `CI=true`, where it fails.

mod support;

use support::redis::shared_or_private;
use support::{Listener, TempDir, bookhook, free_port, run, stderr};

const SECRET: &str = "cal_test_secret";

fn send(url: &str, body: &std::path::Path) -> String {
    let mut command = bookhook();
    command
        .args([
            "send",
            "--provider",
            "calendence",
            "--secret",
            SECRET,
            "--url",
            url,
        ])
        .arg(body);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    support::stdout(&output)
}

#[test]
fn replicas_share_deduplication_through_redis() {
    let Some((url, _server)) = shared_or_private() else {
        return;
    };
    // A key no earlier run has used: the booking id holds the time of this run.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let body = format!(
        r#"{{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"b-redis-{now}-{}"}}}}"#,
        std::process::id()
    );
    let dir = TempDir::new("redis");
    let body_file = dir.file("booking.json", body.as_bytes());

    let args = [
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--redis",
        &url,
    ];
    let first = Listener::start(&args);
    let second = Listener::start(&args);

    assert!(send(&first.url, &body_file).starts_with("200 booking.created "));
    assert_eq!(first.next_line()["outcome"], "handled");
    assert!(send(&second.url, &body_file).starts_with("200 booking.created "));
    assert_eq!(second.next_line()["outcome"], "duplicate");

    assert!(first.terminate().success());
    assert!(second.terminate().success());
}

#[test]
fn unreachable_redis_is_a_clear_failure() {
    let port = free_port();
    let mut command = bookhook();
    command.args([
        "listen",
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--addr",
        &format!("127.0.0.1:{}", free_port()),
        "--redis",
        &format!("redis://:hunter2@127.0.0.1:{port}"),
    ]);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot use redis"),
        "{}",
        stderr(&output)
    );
    assert!(
        !stderr(&output).contains("hunter2"),
        "the url's password was printed"
    );

    let mut command = bookhook();
    command.args([
        "listen",
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--redis",
        "127.0.0.1:6379",
    ]);
    assert_eq!(run(command, b"").status.code(), Some(2));
}
