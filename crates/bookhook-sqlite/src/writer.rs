//! Group commit: one thread owns the write connection and commits the writes
//! of every concurrent caller together, then answers each.
//!
//! No caller hears `Ok` before the batch's `COMMIT` returned; if the commit
//! fails, every caller of the batch gets the error. A write that fails on
//! its own (or refuses after writing) is answered with its error, and the
//! others run again without it in a fresh transaction, so one bad write does
//! not fail its neighbours. There is no savepoint per write: SQLite copies
//! every page a savepoint touches into a sub-journal, which cost a quarter
//! of the writer's time in the drain benchmark.
//!
//! How far a commit goes is chosen per batch ([`Commit`]): with
//! `synchronous=FULL`, a batch is synced to disk when one of its writes is
//! an acknowledgement or an operator's change, and only written to the
//! operating system (`NORMAL`) when all of them are a worker's claims and
//! results. Both survive the process being killed. A power loss can undo
//! the last unsynced commits, and then only leases and results: their events
//! are pending again and run again (at-least-once handling), while every
//! acknowledged event is still stored. A later synced commit syncs the
//! earlier ones with it, as they precede it in the same WAL.

use std::sync::mpsc::{Receiver, Sender};

use bookhook::inbox::InboxError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{from_sqlite, stopped};

/// How far the commit of a write must go before its caller hears `Ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    /// As far as the inbox's `synchronous` setting says: acknowledgements
    /// (a stored event) and an operator's changes.
    Durable,
    /// To the operating system (`NORMAL`), enough to survive the process
    /// being killed: a worker's claims, results and retention. Losing one
    /// to a power loss runs its event again, which at-least-once allows.
    Written,
}

/// One write, run on the writer thread, possibly more than once (a batch
/// that is rolled back runs again without its failed write).
pub(crate) trait WriteJob: Send {
    /// How far this write's commit must go.
    fn commit(&self) -> Commit;

    /// Runs the job's statements; `Ok(false)` is a refusal (a lost lease, an
    /// unknown id), which must come before the job writes anything.
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<bool>;

    /// Answers the caller once the batch is over: `Ok` if it committed.
    fn answer(self: Box<Self>, batch: Result<(), InboxError>);
}

/// A job that computes a `T` for an awaiting caller.
struct Task<T, F> {
    commit: Commit,
    work: F,
    result: Option<Result<T, InboxError>>,
    reply: oneshot::Sender<Result<T, InboxError>>,
}

impl<T, F> WriteJob for Task<T, F>
where
    T: Send,
    F: Fn(&Connection) -> rusqlite::Result<Result<T, InboxError>> + Send,
{
    fn commit(&self) -> Commit {
        self.commit
    }

    fn run(&mut self, conn: &Connection) -> rusqlite::Result<bool> {
        let result = (self.work)(conn)?;
        let keep = result.is_ok();
        self.result = Some(result);
        Ok(keep)
    }

    fn answer(self: Box<Self>, batch: Result<(), InboxError>) {
        let result = match batch {
            Ok(()) => self.result.unwrap_or_else(|| Err(stopped())),
            Err(err) => Err(err),
        };
        // The caller may have gone away (its request was cancelled): nothing to tell.
        let _ = self.reply.send(result);
    }
}

/// The sending side of the writer thread.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: Sender<Box<dyn WriteJob>>,
}

impl Writer {
    /// Starts the writer thread on `conn`; it stops when this is dropped.
    /// `synced` says that the connection is `synchronous=FULL`, which
    /// batches of [`Commit::Written`] writes lower to `NORMAL`.
    pub(crate) fn spawn(
        conn: Connection,
        max_batch: usize,
        synced: bool,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("bookhook-sqlite-writer".to_owned())
            .spawn(move || {
                let mut level = Level::new(synced);
                run(&conn, &rx, max_batch.max(1), &mut level);
            })?;
        Ok((Self { jobs }, handle))
    }

    /// Runs `work` in the next batch and waits for the batch to commit as
    /// far as `commit` says. `work` may run more than once; only the
    /// committed run counts.
    pub(crate) async fn write<T, F>(&self, commit: Commit, work: F) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<Result<T, InboxError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let task = Task {
            commit,
            work,
            result: None,
            reply,
        };
        self.jobs.send(Box::new(task)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Moves the jobs already queued into `batch`, up to `max_batch`.
fn take_queued(
    rx: &Receiver<Box<dyn WriteJob>>,
    batch: &mut Vec<Box<dyn WriteJob>>,
    max_batch: usize,
) {
    while batch.len() < max_batch {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// The connection's `synchronous` level as the writer last set it.
struct Level {
    /// Whether the inbox was opened with `FULL`.
    synced: bool,
    /// Whether the connection is at `FULL` now.
    full: bool,
}

impl Level {
    fn new(synced: bool) -> Self {
        Self {
            synced,
            full: synced,
        }
    }

    /// Sets the level a batch needs, before its transaction: `FULL` when the
    /// inbox is `FULL` and one of its writes is [`Commit::Durable`].
    fn prepare(&mut self, conn: &Connection, batch: &[Box<dyn WriteJob>]) {
        let full = self.synced && batch.iter().any(|job| job.commit() == Commit::Durable);
        if full == self.full {
            return;
        }
        let pragma = if full {
            "PRAGMA synchronous = FULL"
        } else {
            "PRAGMA synchronous = NORMAL"
        };
        match conn.execute_batch(pragma) {
            Ok(()) => self.full = full,
            // The connection keeps its level; a durable batch that could not
            // raise it is refused below rather than committed unsynced.
            Err(err) => tracing::warn!(error = %err, "sqlite inbox: could not set synchronous"),
        }
    }

    /// Whether the connection can commit `batch` as far as it needs.
    fn suits(&self, batch: &[Box<dyn WriteJob>]) -> bool {
        self.full || !self.synced || batch.iter().all(|job| job.commit() == Commit::Written)
    }
}

/// The writer thread's loop: wait for a job, take every job already queued
/// (up to `max_batch`), commit them as one transaction.
fn run(conn: &Connection, rx: &Receiver<Box<dyn WriteJob>>, max_batch: usize, level: &mut Level) {
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::with_capacity(max_batch.min(256));
        batch.push(first);
        take_queued(rx, &mut batch, max_batch);
        level.prepare(conn, &batch);
        if !level.suits(&batch) {
            let err = InboxError::Unavailable {
                reason: "sqlite: could not set synchronous = FULL for this commit".to_owned(),
            };
            for job in batch {
                job.answer(Err(err.clone()));
            }
            continue;
        }
        commit(conn, batch);
    }
}

/// How one try at a batch ended.
enum Try {
    /// Committed: answer every job with its own result.
    Committed,
    /// Job `index` failed on its own (with this error, or with its own
    /// refusal when `None`); the transaction must be rolled back.
    JobFailed(usize, Option<InboxError>),
    /// Nothing of the batch is stored: answer every job with this error.
    BatchFailed(InboxError),
}

/// Runs one batch in one transaction and answers its callers.
fn commit(conn: &Connection, mut batch: Vec<Box<dyn WriteJob>>) {
    loop {
        match try_batch(conn, &mut batch) {
            Try::Committed => {
                for job in batch {
                    job.answer(Ok(()));
                }
                return;
            }
            Try::JobFailed(index, error) => {
                rollback(conn);
                let job = batch.swap_remove(index);
                job.answer(error.map_or(Ok(()), Err));
                if batch.is_empty() {
                    return;
                }
            }
            Try::BatchFailed(err) => {
                rollback(conn);
                for job in batch {
                    job.answer(Err(err.clone()));
                }
                return;
            }
        }
    }
}

fn try_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Try {
    if let Err(err) = exec(conn, "BEGIN IMMEDIATE") {
        return Try::BatchFailed(from_sqlite(err));
    }
    for (index, job) in batch.iter_mut().enumerate() {
        let before = conn.total_changes();
        match job.run(conn) {
            Ok(true) => {}
            Ok(false) if conn.total_changes() == before => {}
            // A refusal after writing: undo it with the batch, answer the refusal.
            Ok(false) => return Try::JobFailed(index, None),
            // SQLite rolled the whole transaction back (disk full, I/O
            // error): the whole batch failed, not this job alone.
            Err(err) if conn.is_autocommit() => return Try::BatchFailed(from_sqlite(err)),
            Err(err) => return Try::JobFailed(index, Some(from_sqlite(err))),
        }
    }
    match exec(conn, "COMMIT") {
        Ok(()) => Try::Committed,
        Err(err) => Try::BatchFailed(from_sqlite(err)),
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        if let Err(err) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(error = %err, "sqlite inbox: rollback failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job<T: Send + 'static>(
        work: impl Fn(&Connection) -> rusqlite::Result<Result<T, InboxError>> + Send + 'static,
    ) -> (Box<dyn WriteJob>, oneshot::Receiver<Result<T, InboxError>>) {
        let (reply, answer) = oneshot::channel();
        let task = Task {
            commit: Commit::Durable,
            work,
            result: None,
            reply,
        };
        (Box::new(task), answer)
    }

    /// A job at `commit` that reads the connection's `synchronous` level
    /// inside its batch's transaction (1 is `NORMAL`, 2 is `FULL`).
    fn level_job(
        commit: Commit,
    ) -> (
        Box<dyn WriteJob>,
        oneshot::Receiver<Result<i64, InboxError>>,
    ) {
        let (reply, answer) = oneshot::channel();
        let task = Task {
            commit,
            work: |conn: &Connection| {
                conn.query_row("PRAGMA synchronous", [], |row| row.get(0))
                    .map(Ok)
            },
            result: None,
            reply,
        };
        (Box::new(task), answer)
    }

    /// Runs each batch in turn through one writer loop; every batch's
    /// answers, in order.
    fn levels(conn: &Connection, synced: bool, batches: &[&[Commit]]) -> Vec<Vec<i64>> {
        let mut level = Level::new(synced);
        batches
            .iter()
            .map(|batch| {
                let (tx, rx) = std::sync::mpsc::channel();
                let answers: Vec<_> = batch
                    .iter()
                    .map(|commit| {
                        let (job, answer) = level_job(*commit);
                        tx.send(job).unwrap();
                        answer
                    })
                    .collect();
                drop(tx);
                run(conn, &rx, 64, &mut level);
                answers
                    .into_iter()
                    .map(|answer| answer.blocking_recv().unwrap().unwrap())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_full_inbox_syncs_batches_with_a_durable_write_and_only_those() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA synchronous = FULL").unwrap();
        let (durable, written) = (Commit::Durable, Commit::Written);
        let seen = levels(
            &conn,
            true,
            &[
                &[written, written],
                &[written, durable],
                &[durable],
                &[written],
            ],
        );
        assert_eq!(seen, [vec![1, 1], vec![2, 2], vec![2], vec![1]]);
    }

    #[test]
    fn a_normal_inbox_never_raises_a_commit_to_full() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA synchronous = NORMAL").unwrap();
        let seen = levels(&conn, false, &[&[Commit::Durable], &[Commit::Written]]);
        assert_eq!(seen, [vec![1], vec![1]]);
    }

    fn insert(conn: &Connection, n: i64) -> rusqlite::Result<usize> {
        conn.execute("INSERT INTO t (n) VALUES (?1)", [n])
    }

    fn rows(conn: &Connection) -> Vec<i64> {
        let mut statement = conn.prepare("SELECT n FROM t ORDER BY n").unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_failing_or_refused_write_undoes_only_itself_in_a_batch() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER UNIQUE)")
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (first, first_answer) = job(|conn| insert(conn, 1).map(|_| Ok(())));
        let (broken, broken_answer) = job(|conn| {
            insert(conn, 2)?;
            insert(conn, 1).map(|_| Ok(()))
        });
        // A refusal that wrote first: its write is undone with a rerun.
        let (refused, refused_answer) = job(|conn| {
            insert(conn, 3)?;
            Ok(Err::<(), _>(InboxError::LeaseLost {
                id: bookhook::inbox::InboxId::new(3),
            }))
        });
        let (last, last_answer) = job(|conn| insert(conn, 4).map(|_| Ok(())));
        for job in [first, broken, refused, last] {
            tx.send(job).unwrap();
        }
        drop(tx);
        // All four are queued before the loop starts: one batch.
        run(&conn, &rx, 64, &mut Level::new(false));
        assert_eq!(first_answer.blocking_recv().unwrap(), Ok(()));
        assert!(matches!(
            broken_answer.blocking_recv().unwrap(),
            Err(InboxError::Unavailable { .. })
        ));
        assert!(matches!(
            refused_answer.blocking_recv().unwrap(),
            Err(InboxError::LeaseLost { .. })
        ));
        assert_eq!(last_answer.blocking_recv().unwrap(), Ok(()));
        assert_eq!(rows(&conn), [1, 4]);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_failed_commit_fails_every_write_of_the_batch() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (n INTEGER UNIQUE);
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
             PRAGMA foreign_keys = ON;",
        )
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (good, good_answer) = job(|conn| insert(conn, 1).map(|_| Ok(())));
        // A deferred foreign key makes COMMIT itself fail.
        let (dangling, dangling_answer) = job(|conn| {
            conn.execute("INSERT INTO child (p) VALUES (42)", [])
                .map(|_| Ok(()))
        });
        tx.send(good).unwrap();
        tx.send(dangling).unwrap();
        drop(tx);
        run(&conn, &rx, 64, &mut Level::new(false));
        assert!(good_answer.blocking_recv().unwrap().is_err());
        assert!(dangling_answer.blocking_recv().unwrap().is_err());
        assert!(rows(&conn).is_empty());
        assert!(conn.is_autocommit());
    }
}
