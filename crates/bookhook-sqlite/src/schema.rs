//! The file's schema and its versioned migrations, run when the inbox opens.

use bookhook::inbox::InboxError;
use rusqlite::{Connection, TransactionBehavior};

use crate::error::from_sqlite;

/// Marks a SQLite file as a bookhook inbox (`PRAGMA application_id`): "bkhb".
pub(crate) const APPLICATION_ID: i32 = 0x626b_6862;

/// The migrations, oldest first: migration `n` (from 1) takes a file from
/// schema version `n - 1` to `n`. Append only; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: events, their payloads and their attempts.
    "
    CREATE TABLE events (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace       TEXT    NOT NULL,
        key             TEXT    NOT NULL,
        ordering_key    TEXT,
        provider        TEXT    NOT NULL,
        event_type      TEXT    NOT NULL,
        kind            TEXT    NOT NULL,
        received_at     INTEGER NOT NULL,
        occurred_at     INTEGER,
        state           INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3)),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_until     INTEGER,
        lease_token     BLOB,
        last_error      TEXT,
        trigger_next    INTEGER NOT NULL DEFAULT 0,
        finished_at     INTEGER,
        UNIQUE (namespace, key)
    );
    -- claim: the pending and processing rows of a namespace, oldest id first
    CREATE INDEX events_claim ON events (namespace, id) WHERE state IN (0, 1);
    -- ordering: the older rows of one appointment, and its newest done event
    CREATE INDEX events_order ON events (namespace, ordering_key, id)
        WHERE ordering_key IS NOT NULL;
    -- stats: counts per state, the oldest pending row
    CREATE INDEX events_state ON events (state, received_at);
    -- retention: done rows by the end of their last attempt
    CREATE INDEX events_retention ON events (finished_at) WHERE state = 2;

    -- the raw body and headers, apart from the row whose state changes: a
    -- claim or a completion then rewrites a few small pages, not the body's
    CREATE TABLE payloads (
        event_id INTEGER PRIMARY KEY,
        body     BLOB NOT NULL,
        headers  TEXT NOT NULL
    );

    CREATE TABLE attempts (
        event_id   INTEGER NOT NULL,
        number     INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at   INTEGER,
        outcome    TEXT    NOT NULL,
        error      TEXT,
        trigger    TEXT    NOT NULL,
        PRIMARY KEY (event_id, number)
    ) WITHOUT ROWID;
    ",
    // 2: the dashboard's reads at a million rows: the chart's time range, and
    // one state's rows newest first without sorting them.
    "
    CREATE INDEX events_received ON events (received_at);
    CREATE INDEX events_state_id ON events (state, id);
    ",
    // 3: the request path's insert maintains no index keyed by appointment.
    // Appointment ids are random, so every entry of such an index lands on
    // its own page: that page is one more written to the WAL per event, which
    // cost a third of the writer's time per acknowledged event. A claim sees
    // the rows never claimed in its own scan (oldest first), so the ordering
    // index only has to hold the rows a worker has claimed; the freshness
    // lookup only needs the done rows. Both enter on the worker's path.
    "
    DROP INDEX events_order;
    CREATE INDEX events_order_claimed ON events (namespace, ordering_key, id)
        WHERE ordering_key IS NOT NULL AND (state = 1 OR (state = 0 AND attempts > 0));
    CREATE INDEX events_order_done ON events (namespace, ordering_key, occurred_at)
        WHERE ordering_key IS NOT NULL AND state = 2;
    ",
    // 4: the events table again, with two costs of every write removed.
    // - `CHECK (state IN (0, 1, 2, 3))` built a temporary index of the four
    //   values for every insert and every update of a row (SQLite codes an
    //   IN list that way); `state BETWEEN 0 AND 3` is two comparisons.
    // - `events_state` is gone: `events_state_id` answers the counts per
    //   state and the oldest pending row (the pending row of the lowest id),
    //   and keeping both cost one index entry per stored event and two per
    //   claim and completion.
    // The rows keep their ids, and the AUTOINCREMENT counter its value, so
    // that the ids of purged rows are still never given again.
    "
    CREATE TABLE events_v4 (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace       TEXT    NOT NULL,
        key             TEXT    NOT NULL,
        ordering_key    TEXT,
        provider        TEXT    NOT NULL,
        event_type      TEXT    NOT NULL,
        kind            TEXT    NOT NULL,
        received_at     INTEGER NOT NULL,
        occurred_at     INTEGER,
        state           INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_until     INTEGER,
        lease_token     BLOB,
        last_error      TEXT,
        trigger_next    INTEGER NOT NULL DEFAULT 0,
        finished_at     INTEGER,
        UNIQUE (namespace, key)
    );
    INSERT INTO events_v4 (id, namespace, key, ordering_key, provider, event_type, kind,
        received_at, occurred_at, state, attempts, next_attempt_at, lease_until, lease_token,
        last_error, trigger_next, finished_at)
    SELECT id, namespace, key, ordering_key, provider, event_type, kind,
        received_at, occurred_at, state, attempts, next_attempt_at, lease_until, lease_token,
        last_error, trigger_next, finished_at
    FROM events ORDER BY id;
    DELETE FROM sqlite_sequence WHERE name = 'events_v4';
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'events_v4', seq FROM sqlite_sequence WHERE name = 'events';
    DROP TABLE events;
    ALTER TABLE events_v4 RENAME TO events;
    CREATE INDEX events_claim ON events (namespace, id) WHERE state IN (0, 1);
    CREATE INDEX events_retention ON events (finished_at) WHERE state = 2;
    CREATE INDEX events_received ON events (received_at);
    CREATE INDEX events_state_id ON events (state, id);
    CREATE INDEX events_order_claimed ON events (namespace, ordering_key, id)
        WHERE ordering_key IS NOT NULL AND (state = 1 OR (state = 0 AND attempts > 0));
    CREATE INDEX events_order_done ON events (namespace, ordering_key, occurred_at)
        WHERE ordering_key IS NOT NULL AND state = 2;
    ",
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the file to [`SCHEMA_VERSION`], in one transaction: refuses a
/// newer file or a SQLite file that is not an inbox.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), InboxError> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// [`migrate`], stopping at schema version `target`.
fn migrate_to(conn: &mut Connection, target: u32) -> Result<(), InboxError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(from_sqlite)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(from_sqlite)?;
    let application_id: i32 = tx
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(from_sqlite)?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(InboxError::Incompatible {
            reason: format!(
                "the file is a sqlite database of another application (application_id {application_id:#x})"
            ),
        });
    }
    if version > i64::from(SCHEMA_VERSION) {
        return Err(InboxError::Incompatible {
            reason: format!(
                "the file's schema version {version} is newer than this bookhook-sqlite understands ({SCHEMA_VERSION}); upgrade bookhook-sqlite to open it"
            ),
        });
    }
    if application_id == 0 {
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(from_sqlite)?;
        if tables > 0 {
            return Err(InboxError::Incompatible {
                reason: "the file is a sqlite database that is not a bookhook inbox".to_owned(),
            });
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(from_sqlite)?;
    }
    let start = usize::try_from(version).unwrap_or(0);
    let end = usize::try_from(target).unwrap_or(MIGRATIONS.len());
    for (index, migration) in MIGRATIONS.iter().enumerate().take(end).skip(start) {
        tx.execute_batch(migration).map_err(from_sqlite)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(index + 1).unwrap_or(i64::MAX),
        )
        .map_err(from_sqlite)?;
    }
    tx.commit().map_err(from_sqlite)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(conn: &Connection) -> Vec<(i64, String, i64)> {
        let mut statement = conn
            .prepare("SELECT id, key, state FROM events ORDER BY id")
            .unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn insert(conn: &Connection, key: &str, state: i64) -> rusqlite::Result<usize> {
        conn.execute(
            "INSERT INTO events (namespace, key, provider, event_type, kind, received_at, state) \
             VALUES ('n', ?1, 'calendence', 'booking.created', 'created', 1, ?2)",
            rusqlite::params![key, state],
        )
    }

    #[test]
    fn version_4_keeps_rows_ids_and_the_id_counter_of_a_version_3_file() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 3).unwrap();
        for (key, state) in [("a", 0), ("b", 2), ("c", 3), ("d", 0)] {
            insert(&conn, key, state).unwrap();
        }
        // The newest row purged: its id must not be given again.
        conn.execute("DELETE FROM events WHERE key = 'd'", [])
            .unwrap();
        conn.execute(
            "INSERT INTO payloads (event_id, body, headers) VALUES (2, x'7b7d', '[]')",
            [],
        )
        .unwrap();

        migrate(&mut conn).unwrap();

        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, i64::from(SCHEMA_VERSION));
        assert_eq!(
            ids(&conn),
            [
                (1, "a".to_owned(), 0),
                (2, "b".to_owned(), 2),
                (3, "c".to_owned(), 3)
            ]
        );
        insert(&conn, "e", 0).unwrap();
        assert_eq!(
            conn.last_insert_rowid(),
            5,
            "id 4 was given before the purge"
        );
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            indexes,
            [
                "events_claim",
                "events_order_claimed",
                "events_order_done",
                "events_received",
                "events_retention",
                "events_state_id",
                "sqlite_autoindex_events_1",
            ]
        );
        let body: Vec<u8> = conn
            .query_row("SELECT body FROM payloads WHERE event_id = 2", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(body, b"{}");
        assert!(
            insert(&conn, "f", 4).is_err(),
            "a state out of range is refused"
        );
        assert!(insert(&conn, "a", 0).is_err(), "the key stays unique");
    }

    #[test]
    fn a_new_file_has_no_rows_and_starts_ids_at_one() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert!(ids(&conn).is_empty());
        insert(&conn, "a", 0).unwrap();
        assert_eq!(conn.last_insert_rowid(), 1);
    }

    #[test]
    fn storing_or_changing_a_row_builds_no_temporary_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        // `OpenEphemeral` is the temporary b-tree an `IN (…)` check built
        // for every write before version 4.
        for sql in [
            "INSERT INTO events (namespace, key, provider, event_type, kind, received_at, state) \
             VALUES ('n', 'k', 'calendence', 'booking.created', 'created', 1, 0) \
             ON CONFLICT (namespace, key) DO NOTHING",
            "UPDATE events SET state = 2, finished_at = 5 WHERE id = 1 AND state = 1",
        ] {
            let opcodes: Vec<String> = conn
                .prepare(&format!("EXPLAIN {sql}"))
                .unwrap()
                .query_map([], |row| row.get(1))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                !opcodes.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {opcodes:?}"
            );
        }
    }
}
