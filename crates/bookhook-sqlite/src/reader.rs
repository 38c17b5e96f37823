//! Reads (get, list, count, stats) on their own connections and threads, so
//! that they neither wait for the writer nor block an async runtime.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use bookhook::inbox::InboxError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{from_sqlite, stopped};

type ReadJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// The sending side of the reader threads.
#[derive(Debug)]
pub(crate) struct Readers {
    jobs: Sender<ReadJob>,
}

impl Readers {
    /// Starts one thread per connection; they stop when this is dropped.
    pub(crate) fn spawn(
        conns: Vec<Connection>,
    ) -> std::io::Result<(Self, Vec<std::thread::JoinHandle<()>>)> {
        let (jobs, rx) = std::sync::mpsc::channel::<ReadJob>();
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(conns.len());
        for (index, conn) in conns.into_iter().enumerate() {
            let rx = Arc::clone(&rx);
            handles.push(
                std::thread::Builder::new()
                    .name(format!("bookhook-sqlite-reader-{index}"))
                    .spawn(move || run(conn, &rx))?,
            );
        }
        Ok((Self { jobs }, handles))
    }

    /// Runs `work` on a read connection (inside one read transaction, so that
    /// it sees one snapshot) and returns its result.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn: &mut Connection| {
            let result = conn
                .transaction()
                .and_then(|tx| {
                    let value = work(&tx)?;
                    tx.finish()?;
                    Ok(value)
                })
                .map_err(from_sqlite);
            let _ = reply.send(result);
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn run(mut conn: Connection, rx: &Mutex<Receiver<ReadJob>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut conn),
            Err(_) => return,
        }
    }
}
