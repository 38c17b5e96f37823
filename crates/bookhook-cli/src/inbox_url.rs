//! Naming an inbox by a URL (`sqlite:PATH` or `redis://…`), and reading
//! the times and durations its commands take.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bookhook::inbox::{Inbox, InboxError};

use crate::error::CliError;

/// The variable read when `--inbox` is not given.
pub(crate) const INBOX_VAR: &str = "BOOKHOOK_INBOX";
/// The inbox used when neither `--inbox` nor `BOOKHOOK_INBOX` names one.
pub(crate) const DEFAULT_INBOX: &str = "sqlite:bookhook-inbox.db";

/// A parsed inbox URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InboxUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A Redis server, through `bookhook_redis::RedisInbox`.
    Redis(String),
}

impl InboxUrl {
    /// The URL to use: `given`, else `BOOKHOOK_INBOX`, else the default.
    pub(crate) fn resolve(given: Option<&str>) -> Result<Self, CliError> {
        match given {
            Some(url) => Self::parse(url),
            None => match std::env::var(INBOX_VAR) {
                Ok(url) if !url.trim().is_empty() => Self::parse(&url).map_err(|err| {
                    CliError::usage(format!("{err} (read from the {INBOX_VAR} variable)"))
                }),
                _ => Self::parse(DEFAULT_INBOX),
            },
        }
    }

    /// Reads `sqlite:PATH` (also `sqlite://PATH` and `sqlite:///ABSOLUTE`)
    /// or a `redis://` URL.
    pub(crate) fn parse(url: &str) -> Result<Self, CliError> {
        let url = url.trim();
        if let Some(rest) = strip_scheme(url, "sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(CliError::usage(format!(
                    "invalid inbox url `{url}`: give a file, as in sqlite:bookhook-inbox.db"
                )));
            }
            return Ok(InboxUrl::Sqlite(PathBuf::from(path)));
        }
        let redis = ["redis://", "rediss://", "redis+unix://", "unix://"];
        if redis
            .iter()
            .any(|scheme| strip_scheme(url, scheme).is_some())
        {
            return Ok(InboxUrl::Redis(url.to_owned()));
        }
        Err(CliError::usage(format!(
            "invalid inbox url `{}`: expected sqlite:PATH (such as {DEFAULT_INBOX})",
            redact(url)
        )))
    }

    /// The URL as shown in messages: without a password.
    pub(crate) fn shown(&self) -> String {
        match self {
            InboxUrl::Sqlite(path) => format!("sqlite:{}", path.display()),
            InboxUrl::Redis(url) => redact(url),
        }
    }

    /// Opens the inbox, creating a SQLite file that does not exist yet.
    pub(crate) async fn open(&self) -> Result<Arc<dyn Inbox>, CliError> {
        match self {
            InboxUrl::Sqlite(path) => {
                let inbox = bookhook_sqlite::SqliteInbox::open(path).map_err(|err| {
                    self.failure(
                        &err,
                        "check that its directory exists and is writable, or pass another --inbox",
                    )
                })?;
                Ok(Arc::new(inbox))
            }
            InboxUrl::Redis(url) => {
                let inbox = bookhook_redis::RedisInbox::connect(url).await.map_err(|err| {
                    CliError::failure(format!(
                        "inbox {}: {err}; check that Redis runs there with `appendonly yes`, or pass another --inbox",
                        self.shown()
                    ))
                })?;
                Ok(Arc::new(inbox))
            }
        }
    }

    /// Opens an inbox that must exist already: the commands that read one.
    pub(crate) async fn open_existing(&self) -> Result<Arc<dyn Inbox>, CliError> {
        if let InboxUrl::Sqlite(path) = self
            && !Path::new(path).exists()
        {
            return Err(CliError::failure(format!(
                "inbox {}: the file does not exist; pass --inbox URL or set {INBOX_VAR} to the inbox `listen --inbox` writes",
                self.shown()
            )));
        }
        self.open().await
    }

    /// A runtime failure on this inbox, with what to do about it.
    pub(crate) fn failure(&self, err: &InboxError, hint: &str) -> CliError {
        CliError::failure(format!("inbox {}: {err}; {hint}", self.shown()))
    }
}

fn strip_scheme<'a>(url: &'a str, scheme: &str) -> Option<&'a str> {
    url.get(..scheme.len())
        .filter(|s| s.eq_ignore_ascii_case(scheme))
        .map(|_| &url[scheme.len()..])
}

/// `url` with the password of its user part hidden.
fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[start..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = &rest[..at];
            let user = match user.find(':') {
                Some(colon) => format!("{}:***", &user[..colon]),
                None => "***".to_owned(),
            };
            format!("{}{user}{}", &url[..start], &rest[at..])
        }
        None => url.to_owned(),
    }
}

/// A duration such as `500ms`, `5s`, `1m`, `2h` or `7d` (decimals allowed).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 500ms, 5s, 1m, 2h or 7d"))?;
    let unit_secs = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => {
            return Err(format!(
                "`{text}` needs a unit: ms, s, m, h or d (as in 500ms, 5s, 1m, 2h, 7d)"
            ));
        }
    };
    let secs = value * unit_secs;
    if !(secs > 0.0 && secs <= 366.0 * 86_400.0) {
        return Err(format!("`{text}` must be longer than 0 and at most a year"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A list of durations separated by commas: `5s,1m,10m`.
pub(crate) fn parse_durations(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',').map(parse_duration).collect()
}

/// A point in time, in ms since the Unix epoch: RFC 3339
/// (`2026-12-01T09:00:00Z`) or an age before now (`30m`, `2h`, `7d`).
pub(crate) fn parse_time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    let age = parse_duration(text).map_err(|_| {
        format!(
            "`{text}` is neither an RFC 3339 time (2026-12-01T09:00:00Z) nor an age (30m, 2h, 7d)"
        )
    })?;
    let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
    Ok(now_ms().saturating_sub(age_ms))
}

/// The current time in ms since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `ms` since the Unix epoch as RFC 3339 in UTC, to the millisecond.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_a_file() {
        assert_eq!(
            InboxUrl::parse("sqlite:bookhook-inbox.db").unwrap(),
            InboxUrl::Sqlite("bookhook-inbox.db".into())
        );
        assert_eq!(
            InboxUrl::parse("sqlite:///var/lib/in.db").unwrap(),
            InboxUrl::Sqlite("/var/lib/in.db".into())
        );
        assert_eq!(
            InboxUrl::parse("SQLITE:data/in.db").unwrap().shown(),
            "sqlite:data/in.db"
        );
        assert!(matches!(
            InboxUrl::parse("sqlite:"),
            Err(CliError::Usage(_))
        ));
    }

    #[test]
    fn unknown_schemes_are_usage_errors_without_the_password() {
        let err = InboxUrl::parse("postgres://me:hunter2@db/x").unwrap_err();
        assert!(matches!(err, CliError::Usage(_)));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("sqlite:PATH"), "{err}");
    }

    #[tokio::test]
    async fn unreachable_redis_inbox_is_a_failure_that_hides_the_password() {
        // Port 1 on loopback: nothing listens there, so the connection is refused.
        let url = InboxUrl::parse("redis://:hunter2@127.0.0.1:1/0").unwrap();
        assert_eq!(url.shown(), "redis://:***@127.0.0.1:1/0");
        let opened = tokio::time::timeout(std::time::Duration::from_secs(60), url.open())
            .await
            .expect("connecting to a closed port ends");
        let Err(err) = opened else {
            panic!("a redis inbox opened on a closed port")
        };
        assert!(matches!(err, CliError::Failure(_)), "{err}");
        assert!(
            err.to_string().contains("redis://:***@127.0.0.1:1/0"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        for bad in ["5", "", "s", "0s", "-1s", "3w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_durations("5s,1m").unwrap(),
            vec![Duration::from_secs(5), Duration::from_secs(60)]
        );
    }

    #[test]
    fn times_are_rfc3339_or_an_age() {
        assert_eq!(
            parse_time("2026-12-01T09:00:00Z").unwrap(),
            1_796_115_600_000
        );
        let two_hours_ago = parse_time("2h").unwrap();
        let expected = now_ms() - 7_200_000;
        assert!((two_hours_ago - expected).abs() < 5_000);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(rfc3339(1_796_115_600_000), "2026-12-01T09:00:00.000Z");
    }
}
