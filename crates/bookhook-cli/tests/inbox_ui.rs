//! `bookhook inbox ui`: the dashboard served by the CLI, over a real socket.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::Duration;

use support::{Listener, TempDir, bookhook, free_port, run, stderr, wait_bounded};

const SECRET: &str = "cal_test_secret";
const TOKEN: &str = "cli-ui-token-0123456789";

/// Stores one calendence event in a fresh inbox of `dir`; returns its URL.
fn seeded_inbox(dir: &TempDir) -> String {
    let url = format!("sqlite:{}", dir.0.join("inbox.db").display());
    let listener = Listener::start(&[
        "--provider",
        "calendence",
        "--secret",
        SECRET,
        "--inbox",
        &url,
    ]);
    let mut send = bookhook();
    send.args(["send", "--provider", "calendence", "--secret", SECRET]);
    send.args(["--url", &listener.url, "--event", "booking.created"]);
    let output = run(send, b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(listener.terminate().code(), Some(0));
    url
}

fn lines(source: impl Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = channel();
    thread::spawn(move || {
        for line in BufReader::new(source).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

struct Ui {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str, addr: &str) -> Ui {
    let mut child = bookhook()
        .args(["inbox", "ui", "--inbox", url, "--addr", addr])
        .env("BOOKHOOK_DASHBOARD_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bookhook inbox ui starts");
    let stdout = lines(child.stdout.take().expect("piped"));
    let stderr = lines(child.stderr.take().expect("piped"));
    Ui {
        child,
        stdout,
        stderr,
    }
}

/// One request over a fresh connection; returns the whole answer.
fn http(port: u16, head: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the dashboard accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{head}Host: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn serves_the_dashboard_on_loopback_behind_the_token() {
    let dir = TempDir::new("inbox-ui");
    let url = seeded_inbox(&dir);
    let port = free_port();
    let ui = start(&url, &format!("127.0.0.1:{port}"));
    let line = ui
        .stdout
        .recv_timeout(Duration::from_secs(20))
        .expect("the link is printed");
    assert_eq!(
        line,
        format!("dashboard on http://127.0.0.1:{port}/?token={TOKEN}")
    );

    let refused = http(port, "GET /events HTTP/1.1\r\n");
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let login = http(port, &format!("GET /events?token={TOKEN} HTTP/1.1\r\n"));
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    assert!(login.contains("location: /events\r\n"));
    let page = http(
        port,
        &format!("GET /events HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n"),
    );
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("booking.created"));
    assert!(page.contains("content-security-policy: default-src 'none'"));

    let pid = ui.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut ui = ui;
    let status = wait_bounded(&mut ui.child, Duration::from_secs(20)).expect("it stops");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn warns_when_asked_to_listen_beyond_loopback() {
    let dir = TempDir::new("inbox-ui-public");
    let url = seeded_inbox(&dir);
    let port = free_port();
    let ui = start(&url, &format!("0.0.0.0:{port}"));
    let warning = ui
        .stderr
        .recv_timeout(Duration::from_secs(20))
        .expect("a warning");
    assert!(
        warning.starts_with("warning: the dashboard listens on 0.0.0.0:"),
        "{warning}"
    );
    let line = ui.stdout.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(line.starts_with(&format!("dashboard on http://127.0.0.1:{port}/?token=")));
}

#[test]
fn a_missing_inbox_is_an_error() {
    let dir = TempDir::new("inbox-ui-missing");
    let url = format!("sqlite:{}", dir.0.join("none.db").display());
    let mut command = bookhook();
    command.args(["inbox", "ui", "--inbox", &url, "--token", TOKEN]);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

#[test]
fn a_short_token_is_a_usage_error() {
    let dir = TempDir::new("inbox-ui-short");
    let url = seeded_inbox(&dir);
    let mut command = bookhook();
    command.args(["inbox", "ui", "--inbox", &url, "--token", "short"]);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("at least 16 characters"));
}
