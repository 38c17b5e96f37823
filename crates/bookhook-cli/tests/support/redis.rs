//! Redis servers for the tests: the one `BOOKHOOK_REDIS_URL` names, or a
//! private `redis-server` on a free loopback port. Without `redis-server` a
//! test says so and returns, except with `CI=true`, where it fails.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// A private `redis-server`, killed (and its directory removed) when dropped.
pub struct RedisServer {
    child: Child,
    pub url: String,
    dir: PathBuf,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether something answers `PING` on 127.0.0.1:`port`.
pub fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// Says why a Redis test does not run; a failure under `CI=true`.
fn not_run(why: &str) {
    assert!(
        std::env::var("CI").map_or(true, |ci| ci != "true"),
        "{why}: a missing redis is a failure in CI"
    );
    let _ = writeln!(std::io::stderr(), "NOT RUN: {why}");
}

/// Starts a private `redis-server`, with the append-only file on or off;
/// `None` (after saying why) when there is no `redis-server`, outside CI.
pub fn start(append_only: bool) -> Option<RedisServer> {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!(
        "bookhook-cli-redis-{}-{port}-{}",
        std::process::id(),
        if append_only { "aof" } else { "plain" }
    ));
    std::fs::create_dir_all(&dir).expect("a directory for redis");
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", if append_only { "yes" } else { "no" }])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = spawned else {
        let _ = std::fs::remove_dir_all(&dir);
        not_run("no redis-server on PATH");
        return None;
    };
    let server = RedisServer {
        child,
        url: format!("redis://127.0.0.1:{port}"),
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !answers_ping(port) {
        assert!(Instant::now() < deadline, "redis-server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(server)
}

/// The server `BOOKHOOK_REDIS_URL` names, else a private one without
/// persistence (returned, to keep it running).
pub fn shared_or_private() -> Option<(String, Option<RedisServer>)> {
    if let Ok(url) = std::env::var("BOOKHOOK_REDIS_URL")
        && !url.trim().is_empty()
    {
        return Some((url, None));
    }
    let server = start(false)?;
    Some((server.url.clone(), Some(server)))
}
