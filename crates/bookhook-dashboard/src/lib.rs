//! # bookhook-dashboard
//!
//! A small web dashboard over any bookhook [`Inbox`](bookhook::inbox::Inbox)
//! (SQLite, Redis, memory): what was received, why it failed, and a way to
//! replay it.
//!
//! - **Overview**: events per state, the age of the oldest pending event,
//!   the dead count, and deliveries received per minute over the last hour
//!   (an SVG bar chart drawn on the server).
//! - **Events**: newest first, paged by cursor, with filters (state,
//!   provider, type, appointment, time range) kept in the URL.
//! - **Event**: its fields, its stored headers (secrets redacted), its body
//!   pretty-printed, the normalized appointment, and its attempts; actions
//!   **Replay** and **Mark dead**.
//! - **Dead letters**: the dead events, and "replay all matching", which
//!   first says how many it will replay.
//!
//! Pages are HTML rendered on the server from compile-time checked templates
//! (askama, which escapes every value), with one embedded stylesheet and no
//! script at all.
//!
//! It is framework-free: [`Dashboard::handle`] takes a [`Request`] and gives
//! a [`Response`]. `bookhook-axum` and `bookhook-actix` mount it (feature
//! `dashboard`), and `bookhook inbox ui` serves it from the command line.
//! The `testing` feature holds the checks both adapters run against the
//! dashboard they mount.
//!
//! ## Safety
//! - An **access token** opens every page: `?token=` once (an `HttpOnly`,
//!   `SameSite=Strict` cookie is set and the token leaves the URL) or
//!   `Authorization: Bearer` on each request; compared in constant time.
//!   Without one, [`DashboardBuilder::build`] fails, unless
//!   [`behind_your_own_authentication`](DashboardBuilder::behind_your_own_authentication)
//!   says the application in front authenticates.
//! - **Actions are POST** with a CSRF token (an HMAC derived from the access
//!   token) checked on the server, and are refused when `Sec-Fetch-Site` or
//!   `Origin` say the request came from another site.
//! - **Nothing from an event runs**: bodies, headers and types are escaped
//!   text, and the `Content-Security-Policy` allows no script at all.
//!   `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer` on every answer.
//! - **No secret reaches a page**: stored headers are redacted when stored
//!   and once more when shown; the token itself is never written in a page.
//!
//! ```
//! use std::sync::Arc;
//! use bookhook::inbox::MemoryInbox;
//! use bookhook_dashboard::{Dashboard, Request};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dashboard = Dashboard::builder(Arc::new(MemoryInbox::new()))
//!     .token("a-long-random-token-of-yours")
//!     .build()?;
//! let response = dashboard
//!     .handle(Request::new("GET", "/").query("token=a-long-random-token-of-yours"))
//!     .await;
//! // The session cookie, and the same page without the token in its URL.
//! assert_eq!(response.status, 303);
//! assert_eq!(response.header("location"), Some("/"));
//! assert!(response.header("set-cookie").unwrap().contains("HttpOnly; SameSite=Strict"));
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod chart;
mod dashboard;
mod format;
mod page;
mod query;
mod request;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use dashboard::{BuildError, Dashboard, DashboardBuilder, MIN_TOKEN_LEN};
pub use request::{MAX_FORM_BYTES, Request, Response};

/// The README's example, compiled with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
