//! Opening the managed connection that the store and the inbox share the settings of.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How a connection is opened and kept: the builders' timeouts and retries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) response_timeout: Duration,
    pub(crate) connection_timeout: Duration,
    pub(crate) reconnect_retries: usize,
}

/// Opens a connection to `url` that reconnects by itself. The error is a
/// reason to show, which never contains the URL (it may hold a password).
pub(crate) async fn open(url: &str, settings: Settings) -> Result<ConnectionManager, String> {
    let client = redis::Client::open(url).map_err(|err| match err.kind() {
        redis::ErrorKind::InvalidClientConfig => "invalid redis url".to_owned(),
        _ => "redis url refused".to_owned(),
    })?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(settings.response_timeout)
        .set_connection_timeout(settings.connection_timeout)
        .set_number_of_retries(settings.reconnect_retries)
        .set_factor(2)
        .set_max_delay(2_000);
    // Whatever stops the first connection, Redis is not usable yet.
    ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|err| format!("redis: {err}"))
}
