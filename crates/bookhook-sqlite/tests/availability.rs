//! A file the inbox cannot use fails loudly: a clear error at open, and
//! `Unavailable` (503 on the request path) for a write that did not commit,
//! never an `Ok`.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use bookhook::inbox::{Enqueued, Filter, Inbox, InboxError};
use bookhook_sqlite::{SCHEMA_VERSION, SqliteInbox};
use support::{T0, event};

fn incompatible(result: Result<SqliteInbox, InboxError>) -> String {
    match result {
        Err(InboxError::Incompatible { reason }) => reason,
        other => panic!("expected an incompatible file, got {other:?}"),
    }
}

fn unavailable(result: Result<SqliteInbox, InboxError>) -> String {
    match result {
        Err(InboxError::Unavailable { reason }) => reason,
        other => panic!("expected an unavailable file, got {other:?}"),
    }
}

#[test]
fn refuses_a_file_of_garbage_bytes_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let garbage: Vec<u8> = (0..64 * 1024_u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &garbage).unwrap();
    let reason = incompatible(SqliteInbox::open(&path));
    assert!(reason.contains("inbox.db"), "{reason}");
    assert!(reason.contains("not a database"), "{reason}");
    // The file is left as it was.
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

/// An inbox of 300 events whose pages 20 to 60 are then overwritten with garbage.
async fn damaged_inbox(path: &Path) -> Vec<bookhook::inbox::InboxId> {
    let inbox = SqliteInbox::open(path).unwrap();
    let mut ids = Vec::new();
    for n in 0..300 {
        let mut new = event("a", &format!("k{n}"), Some(&format!("apt{n}")), T0, None);
        new.body = vec![b'x'; 1024].into();
        ids.push(inbox.enqueue(new).await.unwrap().id());
    }
    drop(inbox);
    // Fold the WAL into the file, so that the garbage lands on live pages.
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(conn);
    let mut bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > 61 * 4096, "the file is smaller than expected");
    for (n, byte) in bytes[20 * 4096..60 * 4096].iter_mut().enumerate() {
        *byte = (n.wrapping_mul(2_654_435_761) >> 11) as u8;
    }
    std::fs::write(path, bytes).unwrap();
    ids
}

#[tokio::test]
async fn a_damaged_page_is_incompatible_when_read_never_an_ok_with_wrong_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let ids = damaged_inbox(&path).await;
    // Opening reads only the schema, which is intact.
    let inbox = SqliteInbox::open(&path).unwrap();
    let mut incompatible = 0;
    for id in ids {
        match inbox.get(id).await {
            Ok(Some(detail)) => assert_eq!(detail.body.len(), 1024, "{detail:?}"),
            Ok(None) => panic!("row {id} vanished without an error"),
            Err(InboxError::Incompatible { reason }) => {
                assert!(reason.contains("malformed"), "{reason}");
                incompatible += 1;
            }
            Err(other) => panic!("expected incompatible, got {other:?}"),
        }
    }
    assert!(incompatible > 0, "no read met the damaged pages");
}

#[tokio::test]
async fn check_integrity_refuses_a_damaged_file_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    damaged_inbox(&path).await;
    let reason = incompatible(SqliteInbox::builder(&path).check_integrity(true).open());
    assert!(reason.contains("damaged"), "{reason}");
    // An intact file passes the check.
    let other = dir.path().join("intact.db");
    drop(SqliteInbox::open(&other).unwrap());
    assert!(
        SqliteInbox::builder(&other)
            .check_integrity(true)
            .open()
            .is_ok()
    );
}

#[test]
fn refuses_a_schema_newer_than_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    drop(SqliteInbox::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", i64::from(SCHEMA_VERSION) + 1)
        .unwrap();
    drop(conn);
    let reason = incompatible(SqliteInbox::open(&path));
    assert!(reason.contains("newer"), "{reason}");
    assert!(
        reason.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
        "{reason}"
    );
}

#[test]
fn refuses_a_sqlite_file_of_another_application() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        .unwrap();
    drop(conn);
    let reason = incompatible(SqliteInbox::open(&path));
    assert!(reason.contains("not a bookhook inbox"), "{reason}");
}

#[test]
fn opens_a_file_of_the_current_schema_again_without_migrating_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    drop(SqliteInbox::open(&path).unwrap());
    drop(SqliteInbox::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, i64::from(SCHEMA_VERSION));
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn dropping_the_last_handle_folds_the_wal_into_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let inbox = SqliteInbox::open(&path).unwrap();
    inbox
        .enqueue(event("a", "k", None, T0, None))
        .await
        .unwrap();
    inbox.stats().await.unwrap();
    drop(inbox);
    assert!(!dir.path().join("inbox.db-wal").exists());
}

#[test]
fn fails_at_open_when_the_directory_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let reason = unavailable(SqliteInbox::open(dir.path().join("missing/inbox.db")));
    assert!(reason.contains("missing/inbox.db"), "{reason}");
}

#[tokio::test]
async fn a_full_disk_answers_unavailable_and_never_acknowledges_a_lost_event() {
    // The file is capped with SQLite's max_page_count, which fails writes
    // with SQLITE_FULL exactly as a full disk does.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let inbox = SqliteInbox::builder(&path)
        .max_size(96 * 1024)
        .open()
        .unwrap();
    let body = vec![b'x'; 1024];
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    for n in 0..400 {
        let mut new = event("a", &format!("k{n}"), None, T0, None);
        new.body = body.clone().into();
        match inbox.enqueue(new).await {
            Ok(Enqueued::Queued(id)) => acknowledged.push((n, id)),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(InboxError::Unavailable { reason }) => {
                assert!(reason.contains("full"), "{reason}");
                refused.push(n);
            }
            Err(other) => panic!("expected unavailable, got {other:?}"),
        }
    }
    assert!(!acknowledged.is_empty() && !refused.is_empty());
    drop(inbox);

    let inbox = SqliteInbox::open(&path).unwrap();
    for (n, id) in &acknowledged {
        let detail = inbox.get(*id).await.unwrap().expect("acknowledged row");
        assert_eq!(detail.record.key, format!("k{n}"));
    }
    assert_eq!(
        inbox.count(&Filter::default()).await.unwrap(),
        acknowledged.len() as u64
    );
    // The refused events were not stored: a retry of the sender stores them now.
    let n = refused[0];
    assert!(matches!(
        inbox
            .enqueue(event("a", &format!("k{n}"), None, T0, None))
            .await,
        Ok(Enqueued::Queued(_))
    ));
}

#[tokio::test]
async fn a_full_file_accepts_writes_again_once_rows_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = SqliteInbox::builder(dir.path().join("inbox.db"))
        .max_size(96 * 1024)
        .open()
        .unwrap();
    let mut n = 0;
    loop {
        let mut new = event("a", &format!("k{n}"), None, T0, None);
        new.body = vec![b'x'; 1024].into();
        n += 1;
        if inbox.enqueue(new).await.is_err() {
            break;
        }
        assert!(n < 1_000, "the cap was never reached");
    }
    inbox.purge(&Filter::default()).await.unwrap();
    assert!(
        inbox
            .enqueue(event("a", "after", None, T0, None))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_database_locked_by_another_process_answers_unavailable_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let inbox = SqliteInbox::builder(&path)
        .busy_timeout(Duration::from_millis(100))
        .open()
        .unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    match inbox.enqueue(event("a", "k", None, T0, None)).await {
        Err(InboxError::Unavailable { reason }) => assert!(reason.contains("locked"), "{reason}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    other.execute_batch("COMMIT").unwrap();
    assert!(matches!(
        inbox.enqueue(event("a", "k", None, T0, None)).await,
        Ok(Enqueued::Queued(_))
    ));
}

#[test]
fn a_locked_database_fails_at_open_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    drop(SqliteInbox::open(&path).unwrap());
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let reason = unavailable(
        SqliteInbox::builder(&path)
            .busy_timeout(Duration::from_millis(100))
            .open(),
    );
    assert!(reason.contains("locked"), "{reason}");
}

/// The environment variable that makes a test run its read-only probe
/// (in a child process that cannot write the files).
const PROBE: &str = "BOOKHOOK_SQLITE_READ_ONLY_PROBE";

/// Opens the inbox at `path` where it cannot be written, and checks that it
/// fails with `Unavailable`. Permissions do not stop root, so as root the
/// probe runs in a copy of this test as the user `nobody`, for whom the
/// files (owned by root) are read-only.
fn expect_unwritable(test: &str, path: &Path) {
    let dir = path.parent().unwrap();
    let owner = std::fs::metadata(dir).unwrap().uid();
    if owner != 0 {
        return probe(path);
    }
    // Let `nobody` reach the directory and read the files, not write them.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(PROBE, path)
        .uid(65534)
        .gid(65534)
        .status()
        .unwrap();
    assert!(status.success(), "the probe as nobody failed: {status}");
}

fn probe(path: &Path) {
    let reason = unavailable(SqliteInbox::open(path));
    assert!(reason.contains(&path.display().to_string()), "{reason}");
    println!("read-only probe: {reason}");
}

/// The probe's path when this process is the child that runs it.
fn probing() -> Option<std::path::PathBuf> {
    std::env::var_os(PROBE).map(Into::into)
}

#[test]
fn a_read_only_file_fails_at_open() {
    if let Some(path) = probing() {
        return probe(&path);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    drop(SqliteInbox::open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    expect_unwritable("a_read_only_file_fails_at_open", &path);
}

#[test]
fn a_read_only_directory_fails_at_open() {
    if let Some(path) = probing() {
        return probe(&path);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    expect_unwritable("a_read_only_directory_fails_at_open", &path);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn an_existing_inbox_in_a_read_only_directory_fails_at_open() {
    if let Some(path) = probing() {
        return probe(&path);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    drop(SqliteInbox::open(&path).unwrap());
    // The file itself is writable by anyone: only its journal cannot be created.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    expect_unwritable(
        "an_existing_inbox_in_a_read_only_directory_fails_at_open",
        &path,
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}
