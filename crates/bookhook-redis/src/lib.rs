//! # bookhook-redis
//!
//! An [`IdempotencyStore`](bookhook::IdempotencyStore) kept in Redis, so that
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
//! use bookhook::{Claim, IdempotencyStore, StoreError};
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
//! [`StoreError::Unavailable`](bookhook::StoreError::Unavailable) quickly (the
//! dispatcher answers 503 by default, so no handler runs without
//! deduplication), and the store reconnects by itself when Redis is back. See
//! [`RedisStore`] for the details and [`RedisStoreBuilder`] for the settings.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod inbox;
mod script;
mod store;

pub use inbox::{
    DEFAULT_INBOX_PREFIX, Persistence, RedisInbox, RedisInboxBuilder, RedisInboxError,
};
pub use store::{DEFAULT_PREFIX, RedisStore, RedisStoreBuilder};
