//! Helpers for tests, compiled with the `testing` feature.
//!
//! - [`signed_request`]: sign a body as any provider would, for your own tests.
//! - [`conformance`]: one table of requests and expected responses that every
//!   web adapter must pass.
//! - [`store`]: a contract that every [`IdempotencyStore`](crate::IdempotencyStore)
//!   must meet, as async checks to run from your own tests.

pub mod conformance;
mod sign;
pub mod store;

pub use sign::{signed_request, signed_request_with};
