//! The persistence check at connect: what the server keeps across a restart,
//! reported by `RedisStore::persistence` and warned about through `tracing`
//! when it keeps nothing.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bookhook_redis::RedisStore;
use tracing_subscriber::fmt::MakeWriter;

/// Every line a `tracing` subscriber writes, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Connects to `url` under a subscriber that captures warnings; returns the
/// store and what was logged.
async fn connect_capturing(url: &str) -> (RedisStore, String) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let store = RedisStore::connect(url).await.expect("redis answers");
    (store, captured.text())
}

/// `CONFIG GET name`, read on a connection of the test's own.
async fn config_get(url: &str, name: &str) -> String {
    let client = redis::Client::open(url).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let found: std::collections::HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(&mut raw)
        .await
        .unwrap();
    found.get(name).cloned().unwrap_or_default()
}

async fn config_set(url: &str, name: &str, value: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(&mut raw)
        .await
        .unwrap();
}

fn warning_lines(logs: &str) -> usize {
    logs.lines()
        .filter(|line| line.contains("redis keeps nothing across a restart"))
        .count()
}

/// The test server (`BOOKHOOK_REDIS_URL`, which CI starts without persistence
/// with `.ci/redis.sh`, or a private one): the store reports what the server
/// says, and warns exactly when it keeps nothing.
#[tokio::test]
async fn test_server_persistence_is_reported_as_the_server_says() {
    let Some(redis) = support::redis() else {
        return;
    };
    let (store, logs) = connect_capturing(&redis.url).await;
    let append_only = config_get(&redis.url, "appendonly").await == "yes";
    let snapshots = !config_get(&redis.url, "save").await.trim().is_empty();
    assert_eq!(
        (
            store.persistence().append_only(),
            store.persistence().snapshots()
        ),
        (Some(append_only), Some(snapshots))
    );
    let expected_warnings = usize::from(!append_only && !snapshots);
    assert_eq!(warning_lines(&logs), expected_warnings, "{logs}");
}

#[tokio::test]
async fn server_without_aof_or_snapshots_is_warned_about() {
    let Some(server) = support::private_server("this test needs a server without persistence")
    else {
        return;
    };
    let (store, logs) = connect_capturing(&server.url()).await;
    assert!(store.persistence().is_none(), "{}", store.persistence());
    assert_eq!(store.persistence().to_string(), "none");
    assert_eq!(warning_lines(&logs), 1, "{logs}");
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("appendonly yes"), "{logs}");
    // The URL is never logged.
    assert!(!logs.contains(&server.url()), "{logs}");
}

#[tokio::test]
async fn server_with_aof_turned_on_is_not_warned_about() {
    let Some(server) = support::private_server("this test turns the aof on") else {
        return;
    };
    config_set(&server.url(), "appendonly", "yes").await;
    let (store, logs) = connect_capturing(&server.url()).await;
    assert_eq!(
        (
            store.persistence().append_only(),
            store.persistence().snapshots()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(store.persistence().warning(), None);
    assert_eq!(warning_lines(&logs), 0, "{logs}");
}

#[tokio::test]
async fn server_started_with_aof_is_not_warned_about() {
    let Some(server) = support::private_server_with(
        "this test starts a server with the aof on",
        &["--appendonly", "yes"],
    ) else {
        return;
    };
    let (store, logs) = connect_capturing(&server.url()).await;
    assert_eq!(store.persistence().append_only(), Some(true));
    assert_eq!(warning_lines(&logs), 0, "{logs}");
}

#[tokio::test]
async fn server_with_snapshots_only_is_not_warned_about() {
    let Some(server) = support::private_server("this test turns snapshots on") else {
        return;
    };
    config_set(&server.url(), "save", "3600 1").await;
    let (store, logs) = connect_capturing(&server.url()).await;
    assert_eq!(
        (
            store.persistence().append_only(),
            store.persistence().snapshots()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(warning_lines(&logs), 0, "{logs}");
}

/// Where `CONFIG` is forbidden (as on many managed services), `INFO
/// persistence` still tells whether the AOF is on; the snapshot rules stay
/// unknown, so there is no warning, and the store works as usual.
#[tokio::test]
async fn server_without_config_command_falls_back_to_info() {
    let Some(server) = support::private_server_with(
        "this test starts a server without CONFIG",
        &["--rename-command", "CONFIG", ""],
    ) else {
        return;
    };
    let (store, logs) = connect_capturing(&server.url()).await;
    assert_eq!(
        (
            store.persistence().append_only(),
            store.persistence().snapshots()
        ),
        (Some(false), None)
    );
    assert_eq!(warning_lines(&logs), 0, "{logs}");
    let key = support::unique("after-info");
    assert!(matches!(
        bookhook::idempotency::IdempotencyStore::claim(
            &store,
            &key,
            std::time::Duration::from_secs(5)
        )
        .await,
        Ok(bookhook::idempotency::Claim::Claimed(_))
    ));
}
