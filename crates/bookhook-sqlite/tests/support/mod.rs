//! Shared pieces of the tests: events to store and a fresh inbox file.

#![allow(dead_code, unreachable_pub)]

use bookhook::inbox::NewEvent;
use bookhook::{Kind, Provider};
use bookhook_sqlite::SqliteInbox;

/// A time to start the test clock at.
pub const T0: i64 = 1_764_547_200_000;

/// A Calendence event of `namespace` with `key`, for `appointment`, received at `received`.
pub fn event(
    namespace: &str,
    key: &str,
    appointment: Option<&str>,
    received: i64,
    occurred: Option<i64>,
) -> NewEvent {
    NewEvent::new(
        namespace,
        key,
        appointment.map(str::to_owned),
        Provider::Calendence,
        "appointment.updated",
        Kind::Updated,
        received,
        occurred,
        format!(r#"{{"id":"{key}"}}"#).into(),
        vec![("content-type".to_owned(), "application/json".to_owned())],
    )
}

/// A new inbox in a temporary directory (kept alive with it).
pub fn inbox() -> (tempfile::TempDir, SqliteInbox) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let inbox = SqliteInbox::open(dir.path().join("inbox.db")).expect("open the inbox");
    (dir, inbox)
}
