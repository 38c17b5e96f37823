//! The Standard Webhooks specification (standardwebhooks.com), also delivered
//! by Svix under `svix-*` header names.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::Mac;
use subtle::ConstantTimeEq;

use super::encoding::{BASE64_STANDARD, MAC_LEN, MAX_SIGNATURE_HEADER, decode_base64_mac};
use super::{
    MacKey, SignRequest, Signed, Verified, check_tolerance, parse_unix_secs, required_header,
};
use crate::request::Request;
use crate::{ConfigError, HeaderLookup, Secret, VerifyError};

/// The Standard Webhooks message id header.
pub const WEBHOOK_ID: &str = "webhook-id";
/// The Standard Webhooks timestamp header (Unix seconds).
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// The Standard Webhooks signature header (`v1,<base64>`, space-separated).
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// Svix's name for [`WEBHOOK_ID`].
pub const SVIX_ID: &str = "svix-id";
/// Svix's name for [`WEBHOOK_TIMESTAMP`].
pub const SVIX_TIMESTAMP: &str = "svix-timestamp";
/// Svix's name for [`WEBHOOK_SIGNATURE`].
pub const SVIX_SIGNATURE: &str = "svix-signature";

/// The most `v1,` signatures examined in one header; later ones are ignored.
const MAX_SIGNATURES: usize = 16;

const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The prefix of a base64-encoded Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";

/// The Standard Webhooks scheme.
///
/// Signed content is `{webhook-id}.{webhook-timestamp}.{body}`, and the
/// `webhook-signature` header holds one or more space-separated `v1,<base64>`
/// entries (several during key rotation): any entry matching any secret is
/// enough, entries with other versions are ignored. The `svix-*` header names
/// are accepted too. A secret is base64 text, with or without the `whsec_`
/// prefix, and the key is its decoded bytes, as in every Standard Webhooks
/// library; a secret that is not valid base64 is refused when the verifier is
/// built ([`ConfigError::InvalidSecret`]). To use raw key bytes, give their
/// base64 encoding. The timestamp must be within the tolerance (5 minutes by
/// default) of now, in either direction.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use bookhook::{endpoint::Request, signature::{SignRequest, StandardScheme, Verifier, WEBHOOK_ID}};
///
/// let verifier = Verifier::new(StandardScheme::new(), ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let signed = verifier.sign(b"{}", &SignRequest::at(now).with_id("msg_1"));
/// assert_eq!(signed.header(WEBHOOK_ID), Some("msg_1"));
///
/// let verified = verifier.verify_at(&Request::post(&signed.headers, b"{}".as_slice().into()), now)?;
/// assert_eq!(verified.message_id(), Some("msg_1"));
/// assert_eq!(verified.signed_at(), Some(now));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct StandardScheme {
    tolerance: Duration,
}

impl Default for StandardScheme {
    fn default() -> Self {
        Self::new()
    }
}

struct HeaderNames {
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

const WEBHOOK_NAMES: HeaderNames = HeaderNames {
    id: WEBHOOK_ID,
    timestamp: WEBHOOK_TIMESTAMP,
    signature: WEBHOOK_SIGNATURE,
};

const SVIX_NAMES: HeaderNames = HeaderNames {
    id: SVIX_ID,
    timestamp: SVIX_TIMESTAMP,
    signature: SVIX_SIGNATURE,
};

impl StandardScheme {
    /// The scheme with the specification's 5 minute tolerance.
    pub fn new() -> Self {
        Self {
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// How far the signed timestamp may be from now, in either direction.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The checks of [`verify`](Self::verify) that need no body: the three
    /// headers, the signatures' format and the signed timestamp.
    pub(crate) fn precheck(&self, req: &Request<'_>, now: SystemTime) -> Result<(), VerifyError> {
        self.headers(req, now).map(|_| ())
    }

    /// The id, the timestamp's text and value, and the decoded signatures.
    #[allow(clippy::type_complexity)]
    fn headers<'r>(
        &self,
        req: &Request<'r>,
        now: SystemTime,
    ) -> Result<(&'r [u8], &'r [u8], SystemTime, Vec<[u8; MAC_LEN]>), VerifyError> {
        let names = header_names(req);
        let id = required_header(req, names.id)?;
        let timestamp = required_header(req, names.timestamp)?;
        let signature = required_header(req, names.signature)?;

        let signatures = parse_signatures(signature)?;
        let signed_at = parse_unix_secs(timestamp, names.timestamp)?;
        check_tolerance(signed_at, now, self.tolerance)?;
        Ok((id, timestamp, signed_at, signatures))
    }

    pub(crate) fn verify(
        &self,
        keys: &[MacKey],
        req: &Request<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        let (id, timestamp, signed_at, signatures) = self.headers(req, now)?;

        let matched = keys.iter().any(|key| {
            let expected = compute(key, id, timestamp, req.body());
            signatures
                .iter()
                .fold(subtle::Choice::from(0), |acc, sig| {
                    acc | expected.ct_eq(sig)
                })
                .into()
        });
        if !matched {
            return Err(VerifyError::InvalidSignature);
        }
        let message_id = String::from_utf8(id.to_vec()).ok();
        Ok(Verified::new(Some(signed_at), message_id))
    }

    pub(crate) fn sign(&self, key: &MacKey, body: &[u8], msg: &SignRequest) -> Signed {
        let id = msg.id_or_generate();
        let timestamp = msg.unix_secs().to_string();
        let mac = compute(key, id.as_bytes(), timestamp.as_bytes(), body);
        let signature = format!("v1,{}", BASE64_STANDARD.encode(mac));
        Signed {
            headers: vec![
                (WEBHOOK_ID.to_string(), id),
                (WEBHOOK_TIMESTAMP.to_string(), timestamp),
                (WEBHOOK_SIGNATURE.to_string(), signature),
            ],
            query: None,
        }
    }
}

/// The key bytes of a secret: its base64 text decoded, after `whsec_` when
/// the secret starts with it, as every Standard Webhooks library does.
pub(crate) fn key_bytes(secret: &Secret, index: usize) -> Result<Vec<u8>, ConfigError> {
    let raw = secret.expose();
    let (encoded, invalid, empty) = match raw.strip_prefix(SECRET_PREFIX.as_bytes()) {
        Some(encoded) => (
            encoded,
            "the part after `whsec_` is not valid base64",
            "the part after `whsec_` is empty",
        ),
        None => (
            raw,
            "a standard webhooks secret is base64 text (with or without `whsec_`), and this one is not valid base64",
            "the secret is empty",
        ),
    };
    let decoded = BASE64_STANDARD
        .decode(encoded)
        .map_err(|_| ConfigError::InvalidSecret {
            index,
            reason: invalid,
        })?;
    if decoded.is_empty() {
        return Err(ConfigError::InvalidSecret {
            index,
            reason: empty,
        });
    }
    Ok(decoded)
}

/// `webhook-*` when any of them is present, else `svix-*` when any of those
/// is, else `webhook-*` (so the error names the standard header).
fn header_names(req: &Request<'_>) -> &'static HeaderNames {
    let present = |names: &HeaderNames| {
        [names.id, names.timestamp, names.signature]
            .iter()
            .any(|name| req.headers().lookup(name) != HeaderLookup::Missing)
    };
    if !present(&WEBHOOK_NAMES) && present(&SVIX_NAMES) {
        &SVIX_NAMES
    } else {
        &WEBHOOK_NAMES
    }
}

/// The decoded `v1,` signatures, at most [`MAX_SIGNATURES`] of them.
fn parse_signatures(header: &[u8]) -> Result<Vec<[u8; MAC_LEN]>, VerifyError> {
    if header.len() > MAX_SIGNATURE_HEADER {
        return Err(VerifyError::MalformedSignature {
            reason: "signature header too long",
        });
    }
    let mut found = Vec::new();
    let mut first_error = None;
    let entries = header
        .split(|b| *b == b' ')
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| entry.strip_prefix(b"v1,"))
        .take(MAX_SIGNATURES);
    for encoded in entries {
        match decode_base64_mac(encoded) {
            Ok(mac) => found.push(mac),
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    match (found.is_empty(), first_error) {
        (false, _) => Ok(found),
        (true, Some(err)) => Err(err),
        (true, None) => Err(VerifyError::MalformedSignature {
            reason: "no `v1,` signature",
        }),
    }
}

fn compute(key: &MacKey, id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = key.clone();
    mac.update(id);
    mac.update(b".");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verifier;
    use std::time::{Instant, UNIX_EPOCH};

    /// A POST request with these headers and a copy of `body`.
    fn post<'a>(headers: &'a (dyn crate::Headers + Sync), body: &[u8]) -> Request<'a> {
        Request::post(headers, bytes::Bytes::copy_from_slice(body))
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"type":"booking.created","data":{"id":1}}"#;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn verifier() -> Verifier {
        Verifier::new(StandardScheme::new(), [SECRET]).expect("valid")
    }

    fn signed(secret: &str) -> Vec<(String, String)> {
        Verifier::new(StandardScheme::new(), [secret])
            .expect("valid")
            .sign(
                BODY,
                &SignRequest::at(at(1_700_000_000)).with_id("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            )
            .headers
    }

    fn signature_of(headers: &[(String, String)]) -> String {
        headers
            .iter()
            .find(|(k, _)| k == WEBHOOK_SIGNATURE)
            .map(|(_, v)| v.clone())
            .expect("signed")
    }

    fn with_signature(headers: &[(String, String)], value: String) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(k, v)| {
                let v = if k == WEBHOOK_SIGNATURE {
                    value.clone()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }

    #[test]
    fn round_trips_and_reports_id_and_time() {
        let headers = signed(SECRET);
        let verified = verifier()
            .verify_at(&post(&headers, BODY), at(1_700_000_000))
            .expect("valid");
        assert_eq!(verified.message_id(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
        assert_eq!(verified.signed_at(), Some(at(1_700_000_000)));
    }

    #[test]
    fn accepts_svix_header_aliases() {
        let headers: Vec<(String, String)> = signed(SECRET)
            .into_iter()
            .map(|(k, v)| (k.replace("webhook-", "svix-"), v))
            .collect();
        assert!(headers.iter().all(|(k, _)| k.starts_with("svix-")));
        assert!(
            verifier()
                .verify_at(&post(&headers, BODY), at(1_700_000_000))
                .is_ok()
        );
    }

    #[test]
    fn accepts_any_matching_entry_and_ignores_other_versions() {
        let headers = signed(SECRET);
        let good = signature_of(&headers);
        let other = signature_of(&signed("whsec_b3RoZXIgc2VjcmV0"));
        let value = format!("v1a,{} {other} {good}", &good[3..]);
        let headers = with_signature(&headers, value);
        assert!(
            verifier()
                .verify_at(&post(&headers, BODY), at(1_700_000_000))
                .is_ok()
        );
    }

    #[test]
    fn rejects_header_without_v1_entry() {
        let headers = signed(SECRET);
        let good = signature_of(&headers);
        let headers = with_signature(&headers, format!("v1a,{}", &good[3..]));
        assert_eq!(
            verifier().verify_at(&post(&headers, BODY), at(1_700_000_000)),
            Err(VerifyError::MalformedSignature {
                reason: "no `v1,` signature"
            })
        );
    }

    #[test]
    fn accepts_second_secret_during_rotation() {
        let rotated =
            Verifier::new(StandardScheme::new(), ["whsec_bmV3IGtleQ==", SECRET]).expect("valid");
        let headers = signed(SECRET);
        assert!(
            rotated
                .verify_at(&post(&headers, BODY), at(1_700_000_000))
                .is_ok()
        );
    }

    #[test]
    fn secret_without_prefix_is_base64_decoded_like_with_it() {
        let bare = SECRET.strip_prefix(SECRET_PREFIX).expect("prefixed");
        let headers = signed(bare);
        assert_eq!(headers, signed(SECRET));
        assert!(
            verifier()
                .verify_at(&post(&headers, BODY), at(1_700_000_000))
                .is_ok()
        );
        // Unpadded base64 decodes to the same key as padded.
        assert_eq!(signed("bmV3IGtleQ"), signed("whsec_bmV3IGtleQ=="));
    }

    #[test]
    fn refuses_secret_that_is_not_base64_with_a_clear_reason() {
        let err = Verifier::new(StandardScheme::new(), [SECRET, "plain-key!"]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::InvalidSecret {
                index: 1,
                reason: "a standard webhooks secret is base64 text (with or without `whsec_`), and this one is not valid base64"
            }
        );
        assert!(!err.to_string().contains("plain-key"));
        assert_eq!(
            Verifier::new(StandardScheme::new(), ["whsec_"]).err(),
            Some(ConfigError::InvalidSecret {
                index: 0,
                reason: "the part after `whsec_` is empty"
            })
        );
    }

    #[test]
    fn refuses_invalid_whsec_base64_at_build() {
        assert!(matches!(
            Verifier::new(StandardScheme::new(), [SECRET, "whsec_not*base64"]),
            Err(ConfigError::InvalidSecret { index: 1, .. })
        ));
    }

    #[test]
    fn tolerance_edges_on_both_sides() {
        let headers = signed(SECRET);
        let req = post(&headers, BODY);
        let tolerance = Duration::from_secs(300);
        assert!(verifier().verify_at(&req, at(1_700_000_300)).is_ok());
        assert!(verifier().verify_at(&req, at(1_699_999_700)).is_ok());
        assert_eq!(
            verifier().verify_at(&req, at(1_700_000_301)),
            Err(VerifyError::TimestampTooOld {
                age: Duration::from_secs(301),
                tolerance
            })
        );
        assert_eq!(
            verifier().verify_at(&req, at(1_699_999_699)),
            Err(VerifyError::TimestampTooNew {
                ahead: Duration::from_secs(301),
                tolerance
            })
        );
        let short = Verifier::new(
            StandardScheme::new().tolerance(Duration::from_secs(10)),
            [SECRET],
        )
        .expect("valid");
        assert!(short.verify_at(&req, at(1_700_000_010)).is_ok());
        assert!(matches!(
            short.verify_at(&req, at(1_700_000_011)),
            Err(VerifyError::TimestampTooOld { .. })
        ));
    }

    #[test]
    fn rejects_missing_and_repeated_headers() {
        let headers = signed(SECRET);
        let without_id: Vec<_> = headers
            .iter()
            .filter(|(k, _)| k != WEBHOOK_ID)
            .cloned()
            .collect();
        assert_eq!(
            verifier().verify_at(&post(&without_id, BODY), at(1_700_000_000)),
            Err(VerifyError::MissingHeader {
                name: WEBHOOK_ID.into()
            })
        );
        assert_eq!(
            verifier().verify_at(&post(&crate::NoHeaders, BODY), at(1_700_000_000)),
            Err(VerifyError::MissingHeader {
                name: WEBHOOK_ID.into()
            })
        );
        let mut repeated = headers.clone();
        repeated.push((WEBHOOK_TIMESTAMP.into(), "1700000000".into()));
        assert_eq!(
            verifier().verify_at(&post(&repeated, BODY), at(1_700_000_000)),
            Err(VerifyError::RepeatedHeader {
                name: WEBHOOK_TIMESTAMP.into()
            })
        );
    }

    #[test]
    fn rejects_malformed_timestamp() {
        let headers: Vec<_> = signed(SECRET)
            .into_iter()
            .map(|(k, v)| {
                if k == WEBHOOK_TIMESTAMP {
                    (k, "soon".into())
                } else {
                    (k, v)
                }
            })
            .collect();
        assert_eq!(
            verifier().verify_at(&post(&headers, BODY), at(1_700_000_000)),
            Err(VerifyError::MalformedTimestamp {
                name: WEBHOOK_TIMESTAMP.into()
            })
        );
    }

    #[test]
    fn rejects_bad_base64_and_wrong_length() {
        let headers = with_signature(&signed(SECRET), "v1,@@@@".into());
        assert_eq!(
            verifier().verify_at(&post(&headers, BODY), at(1_700_000_000)),
            Err(VerifyError::MalformedSignature {
                reason: "invalid base64"
            })
        );
        let headers = with_signature(&signed(SECRET), "v1,AAAA".into());
        assert_eq!(
            verifier().verify_at(&post(&headers, BODY), at(1_700_000_000)),
            Err(VerifyError::MalformedSignature {
                reason: "signature is not 32 bytes long"
            })
        );
    }

    #[test]
    fn rejects_tampered_body_and_id() {
        let headers = signed(SECRET);
        assert_eq!(
            verifier().verify_at(&post(&headers, b"{}"), at(1_700_000_000)),
            Err(VerifyError::InvalidSignature)
        );
        let other_id: Vec<_> = headers
            .iter()
            .map(|(k, v)| {
                if k == WEBHOOK_ID {
                    (k.clone(), "msg_2".into())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        assert_eq!(
            verifier().verify_at(&post(&other_id, BODY), at(1_700_000_000)),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn thousand_signatures_are_rejected_quickly() {
        let headers = signed(SECRET);
        let wrong = signature_of(&signed("whsec_b3RoZXIgc2VjcmV0"));
        let good = signature_of(&headers);
        let many = vec![wrong; 1_000].join(" ");
        let headers = with_signature(&headers, format!("{many} {good}"));
        let start = Instant::now();
        // 1,000 entries exceed the header cap: refused before any MAC work.
        assert_eq!(
            verifier().verify_at(&post(&headers, BODY), at(1_700_000_000)),
            Err(VerifyError::MalformedSignature {
                reason: "signature header too long"
            })
        );
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn examines_at_most_sixteen_signatures() {
        let headers = signed(SECRET);
        let wrong = signature_of(&signed("whsec_b3RoZXIgc2VjcmV0"));
        let good = signature_of(&headers);
        // Within the header cap, but the valid entry comes after the examined ones.
        let many = vec![wrong.clone(); MAX_SIGNATURES].join(" ");
        let late = with_signature(&headers, format!("{many} {good}"));
        assert_eq!(
            verifier().verify_at(&post(&late, BODY), at(1_700_000_000)),
            Err(VerifyError::InvalidSignature)
        );
        let fewer = vec![wrong; MAX_SIGNATURES - 1].join(" ");
        let in_time = with_signature(&headers, format!("{fewer} {good}"));
        assert!(
            verifier()
                .verify_at(&post(&in_time, BODY), at(1_700_000_000))
                .is_ok()
        );
    }

    #[test]
    fn oversized_signature_header_is_refused() {
        let huge = format!("v1,{}", "A".repeat(64 * 1024));
        let headers = with_signature(&signed(SECRET), huge);
        assert_eq!(
            verifier().verify_at(&post(&headers, BODY), at(1_700_000_000)),
            Err(VerifyError::MalformedSignature {
                reason: "signature header too long"
            })
        );
    }

    #[test]
    fn generates_an_id_when_none_is_given() {
        let signed = verifier().sign(BODY, &SignRequest::at(at(1_700_000_000)));
        let id = signed.header(WEBHOOK_ID).expect("id");
        assert!(id.starts_with("msg_"));
        assert!(
            verifier()
                .verify_at(&post(&signed.headers, BODY), at(1_700_000_000))
                .is_ok()
        );
    }
}
