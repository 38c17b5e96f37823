//! # bookhook-sqlite
//!
//! A durable [`Inbox`](bookhook::inbox::Inbox) in one SQLite file, the
//! embedded backend of bookhook's inbox mode: a webhook is acknowledged once
//! its row has committed, and handled in the background by a worker.
//!
//! - One file in WAL mode, with SQLite built in (nothing to install).
//! - **Group commit**: one thread owns the write connection and commits the
//!   writes of every concurrent request in one transaction, so the cost of a
//!   durable commit is shared by the whole batch.
//! - [`Synchronous::Full`] (the default) acknowledges only what survives a
//!   power loss; [`Synchronous::Normal`] what survives the process being killed.
//! - The schema is versioned and migrated when the file opens; a file written
//!   by a newer version refuses to open ([`InboxError::Incompatible`](bookhook::inbox::InboxError::Incompatible)).
//! - A full disk, a read-only or locked file answers
//!   [`InboxError::Unavailable`](bookhook::inbox::InboxError::Unavailable)
//!   (503 on the request path); a damaged file
//!   [`InboxError::Incompatible`](bookhook::inbox::InboxError::Incompatible).
//!   Neither is ever an `Ok` for a write that did not commit.
//!
//! ```
//! use std::time::Duration;
//! use bookhook::inbox::{Inbox, NewEvent};
//! use bookhook::{Kind, Provider};
//! use bookhook_sqlite::SqliteInbox;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bookhook::inbox::InboxError> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("inbox.db");
//! let inbox = SqliteInbox::open(&path)?;
//!
//! // The request path: one durable write, then 200.
//! let now = 1_764_547_200_000;
//! let event = NewEvent::new(
//!     "calendence", "evt_1", Some("apt_9".into()), Provider::Calendence,
//!     "appointment.created", Kind::Created, now, None,
//!     r#"{"id":"evt_1"}"#.into(), vec![],
//! );
//! let id = inbox.enqueue(event).await?.id();
//!
//! // A worker: claim, handle, complete.
//! for row in inbox.claim("calendence", now, Duration::from_secs(30), 16).await? {
//!     // ... run the handler on row.body ...
//!     inbox.complete(&row.lease, now + 5).await?;
//! }
//! # assert_eq!(inbox.get(id).await?.unwrap().record.state, bookhook::inbox::State::Done);
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod inbox;
mod reader;
mod schema;
mod sql;
mod writer;

pub use inbox::{SqliteInbox, SqliteInboxBuilder, Synchronous};
pub use schema::SCHEMA_VERSION;

/// The README's example, compiled with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
