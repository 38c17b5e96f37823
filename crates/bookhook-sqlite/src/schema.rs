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
    // 4: one index fewer on every insert and on every change of state:
    // `events_state_id` answers the counts per state and the oldest pending
    // row (the pending row of the lowest id) as `events_state` did, and
    // keeping both cost a tenth of the writer's time per stored event and a
    // sixth of the drain's.
    "
    DROP INDEX events_state;
    ",
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the file to [`SCHEMA_VERSION`], in one transaction: refuses a
/// newer file or a SQLite file that is not an inbox.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), InboxError> {
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
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(start) {
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
