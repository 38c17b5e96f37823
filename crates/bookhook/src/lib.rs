//! # bookhook
//!
//! Receive webhooks from booking and appointment platforms: verified, typed,
//! deduplicated and routed to your handler.
//!
//! This is the framework-neutral core. Web servers use it through
//! `bookhook-axum` or `bookhook-actix`, which re-export everything here.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod appointment;
mod clock;
mod error;
mod event;
mod headers;
mod idempotency;
mod kind;
pub mod provider;
mod secret;
mod time;

pub use appointment::{Appointment, Attendee};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ConfigError, HandlerError, ParseError, StoreError, VerifyError};
pub use event::{Delivery, Event};
pub use headers::{HeaderLookup, Headers, Incoming, NoHeaders};
pub use idempotency::{BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore, Observation};
pub use kind::{Kind, Provider, UnknownKind, UnknownProvider};
pub use provider::generic::GenericEnvelope;
pub use secret::Secret;
pub use time::Timestamp;
