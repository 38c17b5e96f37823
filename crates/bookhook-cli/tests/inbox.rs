//! `listen --inbox` and `bookhook inbox …` with real processes and sockets on
//! 127.0.0.1. Every test that stores events runs twice: on a SQLite inbox
//! (`sqlite::NAME`) and on a Redis inbox (`redis::NAME`, a private
//! `redis-server` with `appendonly yes`; without one the Redis half says so
//! and returns, except with `CI=true`, where it fails).

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::inbox::{Backend, SECRET, inbox, json_lines, listen, next_attempt, recorded, send};
use support::{Listener, TempDir, bookhook, run, stderr};

/// Runs each named test, a function of a [`Backend`], once per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite);
            })*
        }
        mod redis {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Redis);
            })*
        }
    };
}

on_both_backends!(
    answers_once_stored_while_a_slow_command_runs_in_the_background,
    acknowledged_events_run_after_listen_is_killed_and_started_again,
    a_command_failing_twice_then_succeeding_is_retried_until_processed,
    a_dead_event_is_listed_and_replayed_after_the_command_is_fixed,
    list_and_show_agree_and_a_recorder_marks_events_done,
    replay_to_redelivers_stored_events_signed_with_a_new_secret,
    sigterm_lets_the_running_command_finish_in_inbox_mode,
    a_repeated_delivery_is_stored_once_and_answered_duplicate_with_its_id,
);

fn answers_once_stored_while_a_slow_command_runs_in_the_background(backend: Backend) {
    let Some(under_test) = backend.inbox("inbox-fast-ack") else {
        return;
    };
    let url = under_test.url.as_str();
    let listener = listen(url, &["--exec", "sleep 2"]);

    let started = Instant::now();
    let line = send(&listener.url);
    let took = started.elapsed();
    assert!(line.starts_with("200 booking.created "), "{line}");
    assert!(took < Duration::from_secs(1), "answered after {took:?}");

    let received = listener.next_line();
    assert_eq!(received["outcome"], "queued");
    assert_eq!(received["status"], 200);
    let id = received["id"].as_u64().expect("a numeric inbox id");
    assert_eq!(received["event"], "booking.created");

    let attempt = next_attempt(&listener);
    assert_eq!(attempt["id"], id);
    assert_eq!(attempt["attempt"], 1);
    assert_eq!(attempt["outcome"], "processed");
    assert_eq!(attempt["kind"], "created");
    assert_eq!(attempt["appointment_id"], received["appointment_id"]);
    assert_eq!(attempt["key"], received["key"]);
    assert_eq!(attempt["next_attempt_at"], Value::Null);
    assert_eq!(attempt["error"], Value::Null);
}

fn acknowledged_events_run_after_listen_is_killed_and_started_again(backend: Backend) {
    let Some(under_test) = backend.inbox("inbox-kill") else {
        return;
    };
    let (url, dir) = (under_test.url.as_str(), &under_test.dir);
    let ran = dir.0.join("ran.txt");
    let slow = format!(
        "sleep 1; printf '%s\\n' \"$BOOKHOOK_KEY\" >> '{}'",
        ran.display()
    );
    let mut first = listen(
        url,
        &["--workers", "1", "--handler-timeout", "3s", "--exec", &slow],
    );
    let mut keys = BTreeSet::new();
    for _ in 0..4 {
        assert!(send(&first.url).starts_with("200 "));
        let received = first.next_line();
        assert_eq!(received["outcome"], "queued", "{received}");
        keys.insert(received["key"].as_str().expect("a key").to_owned());
    }
    // SIGKILL: no shutdown, at most one command had time to start.
    first.child.kill().expect("listen is killed");
    first.child.wait().expect("listen is reaped");
    let before = std::fs::read_to_string(&ran).unwrap_or_default();
    assert!(
        before.lines().count() < keys.len(),
        "every command ran before the kill"
    );

    let fast = format!("printf '%s\\n' \"$BOOKHOOK_KEY\" >> '{}'", ran.display());
    let second = listen(url, &["--exec", &fast]);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let seen: BTreeSet<String> = std::fs::read_to_string(&ran)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        if keys.is_subset(&seen) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged events never ran: {:?}",
            keys.difference(&seen).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(second);
}

fn a_command_failing_twice_then_succeeding_is_retried_until_processed(backend: Backend) {
    let Some(under_test) = backend.inbox("inbox-retry") else {
        return;
    };
    let (url, dir) = (under_test.url.as_str(), &under_test.dir);
    let counter = dir.0.join("count");
    let command = format!(
        "n=$(cat '{0}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{0}'; [ $n -ge 3 ]",
        counter.display()
    );
    let listener = listen(
        url,
        &[
            "--retry-schedule",
            "200ms,300ms",
            "--max-attempts",
            "5",
            "--exec",
            &command,
        ],
    );
    assert!(send(&listener.url).starts_with("200 "));
    let received = listener.next_line();
    let id = received["id"].clone();

    for (number, outcome) in [(1, "retrying"), (2, "retrying"), (3, "processed")] {
        let attempt = next_attempt(&listener);
        assert_eq!(attempt["id"], id);
        assert_eq!(attempt["attempt"], number, "{attempt}");
        assert_eq!(attempt["outcome"], outcome, "{attempt}");
        if outcome == "retrying" {
            assert!(attempt["next_attempt_at"].is_string(), "{attempt}");
            assert!(
                attempt["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("exit status: 1"),
                "{attempt}"
            );
        } else {
            assert_eq!(attempt["next_attempt_at"], Value::Null);
            assert_eq!(attempt["error"], Value::Null);
        }
    }
}

fn a_dead_event_is_listed_and_replayed_after_the_command_is_fixed(backend: Backend) {
    let Some(under_test) = backend.inbox("inbox-dead") else {
        return;
    };
    let (url, dir) = (under_test.url.as_str(), &under_test.dir);
    let fixed = dir.0.join("fixed");
    let command = format!("test -e '{}'", fixed.display());
    let listener = listen(
        url,
        &[
            "--retry-schedule",
            "100ms",
            "--max-attempts",
            "2",
            "--exec",
            &command,
        ],
    );
    assert!(send(&listener.url).starts_with("200 "));
    let id = listener.next_line()["id"].as_u64().expect("an inbox id");
    assert_eq!(next_attempt(&listener)["outcome"], "retrying");
    let dead = next_attempt(&listener);
    assert_eq!(dead["outcome"], "dead");
    assert_eq!(dead["attempt"], 2);

    let (code, out, err) = inbox(url, &["list", "--state", "dead", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["id"], id);
    assert_eq!(rows[0]["state"], "dead");
    assert_eq!(rows[0]["attempts"], 2);
    assert!(rows[0]["last_error"].is_string());
    // The table for people names the row too.
    let (_, table, _) = inbox(url, &["list", "--state", "dead"]);
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains(" dead "), "{table}");

    // Counting changes nothing.
    let (code, out, _) = inbox(url, &["replay", &id.to_string(), "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("would replay 1 event"), "{out}");
    assert!(listener.line_within(Duration::from_millis(500)).is_none());

    std::fs::write(&fixed, b"").expect("the fix");
    let (code, out, err) = inbox(url, &["replay", &id.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("replayed 1 event"), "{out}");
    let replayed = next_attempt(&listener);
    assert_eq!(replayed["id"], id);
    assert_eq!(replayed["attempt"], 3);
    assert_eq!(replayed["outcome"], "processed");

    let (code, out, _) = inbox(url, &["show", &id.to_string(), "--json"]);
    assert_eq!(code, Some(0));
    let shown: Value = serde_json::from_str(out.trim()).expect("one json object");
    assert_eq!(shown["state"], "done");
    let attempts = shown["attempts"].as_array().expect("a list of attempts");
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["retrying", "dead", "processed"]);
    assert_eq!(attempts[2]["trigger"], "manual");
    assert_eq!(attempts[0]["trigger"], "automatic");
}

fn list_and_show_agree_and_a_recorder_marks_events_done(backend: Backend) {
    let Some(under_test) = backend.inbox("inbox-agree") else {
        return;
    };
    let url = under_test.url.as_str();
    let listener = listen(url, &[]);
    for _ in 0..2 {
        assert!(send(&listener.url).starts_with("200 "));
        assert_eq!(listener.next_line()["outcome"], "queued");
        assert_eq!(next_attempt(&listener)["outcome"], "processed");
    }

    let (code, out, err) = inbox(url, &["list", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0]["id"].as_u64() > rows[1]["id"].as_u64(),
        "newest first"
    );
    for row in &rows {
        let (code, out, _) = inbox(url, &["show", &row["id"].to_string(), "--json"]);
        assert_eq!(code, Some(0));
        let shown: Value = serde_json::from_str(out.trim()).expect("one json object");
        for (field, value) in row.as_object().expect("an object") {
            if field == "attempts" {
                // A count in `list`, the attempts themselves in `show`.
                let listed = shown[field].as_array().expect("a list of attempts").len();
                assert_eq!(Some(listed as u64), value.as_u64());
            } else {
                assert_eq!(&shown[field], value, "{field}");
            }
        }
        assert_eq!(row["state"], "done");
        let body: Value = serde_json::from_str(shown["body"].as_str().expect("the body"))
            .expect("the stored body is the JSON sent");
        assert_eq!(body["event"], "booking.created");
        assert_eq!(
            shown["headers"]["x-calendence-signature"]
                .as_str()
                .map(|s| s.starts_with("sha256=")),
            Some(true),
            "{shown}"
        );
    }

    let (_, out, _) = inbox(url, &["list", "--json", "--limit", "1"]);
    assert_eq!(json_lines(&out).len(), 1);
    let (_, out, _) = inbox(url, &["list", "--json", "--since", "1h"]);
    assert_eq!(json_lines(&out).len(), 2);
    let (_, out, _) = inbox(url, &["list", "--json", "--since", "2999-01-01T00:00:00Z"]);
    assert!(out.is_empty(), "{out}");

    let (code, out, _) = inbox(url, &["stats", "--json"]);
    assert_eq!(code, Some(0));
    let stats: Value = serde_json::from_str(out.trim()).expect("one json object");
    assert_eq!(
        stats,
        serde_json::json!({"pending":0,"processing":0,"done":2,"dead":0,"oldest_pending_age_s":null})
    );

    let (code, out, _) = inbox(url, &["purge", "--state", "done", "--yes"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("purged 2 events"), "{out}");
    let (_, out, _) = inbox(url, &["list", "--json"]);
    assert!(out.is_empty(), "{out}");
}

#[test]
fn inbox_errors_name_the_inbox_and_exit_1_or_2() {
    let dir = TempDir::new("inbox-errors");
    let missing = format!("sqlite:{}", dir.0.join("missing.db").display());
    let (code, _, err) = inbox(&missing, &["list"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&missing) && err.contains("does not exist"),
        "{err}"
    );

    // Nothing listens on port 1: a failure that names the inbox without its password.
    let (code, _, err) = inbox("redis://user:hunter2@127.0.0.1:1", &["stats"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("redis://user:***@127.0.0.1:1"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let (code, _, err) = inbox("mysql://db/x", &["stats"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("sqlite:PATH"), "{err}");

    // An existing inbox, made by a recorder.
    let url = format!("sqlite:{}", dir.0.join("inbox.db").display());
    drop(listen(&url, &[]));
    let (code, _, err) = inbox(&url, &["show", "99"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("99") && err.contains(&url), "{err}");
    let (code, _, _) = inbox(&url, &["show", "abc"]);
    assert_eq!(code, Some(2));
    let (code, _, _) = inbox(&url, &["list", "--since", "yesterday"]);
    assert_eq!(code, Some(2));
    let (code, _, _) = inbox(&url, &["purge", "--yes"]);
    assert_eq!(code, Some(2), "purge needs --state or --before");

    // BOOKHOOK_INBOX names the inbox when --inbox is not given.
    let mut command = bookhook();
    command
        .args(["inbox", "stats", "--json"])
        .env("BOOKHOOK_INBOX", &url);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // Without either, sqlite:bookhook-inbox.db in the current directory.
    let mut command = bookhook();
    command
        .args(["inbox", "stats"])
        .env_remove("BOOKHOOK_INBOX")
        .current_dir(&dir.0);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("sqlite:bookhook-inbox.db"),
        "{}",
        stderr(&output)
    );

    // The worker flags need inbox mode.
    let mut command = bookhook();
    command.args([
        "listen",
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--workers",
        "2",
    ]);
    assert_eq!(run(command, b"").status.code(), Some(2));
    let mut command = bookhook();
    command.args([
        "listen",
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--inbox",
        &url,
        "--retry-schedule",
        "5,1m",
    ]);
    assert_eq!(run(command, b"").status.code(), Some(2));
}

fn replay_to_redelivers_stored_events_signed_with_a_new_secret(backend: Backend) {
    let Some(under_test) = backend.inbox("inbox-replay-to") else {
        return;
    };
    let url = under_test.url.as_str();
    let (_recorder, keys) = recorded(url, 2);
    let (_, before, _) = inbox(url, &["list", "--json"]);

    let local = Listener::start(&["--provider", "calendence", "--secret", "local-secret"]);
    let (code, out, err) = inbox(
        url,
        &[
            "replay",
            "--state",
            "done",
            "--to",
            &local.url,
            "--secret",
            "local-secret",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let expected: Vec<String> = keys
        .iter()
        .map(|key| format!("200 booking.created {key}"))
        .collect();
    assert_eq!(lines, expected, "in received order");
    for key in &keys {
        let delivered = local.next_line();
        assert_eq!(delivered["outcome"], "handled", "{delivered}");
        assert_eq!(delivered["key"], key.as_str());
    }
    // The inbox is left as it was.
    let (_, after, _) = inbox(url, &["list", "--json"]);
    assert_eq!(before, after);

    // Signed with a secret the receiver does not know: refused, exit 1.
    let first_id = json_lines(&before)[1]["id"].to_string();
    let (code, out, _) = inbox(
        url,
        &["replay", &first_id, "--to", &local.url, "--secret", "wrong"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("401 booking.created "), "{out}");
}

fn sigterm_lets_the_running_command_finish_in_inbox_mode(backend: Backend) {
    let Some(under_test) = backend.inbox("inbox-sigterm") else {
        return;
    };
    let url = under_test.url.as_str();
    let listener = listen(url, &["--exec", "sleep 1"]);
    assert!(send(&listener.url).starts_with("200 "));
    assert_eq!(listener.next_line()["outcome"], "queued");
    std::thread::sleep(Duration::from_millis(200));
    listener.sigterm();
    let attempt = next_attempt(&listener);
    assert_eq!(attempt["outcome"], "processed", "{attempt}");
    assert_eq!(listener.wait().code(), Some(0));
    let (_, out, _) = inbox(url, &["stats", "--json"]);
    let stats: Value = serde_json::from_str(out.trim()).expect("one json object");
    assert_eq!(stats["done"], 1, "{stats}");
}

fn a_repeated_delivery_is_stored_once_and_answered_duplicate_with_its_id(backend: Backend) {
    let Some(under_test) = backend.inbox("inbox-duplicate") else {
        return;
    };
    let url = under_test.url.as_str();
    let listener = listen(url, &[]);
    let mut command = bookhook();
    command.args([
        "send",
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--url",
        &listener.url,
        "--event",
        "booking.created",
        "--repeat",
        "2",
    ]);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mut requests = Vec::new();
    while requests.len() < 2 {
        let line = listener.next_line();
        if line.get("attempt").is_none() {
            requests.push(line);
        }
    }
    assert_eq!(requests[0]["outcome"], "queued", "{requests:?}");
    assert_eq!(requests[1]["outcome"], "duplicate", "{requests:?}");
    // The duplicate names the row that holds the first copy.
    assert!(requests[0]["id"].is_u64(), "{requests:?}");
    assert_eq!(requests[1]["id"], requests[0]["id"], "{requests:?}");
    let (_, out, _) = inbox(url, &["list", "--json"]);
    assert_eq!(json_lines(&out).len(), 1);
}
