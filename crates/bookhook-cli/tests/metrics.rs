//! `listen --metrics`: deliveries sent over real sockets on 127.0.0.1, then
//! the Prometheus page scraped and its counts checked.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Listener, TempDir, bookhook, free_port, run, stdout};

const SECRET: &str = "cal_metrics_secret";

/// Runs `bookhook send` for calendence with `secret` and `extra` arguments,
/// and returns its stdout lines (`<status> <event> <key>`).
fn send(url: &str, secret: &str, extra: &[&str]) -> Vec<String> {
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
    stdout(&output).lines().map(str::to_owned).collect()
}

/// `GET /metrics` over a plain socket: the status line and the body.
fn scrape(addr: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("the metrics port accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is written");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("the response is read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap_or_default().to_owned();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    (status, body.to_owned())
}

/// The value of the sample `name{labels}` whose labels include every pair of
/// `want`, summed over the samples that match (0 when none does).
fn value(page: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    let mut total = 0.0;
    for line in page.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (labels, number) = match rest.strip_prefix('{') {
            Some(rest) => match rest.split_once("} ") {
                Some((labels, number)) => (labels, number),
                None => continue,
            },
            None => match rest.strip_prefix(' ') {
                Some(number) => ("", number),
                None => continue,
            },
        };
        let labels: BTreeMap<&str, &str> = labels
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key, value.trim_matches('"')))
            .collect();
        if want.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            total += number.trim().parse::<f64>().expect("a number");
        }
    }
    total
}

#[test]
fn listen_serves_delivery_counts_in_prometheus_format() {
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let listener = Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--metrics",
        &metrics_addr,
    ]);

    // Two new events: handled.
    for _ in 0..2 {
        let lines = send(&listener.url, SECRET, &["--event", "booking.created"]);
        assert!(lines[0].starts_with("200 "), "{lines:?}");
        assert_eq!(listener.next_line()["outcome"], "handled");
    }
    // One signed body sent twice: handled, then a duplicate.
    let dir = TempDir::new("metrics");
    let sample =
        bookhook::testing::samples::sample(bookhook::Provider::Calendence, "booking.created")
            .expect("a calendence sample");
    let body = dir.file("booking.json", sample.as_bytes());
    let lines = send(
        &listener.url,
        SECRET,
        &["--repeat", "2", body.to_str().expect("a utf-8 path")],
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(listener.next_line()["outcome"], "handled");
    assert_eq!(listener.next_line()["outcome"], "duplicate");
    // Signed with another secret: refused with 401.
    let lines = send(
        &listener.url,
        "not-the-secret",
        &["--event", "booking.created"],
    );
    assert!(lines[0].starts_with("401 "), "{lines:?}");
    assert_eq!(listener.next_line()["status"], 401);

    let (status, page) = scrape(&metrics_addr);
    assert!(status.contains(" 200 "), "{status}");
    let deliveries = "bookhook_deliveries_total";
    let calendence = ("provider", "calendence");
    assert_eq!(
        value(
            &page,
            deliveries,
            &[calendence, ("outcome", "handled"), ("status", "200")]
        ),
        3.0,
        "{page}"
    );
    assert_eq!(
        value(
            &page,
            deliveries,
            &[calendence, ("outcome", "duplicate"), ("status", "200")]
        ),
        1.0,
        "{page}"
    );
    assert_eq!(
        value(
            &page,
            deliveries,
            &[calendence, ("outcome", "rejected"), ("status", "401")]
        ),
        1.0,
        "{page}"
    );
    assert_eq!(
        value(
            &page,
            "bookhook_verification_failures_total",
            &[calendence, ("reason", "invalid_signature")]
        ),
        1.0,
        "{page}"
    );
    // Every request has a duration; the four verified ones a body size; the
    // three handled ones ran the handler; each handled one claimed and
    // completed its key, and the duplicate claimed only.
    assert_eq!(
        value(
            &page,
            "bookhook_request_duration_seconds_count",
            &[calendence]
        ),
        5.0,
        "{page}"
    );
    assert_eq!(
        value(&page, "bookhook_body_bytes_count", &[calendence]),
        4.0,
        "{page}"
    );
    assert_eq!(
        value(
            &page,
            "bookhook_handler_duration_seconds_count",
            &[calendence, ("result", "ok")]
        ),
        3.0,
        "{page}"
    );
    assert_eq!(
        value(
            &page,
            "bookhook_store_duration_seconds_count",
            &[("operation", "claim"), ("result", "ok")]
        ),
        4.0,
        "{page}"
    );
    assert_eq!(
        value(
            &page,
            "bookhook_store_duration_seconds_count",
            &[("operation", "complete"), ("result", "ok")]
        ),
        3.0,
        "{page}"
    );
    assert_eq!(value(&page, "bookhook_store_errors_total", &[]), 0.0);
    // Described: the page carries help text for the core's metrics.
    assert!(page.contains("# HELP bookhook_deliveries_total"), "{page}");
    assert!(
        page.contains("# TYPE bookhook_request_duration_seconds histogram"),
        "{page}"
    );

    assert!(listener.terminate().success());
}

#[test]
fn listen_refuses_a_metrics_address_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address").to_string();
    let mut command = bookhook();
    command.args([
        "listen",
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--addr",
        "127.0.0.1:0",
        "--metrics",
        &addr,
    ]);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        support::stderr(&output).contains(&format!("cannot serve metrics on {addr}")),
        "{}",
        support::stderr(&output)
    );
}
