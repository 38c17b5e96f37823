//! Who may see the dashboard: the access token, the session cookie it sets,
//! the CSRF token of every form, and the cross-site checks on actions.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::request::Request;

/// The cookie that carries a session once the token was given.
pub(crate) const COOKIE: &str = "bookhook_dashboard";

/// What opens the dashboard.
#[derive(Clone)]
pub(crate) enum Access {
    /// The token, given once (`?token=`), or in `Authorization: Bearer`.
    Token(String),
    /// No token: the application in front authenticates.
    Open,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Token(_) => f.write_str("Token(***)"),
            Access::Open => f.write_str("Open"),
        }
    }
}

/// The secrets derived at build time: nothing derived reveals the token.
#[derive(Clone)]
pub(crate) struct Keys {
    access: Access,
    session: String,
    csrf: String,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

fn derive(key: &[u8], purpose: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac takes keys of any length");
    mac.update(purpose.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `bytes` random bytes from the operating system, as hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0_u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(hex::encode(buf))
}

/// How a request proved it may see the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    /// A valid session cookie or bearer token, or no token needed.
    Session,
    /// A valid `?token=`: set the cookie and redirect to the clean URL.
    QueryToken,
    /// Nothing valid.
    Refused,
}

impl Keys {
    /// Keys for `access`; an open dashboard still signs its forms, with a
    /// key drawn at random.
    pub(crate) fn new(access: Access) -> Result<Self, getrandom::Error> {
        let key = match &access {
            Access::Token(token) => token.as_bytes().to_vec(),
            Access::Open => random_hex(32)?.into_bytes(),
        };
        Ok(Self {
            session: derive(&key, "bookhook-dashboard session v1"),
            csrf: derive(&key, "bookhook-dashboard csrf v1"),
            access,
        })
    }

    /// The token every form carries.
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// The session cookie's value.
    pub(crate) fn session(&self) -> &str {
        &self.session
    }

    /// Checks the bearer token, the cookie, then `?token=`, each in constant time.
    pub(crate) fn check(&self, request: &Request, query_token: Option<&str>) -> Proof {
        let Access::Token(token) = &self.access else {
            return Proof::Session;
        };
        if let Some(bearer) = request
            .header_value("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
        {
            if same(bearer.trim(), token) {
                return Proof::Session;
            }
        }
        let session = request
            .header_values("cookie")
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == COOKIE)
            .any(|(_, value)| same(value, &self.session));
        if session {
            return Proof::Session;
        }
        match query_token {
            Some(given) if same(given, token) => Proof::QueryToken,
            _ => Proof::Refused,
        }
    }

    /// Whether `given` is this dashboard's CSRF token.
    pub(crate) fn csrf_matches(&self, given: Option<&str>) -> bool {
        given.is_some_and(|given| same(given, &self.csrf))
    }
}

/// Why an action is refused as cross-site, or `None` when it may run.
///
/// A browser's `Sec-Fetch-Site` decides when it is sent: it must be
/// `same-origin` (or `none`, typed by the user). Otherwise an `Origin` must
/// name the `Host` the request came to. `Origin: null` is what browsers send
/// for a same-origin form under `Referrer-Policy: no-referrer`, so it proves
/// nothing either way and is left to the CSRF token, which every action needs.
pub(crate) fn cross_site(request: &Request) -> Option<&'static str> {
    if let Some(site) = request.header_value("sec-fetch-site") {
        let site = site.trim();
        if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none") {
            return None;
        }
        return Some("the request came from another site");
    }
    let origin = request.header_value("origin").map(str::trim)?;
    if origin == "null" {
        return None;
    }
    let authority = origin
        .split_once("://")
        .map(|(_, authority)| authority)
        .unwrap_or("");
    match request.header_value("host") {
        Some(host) if !authority.is_empty() && authority.eq_ignore_ascii_case(host.trim()) => None,
        _ => Some("the request's origin is not this dashboard's"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values_do_not_contain_the_token() {
        let keys = Keys::new(Access::Token("0123456789abcdef-token".into())).unwrap();
        assert!(!keys.session().contains("0123456789abcdef"));
        assert!(!keys.csrf().contains("0123456789abcdef"));
        assert_ne!(keys.session(), keys.csrf());
        assert_eq!(format!("{keys:?}"), "Keys { access: Token(***), .. }");
    }

    #[test]
    fn open_dashboards_draw_a_fresh_csrf_key() {
        let a = Keys::new(Access::Open).unwrap();
        let b = Keys::new(Access::Open).unwrap();
        assert_ne!(a.csrf(), b.csrf());
    }

    #[test]
    fn origin_must_name_the_host() {
        let request = Request::new("POST", "/x")
            .header("host", "127.0.0.1:5050")
            .header("origin", "http://127.0.0.1:5050");
        assert_eq!(cross_site(&request), None);
        let request = Request::new("POST", "/x")
            .header("host", "127.0.0.1:5050")
            .header("origin", "http://evil.example");
        assert!(cross_site(&request).is_some());
        // A same-origin form under `Referrer-Policy: no-referrer`.
        let request = Request::new("POST", "/x")
            .header("host", "127.0.0.1:5050")
            .header("origin", "null");
        assert_eq!(cross_site(&request), None);
        let request = Request::new("POST", "/x")
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin");
        assert_eq!(cross_site(&request), None);
        // Sec-Fetch-Site decides over an Origin that looks right.
        let request = Request::new("POST", "/x")
            .header("host", "127.0.0.1:5050")
            .header("origin", "http://127.0.0.1:5050")
            .header("sec-fetch-site", "cross-site");
        assert!(cross_site(&request).is_some());
        let request = Request::new("POST", "/x").header("sec-fetch-site", "cross-site");
        assert!(cross_site(&request).is_some());
        let request = Request::new("POST", "/x").header("sec-fetch-site", "same-site");
        assert!(cross_site(&request).is_some());
    }
}
