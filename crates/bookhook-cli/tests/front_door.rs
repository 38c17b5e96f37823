//! `bookhook listen` against slow, stalled and unsigned clients on
//! 127.0.0.1, its shutdown, and what `--exec` hands to its command.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::thread;
use std::time::{Duration, Instant};

use bookhook::testing::wire::{PARTIAL_HEADERS, signed_post};
use bookhook::{Endpoint, Provider};

use support::{Listener, TempDir, wait_bounded};

const SECRET: &str = "front-door-secret-value";
/// A well-formed Calendence signature that matches no body: it passes the
/// check made on the headers, so the body is read.
const WELL_FORMED: &str = "sha256=0000000000000000000000000000000000000000000000000000000000000000";

fn addr_of(listener: &Listener) -> String {
    listener
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/webhook")
        .to_owned()
}

fn calendence() -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .build()
        .expect("a valid endpoint")
}

fn body_with_id(id: &str) -> String {
    serde_json::json!({
        "event": "booking.created",
        "timestamp": "2026-03-24T14:30:00+00:00",
        "data": {"id": id},
    })
    .to_string()
}

fn stalled_body_head(length: usize, signature: bool) -> Vec<u8> {
    let signature = if signature {
        format!("X-Calendence-Signature: {WELL_FORMED}\r\n")
    } else {
        String::new()
    };
    format!("POST /webhook HTTP/1.1\r\nHost: test\r\nContent-Length: {length}\r\n{signature}\r\n")
        .into_bytes()
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("a write timeout");
    stream
}

/// Reads until the peer closes (at most 10 s); what was read, and when.
fn read_to_close(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(10) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// A `VmRSS:` or `VmHWM:` figure of process `pid`, in KiB.
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("linux /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} line"))
}

#[test]
fn listen_cuts_partial_headers_and_answers_a_stalled_body_with_408() {
    let listener = Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--header-timeout",
        "0.8",
        "--idle-timeout",
        "0.8",
        "--body-timeout",
        "0.8",
    ]);
    let addr = addr_of(&listener);
    let mut headers = connect(&addr);
    headers.write_all(PARTIAL_HEADERS).expect("writes");
    let mut body = connect(&addr);
    let mut head = stalled_body_head(1000, true);
    head.extend_from_slice(b"{\"event\":");
    body.write_all(&head).expect("writes");

    let (_, after) = read_to_close(&mut headers);
    assert!(
        after >= Duration::from_millis(400) && after < Duration::from_secs(5),
        "partial headers closed after {after:?}"
    );
    let (reply, after) = read_to_close(&mut body);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(after < Duration::from_secs(5), "408 after {after:?}");
    let line = listener.next_line();
    assert_eq!(line["status"], 408, "{line}");
    assert_eq!(line["outcome"], "rejected", "{line}");
}

#[test]
fn listen_delivers_while_200_stalled_connections_are_open() {
    let listener = Listener::start(&["--provider", "calendence", "--secret", SECRET]);
    let addr = addr_of(&listener);
    let mut stalled = Vec::new();
    for i in 0..200 {
        let mut stream = connect(&addr);
        let head = if i % 2 == 0 {
            PARTIAL_HEADERS.to_vec()
        } else {
            let mut head = stalled_body_head(1000, true);
            head.extend_from_slice(b"{\"event\":");
            head
        };
        stream.write_all(&head).expect("writes");
        stalled.push(stream);
    }
    let started = Instant::now();
    let mut client = connect(&addr);
    client
        .write_all(&signed_post(
            &calendence(),
            &body_with_id("b-among-stalled"),
        ))
        .expect("writes");
    let (reply, _) = read_to_close(&mut client);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(listener.next_line()["outcome"], "handled");
    for stream in &stalled {
        stream.set_nonblocking(true).expect("non-blocking");
        let mut buf = [0u8; 1];
        let read = (&*stream).read(&mut buf);
        assert!(
            matches!(&read, Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
            "a stalled connection was answered or closed: {read:?}"
        );
    }
}

/// The bound checked on `listen`'s peak resident memory while 300
/// connections push 1 MiB bodies with a well-formed but wrong signature and
/// 300 more push unsigned ones: the 64 MiB budget, 64 KiB of buffer per
/// connection, and the process's own baseline.
const RSS_BOUND_KIB: u64 = 160 * 1024;

#[test]
fn megabyte_bodies_from_600_connections_keep_listen_under_its_memory_bound() {
    let listener = Listener::start(&["--provider", "calendence", "--secret", SECRET]);
    let addr = addr_of(&listener);
    let pid = listener.child.id();
    let baseline = memory_kib(pid, "VmRSS:");
    let (release, released) = channel::<()>();
    let released = std::sync::Arc::new(std::sync::Mutex::new(released));
    let (sent, sent_all) = channel::<()>();
    let mut senders = Vec::new();
    let body = vec![b' '; (1 << 20) - 1];
    let body = std::sync::Arc::new(body);
    for i in 0..600 {
        let addr = addr.clone();
        let body = std::sync::Arc::clone(&body);
        let released = std::sync::Arc::clone(&released);
        let sent = sent.clone();
        senders.push(thread::spawn(move || {
            let mut stream = connect(&addr);
            // Declares 1 MiB, sends one byte less, and stalls.
            let _ = stream.write_all(&stalled_body_head(1 << 20, i % 2 == 0));
            let _ = stream.write_all(&body);
            let _ = sent.send(());
            // Hold the connection until the measurement is done.
            let _ = released
                .lock()
                .map(|r| r.recv_timeout(Duration::from_secs(30)));
            drop(stream);
        }));
    }
    drop(sent);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut done = 0;
    while done < 600 && Instant::now() < deadline {
        if sent_all.recv_timeout(Duration::from_secs(1)).is_ok() {
            done += 1;
        }
    }
    thread::sleep(Duration::from_millis(500));
    let rss = memory_kib(pid, "VmRSS:");
    let peak = memory_kib(pid, "VmHWM:");
    eprintln!(
        "listen memory: baseline {baseline} KiB, with 600 connections of 1 MiB bodies {rss} KiB, peak {peak} KiB"
    );
    for _ in 0..600 {
        let _ = release.send(());
    }
    for sender in senders {
        let _ = sender.join();
    }
    assert_eq!(done, 600, "every sender wrote its body or was refused");
    assert!(
        peak < RSS_BOUND_KIB,
        "peak rss {peak} KiB is over the bound of {RSS_BOUND_KIB} KiB"
    );
}

#[test]
fn shutdown_with_a_stalled_client_ends_within_the_grace_period() {
    let listener = Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--grace",
        "1",
    ]);
    let addr = addr_of(&listener);
    let mut stalled = connect(&addr);
    let mut head = stalled_body_head(1000, true);
    head.extend_from_slice(b"{\"event\":");
    stalled.write_all(&head).expect("writes");
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let status = listener.terminate();
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(4), "exited after {took:?}");
}

#[test]
fn second_signal_exits_at_once() {
    let dir = TempDir::new("second-signal");
    let marker = dir.0.join("started");
    let command = format!("touch '{}'; sleep 8", marker.display());
    let listener = Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--grace",
        "30",
        "--exec",
        &command,
    ]);
    let addr = addr_of(&listener);
    let sender = thread::spawn(move || {
        let mut client = connect(&addr);
        let _ = client.write_all(&signed_post(&calendence(), &body_with_id("b-slow")));
        read_to_close(&mut client)
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !marker.exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(marker.exists(), "the command did not start");
    listener.sigterm();
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    listener.sigterm();
    let mut child = listener;
    let status = wait_bounded(&mut child.child, Duration::from_secs(5)).expect("exits at once");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(status.code(), Some(130), "{status:?}");
    let _ = sender.join();
}

/// A child process killed when the test ends, even by a panic.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn exec_takes_nul_and_200_kb_ids_and_never_sees_the_secret() {
    let dir = TempDir::new("exec-hygiene");
    let env_file = dir.0.join("env");
    let bodies = dir.0.join("bodies");
    let command = format!(
        "env >> '{0}'; echo '--- end' >> '{0}'; cat >> '{1}'",
        env_file.display(),
        bodies.display()
    );
    let port = support::free_port();
    let addr = format!("127.0.0.1:{port}");
    // The secret comes from BOOKHOOK_SECRET, and another variable holds it too.
    let mut child = Command::new(env!("CARGO_BIN_EXE_bookhook"))
        .args(["listen", "--provider", "calendence", "--addr", &addr])
        .args(["--exec", &command])
        .env("BOOKHOOK_SECRET", SECRET)
        .env("APP_WEBHOOK_SECRET", SECRET)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("listen starts");
    // Lines are read as they come: a 200 KB id makes a line longer than a pipe holds.
    let stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let (line_tx, lines) = channel::<String>();
    thread::spawn(move || {
        for line in std::io::BufRead::lines(stdout) {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let long_id = "x".repeat(200 * 1024);
    let sent = [body_with_id("b-\u{0}-nul"), body_with_id(&long_id)];
    for body in &sent {
        let mut client = connect(&addr);
        client
            .write_all(&signed_post(&calendence(), body))
            .expect("writes");
        let (reply, _) = read_to_close(&mut client);
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "{} bytes sent: {}",
            body.len(),
            &reply[..reply.len().min(300)]
        );
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a json line");
        let line: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(line["outcome"], "handled", "{line}");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    let _ = wait_bounded(&mut child.0, Duration::from_secs(10));

    let env = std::fs::read_to_string(&env_file).expect("the command ran");
    assert!(!env.contains(SECRET), "the secret reached the command");
    assert!(!env.contains("BOOKHOOK_SECRET"));
    assert!(env.contains("BOOKHOOK_APPOINTMENT_ID=b--nul\n"), "{env}");
    let long_value = env
        .lines()
        .find_map(|line| line.strip_prefix("BOOKHOOK_APPOINTMENT_ID=x"))
        .expect("the long id, cut");
    assert_eq!(long_value.len() + 1, 4096);
    // The bodies on stdin are complete.
    let received = std::fs::read(&bodies).expect("bodies");
    let expected: Vec<u8> = sent.iter().flat_map(|b| b.bytes()).collect();
    assert_eq!(received, expected);
}
