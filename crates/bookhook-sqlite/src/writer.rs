//! Group commit: one thread owns the write connection and commits the writes
//! of every concurrent caller together, then answers each.
//!
//! Each write is a job run in its own savepoint inside the batch's
//! transaction, so a job that fails (or finds its lease lost) undoes only
//! itself. No caller hears `Ok` before the batch's `COMMIT` returned; if the
//! commit fails, every caller of the batch gets the error.

use std::sync::mpsc::{Receiver, Sender};

use bookhook::inbox::InboxError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{from_sqlite, stopped};

/// One write, run on the writer thread.
pub(crate) trait WriteJob: Send {
    /// Runs the job's statements; `Ok(false)` asks to undo them (a logical
    /// refusal such as a lost lease), an error undoes them too.
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<bool>;

    /// Answers the caller once the batch is over: `Ok` if it committed.
    fn answer(self: Box<Self>, batch: Result<(), InboxError>);
}

/// A job that computes a `T` for an awaiting caller.
struct Task<T, F> {
    work: Option<F>,
    result: Option<Result<T, InboxError>>,
    reply: oneshot::Sender<Result<T, InboxError>>,
}

impl<T, F> WriteJob for Task<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> rusqlite::Result<Result<T, InboxError>> + Send,
{
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<bool> {
        let Some(work) = self.work.take() else {
            return Ok(false);
        };
        let result = work(conn)?;
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
    /// Starts the writer thread on `conn`; it stops when the returned handle
    /// and every clone of its sender are dropped.
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
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<Result<T, InboxError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let task = Task {
            work: Some(work),
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

/// Runs one batch in one transaction and answers its callers.
fn commit(conn: &Connection, mut batch: Vec<Box<dyn WriteJob>>) {
    let fail_all = |batch: Vec<Box<dyn WriteJob>>, err: InboxError| {
        for job in batch {
            job.answer(Err(err.clone()));
        }
    };
    if let Err(err) = exec(conn, "BEGIN IMMEDIATE") {
        return fail_all(batch, from_sqlite(err));
    }
    let mut own_errors: Vec<Option<InboxError>> = Vec::with_capacity(batch.len());
    for job in &mut batch {
        if let Err(err) = exec(conn, "SAVEPOINT job") {
            rollback(conn);
            return fail_all(batch, from_sqlite(err));
        }
        let outcome = job.run(conn);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (disk full, I/O error):
            // nothing of this batch is stored.
            let err = match outcome {
                Err(err) => from_sqlite(err),
                Ok(_) => InboxError::Unavailable {
                    reason: "sqlite rolled the transaction back".to_owned(),
                },
            };
            return fail_all(batch, err);
        }
        let undo = match outcome {
            Ok(true) => {
                own_errors.push(None);
                false
            }
            Ok(false) => {
                own_errors.push(None);
                true
            }
            Err(err) => {
                own_errors.push(Some(from_sqlite(err)));
                true
            }
        };
        let close = if undo {
            exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"))
        } else {
            exec(conn, "RELEASE job")
        };
        if let Err(err) = close {
            rollback(conn);
            return fail_all(batch, from_sqlite(err));
        }
    }
    if let Err(err) = exec(conn, "COMMIT") {
        rollback(conn);
        return fail_all(batch, from_sqlite(err));
    }
    for (job, own_error) in batch.into_iter().zip(own_errors) {
        job.answer(own_error.map_or(Ok(()), Err));
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
        work: impl FnOnce(&Connection) -> rusqlite::Result<Result<T, InboxError>> + Send + 'static,
    ) -> (Box<dyn WriteJob>, oneshot::Receiver<Result<T, InboxError>>) {
        let (reply, answer) = oneshot::channel();
        let task = Task {
            work: Some(work),
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
        // All four are queued before the loop starts: one batch, one commit.
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
