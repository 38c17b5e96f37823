//! # bookhook
//!
//! Receive webhooks from booking and appointment platforms: verified, typed,
//! deduplicated and routed to your handler.
//!
//! This is the framework-neutral core. Web servers use it through
//! `bookhook-axum` or `bookhook-actix`, which re-export this crate as a
//! module (`bookhook_axum::bookhook`).
//!
//! The names most servers need are at the root: [`Endpoint`], [`Provider`],
//! [`Dispatcher`], [`Context`], [`HandlerError`], [`Event`], [`Delivery`],
//! [`Appointment`], [`Kind`], [`Outcome`] and [`ConfigError`]. The rest is
//! grouped by what it is about:
//!
//! - [`endpoint`]: one webhook URL and everything a delivery meets on its
//!   way in and out: the [`endpoint::Request`] view, header lookup,
//!   the unverified-bytes budget, the [`endpoint::Clock`], the
//!   [`endpoint::Finished`] report and its
//!   [`endpoint::Response`].
//! - [`signature`]: schemes, [`signature::Verifier`], signing,
//!   [`signature::Secret`].
//! - [`provider`]: one module per platform, and the hand-configured
//!   [`provider::hmac`] provider.
//! - [`event`]: the typed event and its parts ([`event::Timestamp`],
//!   [`event::Attendee`], parse errors).
//! - [`idempotency`]: the [`idempotency::IdempotencyStore`]
//!   trait and the embedded [`idempotency::MemoryStore`].
//! - [`dispatch`]: routing to handlers.
//! - [`inbox`]: inbox mode; [`task`], [`front_door`], [`span`] and
//!   [`metrics`] for adapters and operators; `testing` (feature `testing`) for tests.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod appointment;
mod budget;
mod claimed;
mod clock;
pub mod dispatch;
pub mod endpoint;
mod error;
pub mod event;
pub mod front_door;
mod headers;
pub mod idempotency;
pub mod inbox;
mod kind;
pub mod metrics;
mod outcome;
pub mod provider;
mod request;
mod secret;
pub mod signature;
pub mod span;
pub mod task;
mod time;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

// The names most servers need. Everything else lives in the module that
// says what it is about.
#[doc(inline)]
pub use dispatch::{Context, Dispatcher, DispatcherBuilder};
#[doc(inline)]
pub use endpoint::Endpoint;
#[doc(inline)]
pub use error::{ConfigError, HandlerError};
#[doc(inline)]
pub use event::{Appointment, Delivery, Event, Kind};
#[doc(inline)]
pub use outcome::Outcome;
#[doc(inline)]
pub use provider::Provider;

// The root paths of earlier releases, kept working. Each name is documented
// in its module: `dispatch`, `endpoint`, `event`, `idempotency`, `provider`,
// `signature`.
#[doc(hidden)]
pub use appointment::Attendee;
#[doc(hidden)]
pub use budget::{BudgetHold, BudgetSpent, DEFAULT_UNVERIFIED_BUDGET, UnverifiedBudget};
#[doc(hidden)]
pub use claimed::{ClaimedEvent, MissingWebhookLayer};
#[doc(hidden)]
pub use clock::{Clock, ManualClock, SystemClock};
#[doc(hidden)]
pub use dispatch::Handler;
#[doc(hidden)]
pub use endpoint::{
    Accepted, DEFAULT_BODY_TIMEOUT, DEFAULT_LEASE, DEFAULT_MAX_BODY, DEFAULT_TTL, EndpointBuilder,
    Finished, Request,
};
#[doc(hidden)]
pub use error::{ParseError, StoreError, VerifyError};
#[doc(hidden)]
pub use headers::{HeaderLookup, Headers, NoHeaders};
#[doc(hidden)]
pub use idempotency::{
    BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore, MemoryStore, MemoryStoreBuilder,
    Observation,
};
#[doc(hidden)]
pub use kind::UnknownKind;
#[doc(hidden)]
pub use outcome::{Rejection, Response};
#[doc(hidden)]
pub use provider::UnknownProvider;
#[doc(hidden)]
pub use provider::hmac::HmacEnvelope;
#[doc(hidden)]
pub use secret::Secret;
#[doc(hidden)]
pub use signature::{
    Encoding, HmacScheme, SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, Scheme, SignRequest, Signed,
    StandardScheme, TokenScheme, Verified, Verifier, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};
#[doc(hidden)]
pub use time::Timestamp;
