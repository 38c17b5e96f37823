//! # bookhook
//!
//! Receive webhooks from booking and appointment platforms: verified, typed,
//! deduplicated and routed to your handler.
//!
//! This is the framework-neutral core. Web servers use it through
//! `bookhook-axum` or `bookhook-actix`, which re-export this crate as a
//! module (`bookhook_axum::bookhook`).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod appointment;
mod budget;
mod claimed;
mod clock;
mod dispatch;
mod endpoint;
mod error;
mod event;
mod headers;
mod idempotency;
pub mod inbox;
mod kind;
pub mod metrics;
mod outcome;
pub mod provider;
mod secret;
mod signature;
pub mod span;
pub mod task;
mod time;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use appointment::{Appointment, Attendee};
pub use budget::{BudgetHold, BudgetSpent, DEFAULT_UNVERIFIED_BUDGET, UnverifiedBudget};
pub use claimed::{ClaimedEvent, MissingWebhookLayer};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dispatch::{Context, Dispatcher, DispatcherBuilder, Handler};
pub use endpoint::{
    Accepted, DEFAULT_BODY_TIMEOUT, DEFAULT_LEASE, DEFAULT_MAX_BODY, DEFAULT_TTL, Endpoint,
    EndpointBuilder, Finished, Request,
};
pub use error::{ConfigError, HandlerError, ParseError, StoreError, VerifyError};
pub use event::{Delivery, Event};
pub use headers::{HeaderLookup, Headers, Incoming, NoHeaders};
pub use idempotency::{
    BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore, MemoryStore, MemoryStoreBuilder,
    Observation,
};
pub use kind::{Kind, UnknownKind};
pub use outcome::{Outcome, Rejection, Response};
pub use provider::hmac::HmacEnvelope;
pub use provider::{Provider, UnknownProvider};
pub use secret::Secret;
pub use signature::{
    Encoding, HmacScheme, SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, Scheme, SignRequest, Signed,
    StandardScheme, TokenScheme, Verified, Verifier, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};
pub use time::Timestamp;
