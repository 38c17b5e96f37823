//! Helpers for tests, compiled with the `testing` feature.
//!
//! - [`store`]: a contract that every [`IdempotencyStore`](crate::IdempotencyStore)
//!   must meet, as async checks to run from your own tests.

pub mod store;
