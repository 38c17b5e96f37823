//! Mapping of Redis errors onto [`StoreError`].

use bookhook::idempotency::StoreError;
use redis::{ErrorKind, RedisError};

/// Whether the error means "the server cannot serve us right now" rather than
/// "the server answered something we did not expect".
fn is_unavailable(err: &RedisError) -> bool {
    if err.is_io_error()
        || err.is_timeout()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
    {
        return true;
    }
    matches!(
        err.kind(),
        ErrorKind::IoError
            | ErrorKind::ClientError
            | ErrorKind::AuthenticationFailed
            | ErrorKind::InvalidClientConfig
            | ErrorKind::BusyLoadingError
            | ErrorKind::TryAgain
            | ErrorKind::ClusterDown
            | ErrorKind::MasterDown
            | ErrorKind::ReadOnly
            | ErrorKind::MasterNameNotFoundBySentinel
            | ErrorKind::NoValidReplicasFoundBySentinel
            | ErrorKind::EmptySentinelList
            | ErrorKind::ClusterConnectionNotFound
    ) || matches!(err.code(), Some("OOM" | "BUSY" | "NOAUTH" | "NOPERM"))
}

/// Converts a Redis error. The message is the client's description of the
/// failure; the commands sent carry only key names, tokens and times, so no
/// payload can appear in it.
pub(crate) fn from_redis(err: &RedisError) -> StoreError {
    let reason = format!("redis: {err}");
    if is_unavailable(err) {
        StoreError::Unavailable { reason }
    } else {
        StoreError::Protocol { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(matches!(
            from_redis(&RedisError::from(io)),
            StoreError::Unavailable { .. }
        ));
    }

    #[test]
    fn type_errors_are_protocol_errors() {
        let err = RedisError::from((ErrorKind::TypeError, "unexpected reply"));
        assert!(matches!(from_redis(&err), StoreError::Protocol { .. }));
    }

    #[test]
    fn loading_server_is_unavailable() {
        let err = RedisError::from((ErrorKind::BusyLoadingError, "loading"));
        assert!(matches!(from_redis(&err), StoreError::Unavailable { .. }));
    }
}
