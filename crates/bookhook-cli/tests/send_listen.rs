//! `send` to a running `listen`, over real sockets on 127.0.0.1.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::{Listener, TempDir, bookhook, run, stderr, stdout};

const SECRET: &str = "cal_test_secret";

fn calendence_body() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../bookhook/fixtures/payloads/calendence/booking.created.json");
    std::fs::read(path).expect("the calendence fixture")
}

/// Runs `bookhook send` for calendence and returns (exit code, stdout lines).
fn send(url: &str, secret: &str, extra: &[&str]) -> (Option<i32>, Vec<String>) {
    let mut command = bookhook();
    command
        .args([
            "send",
            "--provider",
            "calendence",
            "--secret",
            secret,
            "--url",
            url,
        ])
        .args(extra);
    let output = run(command, b"");
    let lines = stdout(&output).lines().map(str::to_owned).collect();
    (output.status.code(), lines)
}

/// `<status> <event type> <key>` split in three.
fn fields(line: &str) -> (String, String, String) {
    let mut parts = line.splitn(3, ' ');
    let status = parts.next().unwrap_or_default().to_owned();
    let event = parts.next().unwrap_or_default().to_owned();
    let key = parts.next().unwrap_or_default().to_owned();
    (status, event, key)
}

#[test]
fn send_to_listen() {
    let dir = TempDir::new("send-listen");
    let body_file = dir.file("booking.json", &calendence_body());
    let body_path = body_file.to_str().expect("a utf-8 temporary path");
    let listener = Listener::start(&["--provider", "calendence", "--secret", SECRET]);

    // A built-in sample: handled, and the line names the event.
    let (code, lines) = send(&listener.url, SECRET, &["--event", "booking.created"]);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (status, event, key) = fields(&lines[0]);
    assert_eq!(
        (status.as_str(), event.as_str()),
        ("200", "booking.created")
    );
    let seen = listener.next_line();
    assert_eq!(seen["provider"], "calendence");
    assert_eq!(seen["event"], "booking.created");
    assert_eq!(seen["kind"], "created");
    assert_eq!(seen["key"], key.as_str());
    assert_eq!(seen["appointment_id"], "booking-uuid");
    assert_eq!(seen["starts_at"], "2026-03-25T14:00:00+00:00");
    assert_eq!(seen["outcome"], "handled");
    assert_eq!(seen["status"], 200);
    assert_eq!(seen["error"], serde_json::Value::Null);

    // Another send of the same type is a new event, not a duplicate.
    let (code, lines) = send(&listener.url, SECRET, &["--event", "booking.created"]);
    assert_eq!(code, Some(0));
    assert_ne!(fields(&lines[0]).2, key, "a fresh idempotency key");
    assert_eq!(listener.next_line()["outcome"], "handled");

    // The same signed request twice: the second is a duplicate.
    let (code, lines) = send(&listener.url, SECRET, &["--repeat", "2", body_path]);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines.len(), 2);
    assert_eq!(fields(&lines[0]), fields(&lines[1]));
    assert_eq!(fields(&lines[0]).0, "200");
    let first = listener.next_line();
    let second = listener.next_line();
    assert_eq!(first["outcome"], "handled");
    assert_eq!(second["outcome"], "duplicate");
    assert_eq!(second["status"], 200);
    assert_eq!(first["key"], second["key"]);

    // Signed with the wrong secret: refused with 401, and send exits non-zero.
    let (code, lines) = send(&listener.url, "wrong-secret", &[body_path]);
    assert_eq!(code, Some(1), "{lines:?}");
    assert_eq!(fields(&lines[0]).0, "401");
    let refused = listener.next_line();
    assert_eq!(refused["outcome"], "rejected");
    assert_eq!(refused["status"], 401);
    assert_eq!(refused["event"], serde_json::Value::Null);
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("signature")),
        "{refused}"
    );

    // Copies sent at once: exactly one runs, the others are duplicates or in flight.
    let (_, lines) = send(
        &listener.url,
        SECRET,
        &[
            "--event",
            "booking.created",
            "--repeat",
            "4",
            "--concurrency",
            "4",
        ],
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    let outcomes: Vec<String> = (0..4)
        .map(|_| {
            listener.next_line()["outcome"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "handled").count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| ["handled", "duplicate", "in_flight"].contains(&o.as_str())),
        "{outcomes:?}"
    );
    assert_eq!(listener.line_within(Duration::from_millis(200)), None);

    let status = listener.terminate();
    assert!(status.success(), "listen exited with {status:?}");
}

#[test]
fn exec_failure_releases_the_claim_for_the_retry() {
    let dir = TempDir::new("exec");
    let body = calendence_body();
    let body_file = dir.file("booking.json", &body);
    let body_path = body_file.to_str().expect("a utf-8 temporary path");
    let marker = dir.0.join("marker");
    let received = dir.0.join("received.json");
    let command = format!(
        "cat > '{}'; echo \"$BOOKHOOK_KIND $BOOKHOOK_APPOINTMENT_ID\"; test -f '{}' || {{ touch '{}'; exit 1; }}",
        received.display(),
        marker.display(),
        marker.display()
    );
    let listener = Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--exec",
        &command,
    ]);

    let (code, lines) = send(&listener.url, SECRET, &[body_path]);
    assert_eq!(code, Some(1), "{lines:?}");
    assert_eq!(fields(&lines[0]).0, "500");
    let failed = listener.next_line();
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["status"], 500);
    assert!(failed["error"].is_string(), "{failed}");
    assert_eq!(std::fs::read(&received).expect("the command ran"), body);

    // The sender's retry runs the command again, which now succeeds.
    let (code, lines) = send(&listener.url, SECRET, &[body_path]);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(fields(&lines[0]).0, "200");
    let handled = listener.next_line();
    assert_eq!(handled["outcome"], "handled");
    assert_eq!(handled["key"], failed["key"]);

    // Once handled, a further copy does not run the command.
    std::fs::remove_file(&marker).expect("the marker exists");
    let (code, _) = send(&listener.url, SECRET, &[body_path]);
    assert_eq!(code, Some(0));
    assert_eq!(listener.next_line()["outcome"], "duplicate");
    assert!(!marker.exists(), "the command ran for a duplicate");

    let status = listener.terminate();
    assert!(status.success(), "listen exited with {status:?}");
}

#[test]
fn listen_answers_every_request_with_one_line() {
    let listener = Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--max-body",
        "64",
    ]);
    // Too large: 413 before any verification.
    let (code, lines) = send(&listener.url, SECRET, &["--event", "booking.created"]);
    assert_eq!(code, Some(1));
    assert_eq!(fields(&lines[0]).0, "413");
    let line = listener.next_line();
    assert_eq!(
        (line["outcome"].as_str(), line["status"].as_u64()),
        (Some("rejected"), Some(413))
    );
    assert!(
        line["error"].as_str().is_some_and(|e| e.contains("64")),
        "{line}"
    );

    // A body cut short by the sender, and a GET: each refused with its own line.
    let addr = listener
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/webhook")
        .to_owned();
    let reply = raw_exchange(
        &addr,
        // A well-formed signature header, so that the body is read.
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\nX-Calendence-Signature: sha256=0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n{\"event\":",
        true,
    );
    // hyper may drop a connection whose body broke before the 400 reaches it.
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 400"),
        "{reply}"
    );
    let line = listener.next_line();
    assert_eq!(line["outcome"], "rejected", "{line}");
    assert_eq!(line["status"], 400, "{line}");
    assert!(
        line["error"]
            .as_str()
            .is_some_and(|e| e.contains("incomplete body")),
        "{line}"
    );
    let reply = raw_exchange(
        &addr,
        b"GET /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        false,
    );
    assert!(reply.starts_with("HTTP/1.1 405"), "{reply}");
    assert_eq!(listener.next_line()["status"], 405);

    // Another path is not a delivery: 404, and no line.
    let other = listener.url.replace("/webhook", "/elsewhere");
    let (code, lines) = send(&other, SECRET, &["--event", "booking.created"]);
    assert_eq!(code, Some(1));
    assert_eq!(fields(&lines[0]).0, "404");
    assert_eq!(listener.line_within(Duration::from_millis(300)), None);
    let status = listener.terminate();
    assert!(status.success());
}

#[test]
fn send_refuses_bad_arguments_and_reports_unreachable_receivers() {
    let (code, _) = send(
        "ftp://127.0.0.1:1/webhook",
        SECRET,
        &["--event", "booking.created"],
    );
    assert_eq!(code, Some(2));
    let (code, _) = send(
        "http://127.0.0.1:1/webhook",
        SECRET,
        &["--event", "no.such.type"],
    );
    assert_eq!(code, Some(2));
    let (code, _) = send(
        "http://127.0.0.1:1/webhook",
        SECRET,
        &["--repeat", "0", "--event", "booking.created"],
    );
    assert_eq!(code, Some(2));

    // Nothing listens on the port: a clear failure, exit 1.
    let port = support::free_port();
    let mut command = bookhook();
    command.args([
        "send",
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--url",
        &format!("http://127.0.0.1:{port}/webhook"),
        "--event",
        "booking.created",
    ]);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty());
    assert!(
        stderr(&output).contains("cannot connect"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn listen_refuses_bad_arguments() {
    for args in [
        vec![
            "listen",
            "--provider",
            "calendence",
            "--secret",
            "s",
            "--path",
            "webhook",
        ],
        vec![
            "listen",
            "--provider",
            "calendence",
            "--secret",
            "s",
            "--addr",
            "nowhere",
        ],
        vec![
            "listen",
            "--provider",
            "calendence",
            "--secret",
            "s",
            "--max-body",
            "0",
        ],
        vec!["listen", "--provider", "hmac", "--secret", "s"],
    ] {
        let mut command = bookhook();
        command.args(&args);
        let output = run(command, b"");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

/// Each provider: its listen arguments and a built-in event type to send.
fn providers() -> Vec<(Vec<&'static str>, &'static str, &'static str)> {
    vec![
        (
            vec!["--provider", "eagenda", "--secret", "eagenda-token"],
            "appointment.created",
            "created",
        ),
        (
            vec!["--provider", "moncreneau", "--secret", "whsec_abc123"],
            "appointment.cancelled",
            "cancelled",
        ),
        (
            vec!["--provider", "orufy", "--secret", "orufy-token"],
            "RESCHEDULE",
            "rescheduled",
        ),
        (
            vec!["--provider", "calendence", "--secret", SECRET],
            "booking.created",
            "created",
        ),
        (
            vec!["--provider", "decoda", "--secret", "decoda-secret"],
            "APPOINTMENT_CANCELLED",
            "cancelled",
        ),
        (
            vec![
                "--provider",
                "standard",
                "--secret",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ],
            "invoice.paid",
            "other",
        ),
        (
            vec![
                "--provider",
                "hmac",
                "--secret",
                "k",
                "--header",
                "X-Hub-Signature-256",
                "--prefix",
                "sha256=",
                "--encoding",
                "base64",
            ],
            "visit.booked",
            "other",
        ),
    ]
}

#[test]
fn every_provider_sends_to_its_listener() {
    for (args, event_type, kind) in providers() {
        let listener = Listener::start(&args);
        let send_event = |extra: &[&str]| {
            let mut command = bookhook();
            command
                .arg("send")
                .args(&args)
                .args(["--url", &listener.url, "--event", event_type])
                .args(extra);
            let output = run(command, b"");
            assert_eq!(
                output.status.code(),
                Some(0),
                "{args:?}: {}",
                stderr(&output)
            );
            stdout(&output).lines().map(fields).collect::<Vec<_>>()
        };

        let sent = send_event(&["--repeat", "2"]);
        assert_eq!(sent.len(), 2, "{args:?}");
        assert_eq!(sent[0], sent[1], "{args:?}: one signed request sent twice");
        let first = listener.next_line();
        let second = listener.next_line();
        assert_eq!(first["outcome"], "handled", "{args:?}: {first}");
        assert_eq!(first["event"], event_type, "{args:?}");
        assert_eq!(first["kind"], kind, "{args:?}");
        assert_eq!(first["key"], sent[0].2.as_str(), "{args:?}");
        assert_eq!(second["outcome"], "duplicate", "{args:?}: {second}");

        let again = send_event(&[]);
        assert_ne!(again[0].2, sent[0].2, "{args:?}: a fresh identity per send");
        assert_eq!(listener.next_line()["outcome"], "handled", "{args:?}");

        let status = listener.terminate();
        assert!(status.success(), "{args:?}: {status:?}");
    }
}

#[test]
fn shutdown_waits_for_requests_in_progress() {
    let dir = TempDir::new("shutdown");
    let started = dir.0.join("started");
    let command = format!("touch '{}'; sleep 1", started.display());
    let listener = Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--exec",
        &command,
    ]);
    let url = listener.url.clone();
    let sender = std::thread::spawn(move || send(&url, SECRET, &["--event", "booking.created"]));
    let deadline = std::time::Instant::now() + support::COMMAND_TIMEOUT;
    while !started.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the command never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    listener.sigterm();
    let line = listener.next_line();
    assert_eq!(line["outcome"], "handled", "{line}");
    let (code, lines) = sender.join().expect("the sender thread");
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(fields(&lines[0]).0, "200");
    let status = listener.wait();
    assert!(status.success(), "listen exited with {status:?}");
}

/// Writes `request` as it is, closes the writing side if asked, and reads the reply.
fn raw_exchange(addr: &str, request: &[u8], close_write: bool) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("listen accepts");
    stream
        .set_read_timeout(Some(support::COMMAND_TIMEOUT))
        .expect("a read timeout");
    stream.write_all(request).expect("the request is written");
    if close_write {
        stream
            .shutdown(std::net::Shutdown::Write)
            .expect("the writing side closes");
    }
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn a_copy_arriving_while_the_command_runs_is_in_flight() {
    let listener = Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--exec",
        "sleep 2",
    ]);
    let (code, lines) = send(
        &listener.url,
        SECRET,
        &[
            "--event",
            "booking.created",
            "--repeat",
            "2",
            "--concurrency",
            "2",
        ],
    );
    assert_eq!(code, Some(1), "a 409 is not a 2xx: {lines:?}");
    let mut statuses: Vec<String> = lines.iter().map(|line| fields(line).0).collect();
    statuses.sort();
    assert_eq!(statuses, ["200", "409"], "{lines:?}");
    let mut outcomes = vec![
        listener.next_line()["outcome"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        listener.next_line()["outcome"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    ];
    outcomes.sort();
    assert_eq!(outcomes, ["handled", "in_flight"]);
    assert!(listener.terminate().success());
}
