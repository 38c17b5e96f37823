//! [`SqliteInbox`], its builder, and its [`Inbox`] implementation.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bookhook::idempotency::BoxFuture;
use bookhook::inbox::{
    Claimed, Enqueued, EventDetail, EventRecord, Failure, Filter, Inbox, InboxError, InboxId,
    Lease, NewEvent, Page, Selection, Stats,
};
use rusqlite::{Connection, OpenFlags};

use crate::error::from_sqlite;
use crate::reader::Readers;
use crate::schema;
use crate::sql;
use crate::writer::{Commit, Writer};

/// How far each commit goes before the write is acknowledged: SQLite's
/// `PRAGMA synchronous` in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// `FULL`: every stored event is synced to disk before it is
    /// acknowledged, so an acknowledged event survives a process crash
    /// **and** a power loss or kernel crash. The default.
    ///
    /// A worker's claims and results (done, retry, dead) and retention's
    /// removals are committed as `NORMAL` when no acknowledgement shares
    /// their commit: they survive the process being killed, and a power
    /// loss can undo the last of them, whose events are then pending again
    /// and run again (at-least-once handling). Replays, "mark dead" and
    /// purges, an operator's changes, are synced like acknowledgements.
    #[default]
    Full,
    /// `NORMAL`: commits reach the operating system before they are
    /// acknowledged and are synced at checkpoints. An acknowledged event
    /// survives the process being killed; a power loss or kernel crash can
    /// lose the last commits (the file stays consistent).
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Settings of a [`SqliteInbox`]; [`open`](Self::open) applies them.
///
/// ```
/// use std::time::Duration;
/// use bookhook_sqlite::{SqliteInbox, Synchronous};
///
/// # fn main() -> Result<(), bookhook::inbox::InboxError> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("inbox.db");
/// let inbox = SqliteInbox::builder(&path)
///     .synchronous(Synchronous::Normal)
///     .busy_timeout(Duration::from_secs(1))
///     .max_size(512 * 1024 * 1024)
///     .open()?;
/// # drop(inbox);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "call open() to open the inbox"]
pub struct SqliteInboxBuilder {
    path: PathBuf,
    synchronous: Synchronous,
    busy_timeout: Duration,
    readers: usize,
    max_batch: usize,
    max_size: Option<u64>,
    check_integrity: bool,
}

impl SqliteInboxBuilder {
    /// How far a commit goes before it is acknowledged; default [`Synchronous::Full`].
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// How long a statement waits for a lock held by another process before
    /// it fails with [`InboxError::Unavailable`]; default 2 s. On the request
    /// path that is the longest a request waits before its 503.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How many read connections (and threads) serve `get`, `list`, `count`
    /// and `stats`; default 2, at least 1.
    pub fn readers(mut self, readers: usize) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// The most writes committed in one transaction; default 512, at least 1.
    /// 1 commits every write on its own (no group commit).
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// Caps the file at about `bytes` (SQLite's `max_page_count`): once it is
    /// full, writes fail with [`InboxError::Unavailable`], as on a full disk,
    /// until rows are purged or expired. Default: no cap but the disk's.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Runs SQLite's `PRAGMA quick_check` at open, so that a damaged page
    /// fails [`open`](Self::open) with [`InboxError::Incompatible`] rather
    /// than the first request that reads it. It reads the whole file (about
    /// a second per GB), so it is off by default.
    pub fn check_integrity(mut self, check: bool) -> Self {
        self.check_integrity = check;
        self
    }

    /// Opens (or creates) the file, migrates its schema, and starts the
    /// writer and reader threads.
    ///
    /// This blocks on file I/O: call it at start-up, or from
    /// `spawn_blocking`. A file that cannot be opened for writing, a damaged
    /// file, a file of another application, or a schema newer than this
    /// version fails here with a message that names the file.
    pub fn open(self) -> Result<SqliteInbox, InboxError> {
        let context = |err: InboxError| annotate(err, &self.path);
        let mut writer = self.connect().map_err(context)?;
        if writer
            .is_readonly("main")
            .map_err(from_sqlite)
            .map_err(context)?
        {
            return Err(context(InboxError::Unavailable {
                reason: "the file is read-only".to_owned(),
            }));
        }
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(from_sqlite)
            .map_err(context)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(context(InboxError::Unavailable {
                reason: format!("cannot switch the file to WAL mode (it stays in {mode} mode)"),
            }));
        }
        writer
            .execute_batch(&format!(
                "PRAGMA synchronous = {}; PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY; \
                 PRAGMA wal_autocheckpoint = 16384;",
                self.synchronous.pragma()
            ))
            .map_err(from_sqlite)
            .map_err(context)?;
        schema::migrate(&mut writer).map_err(context)?;
        if self.check_integrity {
            let verdict: String = writer
                .query_row("PRAGMA quick_check(1)", [], |row| row.get(0))
                .map_err(from_sqlite)
                .map_err(context)?;
            if verdict != "ok" {
                return Err(context(InboxError::Incompatible {
                    reason: format!("the file is damaged: {verdict}"),
                }));
            }
        }
        if let Some(bytes) = self.max_size {
            let page_size: i64 = writer
                .query_row("PRAGMA page_size", [], |row| row.get(0))
                .map_err(from_sqlite)
                .map_err(context)?;
            let page_size = u64::try_from(page_size).unwrap_or(4096).max(1);
            let pages = bytes.div_ceil(page_size).max(1);
            writer
                .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
                .map_err(from_sqlite)
                .map_err(context)?;
        }
        let mut readers = Vec::with_capacity(self.readers);
        for _ in 0..self.readers {
            let conn = self.connect().map_err(context)?;
            conn.execute_batch("PRAGMA query_only = 1; PRAGMA cache_size = -16384;")
                .map_err(from_sqlite)
                .map_err(context)?;
            readers.push(conn);
        }
        let spawn_failed = |err: std::io::Error| InboxError::Unavailable {
            reason: format!("cannot start the sqlite inbox threads: {err}"),
        };
        let (writer, writer_thread) = Writer::spawn(
            writer,
            self.max_batch,
            self.synchronous == Synchronous::Full,
        )
        .map_err(spawn_failed)?;
        let (readers, reader_threads) = Readers::spawn(readers).map_err(spawn_failed)?;
        Ok(SqliteInbox {
            inner: Arc::new(Inner {
                path: self.path,
                synchronous: self.synchronous,
                writer: Some(writer),
                readers: Some(readers),
                reader_threads,
                writer_thread: Some(writer_thread),
            }),
        })
    }

    fn connect(&self) -> Result<Connection, InboxError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(from_sqlite)?;
        conn.busy_timeout(self.busy_timeout).map_err(from_sqlite)?;
        sql::tune(&conn).map_err(from_sqlite)?;
        Ok(conn)
    }
}

/// Adds the file's path to an error met while opening it.
fn annotate(err: InboxError, path: &Path) -> InboxError {
    let path = path.display();
    match err {
        InboxError::Unavailable { reason } => InboxError::Unavailable {
            reason: format!("cannot open {path}: {reason}"),
        },
        InboxError::Incompatible { reason } => InboxError::Incompatible {
            reason: format!("cannot open {path}: {reason}"),
        },
        other => other,
    }
}

/// A durable [`Inbox`] in one SQLite file (WAL mode), with group commit.
///
/// One thread owns the write connection: the writes of all concurrent
/// callers (enqueues of many requests, completions of many workers) are
/// committed together in one transaction, then each caller is answered, so
/// an fsync is shared by a whole batch. Reads run on their own connections
/// and threads. No call blocks the async runtime; the handle is cheap to
/// clone, and the threads stop when the last clone is dropped.
///
/// ```
/// use bookhook::inbox::{Enqueued, Inbox, NewEvent};
/// use bookhook::{Kind, Provider};
/// use bookhook_sqlite::SqliteInbox;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), bookhook::inbox::InboxError> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("inbox.db");
/// let inbox = SqliteInbox::open(&path)?;
/// let event = NewEvent::new(
///     "calendence", "evt_1", Some("apt_9".into()), Provider::Calendence,
///     "appointment.created", Kind::Created, 1_764_547_200_000, None,
///     r#"{"id":"evt_1"}"#.into(), vec![],
/// );
/// let first = inbox.enqueue(event.clone()).await?;
/// assert!(matches!(first, Enqueued::Queued(_)));
/// assert_eq!(inbox.enqueue(event).await?, Enqueued::Duplicate(first.id()));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteInbox {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    synchronous: Synchronous,
    writer: Option<Writer>,
    readers: Option<Readers>,
    reader_threads: Vec<JoinHandle<()>>,
    writer_thread: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing a channel ends its threads once they finish what they hold;
        // joining them closes the connections before the handle is gone. The
        // writer closes last, so its connection folds the WAL into the file.
        self.readers.take();
        for thread in self.reader_threads.drain(..) {
            let _ = thread.join();
        }
        self.writer.take();
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for SqliteInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteInbox")
            .field("path", &self.inner.path)
            .field("synchronous", &self.inner.synchronous)
            .finish_non_exhaustive()
    }
}

impl SqliteInbox {
    /// Opens (or creates) the inbox file at `path` with the default settings:
    /// `synchronous = FULL`, group commit, two readers. See
    /// [`SqliteInboxBuilder::open`] for what it checks.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, InboxError> {
        Self::builder(path).open()
    }

    /// A builder for the other settings.
    pub fn builder(path: impl AsRef<Path>) -> SqliteInboxBuilder {
        SqliteInboxBuilder {
            path: path.as_ref().to_path_buf(),
            synchronous: Synchronous::default(),
            busy_timeout: Duration::from_secs(2),
            readers: 2,
            max_batch: 512,
            max_size: None,
            check_integrity: false,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The durability level it was opened with.
    pub fn synchronous(&self) -> Synchronous {
        self.inner.synchronous
    }

    async fn write<T, F>(&self, commit: Commit, work: F) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<Result<T, InboxError>> + Send + 'static,
    {
        match &self.inner.writer {
            Some(writer) => writer.write(commit, work).await,
            None => Err(crate::error::stopped()),
        }
    }

    async fn read<T, F>(&self, work: F) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        match &self.inner.readers {
            Some(readers) => readers.read(work).await,
            None => Err(crate::error::stopped()),
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Inbox for SqliteInbox {
    fn enqueue(&self, event: NewEvent) -> BoxFuture<'_, Result<Enqueued, InboxError>> {
        Box::pin(self.write(Commit::Durable, move |conn| {
            sql::enqueue(conn, &event).map(Ok)
        }))
    }

    fn claim(
        &self,
        namespace: &str,
        now_ms: i64,
        lease: Duration,
        max: usize,
    ) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>> {
        let namespace = namespace.to_owned();
        let lease_ms = millis(lease);
        Box::pin(self.write(Commit::Written, move |conn| {
            sql::claim(conn, &namespace, now_ms, lease_ms, max).map(Ok)
        }))
    }

    fn complete(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        let lease = *lease;
        Box::pin(self.write(Commit::Written, move |conn| {
            sql::complete(conn, &lease, now_ms)
        }))
    }

    fn fail(
        &self,
        lease: &Lease,
        now_ms: i64,
        failure: Failure,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        let lease = *lease;
        Box::pin(self.write(Commit::Written, move |conn| {
            sql::fail(conn, &lease, now_ms, &failure)
        }))
    }

    fn abandon(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        let lease = *lease;
        Box::pin(self.write(Commit::Written, move |conn| {
            sql::abandon(conn, &lease, now_ms)
        }))
    }

    fn get(&self, id: InboxId) -> BoxFuture<'_, Result<Option<EventDetail>, InboxError>> {
        Box::pin(self.read(move |conn| sql::get(conn, id)))
    }

    fn list<'a>(
        &'a self,
        filter: &'a Filter,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, InboxError>> {
        let filter = filter.clone();
        Box::pin(self.read(move |conn| sql::list(conn, &filter, page)))
    }

    fn count<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        let filter = filter.clone();
        Box::pin(self.read(move |conn| sql::count(conn, &filter)))
    }

    fn stats(&self) -> BoxFuture<'_, Result<Stats, InboxError>> {
        Box::pin(self.read(sql::stats))
    }

    fn received_histogram<'a>(
        &'a self,
        filter: &'a Filter,
        start_ms: i64,
        width: Duration,
        buckets: usize,
    ) -> BoxFuture<'a, Result<Vec<u64>, InboxError>> {
        let filter = filter.clone();
        let width_ms = millis(width).max(1);
        Box::pin(
            self.read(move |conn| {
                sql::received_histogram(conn, &filter, start_ms, width_ms, buckets)
            }),
        )
    }

    fn replay<'a>(
        &'a self,
        selection: &'a Selection,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<u64, InboxError>> {
        let selection = selection.clone();
        Box::pin(self.write(Commit::Durable, move |conn| {
            sql::replay(conn, &selection, now_ms).map(Ok)
        }))
    }

    fn mark_dead<'a>(
        &'a self,
        id: InboxId,
        now_ms: i64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<bool, InboxError>> {
        let reason = reason.to_owned();
        Box::pin(self.write(Commit::Durable, move |conn| {
            sql::mark_dead(conn, id, now_ms, &reason)
        }))
    }

    fn purge<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        let filter = filter.clone();
        Box::pin(self.write(Commit::Durable, move |conn| {
            sql::purge(conn, &filter).map(Ok)
        }))
    }

    fn expire(&self, now_ms: i64, retention: Duration) -> BoxFuture<'_, Result<u64, InboxError>> {
        let cutoff = now_ms.saturating_sub(millis(retention));
        Box::pin(self.write(Commit::Written, move |conn| {
            sql::expire(conn, cutoff).map(Ok)
        }))
    }
}
