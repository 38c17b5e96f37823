//! Signature schemes: verify incoming webhooks, and sign requests the same way
//! a platform would.
//!
//! A [`Verifier`] pairs one [`Scheme`] with a list of secrets (any one of them
//! matching is enough, which allows rotation). Every scheme both verifies and
//! signs, so [`Verifier::sign`] is the exact inverse of [`Verifier::verify`].

mod encoding;
mod hmac_sha256;
mod python_json;
mod standard;
mod token;

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::Mac;

use crate::request::Request;
use crate::{ConfigError, HeaderLookup};

pub use encoding::Encoding;
pub use hmac_sha256::HmacScheme;
pub use standard::{
    SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, StandardScheme, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};
pub use token::TokenScheme;

pub use crate::error::VerifyError;
pub use crate::secret::Secret;

/// A keyed HMAC-SHA256 state, prepared once per secret and cloned per request.
pub(crate) type MacKey = hmac::Hmac<sha2::Sha256>;

/// How requests are authenticated.
///
/// Build one from a scheme type with `.into()`, or pass the scheme type
/// directly to [`Verifier::new`].
///
/// ```
/// use bookhook::signature::{HmacScheme, Scheme};
///
/// let scheme: Scheme = HmacScheme::new("Decoda-Signature").into();
/// assert_eq!(scheme.name(), "hmac-sha256");
/// ```
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum Scheme {
    /// HMAC-SHA256 over the raw body (optionally followed by a timestamp header).
    Hmac(HmacScheme),
    /// The Standard Webhooks specification (also delivered by Svix).
    Standard(StandardScheme),
    /// A shared token compared in constant time.
    Token(TokenScheme),
    /// No verification at all, for local development only: every request is
    /// accepted and a warning is logged each time.
    Unverified,
}

/// The schemes' names, as [`Scheme::name`] and [`Verifier::scheme_name`] give them.
const HMAC_NAME: &str = "hmac-sha256";
const STANDARD_NAME: &str = "standard-webhooks";
const TOKEN_NAME: &str = "token";
const UNVERIFIED_NAME: &str = "unverified";

impl Scheme {
    /// A short name for logs and the CLI: `hmac-sha256`, `standard-webhooks`,
    /// `token` or `unverified`.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Hmac(_) => HMAC_NAME,
            Scheme::Standard(_) => STANDARD_NAME,
            Scheme::Token(_) => TOKEN_NAME,
            Scheme::Unverified => UNVERIFIED_NAME,
        }
    }
}

impl From<HmacScheme> for Scheme {
    fn from(scheme: HmacScheme) -> Self {
        Scheme::Hmac(scheme)
    }
}

impl From<StandardScheme> for Scheme {
    fn from(scheme: StandardScheme) -> Self {
        Scheme::Standard(scheme)
    }
}

impl From<TokenScheme> for Scheme {
    fn from(scheme: TokenScheme) -> Self {
        Scheme::Token(scheme)
    }
}

/// What a sender signs: an optional message id and the time of signing.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use bookhook::signature::SignRequest;
///
/// let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let msg = SignRequest::at(at).with_id("msg_1");
/// assert_eq!(msg.id.as_deref(), Some("msg_1"));
/// assert_eq!(msg.timestamp, at);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    /// The message id, used by Standard Webhooks (`webhook-id`). When `None`,
    /// signing generates `msg_<random hex>`.
    pub id: Option<String>,
    /// The signing time, sent by schemes that sign a timestamp.
    pub timestamp: SystemTime,
}

impl SignRequest {
    /// Signs at the current system time, with no id.
    pub fn now() -> Self {
        Self::at(SystemTime::now())
    }

    /// Signs at `timestamp`, with no id.
    pub fn at(timestamp: SystemTime) -> Self {
        Self {
            id: None,
            timestamp,
        }
    }

    /// Sets the message id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The id to send: the given one, or a fresh `msg_<random hex>`.
    pub(crate) fn id_or_generate(&self) -> String {
        self.id.clone().unwrap_or_else(generate_message_id)
    }

    /// The timestamp in Unix seconds (0 before the epoch).
    pub(crate) fn unix_secs(&self) -> u64 {
        self.timestamp
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// What a sender adds to a request so that the receiver's verification passes.
///
/// `Debug` shows header names only, never their values.
///
/// ```
/// use bookhook::signature::{HmacScheme, SignRequest, Verifier};
///
/// let verifier = Verifier::new(HmacScheme::new("Decoda-Signature"), ["s3cret"]).unwrap();
/// let signed = verifier.sign(b"{}", &SignRequest::now());
/// assert_eq!(signed.headers[0].0, "Decoda-Signature");
/// assert_eq!(signed.headers[0].1.len(), 64);
/// assert!(signed.query.is_none());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Signed {
    /// Header `(name, value)` pairs to add, for example
    /// `("X-Calendence-Signature", "sha256=<hex>")`.
    pub headers: Vec<(String, String)>,
    /// A query-string fragment to append, `param=<percent-encoded token>`.
    pub query: Option<String>,
}

impl Signed {
    /// The value of the header `name` (ASCII case-insensitive), if it was added.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Signed")
            .field("headers", &names)
            .field("query", &self.query.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The outcome of a successful verification.
///
/// ```
/// use bookhook::signature::Verifier;
/// use bookhook::endpoint::{NoHeaders, Request};
///
/// let request = Request::post(&NoHeaders, b"{}".as_slice().into());
/// let verified = Verifier::unverified().verify(&request).unwrap();
/// assert!(verified.is_unverified());
/// assert_eq!(verified.signed_at(), None);
/// assert_eq!(verified.message_id(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    signed_at: Option<SystemTime>,
    message_id: Option<String>,
    unverified: bool,
}

impl Verified {
    pub(crate) fn new(signed_at: Option<SystemTime>, message_id: Option<String>) -> Self {
        Self {
            signed_at,
            message_id,
            unverified: false,
        }
    }

    /// The signed timestamp, if the scheme signs one.
    pub fn signed_at(&self) -> Option<SystemTime> {
        self.signed_at
    }

    /// The sender's message id (`webhook-id` or `svix-id`), if the scheme has one.
    pub fn message_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    /// Whether the request was accepted without any verification
    /// ([`Verifier::unverified`]).
    pub fn is_unverified(&self) -> bool {
        self.unverified
    }
}

/// A scheme with the key state prepared from its secrets. One enum, so that a
/// scheme is only ever paired with keys of its own kind.
#[derive(Clone)]
enum Prepared {
    /// One keyed HMAC state per secret, in the order given.
    Hmac {
        scheme: HmacScheme,
        keys: Vec<MacKey>,
    },
    /// One keyed HMAC state per decoded secret, in the order given.
    Standard {
        scheme: StandardScheme,
        keys: Vec<MacKey>,
    },
    /// SHA-256 digests of the tokens, and the first token for signing.
    Token {
        scheme: TokenScheme,
        digests: Vec<[u8; 32]>,
        first: Secret,
    },
    /// No verification.
    Unverified,
}

/// Verifies requests with one scheme and a list of secrets, and signs them.
///
/// Secrets are checked and key state is prepared once, when the verifier is
/// built. `Debug` shows the scheme and the number of secrets, never a secret.
///
/// ```
/// use bookhook::{endpoint::Request, signature::{HmacScheme, SignRequest, Verifier, VerifyError}};
///
/// let scheme = HmacScheme::new("X-Calendence-Signature").prefix("sha256=");
/// // The new secret first (it signs), the old one still accepted.
/// let verifier = Verifier::new(scheme, ["new-secret", "old-secret"])?;
///
/// let body = br#"{"event":"booking.created"}"#;
/// let signed = verifier.sign(body, &SignRequest::now());
/// assert!(signed.headers[0].1.starts_with("sha256="));
/// verifier.verify(&Request::post(&signed.headers, body.as_slice().into()))?;
///
/// let tampered = br#"{"event":"booking.cancelled"}"#;
/// assert_eq!(
///     verifier.verify(&Request::post(&signed.headers, tampered.as_slice().into())),
///     Err(VerifyError::InvalidSignature)
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    prepared: Prepared,
}

impl Verifier {
    /// Builds a verifier for `scheme` with `secrets`, the first of which signs.
    ///
    /// Refuses an empty list ([`ConfigError::NoSecrets`]), an empty secret
    /// ([`ConfigError::EmptySecret`]), a `whsec_` secret that is not base64
    /// ([`ConfigError::InvalidSecret`]) and empty or invalid header names
    /// ([`ConfigError::InvalidName`]). [`Scheme::Unverified`] takes no secrets.
    pub fn new<S: Into<Secret>>(
        scheme: impl Into<Scheme>,
        secrets: impl IntoIterator<Item = S>,
    ) -> Result<Self, ConfigError> {
        let scheme = scheme.into();
        let secrets: Vec<Secret> = secrets.into_iter().map(Into::into).collect();
        if let Scheme::Unverified = scheme {
            if !secrets.is_empty() {
                return Err(ConfigError::InvalidSetting {
                    setting: "secrets",
                    reason: "the unverified scheme takes no secrets".into(),
                });
            }
            return Ok(Self::unverified());
        }
        if secrets.is_empty() {
            return Err(ConfigError::NoSecrets);
        }
        if let Some(index) = secrets.iter().position(Secret::is_empty) {
            return Err(ConfigError::EmptySecret { index });
        }
        let prepared = match scheme {
            Scheme::Hmac(scheme) => {
                scheme.validate()?;
                let keys = secrets
                    .iter()
                    .enumerate()
                    .map(|(index, secret)| mac_key(secret.expose(), index))
                    .collect::<Result<_, _>>()?;
                Prepared::Hmac { scheme, keys }
            }
            Scheme::Standard(scheme) => {
                let keys = secrets
                    .iter()
                    .enumerate()
                    .map(|(index, secret)| {
                        let bytes = standard::key_bytes(secret, index)?;
                        mac_key(&bytes, index)
                    })
                    .collect::<Result<_, _>>()?;
                Prepared::Standard { scheme, keys }
            }
            Scheme::Token(scheme) => {
                scheme.validate(&secrets)?;
                Prepared::Token {
                    digests: secrets.iter().map(|s| token::digest(s.expose())).collect(),
                    first: secrets.first().cloned().ok_or(ConfigError::NoSecrets)?,
                    scheme,
                }
            }
            Scheme::Unverified => Prepared::Unverified,
        };
        Ok(Self { prepared })
    }

    /// A verifier that accepts every request without checking anything.
    ///
    /// Meant for local development only: [`Verifier::verify`] logs a warning
    /// on every request, and [`Verified::is_unverified`] is `true`.
    pub fn unverified() -> Self {
        Self {
            prepared: Prepared::Unverified,
        }
    }

    /// The scheme this verifier checks (a copy; its keys stay inside).
    pub fn scheme(&self) -> Scheme {
        match &self.prepared {
            Prepared::Hmac { scheme, .. } => Scheme::Hmac(scheme.clone()),
            Prepared::Standard { scheme, .. } => Scheme::Standard(scheme.clone()),
            Prepared::Token { scheme, .. } => Scheme::Token(scheme.clone()),
            Prepared::Unverified => Scheme::Unverified,
        }
    }

    /// The name of the scheme this verifier checks, as [`Scheme::name`] gives it.
    pub fn scheme_name(&self) -> &'static str {
        match &self.prepared {
            Prepared::Hmac { .. } => HMAC_NAME,
            Prepared::Standard { .. } => STANDARD_NAME,
            Prepared::Token { .. } => TOKEN_NAME,
            Prepared::Unverified => UNVERIFIED_NAME,
        }
    }

    /// Verifies a request against the current system time.
    pub fn verify(&self, req: &Request<'_>) -> Result<Verified, VerifyError> {
        self.verify_at(req, SystemTime::now())
    }

    /// Verifies a request as if the time were `now`.
    pub fn verify_at(&self, req: &Request<'_>, now: SystemTime) -> Result<Verified, VerifyError> {
        match &self.prepared {
            Prepared::Hmac { scheme, keys } => scheme.verify(keys, req, now),
            Prepared::Standard { scheme, keys } => scheme.verify(keys, req, now),
            Prepared::Token {
                scheme, digests, ..
            } => scheme.verify(digests, req),
            Prepared::Unverified => {
                tracing::warn!(
                    scheme = "unverified",
                    body_len = req.body().len(),
                    "webhook accepted without verification; use the unverified scheme for local development only"
                );
                Ok(Verified {
                    signed_at: None,
                    message_id: None,
                    unverified: true,
                })
            }
        }
    }

    /// Checks what can be checked before the body is read, against the
    /// current system time: `req`'s body is ignored.
    ///
    /// A request refused here would be refused by [`verify`](Self::verify)
    /// with the same error, so adapters call it before reading the body and
    /// an unauthenticated client cannot make them buffer one:
    ///
    /// - token schemes are verified completely (the token is in the headers
    ///   or the query);
    /// - HMAC schemes need their signature header, present once and well
    ///   formed, and their signed timestamp, within its tolerance;
    /// - Standard Webhooks needs a `webhook-signature` or `svix-signature` header.
    ///
    /// ```
    /// use bookhook::{endpoint::{NoHeaders, Request}, signature::{HmacScheme, Verifier, VerifyError}};
    ///
    /// let verifier = Verifier::new(HmacScheme::new("Decoda-Signature"), ["s3cret"])?;
    /// // No signature header: refused without looking at any body.
    /// assert!(matches!(
    ///     verifier.precheck(&Request::post(&NoHeaders, Default::default())),
    ///     Err(VerifyError::MissingHeader { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn precheck(&self, req: &Request<'_>) -> Result<(), VerifyError> {
        self.precheck_at(req, SystemTime::now())
    }

    /// [`precheck`](Self::precheck) as if the time were `now`.
    pub fn precheck_at(&self, req: &Request<'_>, now: SystemTime) -> Result<(), VerifyError> {
        match &self.prepared {
            Prepared::Hmac { scheme, .. } => scheme.precheck(req, now),
            Prepared::Standard { scheme, .. } => scheme.precheck(req, now),
            Prepared::Token {
                scheme, digests, ..
            } => scheme.verify(digests, req).map(|_| ()),
            Prepared::Unverified => Ok(()),
        }
    }

    /// Signs `body` with the first secret: the headers (and query fragment)
    /// a sender adds so that [`Verifier::verify`] accepts the request.
    ///
    /// The unverified scheme adds nothing.
    pub fn sign(&self, body: &[u8], msg: &SignRequest) -> Signed {
        match &self.prepared {
            Prepared::Hmac { scheme, keys } => keys
                .first()
                .map(|key| scheme.sign(key, body, msg))
                .unwrap_or_default(),
            Prepared::Standard { scheme, keys } => keys
                .first()
                .map(|key| scheme.sign(key, body, msg))
                .unwrap_or_default(),
            Prepared::Token { scheme, first, .. } => scheme.sign(first),
            Prepared::Unverified => Signed::default(),
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets = match &self.prepared {
            Prepared::Hmac { keys, .. } | Prepared::Standard { keys, .. } => keys.len(),
            Prepared::Token { digests, .. } => digests.len(),
            Prepared::Unverified => 0,
        };
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme())
            .field("secrets", &secrets)
            .finish()
    }
}

/// Prepares the keyed HMAC state for one secret.
fn mac_key(secret: &[u8], index: usize) -> Result<MacKey, ConfigError> {
    <MacKey as Mac>::new_from_slice(secret).map_err(|_| ConfigError::InvalidSecret {
        index,
        reason: "unusable as an hmac key",
    })
}

/// Checks a header or parameter name: non-empty, HTTP token characters only.
pub(crate) fn validate_header_name(name: &str) -> Result<(), ConfigError> {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(ConfigError::InvalidName { name: name.into() });
    }
    Ok(())
}

/// Checks a prefix that is written into a header value: printable ASCII.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), ConfigError> {
    if prefix.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err(ConfigError::InvalidSetting {
            setting: "prefix",
            reason: "must be printable ascii".into(),
        })
    }
}

/// The single value of a header: absent or repeated headers are errors.
pub(crate) fn required_header<'a>(req: &Request<'a>, name: &str) -> Result<&'a [u8], VerifyError> {
    match req.headers().lookup(name) {
        HeaderLookup::One(value) => Ok(value),
        HeaderLookup::Missing => Err(VerifyError::MissingHeader { name: name.into() }),
        HeaderLookup::Repeated => Err(VerifyError::RepeatedHeader { name: name.into() }),
    }
}

/// Parses a Unix timestamp in seconds: ASCII digits only, at most 12 of them.
pub(crate) fn parse_unix_secs(value: &[u8], name: &str) -> Result<SystemTime, VerifyError> {
    let malformed = || VerifyError::MalformedTimestamp { name: name.into() };
    if value.is_empty() || value.len() > 12 || !value.iter().all(u8::is_ascii_digit) {
        return Err(malformed());
    }
    let secs = value
        .iter()
        .fold(0u64, |acc, digit| acc * 10 + u64::from(digit - b'0'));
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .ok_or_else(malformed)
}

/// Two-sided tolerance check: exactly `tolerance` away passes.
pub(crate) fn check_tolerance(
    signed_at: SystemTime,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    match now.duration_since(signed_at) {
        Ok(age) if age > tolerance => Err(VerifyError::TimestampTooOld { age, tolerance }),
        Ok(_) => Ok(()),
        Err(future) => {
            let ahead = future.duration();
            if ahead > tolerance {
                Err(VerifyError::TimestampTooNew { ahead, tolerance })
            } else {
                Ok(())
            }
        }
    }
}

/// Strips `prefix` from the start of `value`, ASCII case-insensitively.
pub(crate) fn strip_prefix_ignore_case<'a>(value: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix.as_bytes())
        .then(|| value.get(prefix.len()..))
        .flatten()
}

/// A message id that is unique enough for tests and the CLI: not a secret.
fn generate_message_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let state = std::collections::hash_map::RandomState::new();
    let mut words = [0u64; 2];
    for (salt, word) in words.iter_mut().enumerate() {
        let mut hasher = state.build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u64(count);
        hasher.write_usize(salt);
        *word = hasher.finish();
    }
    format!("msg_{:016x}{:016x}", words[0], words[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoHeaders;
    use std::io;
    use std::sync::{Arc, Mutex};

    /// A POST request with these headers and a copy of `body`.
    fn post<'a>(headers: &'a (dyn crate::Headers + Sync), body: &[u8]) -> Request<'a> {
        Request::post(headers, bytes::Bytes::copy_from_slice(body))
    }

    #[test]
    fn precheck_needs_a_standard_signature_header_and_lets_unverified_through() {
        let verifier = Verifier::new(StandardScheme::new(), ["whsec_c2VjcmV0LWtleS1ieXRlcw=="])
            .expect("valid");
        assert!(matches!(
            verifier.precheck(&post(&NoHeaders, b"")),
            Err(VerifyError::MissingHeader { .. })
        ));
        let signed = verifier.sign(b"{}", &SignRequest::now());
        assert_eq!(verifier.precheck(&post(&signed.headers, b"")), Ok(()));
        // The signature header alone is not enough: the id and timestamp are signed too.
        let alone = [("svix-signature", "v1,AAAA")];
        assert!(matches!(
            verifier.precheck(&post(&alone, b"")),
            Err(VerifyError::MissingHeader { .. })
        ));
        // A signature that is not `v1,` + base64 of a MAC, or a stale timestamp,
        // is refused before any body is read; the MAC itself needs the body.
        let now = SystemTime::now();
        let secs = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let fresh = secs.to_string();
        let stale = (secs - 3600).to_string();
        let mac = format!("v1,{}", "A".repeat(43) + "=");
        let headers = |ts: &str, sig: &str| {
            vec![
                ("svix-id".to_owned(), "msg_1".to_owned()),
                ("svix-timestamp".to_owned(), ts.to_owned()),
                ("svix-signature".to_owned(), sig.to_owned()),
            ]
        };
        let well_formed = headers(&fresh, &mac);
        assert_eq!(verifier.precheck_at(&post(&well_formed, b""), now), Ok(()));
        let garbled = headers(&fresh, "v1,***");
        assert!(verifier.precheck_at(&post(&garbled, b""), now).is_err());
        let old = headers(&stale, &mac);
        assert!(matches!(
            verifier.precheck_at(&post(&old, b""), now),
            Err(err) if err.is_stale()
        ));
        assert_eq!(
            Verifier::unverified().precheck(&post(&NoHeaders, b"")),
            Ok(())
        );
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn unverified_logs_a_warning_on_every_request() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let verifier = Verifier::unverified();
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                let verified = verifier
                    .verify(&post(&NoHeaders, b"{}"))
                    .expect("unverified accepts");
                assert!(verified.is_unverified());
            }
        });
        let logged = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        assert_eq!(logged.matches("WARN").count(), 3, "{logged}");
        assert_eq!(logged.matches("without verification").count(), 3);
    }

    #[test]
    fn unverified_refuses_secrets_and_signs_nothing() {
        assert!(matches!(
            Verifier::new(Scheme::Unverified, ["oops"]),
            Err(ConfigError::InvalidSetting { .. })
        ));
        let verifier = Verifier::new(Scheme::Unverified, Vec::<Secret>::new()).expect("builds");
        assert_eq!(verifier.scheme().name(), "unverified");
        assert_eq!(verifier.sign(b"{}", &SignRequest::now()), Signed::default());
    }

    #[test]
    fn refuses_no_secrets_and_empty_secrets() {
        let scheme = HmacScheme::new("x-sig");
        assert_eq!(
            Verifier::new(scheme.clone(), Vec::<Secret>::new()).err(),
            Some(ConfigError::NoSecrets)
        );
        assert_eq!(
            Verifier::new(scheme, ["ok", ""]).err(),
            Some(ConfigError::EmptySecret { index: 1 })
        );
        assert_eq!(
            Verifier::new(StandardScheme::new(), [""]).err(),
            Some(ConfigError::EmptySecret { index: 0 })
        );
        assert_eq!(
            Verifier::new(TokenScheme::bearer(), [""]).err(),
            Some(ConfigError::EmptySecret { index: 0 })
        );
    }

    #[test]
    fn debug_of_verifier_hides_every_secret() {
        let secrets = ["hmac-secret-value-1", "hmac-secret-value-2"];
        let verifiers = [
            Verifier::new(HmacScheme::new("x-sig"), secrets).expect("hmac"),
            Verifier::new(TokenScheme::bearer(), secrets).expect("token"),
            Verifier::new(
                StandardScheme::new(),
                ["whsec_c2VjcmV0LXN0YW5kYXJkLWtleQ=="],
            )
            .expect("standard"),
        ];
        for verifier in verifiers {
            let shown = format!("{verifier:?} {verifier:#?}");
            assert!(!shown.contains("secret-value"), "{shown}");
            assert!(!shown.contains("c2VjcmV0"), "{shown}");
            assert!(shown.contains("secrets"), "{shown}");
        }
    }

    #[test]
    fn verifier_is_send_sync_and_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Verifier>();
        assert_traits::<Scheme>();
    }

    #[test]
    fn debug_of_signed_hides_values() {
        let verifier = Verifier::new(TokenScheme::bearer(), ["tok-secret"]).expect("token");
        let signed = verifier.sign(b"", &SignRequest::now());
        assert_eq!(signed.header("authorization"), Some("Bearer tok-secret"));
        let shown = format!("{signed:?}");
        assert!(shown.contains("Authorization"));
        assert!(!shown.contains("tok-secret"));
    }

    #[test]
    fn tolerance_is_two_sided_and_inclusive() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let tolerance = Duration::from_secs(300);
        assert!(check_tolerance(now - tolerance, now, tolerance).is_ok());
        assert!(check_tolerance(now + tolerance, now, tolerance).is_ok());
        assert_eq!(
            check_tolerance(now - Duration::from_secs(301), now, tolerance),
            Err(VerifyError::TimestampTooOld {
                age: Duration::from_secs(301),
                tolerance
            })
        );
        assert_eq!(
            check_tolerance(now + Duration::from_secs(301), now, tolerance),
            Err(VerifyError::TimestampTooNew {
                ahead: Duration::from_secs(301),
                tolerance
            })
        );
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            &b""[..],
            b"-5",
            b"12a",
            b" 12",
            b"1.5",
            b"99999999999999999999999",
        ] {
            assert_eq!(
                parse_unix_secs(bad, "x-ts"),
                Err(VerifyError::MalformedTimestamp {
                    name: "x-ts".into()
                })
            );
        }
        assert_eq!(
            parse_unix_secs(b"1700000000", "x-ts"),
            Ok(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }

    #[test]
    fn generated_message_ids_differ() {
        let a = generate_message_id();
        let b = generate_message_id();
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn refuses_invalid_header_names() {
        assert!(validate_header_name("X-Signature").is_ok());
        for bad in ["", "x sig", "x:sig", "sig\n"] {
            assert_eq!(
                validate_header_name(bad),
                Err(ConfigError::InvalidName { name: bad.into() })
            );
        }
    }

    #[test]
    fn verifier_gives_back_the_scheme_it_was_built_with() {
        let schemes: [Scheme; 4] = [
            HmacScheme::new("x-sig").prefix("sha256=").into(),
            StandardScheme::new().into(),
            TokenScheme::bearer().into(),
            Scheme::Unverified,
        ];
        for scheme in schemes {
            let secrets: Vec<Secret> = match scheme {
                Scheme::Unverified => Vec::new(),
                Scheme::Standard(_) => vec!["whsec_c2VjcmV0".into()],
                _ => vec!["s3cret".into()],
            };
            let verifier = Verifier::new(scheme.clone(), secrets).expect("builds");
            assert_eq!(verifier.scheme_name(), scheme.name());
            assert_eq!(
                format!("{:?}", verifier.scheme()),
                format!("{scheme:?}"),
                "{}",
                scheme.name()
            );
        }
    }
}
