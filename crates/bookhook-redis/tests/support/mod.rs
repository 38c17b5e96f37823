//! Finds a Redis server for the integration tests.
//!
//! - `BOOKHOOK_REDIS_URL` set: that server is used.
//! - unset, with `CI=true`: the test fails, because a missing Redis must not
//!   look like a pass in CI.
//! - unset elsewhere: a private `redis-server` is started on a free loopback
//!   port for the test and killed when the test ends; without the binary the
//!   test prints how to run it and returns.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bookhook::idempotency::ClaimToken;

/// The environment variable naming the Redis server to test against.
pub(crate) const URL_VAR: &str = "BOOKHOOK_REDIS_URL";

const HOW_TO_RUN: &str = "redis integration tests need a redis server: install one \
     (`apt-get install redis-server`) so the tests can start their own, or point them \
     at a running server with `BOOKHOOK_REDIS_URL=redis://127.0.0.1:6379 cargo test -p bookhook-redis`";

/// A server to test against. Holds the private server, if one was started,
/// until the test ends.
pub(crate) struct TestRedis {
    pub(crate) url: String,
    server: Option<RedisServer>,
}

/// A key, prefix or appointment name that no other test (or earlier run)
/// uses.
pub(crate) fn unique(name: &str) -> String {
    format!("{name}-{:032x}", ClaimToken::random().as_u128())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn have_redis_server() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Reports that no server can be had: a failure in CI, a message elsewhere.
fn no_server(why: &str) {
    assert!(
        !in_ci(),
        "{why} and CI=true: a missing redis is a failure in CI. {HOW_TO_RUN}"
    );
    // Straight to the process' stderr: the test harness would swallow
    // `eprintln!` output of a test that returns normally.
    let _ = writeln!(std::io::stderr(), "NOT RUN: {why}. {HOW_TO_RUN}");
}

/// The server named by `BOOKHOOK_REDIS_URL`, or a private one. `None` (after
/// printing why) when there is neither, outside CI.
pub(crate) fn redis() -> Option<TestRedis> {
    let url = std::env::var(URL_VAR).unwrap_or_default();
    if !url.trim().is_empty() {
        return Some(TestRedis { url, server: None });
    }
    let server = private_server(&format!("{URL_VAR} is not set"))?;
    Some(TestRedis {
        url: server.url(),
        server: Some(server),
    })
}

/// A private server, even when `BOOKHOOK_REDIS_URL` is set, for tests that
/// stop and restart it.
pub(crate) fn private_server(why_needed: &str) -> Option<RedisServer> {
    if !have_redis_server() {
        no_server(&format!("{why_needed} and no `redis-server` is on PATH"));
        return None;
    }
    Some(RedisServer::start())
}

/// A private server started with more settings ([`RedisServer::start_with`]).
pub(crate) fn private_server_with(why_needed: &str, settings: &[&str]) -> Option<RedisServer> {
    if !have_redis_server() {
        no_server(&format!("{why_needed} and no `redis-server` is on PATH"));
        return None;
    }
    Some(RedisServer::start_with(settings))
}

/// A `redis-server` child process on a loopback port, without persistence
/// unless started with other settings. Its files go to a private directory,
/// removed with it. Killed when dropped.
pub(crate) struct RedisServer {
    port: u16,
    child: Option<Child>,
    settings: Vec<String>,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free port. Panics if none comes up.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server on a free port with more command-line settings (such
    /// as `["--appendonly", "yes"]`), given after the defaults so that they
    /// win. Panics if none comes up.
    pub(crate) fn start_with(settings: &[&str]) -> Self {
        let settings: Vec<String> = settings.iter().map(|s| (*s).to_owned()).collect();
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir()
                .join(format!("bookhook-redis-test-{}-{port}", std::process::id()));
            if let Err(err) = std::fs::create_dir_all(&dir) {
                last = format!("create {}: {err}", dir.display());
                continue;
            }
            match spawn(port, &settings, &dir) {
                Ok(child) => {
                    return Self {
                        port,
                        child: Some(child),
                        settings,
                        dir,
                    };
                }
                Err(err) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    last = err;
                }
            }
        }
        panic!("could not start redis-server: {last}");
    }

    /// The URL of this server.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits until it is gone.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): it keeps its connections but answers
    /// nothing.
    pub(crate) fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server go on (SIGCONT).
    pub(crate) fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("server is running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Starts the server again on the same port, with no data.
    pub(crate) fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match spawn(self.port, &self.settings, &self.dir) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                // The port can take a moment to be free again.
                Err(err) if Instant::now() >= deadline => {
                    panic!(
                        "could not restart redis-server on port {}: {err}",
                        self.port
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local address").port()
}

fn spawn(port: u16, settings: &[String], dir: &std::path::Path) -> Result<Child, String> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .args(["--loglevel", "warning"])
        .arg("--dir")
        .arg(dir)
        .args(settings)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("spawn redis-server: {err}"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("redis-server on port {port} exited: {status}"));
        }
        if pings(port) {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("redis-server on port {port} did not answer PING"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a server on `port` answers `PING` with `+PONG`.
fn pings(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
