//! [`Dashboard`], its builder, and the one entry point that answers a request.

use std::fmt;
use std::sync::Arc;

use bookhook::endpoint::{Clock, SystemClock};
use bookhook::inbox::Inbox;

use crate::auth::{self, Access, COOKIE, Keys, Proof};
use crate::page;
use crate::query::{Params, encode};
use crate::request::{MAX_FORM_BYTES, Request, Response};

/// The shortest access token accepted: 16 characters.
pub const MIN_TOKEN_LEN: usize = 16;

/// The dashboard could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither a token nor [`DashboardBuilder::behind_your_own_authentication`] was chosen.
    #[error(
        "the dashboard needs an access token (token) or, behind your own authentication, behind_your_own_authentication()"
    )]
    NoAccess,
    /// The token is shorter than [`MIN_TOKEN_LEN`] characters, or has spaces
    /// or control characters.
    #[error(
        "the access token must be at least {MIN_TOKEN_LEN} characters, without spaces or control characters"
    )]
    WeakToken,
    /// The prefix does not start with `/`, ends with `/`, or holds characters
    /// that a path must escape.
    #[error("invalid path prefix `{prefix}`: give one like /admin/inbox (or an empty prefix)")]
    InvalidPrefix {
        /// The prefix given.
        prefix: String,
    },
    /// The operating system gave no random bytes for the form key.
    #[error("no random bytes from the operating system: {reason}")]
    Random {
        /// What it reported.
        reason: String,
    },
}

/// A web dashboard over an [`Inbox`]: its overview, its events, one event's
/// detail with Replay and Mark dead, and the dead letters.
///
/// Framework-free: an adapter builds a [`Request`], awaits
/// [`handle`](Self::handle) and writes the [`Response`] back
/// (`bookhook-axum` and `bookhook-actix` have this, behind their
/// `dashboard` feature). Cloning is cheap.
///
/// ```
/// use std::sync::Arc;
/// use bookhook::inbox::MemoryInbox;
/// use bookhook_dashboard::{Dashboard, Request};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let token = Dashboard::random_token()?;
/// let dashboard = Dashboard::builder(Arc::new(MemoryInbox::new()))
///     .token(token.clone())
///     .prefix("/admin/inbox")
///     .build()?;
///
/// // Without the token: 401.
/// let response = dashboard.handle(Request::new("GET", "/admin/inbox/events")).await;
/// assert_eq!(response.status, 401);
///
/// // With it: the page.
/// let request = Request::new("GET", "/admin/inbox/events")
///     .header("authorization", format!("Bearer {token}"));
/// let response = dashboard.handle(request).await;
/// assert_eq!(response.status, 200);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) inbox: Arc<dyn Inbox>,
    pub(crate) keys: Keys,
    pub(crate) prefix: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) secure_cookie: bool,
    pub(crate) page_size: usize,
}

impl fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dashboard")
            .field("prefix", &self.inner.prefix)
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Dashboard`]: [`build`](Self::build) checks them.
#[must_use = "call build() to make the dashboard"]
pub struct DashboardBuilder {
    inbox: Arc<dyn Inbox>,
    access: Option<Access>,
    prefix: String,
    clock: Arc<dyn Clock>,
    secure_cookie: bool,
    page_size: usize,
}

impl fmt::Debug for DashboardBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DashboardBuilder")
            .field("access", &self.access)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl DashboardBuilder {
    /// Every page needs this token: given once as `?token=` (which sets an
    /// `HttpOnly`, `SameSite=Strict` session cookie and redirects to the
    /// clean URL), or on each request as `Authorization: Bearer`. At least
    /// [`MIN_TOKEN_LEN`] characters; [`Dashboard::random_token`] makes one.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.access = Some(Access::Token(token.into()));
        self
    }

    /// No token: **only behind your own authentication**, for a dashboard
    /// mounted in an application that already lets in only the people who
    /// may replay its events. Actions still need the form's CSRF token and a
    /// same-origin request.
    pub fn behind_your_own_authentication(mut self) -> Self {
        self.access = Some(Access::Open);
        self
    }

    /// Where the dashboard is mounted, as in `/admin/inbox`; default: the
    /// root. Requests carry their whole path and links are written under it.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Marks the session cookie `Secure`: set it when the dashboard is served
    /// over HTTPS. Off by default, for a loopback address over plain HTTP.
    pub fn secure_cookie(mut self, secure: bool) -> Self {
        self.secure_cookie = secure;
        self
    }

    /// Events per page of a listing; default 50, between 1 and 500.
    pub fn page_size(mut self, rows: usize) -> Self {
        self.page_size = rows.clamp(1, 500);
        self
    }

    /// The clock for "now" (ages, the chart, replay times); default the system's.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`BuildError`]: no access chosen, a weak token, a bad prefix.
    pub fn build(self) -> Result<Dashboard, BuildError> {
        let access = self.access.ok_or(BuildError::NoAccess)?;
        if let Access::Token(token) = &access {
            if token.chars().count() < MIN_TOKEN_LEN
                || token.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(BuildError::WeakToken);
            }
        }
        let prefix = self.prefix.trim().to_owned();
        let valid = prefix.is_empty()
            || (prefix.starts_with('/')
                && !prefix.ends_with('/')
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c)));
        if !valid {
            return Err(BuildError::InvalidPrefix { prefix });
        }
        let keys = Keys::new(access).map_err(|err| BuildError::Random {
            reason: err.to_string(),
        })?;
        Ok(Dashboard {
            inner: Arc::new(Inner {
                inbox: self.inbox,
                keys,
                prefix,
                clock: self.clock,
                secure_cookie: self.secure_cookie,
                page_size: self.page_size,
            }),
        })
    }
}

/// The paths a request may take, under the prefix.
enum Route {
    Overview,
    Events,
    Event(String),
    Replay(String),
    MarkDead(String),
    Dead,
    DeadReplay,
    Style,
    NotFound,
}

fn route(path: &str) -> Route {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => Route::Overview,
        ["events"] => Route::Events,
        ["events", id] => Route::Event((*id).to_owned()),
        ["events", id, "replay"] => Route::Replay((*id).to_owned()),
        ["events", id, "dead"] => Route::MarkDead((*id).to_owned()),
        ["dead"] => Route::Dead,
        ["dead", "replay"] => Route::DeadReplay,
        ["assets", "style.css"] => Route::Style,
        _ => Route::NotFound,
    }
}

impl Dashboard {
    /// A builder over `inbox`.
    pub fn builder(inbox: Arc<dyn Inbox>) -> DashboardBuilder {
        DashboardBuilder {
            inbox,
            access: None,
            prefix: String::new(),
            clock: Arc::new(SystemClock),
            secure_cookie: false,
            page_size: 50,
        }
    }

    /// A new random access token: 32 random bytes as 64 hex characters.
    ///
    /// # Errors
    /// [`BuildError::Random`] when the operating system gives no random bytes.
    pub fn random_token() -> Result<String, BuildError> {
        auth::random_hex(32).map_err(|err| BuildError::Random {
            reason: err.to_string(),
        })
    }

    /// The prefix it is mounted under (empty for the root).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Answers one request: a page (`GET`), an action (`POST`), or a refusal
    /// (401 without the token, 403 for a cross-site or CSRF-less action, 404,
    /// 405, 413). Every response carries the security headers (a strict
    /// `Content-Security-Policy`, `X-Frame-Options: DENY`,
    /// `Referrer-Policy: no-referrer`, `X-Content-Type-Options: nosniff`).
    pub async fn handle(&self, request: Request) -> Response {
        let response = self.answer(&request).await;
        secure(response)
    }

    async fn answer(&self, request: &Request) -> Response {
        let inner = &*self.inner;
        let Some(rest) = request.path().strip_prefix(inner.prefix.as_str()) else {
            return page::not_found(inner);
        };
        if !rest.is_empty() && !rest.starts_with('/') {
            return page::not_found(inner);
        }
        let route = route(rest);
        if let Route::Style = route {
            return page::style(request.method());
        }
        let query = Params::parse(request.query_str().as_bytes());
        match inner.keys.check(request, query.get("token")) {
            Proof::Session => {}
            Proof::QueryToken => return self.start_session(request, rest),
            Proof::Refused => return page::unauthorized(inner),
        }
        let method = request.method();
        let (get, post) = (
            method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD"),
            method.eq_ignore_ascii_case("POST"),
        );
        let allowed = match route {
            Route::Overview | Route::Events | Route::Event(_) | Route::Dead => "GET, HEAD",
            Route::Replay(_) | Route::MarkDead(_) => "POST",
            Route::DeadReplay => "GET, HEAD, POST",
            Route::Style | Route::NotFound => return page::not_found(inner),
        };
        let ok = (get && allowed.contains("GET")) || (post && allowed.contains("POST"));
        if !ok {
            return page::method_not_allowed(inner, allowed);
        }
        if post {
            if let Some(reason) = auth::cross_site(request) {
                return page::forbidden(inner, reason);
            }
            if request.body_bytes().len() > MAX_FORM_BYTES {
                return page::too_large(inner);
            }
            let form = Params::parse(request.body_bytes());
            if !inner.keys.csrf_matches(form.get("csrf")) {
                return page::forbidden(
                    inner,
                    "the form's token is missing or stale: reload the page and try again",
                );
            }
            return match route {
                Route::Replay(id) => page::replay(inner, &id).await,
                Route::MarkDead(id) => page::mark_dead(inner, &id, &form).await,
                _ => page::replay_dead(inner, &form).await,
            };
        }
        match route {
            Route::Overview => page::overview(inner).await,
            Route::Events => page::events(inner, &query).await,
            Route::Event(id) => page::event(inner, &id, &query).await,
            Route::Dead => page::dead(inner, &query).await,
            _ => page::confirm_dead_replay(inner, &query).await,
        }
    }

    /// A valid `?token=`: the session cookie, and a redirect to the same page
    /// without the token, so that it leaves the address bar and the history.
    fn start_session(&self, request: &Request, rest: &str) -> Response {
        let inner = &*self.inner;
        let kept: Vec<(String, String)> = form_urlencoded::parse(request.query_str().as_bytes())
            .filter(|(name, _)| name != "token")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let pairs: Vec<(&str, String)> =
            kept.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let path = if rest.is_empty() { "/" } else { rest };
        let location = format!("{}{}{}", inner.prefix, path, encode(&pairs));
        let cookie_path = if inner.prefix.is_empty() {
            "/"
        } else {
            inner.prefix.as_str()
        };
        let secure = if inner.secure_cookie { "; Secure" } else { "" };
        Response::redirect(location).with_header(
            "set-cookie",
            format!(
                "{COOKIE}={}; Path={cookie_path}; HttpOnly; SameSite=Strict{secure}",
                inner.keys.session()
            ),
        )
    }
}

/// The headers every answer carries.
fn secure(response: Response) -> Response {
    let cache = if response.header("cache-control").is_some() {
        None
    } else {
        Some("no-store")
    };
    let mut response = response
        .with_header(
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             base-uri 'none'; frame-ancestors 'none'",
        )
        .with_header("x-frame-options", "DENY")
        .with_header("referrer-policy", "no-referrer")
        .with_header("x-content-type-options", "nosniff")
        .with_header("cross-origin-opener-policy", "same-origin");
    if let Some(cache) = cache {
        response = response.with_header("cache-control", cache);
    }
    response
}
