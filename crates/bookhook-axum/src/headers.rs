//! The core's header lookup over an `http::HeaderMap`.

use bookhook::endpoint::{HeaderLookup, Headers};
use http::HeaderMap;

/// An `http::HeaderMap` seen through the core's [`Headers`] trait.
///
/// The adapters build one per request; it is public for code that calls an
/// [`Endpoint`](bookhook::Endpoint) by hand.
///
/// ```
/// use bookhook_axum::bookhook::endpoint::{HeaderLookup, Headers};
/// use bookhook_axum::HttpHeaders;
/// use http::HeaderMap;
///
/// let mut map = HeaderMap::new();
/// map.append("x-sig", "a".parse().unwrap());
/// map.append("X-Sig", "b".parse().unwrap());
/// assert_eq!(HttpHeaders::new(&map).lookup("x-sig"), HeaderLookup::Repeated);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HttpHeaders<'a>(&'a HeaderMap);

impl<'a> HttpHeaders<'a> {
    /// Wraps a header map.
    pub fn new(map: &'a HeaderMap) -> Self {
        Self(map)
    }

    /// The wrapped map.
    pub fn map(&self) -> &'a HeaderMap {
        self.0
    }
}

impl Headers for HttpHeaders<'_> {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        let mut values = self.0.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => HeaderLookup::Missing,
            (Some(value), None) => HeaderLookup::One(value.as_bytes()),
            (Some(_), Some(_)) => HeaderLookup::Repeated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_reports_missing_one_and_repeated() {
        let mut map = HeaderMap::new();
        map.insert("webhook-id", "msg_1".parse().unwrap());
        map.append("x-sig", "a".parse().unwrap());
        map.append("x-sig", "b".parse().unwrap());
        let headers = HttpHeaders::new(&map);
        assert_eq!(headers.lookup("webhook-id"), HeaderLookup::One(b"msg_1"));
        assert_eq!(headers.lookup("Webhook-Id"), HeaderLookup::One(b"msg_1"));
        assert_eq!(headers.lookup("x-sig"), HeaderLookup::Repeated);
        assert_eq!(headers.lookup("absent"), HeaderLookup::Missing);
    }

    #[test]
    fn invalid_header_name_is_missing_not_a_panic() {
        let map = HeaderMap::new();
        assert_eq!(
            HttpHeaders::new(&map).lookup("not a header\n"),
            HeaderLookup::Missing
        );
    }
}
