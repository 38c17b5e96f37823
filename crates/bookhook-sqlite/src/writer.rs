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

use std::sync::mpsc::{Receiver, Sender};

use bookhook::inbox::InboxError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{from_sqlite, stopped};

/// One write, run on the writer thread, possibly more than once (a batch
/// that is rolled back runs again without its failed write).
pub(crate) trait WriteJob: Send {
    /// Runs the job's statements; `Ok(false)` is a refusal (a lost lease, an
    /// unknown id), which must come before the job writes anything.
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<bool>;

    /// Answers the caller once the batch is over: `Ok` if it committed.
    fn answer(self: Box<Self>, batch: Result<(), InboxError>);
}

/// A job that computes a `T` for an awaiting caller.
struct Task<T, F> {
    work: F,
    result: Option<Result<T, InboxError>>,
    reply: oneshot::Sender<Result<T, InboxError>>,
}

impl<T, F> WriteJob for Task<T, F>
where
    T: Send,
    F: Fn(&Connection) -> rusqlite::Result<Result<T, InboxError>> + Send,
{
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
    pub(crate) fn spawn(
        conn: Connection,
        max_batch: usize,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("bookhook-sqlite-writer".to_owned())
            .spawn(move || run(&conn, &rx, max_batch.max(1)))?;
        Ok((Self { jobs }, handle))
    }

    /// Runs `work` in the next batch and waits for the batch to commit.
    /// `work` may run more than once; only the committed run counts.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<Result<T, InboxError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let task = Task {
            work,
            result: None,
            reply,
        };
        self.jobs.send(Box::new(task)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The writer thread's loop: wait for a job, take every job already queued
/// (up to `max_batch`), commit them as one transaction.
fn run(conn: &Connection, rx: &Receiver<Box<dyn WriteJob>>, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::with_capacity(max_batch.min(256));
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
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
            work,
            result: None,
            reply,
        };
        (Box::new(task), answer)
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
        run(&conn, &rx, 64);
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
        run(&conn, &rx, 64);
        assert!(good_answer.blocking_recv().unwrap().is_err());
        assert!(dangling_answer.blocking_recv().unwrap().is_err());
        assert!(rows(&conn).is_empty());
        assert!(conn.is_autocommit());
    }
}
