//! # bookhook-redis
//!
//! An [`IdempotencyStore`](bookhook::idempotency::IdempotencyStore) kept in Redis, so that
//! every replica of a webhook receiver shares one record of which deliveries
//! were handled. Use it once one process is not enough; a single process can
//! keep the embedded store of `bookhook`.
//!
//! Claims are leases taken with an atomic `SET NX PX`; completing and
//! releasing compare the claim's token first, so a replica whose lease ran
//! out cannot touch a newer claim. Every operation is one Lua script, and a
//! handled delivery costs two round trips.
//!
//! ```no_run
//! use std::time::Duration;
//! use bookhook::idempotency::{Claim, IdempotencyStore, StoreError};
//! use bookhook_redis::RedisStore;
//!
//! # async fn run() -> Result<(), StoreError> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
//!
//! // The dispatcher drives the store; by hand it looks like this.
//! if let Claim::Claimed(token) = store.claim("calendence:evt_123", Duration::from_secs(30)).await? {
//!     // ... handle the delivery ...
//!     store
//!         .complete("calendence:evt_123", token, Duration::from_secs(72 * 3600))
//!         .await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! If Redis is down, every call returns
//! [`StoreError::Unavailable`](bookhook::idempotency::StoreError::Unavailable) quickly (the
//! dispatcher answers 503 by default, so no handler runs without
//! deduplication), and the store reconnects by itself when Redis is back. See
//! [`RedisStore`] for the details and [`RedisStoreBuilder`] for the settings.
//!
//! Handled deliveries are remembered only as long as Redis keeps its keys:
//! run Redis with `appendonly yes` (or at least RDB snapshots). At connect the
//! store reads the server's persistence settings, logs a `tracing` warning
//! when it keeps nothing across a restart, and reports what it found in
//! [`RedisStore::persistence`].
//!
//! # The inbox on Redis Streams
//!
//! [`RedisInbox`] is a durable [`Inbox`](bookhook::inbox::Inbox) for inbox
//! mode (acknowledge once stored, handle in the background) that several
//! replicas share: any replica's [`Ingest`](bookhook::inbox::Ingest) stores,
//! any replica's [`Worker`](bookhook::inbox::Worker) handles, each event once
//! when nothing fails. It passes the same contract suite as the embedded
//! backends (`bookhook::testing::inbox`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use bookhook::inbox::{Ingest, Worker};
//! use bookhook::{Context, Dispatcher, Endpoint, Kind, Provider};
//! use bookhook_redis::RedisInbox;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Refuses to start if the server runs with `appendonly no` (see below).
//! let inbox = Arc::new(RedisInbox::connect("redis://127.0.0.1:6379").await?);
//! let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
//!
//! // The request path: verify, parse, one script on Redis, answer.
//! let ingest = Ingest::new(endpoint.clone(), inbox.clone());
//!
//! // The background: claim, run the handler, acknowledge.
//! let dispatcher = Dispatcher::builder(endpoint)
//!     .on_kind(Kind::Created, |_ctx: Context| async move {
//!         Ok::<_, std::convert::Infallible>(())
//!     })
//!     .build()?;
//! let worker = Worker::builder(dispatcher, inbox).build()?.spawn();
//! # let _ = (ingest, worker);
//! # Ok(())
//! # }
//! ```
//!
//! How it maps onto Redis (keys under the prefix, `bookhook:inbox:` by
//! default):
//!
//! - **Ingest** is one Lua script, so **one round trip** per event: the
//!   idempotency index, the event's hash (metadata and state), its payload
//!   (the body and the stored headers) and the stream entry are written
//!   together or not at all; a duplicate is answered by the same script.
//! - **Work distribution**: one stream per endpoint namespace with the
//!   consumer group `bookhook`; a claim reads it with `XREADGROUP` under the
//!   inbox's consumer name. Completing or failing checks the lease token and
//!   acknowledges the entry (`XACK`, then `XDEL`) in the script that changes
//!   the state.
//! - **Leases** follow the times the worker passes in (its clock), kept in a
//!   sorted set; a claim takes over rows whose lease ran out and moves their
//!   entries to its own consumer with `XCLAIM`. A replica killed with SIGKILL
//!   loses nothing: its rows run again after the lease.
//! - **Retries**, replays and abandoned rows wait in a sorted set by due
//!   time. A claim merges, in id order, the stream's new entries, the due
//!   rows of that set and the rows whose lease ran out, so the oldest rows
//!   run first (as the trait asks); the stream entries it read but did not
//!   reach go to the sorted set, due at once. It is all one script, so two
//!   workers can never take the same row.
//! - **Order per appointment**: a row whose ordering key has an older row
//!   pending or processing is parked until that row is done, dead or removed.
//!   Redis runs one script at a time, so no two replicas run events of one
//!   appointment at once, and the older one runs first.
//! - **Retention**: [`Inbox::expire`](bookhook::inbox::Inbox::expire)
//!   removes done rows (hash, payload, index entries, idempotency key) in
//!   batches of 500 per script; stream entries are already deleted when they
//!   are acknowledged, so the stream holds only work in progress. It also
//!   drops consumers that are gone ([`RedisInboxBuilder::forget_consumers_after`]).
//! - **Listing, counting, replay and purge by filter** scan the rows newest
//!   first inside one script: O(rows scanned), and Redis serves nobody else
//!   meanwhile (a filtered count of 10,000 rows took 69 ms of server time
//!   here, about 7 µs per row, from `INFO commandstats`). A listing stops once its
//!   page is full; counts with no filter, or only a state, read a counter.
//!   Give large inboxes a longer [`RedisInboxBuilder::response_timeout`].
//!
//! It needs a standalone Redis 6.2 or newer (or a primary), not Redis Cluster.
//!
//! ## Durability: which Redis settings give which guarantee
//!
//! A 200 is sent once the ingest script has run. What that 200 survives is
//! decided by the server's persistence settings, which
//! [`RedisInbox::connect`] reads (`CONFIG GET`, or `INFO persistence` where
//! `CONFIG` is disabled) and logs:
//!
//! | Redis settings | an acknowledged event survives |
//! |---|---|
//! | `appendonly yes` + `appendfsync always` | a Redis crash, a restart, a power loss: Redis writes and fsyncs the AOF before it replies |
//! | `appendonly yes` + `appendfsync everysec` (Redis' default AOF policy) | a restart, and a Redis crash as long as the disk keeps up; while an fsync is slow Redis may hold back the write for up to 2 s, and a crash or power loss then loses up to about 2 s of acknowledged events |
//! | `appendonly yes` + `appendfsync no` | a Redis crash (the write reached the OS); a power loss loses what the OS had not flushed |
//! | `appendonly no` (RDB snapshots or nothing) | nothing certain: a restart forgets every event since the last snapshot |
//!
//! With `appendonly no`, `connect` fails with
//! [`RedisInboxError::AppendOnlyOff`] unless the application opts in with
//! [`RedisInboxBuilder::allow_without_append_only`] (tests, or a deployment
//! that accepts the loss). Replication does not change the table: a replica
//! promoted after a failover may lack the last acknowledged writes.
//!
//! ## Cost per event (measured)
//!
//! Redis 7.0.15, a 1 KiB body, two stored headers, an ordering key, 2,000
//! events, `INFO memory` (`used_memory`) before and after:
//!
//! | | bytes of Redis memory per event |
//! |---|---|
//! | pending (just stored) | 1,933 |
//! | done (handled, kept for the retention period) | 2,115 |
//! | after `expire` | no key of the event is left |
//!
//! One event's hash alone is 248 bytes (`MEMORY USAGE … SAMPLES 0`); the rest
//! is the payload (about 1.1 KiB) and the index entries. Ingest costs one
//! `EVALSHA` per event, duplicates included (`INFO commandstats`: 101
//! enqueues, 101 calls, no `EVAL`, no `SCRIPT LOAD`). Both are checked by
//! `cargo test -p bookhook-redis --test inbox_footprint -- --nocapture`,
//! which prints the figures.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connection;
mod error;
mod inbox;
mod persistence;
mod script;
mod store;

pub use inbox::{DEFAULT_INBOX_PREFIX, RedisInbox, RedisInboxBuilder, RedisInboxError};
pub use persistence::{AppendFsync, Persistence};
pub use store::{DEFAULT_PREFIX, RedisStore, RedisStoreBuilder};
