//! Helpers for tests, compiled with the `testing` feature.
//!
//! - [`signed_request`]: sign a body as any provider would, for your own tests.
//! - [`samples`]: the platforms' sample payloads, one per event type, and
//!   fresh copies of them that are new events, to sign and send through your
//!   own handlers.
//! - [`conformance`]: one table of requests and expected responses that every
//!   web adapter must pass.
//! - [`layer`]: what the conformance table must give through an adapter's
//!   `WebhookLayer` in front of a handler of the user's own.
//! - [`spans`]: a `tracing` layer that records spans and their fields, to
//!   check the delivery span, and the span checks every web adapter runs
//!   through its entry points.
//! - [`inbox`]: a contract that every [`Inbox`](crate::inbox::Inbox) backend
//!   must meet, as async checks to run from your own tests.
//! - [`store`]: a contract that every [`IdempotencyStore`](crate::IdempotencyStore)
//!   must meet, as async checks to run from your own tests.
//! - [`slow_handler`]: an inbox-mode receiver whose handler takes 2 s, to
//!   check that an adapter acknowledges before the handler ran.
//! - [`wire`]: raw HTTP/1.1 requests and replies, for front-door tests that
//!   talk to a server over a socket.

pub mod conformance;
pub mod inbox;
pub mod layer;
pub mod samples;
mod sign;
pub mod slow_handler;
pub mod spans;
pub mod store;
pub mod wire;

pub use sign::{signed_request, signed_request_with};
