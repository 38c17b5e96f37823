//! What every adapter's server does at its front door, framework-free.
//!
//! A server in front of webhook deliveries bounds what clients can hold and
//! shuts down without dropping a claimed delivery. The parts of that which
//! know no web framework live here, once, for `bookhook-axum`'s `serve` and
//! `bookhook-actix`'s `FrontDoor`:
//!
//! - [`Deliveries`]: the cap on deliveries in progress (503 with
//!   `Retry-After` beyond it) and, at shutdown, the grace period after which
//!   those still running are cut off so that their claims are released;
//! - [`shutdown_signal`]: the first SIGTERM or SIGINT begins the shutdown, a
//!   second one exits at once;
//! - [`Throttle`]: a warning logged at most every ten seconds when a cap is
//!   reached under load.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use bookhook::front_door::Deliveries;
//!
//! let deliveries = Deliveries::new(1);
//! let pass = deliveries.enter().expect("room for one");
//! let refused = deliveries.enter().unwrap_err();
//! assert_eq!(bookhook::Outcome::Rejected(refused).status(), 503);
//! drop(pass);
//! deliveries.shutdown_within(Duration::from_millis(10)).await;
//! assert!(deliveries.enter().is_err());
//! # });
//! ```

mod deliveries;
mod signal;
mod throttle;

use std::time::Duration;

pub use deliveries::{Deliveries, Pass};
pub use signal::shutdown_signal;
pub use throttle::Throttle;

/// The `Retry-After` sent when a front-door cap is reached or the unverified
/// body budget is spent: 5 s.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);
