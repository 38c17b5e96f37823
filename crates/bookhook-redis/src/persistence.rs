//! What a Redis server keeps across a restart, read once at connect.

use std::collections::HashMap;
use std::fmt;

use redis::aio::ConnectionLike;

/// How the Redis server persists its data, as it said at connect
/// ([`RedisStore::persistence`](crate::RedisStore::persistence)).
///
/// The deduplication promise (a delivery handled once is recognised for the
/// TTL) lasts only as long as Redis keeps its keys. A server restarted with
/// neither an append-only file (AOF) nor RDB snapshots comes back empty: every
/// delivery handled before the restart is forgotten, and the platforms'
/// retries of those deliveries run their handlers again. With snapshots only,
/// the writes since the last snapshot are lost (minutes, with Redis' usual
/// `save` rules); with the AOF, at most about one second of writes under the
/// default `appendfsync everysec`.
///
/// Read with `CONFIG GET appendonly` and `CONFIG GET save`; where `CONFIG` is
/// refused (managed services often rename or forbid it), `INFO persistence`
/// still tells whether the AOF is on, but not whether snapshots are
/// configured.
///
/// ```
/// use bookhook_redis::Persistence;
///
/// let none = Persistence::new(Some(false), Some(false));
/// assert!(none.is_none());
/// assert!(none.warning().is_some());
///
/// let aof = Persistence::new(Some(true), Some(false));
/// assert!(!aof.is_none());
/// assert_eq!(aof.warning(), None);
/// assert_eq!(aof.to_string(), "append-only file on");
///
/// // Nothing could be read: no claim either way, and no warning.
/// let unknown = Persistence::new(None, None);
/// assert!(!unknown.is_none());
/// assert_eq!(unknown.warning(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Persistence {
    append_only: Option<bool>,
    snapshots: Option<bool>,
    append_fsync: Option<AppendFsync>,
}

/// When Redis flushes its append-only file to disk (`appendfsync`), which
/// decides what an acknowledged write survives.
///
/// | policy | an acknowledged write survives |
/// |---|---|
/// | `always` | a Redis crash and a power loss: the AOF is written and fsynced before the reply |
/// | `everysec` | a Redis crash while the disk keeps up; while an fsync is slow Redis may hold the write back for up to 2 s, and a crash or power loss then loses those writes |
/// | `no` | a Redis crash; after a power loss, only what the OS had flushed |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AppendFsync {
    /// `appendfsync always`.
    Always,
    /// `appendfsync everysec` (Redis' default).
    Everysec,
    /// `appendfsync no`.
    No,
}

impl AppendFsync {
    /// The setting's value as Redis writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::Everysec => "everysec",
            AppendFsync::No => "no",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            v if v.eq_ignore_ascii_case("always") => Some(AppendFsync::Always),
            v if v.eq_ignore_ascii_case("everysec") => Some(AppendFsync::Everysec),
            v if v.eq_ignore_ascii_case("no") => Some(AppendFsync::No),
            _ => None,
        }
    }
}

impl fmt::Display for AppendFsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Persistence {
    /// A finding: whether the append-only file is on, and whether RDB
    /// snapshots are configured (`None`: the server did not say).
    pub const fn new(append_only: Option<bool>, snapshots: Option<bool>) -> Self {
        Self {
            append_only,
            snapshots,
            append_fsync: None,
        }
    }

    /// The same finding, with the `appendfsync` policy.
    #[must_use]
    pub const fn with_append_fsync(mut self, policy: Option<AppendFsync>) -> Self {
        self.append_fsync = policy;
        self
    }

    /// The `appendfsync` policy; `None` if the server did not say (`INFO`
    /// does not show it).
    pub const fn append_fsync(&self) -> Option<AppendFsync> {
        self.append_fsync
    }

    /// Whether the append-only file is on (`appendonly yes`); `None` if the
    /// server did not say.
    pub const fn append_only(&self) -> Option<bool> {
        self.append_only
    }

    /// Whether RDB snapshots are configured (a non-empty `save`); `None` if
    /// the server did not say.
    pub const fn snapshots(&self) -> Option<bool> {
        self.snapshots
    }

    /// Whether the server certainly keeps nothing across a restart: no AOF
    /// and no snapshots.
    pub const fn is_none(&self) -> bool {
        matches!(
            (self.append_only, self.snapshots),
            (Some(false), Some(false))
        )
    }

    /// The warning to show when the server keeps nothing across a restart
    /// ([`is_none`](Self::is_none)), else `None`.
    pub fn warning(&self) -> Option<&'static str> {
        self.is_none().then_some(
            "redis keeps nothing across a restart (no append-only file, no rdb snapshots): \
             a restart forgets every handled delivery and their retries run again; \
             set `appendonly yes` for deduplication that survives restarts",
        )
    }

    /// Asks the server over `connection`: `CONFIG GET`, else `INFO persistence`.
    pub(crate) async fn read<C: ConnectionLike>(connection: &mut C) -> Self {
        match config(connection).await {
            Ok(found) => found,
            Err(config_err) => match info(connection).await {
                Ok(found) => found,
                Err(info_err) => {
                    tracing::debug!(
                        config = %config_err,
                        info = %info_err,
                        "could not read the redis persistence settings"
                    );
                    Self::new(None, None)
                }
            },
        }
    }
}

impl fmt::Display for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.append_only, self.snapshots) {
            (Some(true), _) => "append-only file on",
            (Some(false), Some(true)) => "rdb snapshots only",
            (Some(false), Some(false)) => "none",
            (Some(false), None) => "no append-only file; rdb snapshots unknown",
            (None, Some(true)) => "rdb snapshots; append-only file unknown",
            (None, Some(false)) => "no rdb snapshots; append-only file unknown",
            (None, None) => "unknown",
        })
    }
}

/// One `CONFIG GET name` value.
async fn config_value<C: ConnectionLike>(
    connection: &mut C,
    name: &str,
) -> Result<Option<String>, redis::RedisError> {
    let mut found: HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(connection)
        .await?;
    Ok(found.remove(name))
}

async fn config<C: ConnectionLike>(connection: &mut C) -> Result<Persistence, redis::RedisError> {
    let append_only = config_value(connection, "appendonly").await?;
    let save = config_value(connection, "save").await?;
    let fsync = config_value(connection, "appendfsync").await?;
    Ok(from_config(append_only.as_deref(), save.as_deref())
        .with_append_fsync(fsync.as_deref().and_then(AppendFsync::parse)))
}

/// `appendonly` is `yes` or `no`; `save` is empty when snapshots are off,
/// else pairs of seconds and changes (`3600 1 300 100 60 10000`).
fn from_config(append_only: Option<&str>, save: Option<&str>) -> Persistence {
    let append_only = append_only.and_then(|value| match value.trim() {
        v if v.eq_ignore_ascii_case("yes") => Some(true),
        v if v.eq_ignore_ascii_case("no") => Some(false),
        _ => None,
    });
    let snapshots = save.map(|value| !value.trim().is_empty());
    Persistence::new(append_only, snapshots)
}

async fn info<C: ConnectionLike>(connection: &mut C) -> Result<Persistence, redis::RedisError> {
    let text: String = redis::cmd("INFO")
        .arg("persistence")
        .query_async(connection)
        .await?;
    Ok(from_info(&text))
}

/// `aof_enabled:0|1` from `INFO persistence`. INFO does not show the `save`
/// rules, so snapshots stay unknown.
fn from_info(text: &str) -> Persistence {
    let append_only = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("aof_enabled:"))
        .and_then(|value| match value.trim() {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        });
    Persistence::new(append_only, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_give_the_finding() {
        assert!(from_config(Some("no"), Some("")).is_none());
        assert_eq!(
            from_config(Some("no"), Some("3600 1 300 100 60 10000")),
            Persistence::new(Some(false), Some(true))
        );
        assert_eq!(
            from_config(Some("yes"), Some("")),
            Persistence::new(Some(true), Some(false))
        );
        assert_eq!(from_config(None, None), Persistence::new(None, None));
        assert_eq!(
            from_config(Some("maybe"), Some("")),
            Persistence::new(None, Some(false))
        );
    }

    #[test]
    fn info_tells_the_aof_only() {
        let text = "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\n";
        assert_eq!(from_info(text), Persistence::new(Some(false), None));
        // Without the snapshot rules, no certainty and so no warning.
        assert_eq!(from_info(text).warning(), None);
        let on = "# Persistence\r\naof_enabled:1\r\n";
        assert_eq!(from_info(on), Persistence::new(Some(true), None));
        assert_eq!(from_info(""), Persistence::new(None, None));
    }

    #[test]
    fn warning_is_one_lower_case_line_only_when_nothing_persists() {
        let warning = Persistence::new(Some(false), Some(false))
            .warning()
            .expect("a warning");
        assert!(!warning.contains('\n'));
        assert!(!warning.ends_with('.'));
        assert!(warning.starts_with(|c: char| c.is_lowercase()));
        for kept in [
            Persistence::new(Some(true), Some(false)),
            Persistence::new(Some(false), Some(true)),
            Persistence::new(Some(false), None),
            Persistence::new(None, None),
        ] {
            assert_eq!(kept.warning(), None, "{kept}");
        }
    }
}
