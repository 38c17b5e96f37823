//! The checks every web adapter runs against the dashboard it mounts (feature `testing`).
//!
//! `bookhook-axum` and `bookhook-actix` both mount the framework-free
//! [`Dashboard`]; these checks hold the two to the same answers. An adapter's
//! test mounts [`dashboard`] at [`PREFIX`] next to a route of the app's own
//! at `/` that answers [`APP_BODY`], and hands [`check_mount`] a function
//! that sends a [`Sent`] request to that app and reads back what it
//! [`Answered`].
//!
//! ```
//! use bookhook_dashboard::testing::{self, Answered, Sent};
//!
//! /// `send` sends a request to the app that mounts `testing::dashboard()`.
//! async fn check_my_mount(send: impl AsyncFnMut(Sent) -> Answered) {
//!     testing::check_mount(send).await;
//! }
//! ```

use std::sync::Arc;

use bookhook::inbox::{Inbox, MemoryInbox, NewEvent};
use bookhook::{Kind, Provider};

use crate::dashboard::Dashboard;
use crate::request::MAX_FORM_BYTES;

/// The access token of [`dashboard`].
pub const TOKEN: &str = "mount-test-token-0123456789";
/// The prefix of [`dashboard`], where the adapter's test mounts it.
pub const PREFIX: &str = "/admin/inbox";
/// What the app's own route at `/` answers, to show the mount leaves it alone.
pub const APP_BODY: &str = "the app";

/// A dashboard at [`PREFIX`], opened by [`TOKEN`], over a memory inbox that
/// holds one event (id 1).
///
/// # Panics
///
/// If the event cannot be stored or the dashboard built (neither happens).
pub async fn dashboard() -> Dashboard {
    let inbox = Arc::new(MemoryInbox::new());
    let event = NewEvent::new(
        "main",
        "k",
        None,
        Provider::Calendence,
        "booking.created",
        Kind::Created,
        1_774_362_600_000,
        None,
        r#"{"event":"booking.created"}"#.into(),
        vec![],
    );
    inbox
        .enqueue(event)
        .await
        .expect("a memory inbox stores the event");
    Dashboard::builder(inbox)
        .token(TOKEN)
        .prefix(PREFIX)
        .build()
        .expect("a valid dashboard")
}

/// A request for the adapter's test to send to its app.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The HTTP method.
    pub method: &'static str,
    /// The path and query.
    pub uri: String,
    /// The request headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty but for a form).
    pub body: Vec<u8>,
}

impl Sent {
    /// A GET of `uri`, with the token as a bearer when `bearer` is true.
    fn get(uri: impl Into<String>, bearer: bool) -> Self {
        let headers = if bearer {
            vec![("authorization", format!("Bearer {TOKEN}"))]
        } else {
            Vec::new()
        };
        Self {
            method: "GET",
            uri: uri.into(),
            headers,
            body: Vec::new(),
        }
    }
}

/// What the app answered to a [`Sent`] request.
#[derive(Debug, Clone)]
pub struct Answered {
    /// The HTTP status.
    pub status: u16,
    /// The response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answered {
    /// An answer read from a framework's response: its status, every header
    /// whose value is text, and its body.
    pub fn new<'a>(
        status: u16,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        let headers = headers.into_iter().filter_map(|(name, value)| {
            let value = std::str::from_utf8(value).ok()?;
            Some((name.to_ascii_lowercase(), value.to_owned()))
        });
        Self {
            status,
            headers: headers.collect(),
            body: body.into(),
        }
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Every check below, in order, with `send` sending to the app that mounts
/// [`dashboard`].
///
/// # Panics
///
/// On the first answer that is not as it must be.
pub async fn check_mount(mut send: impl AsyncFnMut(Sent) -> Answered) {
    check_pages(&mut send).await;
    check_token_login(&mut send).await;
    check_oversized_form(&mut send).await;
}

/// The dashboard answers every page under [`PREFIX`] (with its security
/// headers), a missing event with 404 and a request without the token with
/// 401, and the app's own route still answers [`APP_BODY`].
async fn check_pages(send: &mut impl AsyncFnMut(Sent) -> Answered) {
    let events = send(Sent::get(format!("{PREFIX}/events"), true)).await;
    assert_eq!(events.status, 200, "{}", events.text());
    assert_eq!(events.header("x-frame-options"), Some("DENY"));
    let link = format!("href=\"{PREFIX}/events/1\"");
    assert!(events.text().contains(&link), "{}", events.text());

    for (path, status) in [("/events/1", 200), ("", 200), ("/events/9", 404)] {
        let answered = send(Sent::get(format!("{PREFIX}{path}"), true)).await;
        assert_eq!(answered.status, status, "{PREFIX}{path}");
    }
    let without_token = send(Sent::get(format!("{PREFIX}/events"), false)).await;
    assert_eq!(without_token.status, 401);
    let app = send(Sent::get("/", false)).await;
    assert_eq!(app.text(), APP_BODY, "the app's own route");
}

/// `?token=` opens a session: 303 to the same page under [`PREFIX`] without
/// the token, with a session cookie scoped to the prefix.
async fn check_token_login(send: &mut impl AsyncFnMut(Sent) -> Answered) {
    let answered = send(Sent::get(format!("{PREFIX}/dead?token={TOKEN}"), false)).await;
    assert_eq!(answered.status, 303);
    let clean = format!("{PREFIX}/dead");
    assert_eq!(answered.header("location"), Some(clean.as_str()));
    let cookie = answered.header("set-cookie").unwrap_or_default();
    let scoped = format!("Path={PREFIX}; HttpOnly; SameSite=Strict");
    assert!(cookie.contains(&scoped), "{cookie}");
    assert_eq!(answered.header("x-frame-options"), Some("DENY"));
}

/// A form body over [`MAX_FORM_BYTES`] is refused with 413.
async fn check_oversized_form(send: &mut impl AsyncFnMut(Sent) -> Answered) {
    let sent = Sent {
        method: "POST",
        body: vec![b'a'; MAX_FORM_BYTES + 1],
        ..Sent::get(format!("{PREFIX}/events/1/replay"), true)
    };
    assert_eq!(send(sent).await.status, 413);
}
