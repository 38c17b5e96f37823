//! Helpers shared by the inbox tests: a `redis-server` with the append-only
//! file on, events, and a worker loop.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bookhook::inbox::NewEvent;
use bookhook::{Kind, Provider, idempotency::ClaimToken};
use bookhook_redis::RedisInbox;

/// Milliseconds since the Unix epoch, by the system clock.
pub(crate) fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("time fits i64")
}

/// An event of namespace `ns` with a body of `body_len` bytes.
pub(crate) fn event(
    ns: &str,
    key: &str,
    ordering: Option<&str>,
    at: i64,
    body_len: usize,
) -> NewEvent {
    let mut body = format!("{{\"id\":\"{key}\",\"pad\":\"");
    while body.len() + 2 < body_len {
        body.push('x');
    }
    body.push_str("\"}");
    NewEvent::new(
        ns,
        key,
        ordering.map(str::to_owned),
        Provider::Calendence,
        "booking.updated",
        Kind::Updated,
        at,
        Some(at),
        body.into(),
        vec![
            ("content-type".into(), "application/json".into()),
            ("x-calendence-signature".into(), "[redacted]".into()),
        ],
    )
}

/// An inbox under a fresh prefix on `url`, allowed without AOF (the shared
/// test server runs without it).
pub(crate) async fn volatile_inbox(url: &str, prefix: &str) -> RedisInbox {
    RedisInbox::builder()
        .prefix(prefix)
        .allow_without_append_only()
        .connect(url)
        .await
        .expect("connect to redis")
}

/// A `redis-server` with `appendonly yes`, its files in a directory of its
/// own, on a free loopback port. Killed (and its directory removed) when
/// dropped.
pub(crate) struct AofServer {
    port: u16,
    dir: PathBuf,
    args: Vec<&'static str>,
    child: Option<Child>,
}

impl AofServer {
    /// With `appendfsync everysec`, the default of most deployments.
    pub(crate) fn start() -> Self {
        Self::start_with("everysec")
    }

    /// With `appendfsync` set to `fsync` (`always`, `everysec` or `no`).
    pub(crate) fn start_with(fsync: &'static str) -> Self {
        Self::start_args(vec!["--appendonly", "yes", "--appendfsync", fsync])
    }

    /// With these settings instead (`--appendonly no`, a renamed command…).
    pub(crate) fn start_args(args: Vec<&'static str>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free loopback port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "bookhook-inbox-aof-{:016x}",
            ClaimToken::random().as_u128() as u64
        ));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        let mut server = Self {
            port,
            dir,
            args,
            child: None,
        };
        server.spawn();
        server
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut child = Command::new("redis-server")
                .args(["--port", &self.port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--save", ""])
                .args(&self.args)
                .arg("--dir")
                .arg(&self.dir)
                .args(["--loglevel", "warning"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if answers(self.port) {
                    self.child = Some(child);
                    return;
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "redis-server with AOF did not come up on port {}",
                        self.port
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // Exited at once: the port may still be held by the last run.
            assert!(
                Instant::now() < deadline,
                "redis-server with AOF keeps exiting on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL, as a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and directory: it reloads its AOF.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for AofServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the server on `port` answers PING (and has loaded its data).
fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
