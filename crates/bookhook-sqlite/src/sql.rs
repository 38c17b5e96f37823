//! The statements behind each inbox operation, as plain functions of a
//! connection: the writer and reader threads run them.

use std::collections::HashSet;

use bookhook::idempotency::ClaimToken;
use bookhook::inbox::{
    Attempt, AttemptOutcome, Claimed, Enqueued, EventDetail, EventRecord, Failure, Filter,
    InboxError, InboxId, Lease, NewEvent, Page, Selection, State, Stats, Trigger,
};
use bookhook::{Kind, Provider};
use bytes::Bytes;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::error::bad_column;

const PENDING: i64 = 0;
const PROCESSING: i64 = 1;
const DONE: i64 = 2;
const DEAD: i64 = 3;

fn state_code(state: State) -> i64 {
    match state {
        State::Pending => PENDING,
        State::Processing => PROCESSING,
        State::Done => DONE,
        // `State` may grow; an unknown state matches no row.
        State::Dead => DEAD,
        _ => -1,
    }
}

fn state_of(code: i64, column: usize) -> rusqlite::Result<State> {
    match code {
        PENDING => Ok(State::Pending),
        PROCESSING => Ok(State::Processing),
        DONE => Ok(State::Done),
        DEAD => Ok(State::Dead),
        other => Err(rusqlite::Error::IntegralValueOutOfRange(column, other)),
    }
}

fn trigger_of(text: &str, column: usize) -> rusqlite::Result<Trigger> {
    match text {
        "automatic" => Ok(Trigger::Automatic),
        "manual" => Ok(Trigger::Manual),
        other => Err(bad_column(column, UnknownWord(other.to_owned()))),
    }
}

fn outcome_of(text: &str, column: usize) -> rusqlite::Result<AttemptOutcome> {
    match text {
        "running" => Ok(AttemptOutcome::Running),
        "processed" => Ok(AttemptOutcome::Processed),
        "retrying" => Ok(AttemptOutcome::Retrying),
        "dead" => Ok(AttemptOutcome::Dead),
        "expired" => Ok(AttemptOutcome::Expired),
        other => Err(bad_column(column, UnknownWord(other.to_owned()))),
    }
}

/// A word this version does not know, read from the file.
#[derive(Debug, thiserror::Error)]
#[error("unknown value `{0}`")]
struct UnknownWord(String);

fn id_of(raw: i64) -> InboxId {
    InboxId::new(u64::try_from(raw).unwrap_or(0))
}

fn raw_id(id: InboxId) -> i64 {
    i64::try_from(id.get()).unwrap_or(i64::MAX)
}

fn token_bytes(token: ClaimToken) -> [u8; 16] {
    token.as_u128().to_be_bytes()
}

fn headers_text(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".to_owned())
}

fn headers_of(text: &str, column: usize) -> rusqlite::Result<Vec<(String, String)>> {
    serde_json::from_str(text).map_err(|err| bad_column(column, err))
}

/// How every connection of the inbox prepares its statements.
///
/// - The query planner stability guarantee (QPSG) on: otherwise, when
///   SQLite checks whether a query can use a partial index, it reads the
///   values bound to the query's parameters and marks the statement to be
///   compiled again whenever they change. The claim binds the time of day:
///   every claim compiled its statements again, most of a small claim's
///   cost. Each statement here repeats its partial index's condition word
///   for word, so its plan does not depend on the values.
/// - Room for every statement of a busy connection in the statement cache.
pub(crate) fn tune(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The columns of an [`EventRecord`], in the order [`record`] reads them.
const RECORD: &str = "id, namespace, key, ordering_key, provider, event_type, kind, received_at, \
     occurred_at, state, attempts, next_attempt_at, lease_until, last_error";

fn record(row: &Row<'_>) -> rusqlite::Result<EventRecord> {
    let provider: String = row.get(4)?;
    let provider: Provider = provider.parse().map_err(|err| bad_column(4, err))?;
    let kind: String = row.get(6)?;
    let kind: Kind = kind.parse().map_err(|err| bad_column(6, err))?;
    let mut record = EventRecord::new(
        id_of(row.get(0)?),
        row.get::<_, String>(1)?,
        row.get::<_, String>(2)?,
        row.get(3)?,
        provider,
        row.get::<_, String>(5)?,
        kind,
        row.get(7)?,
        row.get(8)?,
    );
    record.state = state_of(row.get(9)?, 9)?;
    record.attempts = row.get(10)?;
    record.next_attempt_at_ms = row.get(11)?;
    record.lease_until_ms = row.get(12)?;
    record.last_error = row.get(13)?;
    Ok(record)
}

/// The raw body and the headers of row `id`.
fn payload(conn: &Connection, id: i64) -> rusqlite::Result<(Bytes, Vec<(String, String)>)> {
    conn.prepare_cached("SELECT body, headers FROM payloads WHERE event_id = ?1")?
        .query_row([id], |row| {
            let body: Vec<u8> = row.get(0)?;
            let headers: String = row.get(1)?;
            Ok((Bytes::from(body), headers_of(&headers, 1)?))
        })
}

/// Stores `event`, or finds the row that has its namespace and key.
pub(crate) fn enqueue(conn: &Connection, event: &NewEvent) -> rusqlite::Result<Enqueued> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO events (namespace, key, ordering_key, provider, event_type, kind, \
             received_at, occurred_at, state, next_attempt_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?7) \
             ON CONFLICT (namespace, key) DO NOTHING",
        )?
        .execute(params![
            event.namespace,
            event.key,
            event.ordering_key,
            event.provider.as_str(),
            event.event_type,
            event.kind.as_str(),
            event.received_at_ms,
            event.occurred_at_ms,
        ])?;
    if inserted == 1 {
        let id = conn.last_insert_rowid();
        conn.prepare_cached("INSERT INTO payloads (event_id, body, headers) VALUES (?1, ?2, ?3)")?
            .execute(params![id, &event.body[..], headers_text(&event.headers)])?;
        return Ok(Enqueued::Queued(id_of(id)));
    }
    let existing: i64 = conn
        .prepare_cached("SELECT id FROM events WHERE namespace = ?1 AND key = ?2")?
        .query_row(params![event.namespace, event.key], |row| row.get(0))?;
    Ok(Enqueued::Duplicate(id_of(existing)))
}

/// A row that may run now, as the claim's first query reads it.
struct Candidate {
    id: i64,
    ordering_key: Option<String>,
    state: i64,
    attempts: u32,
    manual: bool,
    next_attempt_at: Option<i64>,
}

/// Leases up to `max` runnable rows of `namespace`, oldest first, keeping
/// each ordering key to one row at a time.
///
/// The scan reads the pending and processing rows in id order from the
/// oldest, and every row never claimed whether it is due or not: an older
/// row of an appointment is then always read before a newer one, and its
/// key blocks the newer. Rows a worker has claimed before (leased, or
/// waiting for a retry) may not be due; `events_order_claimed` finds them.
pub(crate) fn claim(
    conn: &Connection,
    namespace: &str,
    now_ms: i64,
    lease_ms: i64,
    max: usize,
) -> rusqlite::Result<Vec<Claimed>> {
    let mut claimed = Vec::new();
    if max == 0 {
        return Ok(claimed);
    }
    let until_ms = now_ms.saturating_add(lease_ms);
    let page = i64::try_from(max.saturating_mul(2).clamp(16, 1024)).unwrap_or(1024);
    // The ordering keys of the rows read so far: a later row of one of them waits.
    let mut keys_seen: HashSet<String> = HashSet::new();
    let mut after = 0_i64;
    loop {
        let candidates: Vec<Candidate> = conn
            .prepare_cached(CANDIDATES)?
            .query_map(params![namespace, after, now_ms, page], |row| {
                Ok(Candidate {
                    id: row.get(0)?,
                    ordering_key: row.get(1)?,
                    state: row.get(2)?,
                    attempts: row.get(3)?,
                    manual: row.get::<_, i64>(4)? == 1,
                    next_attempt_at: row.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some(last) = candidates.last() else {
            return Ok(claimed);
        };
        after = last.id;
        for candidate in candidates {
            let due = candidate.state == PROCESSING
                || candidate.next_attempt_at.is_some_and(|at| at <= now_ms);
            if let Some(key) = &candidate.ordering_key {
                let waits = keys_seen.contains(key)
                    || (due && blocked(conn, namespace, key, candidate.id, now_ms)?);
                keys_seen.insert(key.clone());
                if waits {
                    continue;
                }
            }
            if !due {
                continue;
            }
            claimed.push(take(conn, &candidate, now_ms, until_ms)?);
            if claimed.len() == max {
                return Ok(claimed);
            }
        }
    }
}

/// The claim's scan: pending and processing rows of namespace `?1` after
/// id `?2`, oldest first, that may run at `?3`, at most `?4`, through
/// `events_claim`.
const CANDIDATES: &str = "SELECT id, ordering_key, state, attempts, trigger_next, next_attempt_at \
     FROM events WHERE namespace = ?1 AND state IN (0, 1) AND id > ?2 \
     AND ((state = 0 AND (attempts = 0 OR next_attempt_at <= ?3)) \
          OR (state = 1 AND lease_until < ?3)) \
     ORDER BY id LIMIT ?4";

/// Whether an older row of the same ordering key that a worker has claimed
/// before is waiting for a retry or holds a live lease (the rows never
/// claimed are the scan's to see). The `state` term repeats the partial
/// index's condition word for word, which is how SQLite picks that index.
fn blocked(
    conn: &Connection,
    namespace: &str,
    ordering_key: &str,
    id: i64,
    now_ms: i64,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(BLOCKED)?
        .query_row(params![namespace, ordering_key, id, now_ms], |row| {
            row.get(0)
        })
}

const BLOCKED: &str = "SELECT EXISTS (SELECT 1 FROM events \
     WHERE namespace = ?1 AND ordering_key = ?2 AND id < ?3 \
     AND (state = 1 OR (state = 0 AND attempts > 0)) \
     AND (state = 0 OR lease_until >= ?4))";

/// Leases row `?1`. A plain `UPDATE` of one row by id: with a `RETURNING`
/// clause SQLite writes every page the statement touches to a statement
/// journal and builds a temporary table for the returned row, a tenth of
/// the claim's time in the drain benchmark.
const LEASE: &str = "UPDATE events SET state = 1, attempts = ?2, lease_until = ?3, \
     lease_token = ?4, next_attempt_at = NULL, trigger_next = 0, finished_at = NULL \
     WHERE id = ?1";

/// What the worker needs of the row `?1` just leased, in one statement: the
/// record, the payload, and the newest done event of its appointment
/// (through `events_order_done`; `NULL` without an appointment or an event
/// time).
static TAKE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let record = RECORD
        .split(", ")
        .map(|column| format!("events.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {record}, payloads.body, payloads.headers, \
         CASE WHEN events.ordering_key IS NULL OR events.occurred_at IS NULL THEN NULL ELSE \
         (SELECT MAX(done.occurred_at) FROM events AS done \
          WHERE done.namespace = events.namespace AND done.ordering_key = events.ordering_key \
          AND done.state = 2) END \
         FROM events JOIN payloads ON payloads.event_id = events.id WHERE events.id = ?1"
    )
});

/// The column of [`TAKE`]'s result after the record's.
const TAKE_EXTRA: usize = 14;

/// Leases one candidate: closes an expired attempt, opens the next one.
fn take(
    conn: &Connection,
    candidate: &Candidate,
    now_ms: i64,
    until_ms: i64,
) -> rusqlite::Result<Claimed> {
    if candidate.state == PROCESSING {
        conn.prepare_cached(
            "UPDATE attempts SET outcome = 'expired' WHERE event_id = ?1 AND number = ?2",
        )?
        .execute(params![candidate.id, candidate.attempts])?;
    }
    let number = candidate.attempts.saturating_add(1);
    let token = ClaimToken::random();
    let trigger = if candidate.manual {
        Trigger::Manual
    } else {
        Trigger::Automatic
    };
    conn.prepare_cached(LEASE)?.execute(params![
        candidate.id,
        number,
        until_ms,
        &token_bytes(token)[..]
    ])?;
    let (record, body, headers, newest_done) =
        conn.prepare_cached(&TAKE)?
            .query_row(params![candidate.id], |row| {
                let record = record(row)?;
                let body: Vec<u8> = row.get(TAKE_EXTRA)?;
                let headers: String = row.get(TAKE_EXTRA + 1)?;
                let headers = headers_of(&headers, TAKE_EXTRA + 1)?;
                let newest_done: Option<i64> = row.get(TAKE_EXTRA + 2)?;
                Ok((record, Bytes::from(body), headers, newest_done))
            })?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO attempts (event_id, number, started_at, ended_at, outcome, error, trigger) \
         VALUES (?1, ?2, ?3, NULL, 'running', NULL, ?4)",
    )?
    .execute(params![candidate.id, number, now_ms, trigger.as_str()])?;
    let newer_done_at_ms = match (newest_done, record.occurred_at_ms) {
        (Some(newest), Some(own)) => (newest > own).then_some(newest),
        _ => None,
    };
    let lease = Lease::new(record.id, token, number, until_ms);
    Ok(Claimed::new(
        record,
        body,
        headers,
        lease,
        trigger,
        newer_done_at_ms,
    ))
}

/// Ends a leased row: `state`, `next_attempt_at` and `last_error` as given
/// (the error is kept when `None`), and its attempt with `outcome`.
/// `LeaseLost` when the lease no longer holds.
#[allow(clippy::too_many_arguments)]
fn finish(
    conn: &Connection,
    lease: &Lease,
    now_ms: i64,
    state: i64,
    next_attempt_at: Option<i64>,
    error: Option<&str>,
    outcome: AttemptOutcome,
    ended: bool,
) -> rusqlite::Result<Result<(), InboxError>> {
    let finished_at = (state == DONE || state == DEAD).then_some(now_ms);
    let changed = conn
        .prepare_cached(
            "UPDATE events SET state = ?3, next_attempt_at = ?4, lease_until = NULL, \
             lease_token = NULL, last_error = COALESCE(?5, last_error), finished_at = ?6 \
             WHERE id = ?1 AND state = 1 AND lease_token = ?2",
        )?
        .execute(params![
            raw_id(lease.id),
            &token_bytes(lease.token)[..],
            state,
            next_attempt_at,
            error,
            finished_at,
        ])?;
    if changed == 0 {
        return Ok(Err(InboxError::LeaseLost { id: lease.id }));
    }
    conn.prepare_cached(
        "UPDATE attempts SET ended_at = ?3, outcome = ?4, error = ?5 \
         WHERE event_id = ?1 AND number = ?2",
    )?
    .execute(params![
        raw_id(lease.id),
        lease.attempt,
        ended.then_some(now_ms),
        outcome.as_str(),
        error,
    ])?;
    Ok(Ok(()))
}

/// [`Inbox::complete`](bookhook::inbox::Inbox::complete).
pub(crate) fn complete(
    conn: &Connection,
    lease: &Lease,
    now_ms: i64,
) -> rusqlite::Result<Result<(), InboxError>> {
    finish(
        conn,
        lease,
        now_ms,
        DONE,
        None,
        None,
        AttemptOutcome::Processed,
        true,
    )
}

/// [`Inbox::fail`](bookhook::inbox::Inbox::fail).
pub(crate) fn fail(
    conn: &Connection,
    lease: &Lease,
    now_ms: i64,
    failure: &Failure,
) -> rusqlite::Result<Result<(), InboxError>> {
    match failure {
        Failure::Retry { at_ms, error } => finish(
            conn,
            lease,
            now_ms,
            PENDING,
            Some(*at_ms),
            Some(error),
            AttemptOutcome::Retrying,
            true,
        ),
        Failure::Dead { error } => finish(
            conn,
            lease,
            now_ms,
            DEAD,
            None,
            Some(error),
            AttemptOutcome::Dead,
            true,
        ),
        // `Failure` may grow: an unknown verdict stops automatic attempts.
        _ => finish(
            conn,
            lease,
            now_ms,
            DEAD,
            None,
            Some("unknown failure"),
            AttemptOutcome::Dead,
            true,
        ),
    }
}

/// [`Inbox::abandon`](bookhook::inbox::Inbox::abandon).
pub(crate) fn abandon(
    conn: &Connection,
    lease: &Lease,
    now_ms: i64,
) -> rusqlite::Result<Result<(), InboxError>> {
    finish(
        conn,
        lease,
        now_ms,
        PENDING,
        Some(now_ms),
        None,
        AttemptOutcome::Expired,
        true,
    )
}

/// Everything about one row.
pub(crate) fn get(conn: &Connection, id: InboxId) -> rusqlite::Result<Option<EventDetail>> {
    let Some(record) = conn
        .prepare_cached(&format!("SELECT {RECORD} FROM events WHERE id = ?1"))?
        .query_row([raw_id(id)], record)
        .optional()?
    else {
        return Ok(None);
    };
    let (body, headers) = payload(conn, raw_id(id))?;
    let attempts = conn
        .prepare_cached(
            "SELECT number, started_at, ended_at, outcome, error, trigger FROM attempts \
             WHERE event_id = ?1 ORDER BY number",
        )?
        .query_map([raw_id(id)], |row| {
            Ok(Attempt::new(
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                outcome_of(&row.get::<_, String>(3)?, 3)?,
                row.get(4)?,
                trigger_of(&row.get::<_, String>(5)?, 5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(EventDetail::new(record, body, headers, attempts)))
}

/// The `WHERE` clause of `filter` (always starting `WHERE 1`) and its values.
fn filter_sql(filter: &Filter) -> (String, Vec<Value>) {
    filter_terms(filter, "")
}

/// [`filter_sql`] for a newest-first listing: every term but the state is
/// written `+column`, which keeps SQLite from taking an index for it and
/// sorting the matches, so a page reads the table backwards from the
/// cursor and stops at the limit.
fn listing_sql(filter: &Filter) -> (String, Vec<Value>) {
    filter_terms(filter, "+")
}

fn filter_terms(filter: &Filter, unindexed: &str) -> (String, Vec<Value>) {
    let mut sql = String::from(" WHERE 1");
    let mut values = Vec::new();
    let mut term = |clause: &str, value: Value| {
        values.push(value);
        let unindexed = if clause.starts_with("state") {
            ""
        } else {
            unindexed
        };
        sql.push_str(&format!(" AND {unindexed}{clause} ?{}", values.len()));
    };
    if let Some(namespace) = &filter.namespace {
        term("namespace =", Value::Text(namespace.clone()));
    }
    if let Some(state) = filter.state {
        term("state =", Value::Integer(state_code(state)));
    }
    if let Some(provider) = filter.provider {
        term("provider =", Value::Text(provider.as_str().to_owned()));
    }
    if let Some(event_type) = &filter.event_type {
        term("event_type =", Value::Text(event_type.clone()));
    }
    if let Some(ordering_key) = &filter.ordering_key {
        term("ordering_key =", Value::Text(ordering_key.clone()));
    }
    if let Some(since) = filter.since_ms {
        term("received_at >=", Value::Integer(since));
    }
    if let Some(before) = filter.before_ms {
        term("received_at <", Value::Integer(before));
    }
    (sql, values)
}

/// One page of the matching rows, newest first.
pub(crate) fn list(
    conn: &Connection,
    filter: &Filter,
    page: Page,
) -> rusqlite::Result<Vec<EventRecord>> {
    let (mut sql, mut values) = listing_sql(filter);
    if let Some(before) = page.before {
        values.push(Value::Integer(raw_id(before)));
        sql.push_str(&format!(" AND id < ?{}", values.len()));
    }
    values.push(Value::Integer(
        i64::try_from(page.limit).unwrap_or(i64::MAX),
    ));
    let sql = format!(
        "SELECT {RECORD} FROM events{sql} ORDER BY id DESC LIMIT ?{}",
        values.len()
    );
    conn.prepare_cached(&sql)?
        .query_map(params_from_iter(values), record)?
        .collect()
}

/// How many rows match.
pub(crate) fn count(conn: &Connection, filter: &Filter) -> rusqlite::Result<u64> {
    let (sql, values) = filter_sql(filter);
    conn.prepare_cached(&format!("SELECT count(*) FROM events{sql}"))?
        .query_row(params_from_iter(values), |row| row.get::<_, i64>(0))
        .map(unsigned)
}

/// The rows received in each of `buckets` windows of `width_ms` from
/// `start_ms`, in one query: the time range walks `events_received`.
pub(crate) fn received_histogram(
    conn: &Connection,
    filter: &Filter,
    start_ms: i64,
    width_ms: i64,
    buckets: usize,
) -> rusqlite::Result<Vec<u64>> {
    let mut counts = vec![0_u64; buckets];
    let span = width_ms.saturating_mul(i64::try_from(buckets).unwrap_or(i64::MAX));
    let end_ms = start_ms.saturating_add(span);
    let (mut sql, mut values) = filter_sql(filter);
    values.push(Value::Integer(start_ms));
    let start = values.len();
    values.push(Value::Integer(end_ms));
    values.push(Value::Integer(width_ms));
    sql.push_str(&format!(
        " AND received_at >= ?{start} AND received_at < ?{}",
        start + 1
    ));
    let sql = format!(
        "SELECT (received_at - ?{start}) / ?{} AS bucket, count(*) FROM events{sql} GROUP BY bucket",
        start + 2
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params_from_iter(values))?;
    while let Some(row) = rows.next()? {
        let bucket: i64 = row.get(0)?;
        if let Some(slot) = usize::try_from(bucket).ok().and_then(|b| counts.get_mut(b)) {
            *slot = unsigned(row.get(1)?);
        }
    }
    Ok(counts)
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The counts per state, one walk of `events_state_id`.
const COUNTS: &str = "SELECT state, count(*) FROM events GROUP BY state";

/// When the oldest pending row was received: ids grow in the order rows
/// were received, so it is the pending row of the lowest id, the first entry
/// of `events_state_id` for state 0.
const OLDEST_PENDING: &str =
    "SELECT (SELECT received_at FROM events WHERE state = 0 ORDER BY id LIMIT 1)";

/// Counts per state and the oldest pending row.
pub(crate) fn stats(conn: &Connection) -> rusqlite::Result<Stats> {
    let mut counts = [0_u64; 4];
    let mut statement = conn.prepare_cached(COUNTS)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let state: i64 = row.get(0)?;
        if let Some(slot) = usize::try_from(state).ok().and_then(|s| counts.get_mut(s)) {
            *slot = unsigned(row.get(1)?);
        }
    }
    let oldest: Option<i64> = conn
        .prepare_cached(OLDEST_PENDING)?
        .query_row([], |row| row.get(0))?;
    Ok(Stats::new(
        counts[0], counts[1], counts[2], counts[3], oldest,
    ))
}

/// Puts the selected done, dead and pending rows back to pending, due now,
/// their next attempt manual.
pub(crate) fn replay(
    conn: &Connection,
    selection: &Selection,
    now_ms: i64,
) -> rusqlite::Result<u64> {
    const SET: &str = "UPDATE events SET state = 0, next_attempt_at = ?1, trigger_next = 1, \
                       lease_until = NULL, lease_token = NULL, finished_at = NULL";
    match selection {
        Selection::Ids(ids) => {
            let mut statement =
                conn.prepare_cached(&format!("{SET} WHERE id = ?2 AND state IN (0, 2, 3)"))?;
            let mut replayed = 0_u64;
            let mut seen = HashSet::with_capacity(ids.len());
            for id in ids.iter().filter(|id| seen.insert(**id)) {
                replayed += statement.execute(params![now_ms, raw_id(*id)])? as u64;
            }
            Ok(replayed)
        }
        Selection::Matching(filter) => {
            let (sql, mut values) = filter_sql(filter);
            // ?1 is the time: shift the filter's placeholders by one.
            values.insert(0, Value::Integer(now_ms));
            let sql = renumber(&sql, 1);
            Ok(conn
                .prepare_cached(&format!("{SET}{sql} AND state IN (0, 2, 3)"))?
                .execute(params_from_iter(values))? as u64)
        }
        // `Selection` may grow: an unknown selection takes no row.
        _ => Ok(0),
    }
}

/// Shifts every `?n` placeholder of `sql` by `by`.
fn renumber(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '?' {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            let n: usize = digits.parse().unwrap_or(0);
            out.push_str(&(n + by).to_string());
        }
    }
    out
}

/// Marks a pending or done row dead.
pub(crate) fn mark_dead(
    conn: &Connection,
    id: InboxId,
    now_ms: i64,
    reason: &str,
) -> rusqlite::Result<Result<bool, InboxError>> {
    let state: Option<i64> = conn
        .prepare_cached("SELECT state FROM events WHERE id = ?1")?
        .query_row([raw_id(id)], |row| row.get(0))
        .optional()?;
    match state {
        None => Ok(Err(InboxError::NotFound { id })),
        Some(PENDING | DONE) => {
            conn.prepare_cached(
                "UPDATE events SET state = 3, last_error = ?2, next_attempt_at = NULL, \
                 trigger_next = 0, finished_at = ?3 WHERE id = ?1",
            )?
            .execute(params![raw_id(id), reason, now_ms])?;
            Ok(Ok(true))
        }
        Some(_) => Ok(Ok(false)),
    }
}

/// Removes the matching rows that are not processing, with their payloads
/// and attempts.
pub(crate) fn purge(conn: &Connection, filter: &Filter) -> rusqlite::Result<u64> {
    let (sql, values) = filter_sql(filter);
    let selected = format!("SELECT id FROM events{sql} AND state <> 1");
    for table in ["attempts", "payloads"] {
        conn.prepare_cached(&format!(
            "DELETE FROM {table} WHERE event_id IN ({selected})"
        ))?
        .execute(params_from_iter(values.iter()))?;
    }
    Ok(conn
        .prepare_cached(&format!("DELETE FROM events WHERE id IN ({selected})"))?
        .execute(params_from_iter(values.iter()))? as u64)
}

/// Removes the done rows whose last attempt ended before `cutoff_ms`.
pub(crate) fn expire(conn: &Connection, cutoff_ms: i64) -> rusqlite::Result<u64> {
    for table in ["attempts", "payloads"] {
        conn.prepare_cached(&format!(
            "DELETE FROM {table} WHERE event_id IN (SELECT id FROM events \
             INDEXED BY events_retention WHERE state = 2 AND finished_at < ?1)"
        ))?
        .execute([cutoff_ms])?;
    }
    Ok(conn
        .prepare_cached(
            "DELETE FROM events INDEXED BY events_retention WHERE state = 2 AND finished_at < ?1",
        )?
        .execute([cutoff_ms])? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        tune(&conn).unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        conn
    }

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let details: Vec<String> = statement
            .query_map(params!["a", "apt", 1, 1], |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        details.join("; ")
    }

    #[test]
    fn ordering_lookups_read_their_partial_indexes() {
        let conn = migrated();
        let blocked = plan(&conn, BLOCKED);
        assert!(blocked.contains("events_order_claimed"), "{blocked}");
        let mut statement = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", *TAKE))
            .unwrap();
        let take: Vec<String> = statement
            .query_map(params![1], |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let take = take.join("; ");
        assert!(take.contains("events_order_done"), "{take}");
    }

    #[test]
    fn the_claim_scan_reads_the_claim_index_in_id_order() {
        let conn = migrated();
        let scan = plan(&conn, CANDIDATES);
        assert!(scan.contains("events_claim"), "{scan}");
        assert!(!scan.contains("TEMP B-TREE"), "{scan}");
    }

    #[test]
    fn claim_statements_are_not_compiled_again_when_the_time_changes() {
        let conn = migrated();
        let text = |t: &str| Value::Text(t.to_owned());
        for (sql, at) in [(CANDIDATES, 2), (BLOCKED, 3)] {
            let mut statement = conn.prepare(sql).unwrap();
            for now in [1_000_i64, 2_000, 3_000] {
                let mut values = match sql {
                    CANDIDATES => vec![
                        text("a"),
                        Value::Integer(0),
                        Value::Null,
                        Value::Integer(16),
                    ],
                    _ => vec![text("a"), text("apt"), Value::Integer(5), Value::Null],
                };
                values[at] = Value::Integer(now);
                statement
                    .query(params_from_iter(values))
                    .unwrap()
                    .next()
                    .unwrap();
            }
            assert_eq!(
                statement.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "{sql}"
            );
        }
    }

    #[test]
    fn stats_read_the_state_index_without_a_scan_or_a_sort() {
        let conn = migrated();
        for sql in [COUNTS, OLDEST_PENDING] {
            let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let details: Vec<String> = statement
                .query_map([], |row| row.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let details = details.join("; ");
            assert!(details.contains("events_state_id"), "{sql}: {details}");
            assert!(!details.contains("TEMP B-TREE"), "{sql}: {details}");
        }
    }

    #[test]
    fn a_new_row_enters_the_ordering_indexes_only_once_claimed_or_done() {
        let conn = migrated();
        let event = NewEvent::new(
            "a",
            "k1",
            Some("apt".to_owned()),
            Provider::Calendence,
            "booking.created",
            Kind::Created,
            1_000,
            Some(1_000),
            Bytes::from_static(b"{}"),
            Vec::new(),
        );
        enqueue(&conn, &event).unwrap();
        let in_index = |index: &str, condition: &str| -> i64 {
            conn.query_row(
                &format!(
                    "SELECT count(*) FROM events INDEXED BY {index} \
                     WHERE namespace = 'a' AND ordering_key = 'apt' AND {condition}"
                ),
                [],
                |row| row.get(0),
            )
            .unwrap()
        };
        let claimed = "(state = 1 OR (state = 0 AND attempts > 0))";
        assert_eq!(in_index("events_order_claimed", claimed), 0);
        let leased = claim(&conn, "a", 1_000, 30_000, 1).unwrap();
        assert_eq!(in_index("events_order_claimed", claimed), 1);
        assert_eq!(in_index("events_order_done", "state = 2"), 0);
        complete(&conn, &leased[0].lease, 1_001).unwrap().unwrap();
        assert_eq!(in_index("events_order_claimed", claimed), 0);
        assert_eq!(in_index("events_order_done", "state = 2"), 1);
    }

    #[test]
    fn renumber_shifts_every_placeholder() {
        assert_eq!(
            renumber(" WHERE 1 AND a = ?1 AND b < ?12", 1),
            " WHERE 1 AND a = ?2 AND b < ?13"
        );
    }

    #[test]
    fn filter_sql_has_one_placeholder_per_set_field() {
        let filter = Filter::default()
            .namespace("a")
            .state(State::Dead)
            .since_ms(5);
        let (sql, values) = filter_sql(&filter);
        assert_eq!(
            sql,
            " WHERE 1 AND namespace = ?1 AND state = ?2 AND received_at >= ?3"
        );
        assert_eq!(
            values,
            [
                Value::Text("a".into()),
                Value::Integer(DEAD),
                Value::Integer(5)
            ]
        );
    }
}
