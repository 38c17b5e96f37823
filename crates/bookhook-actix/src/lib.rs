//! # bookhook-actix
//!
//! Receive webhooks from booking and appointment platforms in an
//! [actix-web 4](https://actix.rs) server: verified, typed, deduplicated and
//! routed to your handlers. This crate re-exports the core as the module
//! [`bookhook`] (so `bookhook_actix::bookhook::Event` works, and this is the
//! only dependency you add), and the few core names every server needs
//! ([`Endpoint`], [`Provider`], [`Dispatcher`], [`Context`],
//! [`HandlerError`], [`Kind`], ...) at its root.
//!
//! Ways in:
//! - **Mount a [`Dispatcher`]** with [`resource`] (or [`route`] under a
//!   `web::resource` of your own). Every step of a delivery runs: size limit,
//!   signature, parsing, replay window, deduplication, routing by event type,
//!   and one response per outcome (200, 400, 401, 405, 409, 413, 500, 503).
//! - **Wrap a handler of your own in a [`WebhookLayer`]** and read a
//!   [`VerifiedEvent`]: verified and claimed, completed when your handler
//!   answers 2xx and released otherwise, the same as in `bookhook-axum`.
//! - **Extract an [`UnclaimedEvent`]** in a handler of your own. It verifies
//!   and parses, but does not deduplicate (see its docs).
//! - **Inbox mode** with [`inbox_resource`]: each verified event is stored
//!   and answered at once, and a [`Worker`](inbox::Worker) runs the
//!   dispatcher's handlers in the background (see the [`inbox`] module).
//! - **The inbox dashboard** (feature `dashboard`): `dashboard::scope` mounts
//!   `bookhook-dashboard` under a path prefix.
//!
//! Statuses and bodies are decided by the core ([`Outcome::status`](bookhook::Outcome::status)), so this
//! adapter answers exactly as `bookhook-axum` does.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use bookhook_actix::{Context, Dispatcher, Endpoint, HandlerError, Kind, Provider};
//!
//! async fn on_cancelled(ctx: Context) -> Result<(), HandlerError> {
//!     if let Some(appointment) = ctx.appointment() {
//!         println!("cancelled: {}", appointment.id);
//!     }
//!     Ok(())
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let secret = std::env::var("CALENDENCE_SECRET")?;
//!     let endpoint = Endpoint::builder(Provider::Calendence).secret(secret).build()?;
//!     let dispatcher = Dispatcher::builder(endpoint)
//!         .on_kind(Kind::Cancelled, on_cancelled)
//!         .build()?;
//!
//!     let server = HttpServer::new(move || {
//!         App::new().service(bookhook_actix::resource("/webhook/calendence", dispatcher.clone()))
//!     });
//!     // Header, idle and shutdown timeouts, a connection cap, at most 256
//!     // deliveries in progress, and deliveries still running at the end of the
//!     // shutdown grace period cut off with their claims released: see
//!     // `ServerLimits` and `FrontDoor`.
//!     bookhook_actix::harden(server)
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! Handlers are tested without a socket through `actix_web::test`, with
//! requests signed by `testing::signed_request` (feature `testing`):
//!
//! ```
//! # #[cfg(feature = "testing")]
//! # actix_web::rt::System::new().block_on(async {
//! use actix_web::{App, test};
//! use bookhook_actix::bookhook::testing::signed_request;
//! use bookhook_actix::{Dispatcher, Endpoint, Provider};
//!
//! let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build().unwrap();
//! let dispatcher = Dispatcher::builder(endpoint.clone()).build().unwrap();
//! let app = test::init_service(
//!     App::new().service(bookhook_actix::resource("/webhook", dispatcher)),
//! )
//! .await;
//!
//! let body = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
//! let (headers, _query) = signed_request(&endpoint, body.as_bytes());
//! let mut request = test::TestRequest::post().uri("/webhook").set_payload(body);
//! for header in headers {
//!     request = request.insert_header(header);
//! }
//! let response = test::call_service(&app, request.to_request()).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(test::read_body(response).await, r#"{"status":"ignored"}"#);
//! # });
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "dashboard")]
#[cfg_attr(docsrs, doc(cfg(feature = "dashboard")))]
pub mod dashboard;
mod door;
mod extract;
pub mod inbox;
mod layer;
mod server;
mod service;
mod unclaimed;

/// The core crate, whole: `bookhook_actix::bookhook::Event`,
/// `bookhook_actix::bookhook::testing`, and so on, without a second
/// dependency.
pub use bookhook;

#[doc(inline)]
pub use bookhook::{
    ConfigError, Context, Dispatcher, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider,
};

pub use door::{DEFAULT_MAX_DELIVERIES, FrontDoor, shutdown_signal};
pub use extract::{VerifiedEvent, VerifiedEventRejection};
pub use inbox::{handle_inbox, inbox_resource, inbox_route};
pub use layer::{WebhookLayer, WebhookMiddleware};
pub use server::{ServerLimits, harden};
pub use service::{ActixHeaders, handle, resource, route};
pub use unclaimed::{UnclaimedEvent, UnclaimedEventRejection};
