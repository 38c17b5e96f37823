//! # bookhook-axum
//!
//! Receive webhooks from booking and appointment platforms in an axum 0.8
//! server: verified, typed, deduplicated and routed to your handlers.
//!
//! This crate re-exports the core as the module [`bookhook`] (so
//! `bookhook_axum::bookhook::Event` works, and this is the only dependency you
//! add), the few core names every server needs ([`Endpoint`], [`Provider`],
//! [`Dispatcher`], [`Context`], [`HandlerError`], [`Kind`], ...) at its root,
//! and its own types:
//!
//! - [`WebhookService`]: a tower `Service` that serves one [`Dispatcher`].
//!   Mount it with [`Router::route_service`](axum::Router::route_service).
//! - [`WebhookLayer`]: verification, size limit and deduplication in front
//!   of a handler of your own, which reads the event with
//! - [`VerifiedEvent`]: an extractor that only works under a [`WebhookLayer`].
//! - [`InboxService`]: inbox mode, which stores each verified event and
//!   answers at once, while a [`Worker`](inbox::Worker) runs the dispatcher's
//!   handlers in the background (see the [`inbox`] module).
//! - [`serve`]: a hardened HTTP/1 server for the router, with timeouts,
//!   connection and delivery caps and a shutdown with a deadline.
//! - `dashboard::router` (feature `dashboard`): the inbox dashboard of
//!   `bookhook-dashboard` as a `Router` to nest under a prefix.
//!
//! Statuses and bodies come from the core ([`Outcome::status`](bookhook::Outcome::status)), so this
//! adapter answers exactly like the actix-web one.
//!
//! ```no_run
//! use axum::Router;
//! use bookhook_axum::{Context, Dispatcher, Endpoint, HandlerError, Kind, Provider, WebhookService};
//!
//! async fn on_cancelled(ctx: Context) -> Result<(), HandlerError> {
//!     if let Some(appointment) = ctx.appointment() {
//!         println!("cancelled: {}", appointment.id);
//!     }
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let endpoint = Endpoint::builder(Provider::Calendence)
//!         .secret(std::env::var("CALENDENCE_SECRET")?)
//!         .build()?;
//!     let dispatcher = Dispatcher::builder(endpoint)
//!         .on_kind(Kind::Cancelled, on_cancelled)
//!         .build()?;
//!     let app = Router::new()
//!         .route_service("/webhook/calendence", WebhookService::new(dispatcher));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     // Header, idle and shutdown timeouts and connection caps; see `serve`.
//!     bookhook_axum::serve(listener, app)
//!         .with_graceful_shutdown(bookhook_axum::shutdown_signal())
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! Deliveries run on their own tokio task, so a sender that hangs up never
//! cuts a handler off half-way: its claim is always completed or released.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
#[cfg(feature = "dashboard")]
#[cfg_attr(docsrs, doc(cfg(feature = "dashboard")))]
pub mod dashboard;
mod extract;
mod headers;
pub mod inbox;
mod layer;
mod serve;
mod service;

/// The core crate, whole: `bookhook_axum::bookhook::Event`,
/// `bookhook_axum::bookhook::testing`, and so on, without a second
/// dependency.
pub use bookhook;

#[doc(inline)]
pub use bookhook::{
    ConfigError, Context, Dispatcher, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider,
};

pub use extract::{VerifiedEvent, VerifiedEventRejection};
pub use headers::HttpHeaders;
pub use inbox::InboxService;
pub use layer::{WebhookLayer, WebhookMiddleware};
pub use serve::{
    DEFAULT_GRACE, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_DELIVERIES, MAX_CONNECTION_BUFFER, Serve, serve, shutdown_signal,
};
pub use service::WebhookService;

/// The futures returned by this crate's services.
pub mod future {
    pub use crate::service::ResponseFuture;
}
