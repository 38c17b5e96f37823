//! What the server does with writes: read once at connect.

use std::collections::HashMap;

use redis::aio::ConnectionLike;

/// The Redis persistence settings that decide what an acknowledged event
/// survives, as read from the server when the inbox connected.
///
/// | server settings | an acknowledged event survives |
/// |---|---|
/// | `appendonly yes`, `appendfsync always` | a Redis crash and a power loss: the AOF is written and fsynced before the reply |
/// | `appendonly yes`, `appendfsync everysec` | a Redis crash while the disk keeps up; while an fsync is slow Redis may hold the write back for up to 2 s, and a crash or power loss then loses those acknowledged events |
/// | `appendonly yes`, `appendfsync no` | a Redis crash; after a power loss, whatever the OS had flushed |
/// | `appendonly no` (RDB snapshots or nothing) | nothing certain: a restart forgets every write since the last snapshot |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Persistence {
    /// Whether the append-only file is on (`appendonly yes`).
    pub append_only: bool,
    /// The `appendfsync` policy (`always`, `everysec` or `no`), when the
    /// server lets `CONFIG GET` read it.
    pub append_fsync: Option<String>,
}

/// Reads the settings with `CONFIG GET`, or from `INFO persistence` where
/// `CONFIG` is disabled (many managed services rename it).
pub(crate) async fn read<C: ConnectionLike + Send>(
    connection: &mut C,
) -> Result<Persistence, String> {
    let config: Result<HashMap<String, String>, _> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("append*")
        .query_async(connection)
        .await;
    if let Ok(config) = config {
        if let Some(append_only) = config.get("appendonly") {
            return Ok(Persistence {
                append_only: append_only.eq_ignore_ascii_case("yes"),
                append_fsync: config.get("appendfsync").cloned(),
            });
        }
    }
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query_async(connection)
        .await
        .map_err(|err| format!("redis: {err}"))?;
    parse_info(&info).ok_or_else(|| "neither CONFIG GET nor INFO shows aof_enabled".to_owned())
}

fn parse_info(info: &str) -> Option<Persistence> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix("aof_enabled:"))
        .map(|value| Persistence {
            append_only: value.trim() == "1",
            append_fsync: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_persistence_tells_whether_aof_is_on() {
        let on = "# Persistence\r\nloading:0\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\n";
        assert_eq!(
            parse_info(on),
            Some(Persistence {
                append_only: true,
                append_fsync: None
            })
        );
        assert_eq!(
            parse_info("aof_enabled:0\r\n").map(|p| p.append_only),
            Some(false)
        );
        assert_eq!(parse_info("# Persistence\r\nloading:0\r\n"), None);
    }
}
