//! `--type-header`: GitHub- and Shopify-shaped requests, signed outside the
//! project (`crates/bookhook/fixtures/header_types.json`), sent as raw HTTP
//! to a running `listen` and checked with `verify`.

mod support;

use std::io::{Read, Write};
use std::path::PathBuf;

use support::{Listener, TempDir, bookhook, run, stdout};

fn vectors() -> Vec<serde_json::Value> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bookhook/fixtures/header_types.json");
    let text = std::fs::read_to_string(path).expect("the header type vectors");
    let file: serde_json::Value = serde_json::from_str(&text).expect("json vectors");
    file["vectors"]
        .as_array()
        .expect("a list of vectors")
        .clone()
}

fn text(value: &serde_json::Value) -> String {
    value.as_str().expect("a string").to_owned()
}

/// `--provider hmac` and the vector's scheme, as command-line arguments.
fn provider_args(vector: &serde_json::Value) -> Vec<String> {
    let scheme = &vector["scheme"];
    let mut args = vec![
        "--provider".to_owned(),
        "hmac".to_owned(),
        "--secret".to_owned(),
        text(&vector["secret"]),
        "--header".to_owned(),
        text(&scheme["header"]),
        "--encoding".to_owned(),
        text(&scheme["encoding"]),
        "--type-header".to_owned(),
        text(&scheme["type_header"]),
    ];
    if let Some(prefix) = scheme["prefix"].as_str() {
        args.extend(["--prefix".to_owned(), prefix.to_owned()]);
    }
    args
}

fn headers(vector: &serde_json::Value) -> Vec<(String, String)> {
    vector["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|pair| (text(&pair[0]), text(&pair[1])))
        .collect()
}

/// POSTs the vector's exact headers and body, and returns the status line.
fn post(url: &str, vector: &serde_json::Value) -> String {
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/webhook");
    let body = text(&vector["body"]);
    let mut request = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers(vector) {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let mut stream = std::net::TcpStream::connect(addr).expect("listen accepts");
    stream
        .set_read_timeout(Some(support::COMMAND_TIMEOUT))
        .expect("a read timeout");
    stream
        .write_all(request.as_bytes())
        .expect("the request is written");
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).into_owned();
    reply.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn listen_delivers_header_typed_requests_with_their_header_type() {
    let vectors = vectors();
    assert!(vectors.len() >= 4);
    for vector in &vectors {
        let args = provider_args(vector);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let listener = Listener::start(&args);
        let status = post(&listener.url, vector);
        assert_eq!(status, "HTTP/1.1 200 OK", "{}", vector["name"]);
        let line = listener.next_line();
        assert_eq!(line["outcome"], "handled", "{line}");
        assert_eq!(line["status"], 200, "{line}");
        assert_eq!(line["event"], vector["event_type"], "{line}");
        assert_eq!(line["kind"], "other", "{line}");
        assert_eq!(line["key"], vector["idempotency_key"], "{line}");
        // The platform's retry of the same request is a duplicate.
        assert_eq!(post(&listener.url, vector), "HTTP/1.1 200 OK");
        assert_eq!(listener.next_line()["outcome"], "duplicate");
        assert!(listener.terminate().success());
    }
}

#[test]
fn inbox_mode_handles_header_typed_requests_with_their_header_type() {
    let dir = TempDir::new("header-types-inbox");
    let inbox = format!("sqlite:{}", dir.0.join("inbox.db").display());
    let vector = &vectors()[0];
    let mut args = provider_args(vector);
    args.extend([
        "--inbox".to_owned(),
        inbox,
        "--exec".to_owned(),
        "true".to_owned(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let listener = Listener::start(&args);
    assert_eq!(post(&listener.url, vector), "HTTP/1.1 200 OK");
    // The request line, then the worker's attempt line, in either order.
    let mut attempt = None;
    for _ in 0..2 {
        let line = listener.next_line();
        if line.get("attempt").is_some() {
            attempt = Some(line);
        } else {
            assert_eq!(line["outcome"], "queued", "{line}");
            assert_eq!(line["event"], vector["event_type"], "{line}");
        }
    }
    // The worker parsed the stored body again, with the type from the header.
    let attempt = attempt.expect("an attempt line");
    assert_eq!(attempt["outcome"], "processed", "{attempt}");
    assert_eq!(attempt["event"], vector["event_type"], "{attempt}");
    assert_eq!(attempt["key"], vector["idempotency_key"], "{attempt}");
    assert!(listener.terminate().success());
}

#[test]
fn verify_accepts_header_typed_requests() {
    let dir = TempDir::new("header-types");
    for vector in vectors() {
        let body = dir.file("body.json", text(&vector["body"]).as_bytes());
        let mut command = bookhook();
        command.arg("verify").args(provider_args(&vector));
        for (name, value) in headers(&vector) {
            command.args(["-H", &format!("{name}: {value}")]);
        }
        command.arg(&body);
        let output = run(command, b"");
        assert_eq!(stdout(&output), "valid\n", "{}", vector["name"]);
        assert_eq!(output.status.code(), Some(0), "{}", vector["name"]);
    }
}

#[test]
fn type_header_only_applies_to_hmac() {
    let mut command = bookhook();
    command.args([
        "verify",
        "--provider",
        "calendence",
        "--secret",
        "s",
        "--type-header",
        "X-GitHub-Event",
        "-",
    ]);
    let output = run(command, b"{}");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        support::stderr(&output).contains("--type-header only applies to --provider hmac"),
        "{}",
        support::stderr(&output)
    );
}
