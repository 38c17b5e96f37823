//! A shared token sent with each request, compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Signed, strip_prefix_ignore_case, validate_header_name, validate_prefix};
use crate::request::Request;
use crate::{ConfigError, HeaderLookup, Secret, VerifyError};

/// A shared token, from a header or a query parameter.
///
/// The token is compared in constant time, and both sides are hashed with
/// SHA-256 first so that not even its length leaks. Several sources can be
/// accepted (Orufy: a header or a query parameter); signing uses the first.
/// A configured header prefix (such as `Bearer `) is required and matched
/// ASCII case-insensitively.
///
/// Tokens sent in a header must be printable ASCII; query tokens may be any
/// bytes (they are percent-encoded).
///
/// ```
/// use bookhook::{endpoint::{NoHeaders, Request}, signature::{SignRequest, TokenScheme, Verifier}};
///
/// let scheme = TokenScheme::bearer().or_query("token");
/// let verifier = Verifier::new(scheme, ["orufy-token"])?;
///
/// let headers = [("Authorization", "bearer orufy-token")];
/// verifier.verify(&Request::post(&headers, b"{}".as_slice().into()))?;
/// let by_query =
///     Request::post(&NoHeaders, b"{}".as_slice().into()).with_query(Some("token=orufy-token"));
/// verifier.verify(&by_query)?;
///
/// let signed = verifier.sign(b"{}", &SignRequest::now());
/// assert_eq!(signed.header("authorization"), Some("Bearer orufy-token"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TokenScheme {
    sources: Vec<Source>,
}

#[derive(Clone, Debug)]
enum Source {
    Header {
        name: String,
        prefix: Option<String>,
    },
    Query {
        param: String,
    },
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Header { name, .. } => format!("header {}", name.to_ascii_lowercase()),
            Source::Query { param } => format!("query parameter {param}"),
        }
    }
}

impl TokenScheme {
    /// `Authorization: Bearer <token>` (the word `Bearer` in any case).
    pub fn bearer() -> Self {
        Self::header("Authorization", Some("Bearer ".to_string()))
    }

    /// The token in header `name`, after an optional `prefix`.
    pub fn header(name: impl Into<String>, prefix: Option<String>) -> Self {
        Self {
            sources: vec![Source::Header {
                name: name.into(),
                prefix: prefix.filter(|p| !p.is_empty()),
            }],
        }
    }

    /// The token in query parameter `param` (percent-decoded).
    pub fn query(param: impl Into<String>) -> Self {
        Self {
            sources: vec![Source::Query {
                param: param.into(),
            }],
        }
    }

    /// Also accepts the token in header `name`, after an optional `prefix`.
    #[must_use]
    pub fn or_header(mut self, name: impl Into<String>, prefix: Option<String>) -> Self {
        self.sources.push(Source::Header {
            name: name.into(),
            prefix: prefix.filter(|p| !p.is_empty()),
        });
        self
    }

    /// Also accepts the token in query parameter `param`.
    #[must_use]
    pub fn or_query(mut self, param: impl Into<String>) -> Self {
        self.sources.push(Source::Query {
            param: param.into(),
        });
        self
    }

    pub(crate) fn validate(&self, secrets: &[Secret]) -> Result<(), ConfigError> {
        let mut has_header = false;
        for source in &self.sources {
            match source {
                Source::Header { name, prefix } => {
                    has_header = true;
                    validate_header_name(name)?;
                    if let Some(prefix) = prefix {
                        validate_prefix(prefix)?;
                    }
                }
                Source::Query { param } if param.is_empty() => {
                    return Err(ConfigError::InvalidName {
                        name: param.clone(),
                    });
                }
                Source::Query { .. } => {}
            }
        }
        if has_header {
            if let Some(index) = secrets.iter().position(|s| !header_safe(s.expose())) {
                return Err(ConfigError::InvalidSecret {
                    index,
                    reason: "a token sent in a header must be printable ascii without surrounding spaces",
                });
            }
        }
        Ok(())
    }

    pub(crate) fn verify(
        &self,
        digests: &[[u8; 32]],
        req: &Request<'_>,
    ) -> Result<super::Verified, VerifyError> {
        let mut candidates: Vec<Vec<u8>> = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            match source {
                Source::Header { name, prefix } => {
                    let lower = name.to_ascii_lowercase();
                    let value = match req.headers().lookup(&lower) {
                        HeaderLookup::Missing => continue,
                        HeaderLookup::Repeated => {
                            return Err(VerifyError::RepeatedHeader { name: lower });
                        }
                        HeaderLookup::One(value) => value.trim_ascii(),
                    };
                    let token = match prefix {
                        Some(prefix) => match strip_token_prefix(value, prefix) {
                            Some(rest) => rest,
                            None => continue,
                        },
                        None => value,
                    };
                    candidates.push(token.to_vec());
                }
                Source::Query { param } => {
                    let mut values = req.query_params(param);
                    if let Some(token) = values.next() {
                        // Like a repeated header: ambiguous, so refused.
                        if values.next().is_some() {
                            return Err(VerifyError::RepeatedParameter {
                                name: param.clone(),
                            });
                        }
                        candidates.push(token);
                    }
                }
            }
        }
        if candidates.is_empty() {
            let location = self
                .sources
                .iter()
                .map(Source::describe)
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(VerifyError::MissingToken { location });
        }
        let matched = candidates.iter().any(|candidate| {
            let candidate = digest(candidate);
            digests
                .iter()
                .fold(subtle::Choice::from(0), |acc, d| acc | candidate.ct_eq(d))
                .into()
        });
        if matched {
            Ok(super::Verified::new(None, None))
        } else {
            Err(VerifyError::InvalidToken)
        }
    }

    pub(crate) fn sign(&self, token: &Secret) -> Signed {
        match self.sources.first() {
            Some(Source::Header { name, prefix }) => Signed {
                headers: vec![(
                    name.clone(),
                    format!(
                        "{}{}",
                        prefix.as_deref().unwrap_or(""),
                        String::from_utf8_lossy(token.expose())
                    ),
                )],
                query: None,
            },
            Some(Source::Query { param }) => Signed {
                headers: Vec::new(),
                query: Some(format!(
                    "{}={}",
                    percent_encode(param.as_bytes()),
                    percent_encode(token.expose())
                )),
            },
            None => Signed::default(),
        }
    }
}

/// Strips `prefix` (ASCII case-insensitive). A prefix that ends in a space,
/// such as `Bearer `, matches one or more spaces or tabs there.
fn strip_token_prefix<'a>(value: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    let word = prefix.trim_end();
    if word.len() == prefix.len() {
        return strip_prefix_ignore_case(value, prefix);
    }
    let rest = strip_prefix_ignore_case(value, word)?;
    rest.first()
        .is_some_and(|b| *b == b' ' || *b == b'\t')
        .then(|| rest.trim_ascii_start())
}

/// SHA-256 of a token, so comparisons do not depend on its length.
pub(crate) fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// Printable ASCII, inner spaces allowed, no leading or trailing space.
fn header_safe(token: &[u8]) -> bool {
    token.iter().all(|b| (0x20..0x7f).contains(b)) && token.trim_ascii().len() == token.len()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len() * 3);
    for &byte in input {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoHeaders, SignRequest, Verifier};

    /// A POST request with these headers and a copy of `body`.
    fn post<'a>(headers: &'a (dyn crate::Headers + Sync), body: &[u8]) -> Request<'a> {
        Request::post(headers, bytes::Bytes::copy_from_slice(body))
    }

    #[test]
    fn accepts_bearer_token_in_any_case() {
        let verifier = Verifier::new(TokenScheme::bearer(), ["t0ken"]).expect("valid");
        for value in ["Bearer t0ken", "bearer t0ken", "BEARER  t0ken"] {
            let headers = [("Authorization", value)];
            assert!(verifier.verify(&post(&headers, b"")).is_ok(), "{value}");
        }
    }

    #[test]
    fn precheck_verifies_a_token_completely() {
        let verifier =
            Verifier::new(TokenScheme::bearer().or_query("token"), ["t0ken"]).expect("valid");
        let wrong = [("Authorization", "Bearer nope")];
        assert_eq!(
            verifier.precheck(&post(&wrong, b"")),
            Err(VerifyError::InvalidToken)
        );
        let right = post(&NoHeaders, b"").with_query(Some("token=t0ken"));
        assert_eq!(verifier.precheck(&right), Ok(()));
    }

    #[test]
    fn rejects_wrong_token() {
        let verifier = Verifier::new(TokenScheme::bearer(), ["t0ken"]).expect("valid");
        for value in ["Bearer t0ke", "Bearer t0ken2", "Bearer T0KEN"] {
            let headers = [("Authorization", value)];
            assert_eq!(
                verifier.verify(&post(&headers, b"")),
                Err(VerifyError::InvalidToken),
                "{value}"
            );
        }
    }

    #[test]
    fn missing_token_names_every_location() {
        let verifier =
            Verifier::new(TokenScheme::bearer().or_query("token"), ["t0ken"]).expect("valid");
        let headers = [("Authorization", "Basic dXNlcjpwYXNz")];
        assert_eq!(
            verifier.verify(&post(&headers, b"")),
            Err(VerifyError::MissingToken {
                location: "header authorization or query parameter token".into()
            })
        );
    }

    #[test]
    fn prefix_needs_a_space_after_the_scheme_word() {
        let verifier = Verifier::new(TokenScheme::bearer(), ["t0ken"]).expect("valid");
        for value in ["Bearert0ken", "Bearer", "Bearer "] {
            let headers = [("Authorization", value)];
            assert!(
                matches!(
                    verifier.verify(&post(&headers, b"")),
                    Err(VerifyError::MissingToken { .. })
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn rejects_repeated_token_header() {
        let verifier = Verifier::new(TokenScheme::bearer(), ["t0ken"]).expect("valid");
        let headers = [
            ("Authorization", "Bearer t0ken"),
            ("authorization", "Bearer x"),
        ];
        assert_eq!(
            verifier.verify(&post(&headers, b"")),
            Err(VerifyError::RepeatedHeader {
                name: "authorization".into()
            })
        );
    }

    #[test]
    fn accepts_header_or_query_for_orufy() {
        let scheme = TokenScheme::header("X-Orufy-Token", None).or_query("secret");
        let verifier = Verifier::new(scheme, ["new-token", "old-token"]).expect("valid");
        let headers = [("x-orufy-token", "old-token")];
        assert!(verifier.verify(&post(&headers, b"")).is_ok());
        let req = post(&NoHeaders, b"").with_query(Some("a=1&secret=new-token"));
        assert!(verifier.verify(&req).is_ok());
        let req = post(&NoHeaders, b"").with_query(Some("secret=nope"));
        assert_eq!(verifier.verify(&req), Err(VerifyError::InvalidToken));
    }

    #[test]
    fn rejects_repeated_token_parameter() {
        let verifier = Verifier::new(TokenScheme::query("token"), ["t0ken"]).expect("valid");
        // Even when one copy is right: two values are ambiguous, as with headers.
        let req = post(&NoHeaders, b"").with_query(Some("token=t0ken&token=other"));
        assert_eq!(
            verifier.verify(&req),
            Err(VerifyError::RepeatedParameter {
                name: "token".into()
            })
        );
    }

    #[test]
    fn query_sign_percent_encodes_and_round_trips() {
        let token = b"a b&c=d/\xff".to_vec();
        let verifier = Verifier::new(TokenScheme::query("token"), [token]).expect("valid");
        let signed = verifier.sign(b"", &SignRequest::now());
        assert_eq!(signed.query.as_deref(), Some("token=a%20b%26c%3Dd%2F%FF"));
        assert!(signed.headers.is_empty());
        let req = post(&NoHeaders, b"").with_query(signed.query.as_deref());
        assert!(verifier.verify(&req).is_ok());
    }

    #[test]
    fn custom_header_with_prefix_round_trips() {
        let scheme = TokenScheme::header("X-Api-Key", Some("Token ".into()));
        let verifier = Verifier::new(scheme, ["k3y"]).expect("valid");
        let signed = verifier.sign(b"", &SignRequest::now());
        assert_eq!(signed.header("x-api-key"), Some("Token k3y"));
        assert!(verifier.verify(&post(&signed.headers, b"")).is_ok());
    }

    #[test]
    fn refuses_header_token_that_cannot_be_sent() {
        assert!(matches!(
            Verifier::new(TokenScheme::bearer(), ["ok", "new\nline"]),
            Err(ConfigError::InvalidSecret { index: 1, .. })
        ));
        assert!(matches!(
            Verifier::new(TokenScheme::query(""), ["ok"]),
            Err(ConfigError::InvalidName { .. })
        ));
    }
}
