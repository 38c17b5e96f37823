//! HMAC-SHA256 over the raw body, optionally followed by a timestamp header.

use std::time::{Duration, SystemTime};

use hmac::Mac;
use subtle::ConstantTimeEq;

use super::encoding::{MAC_LEN, MAX_SIGNATURE_HEADER};
use super::{
    Encoding, MacKey, SignRequest, Signed, Verified, check_tolerance, parse_unix_secs, python_json,
    required_header, strip_prefix_ignore_case, validate_header_name, validate_prefix,
};
use crate::request::Request;
use crate::{ConfigError, HeaderLookup, VerifyError};

/// HMAC-SHA256 of the raw body, written in one header as hex or base64.
///
/// The presets of Calendence, MonCréneau and Decoda are built from it. Secrets
/// are used as the bytes given: a MonCréneau `whsec_...` secret is *not*
/// base64-decoded.
///
/// - [`also_header`](Self::also_header) accepts another header name; the one
///   present is used, and when two accepted headers are both present each is
///   tried.
/// - [`prefix`](Self::prefix) (for example `sha256=`) is accepted with or
///   without it, and written by signing.
/// - [`signed_timestamp`](Self::signed_timestamp) signs the body followed by a
///   Unix-seconds timestamp header, checked against a tolerance.
///
/// ```
/// use bookhook::{endpoint::Request, signature::{HmacScheme, SignRequest, Verifier}};
///
/// // MonCréneau: documented header with `sha256=`, SDK header with bare hex.
/// let scheme = HmacScheme::new("X-Moncreneau-Signature")
///     .also_header("X-Webhook-Signature")
///     .prefix("sha256=");
/// let verifier = Verifier::new(scheme, ["whsec_abc123"])?;
/// let body = br#"{"id":"evt_1","type":"appointment.created"}"#;
/// let signed = verifier.sign(body, &SignRequest::now());
/// let hex = signed.headers[0].1.trim_start_matches("sha256=").to_string();
///
/// let sdk_style = [("X-Webhook-Signature", hex)];
/// verifier.verify(&Request::post(&sdk_style, body.as_slice().into()))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct HmacScheme {
    /// Accepted signature headers as given (the first is used to sign).
    headers: Vec<String>,
    prefix: Option<String>,
    encoding: Encoding,
    timestamp: Option<SignedTimestamp>,
    python_json: bool,
}

#[derive(Clone, Debug)]
struct SignedTimestamp {
    header: String,
    tolerance: Duration,
}

impl HmacScheme {
    /// HMAC-SHA256 of the raw body in the header `header`, hex, no prefix.
    pub fn new(header: impl Into<String>) -> Self {
        Self {
            headers: vec![header.into()],
            prefix: None,
            encoding: Encoding::Hex,
            timestamp: None,
            python_json: false,
        }
    }

    /// Also accepts the signature in the header `name`.
    #[must_use]
    pub fn also_header(mut self, name: impl Into<String>) -> Self {
        self.headers.push(name.into());
        self
    }

    /// A prefix before the encoded MAC, such as `sha256=`. Verification
    /// accepts the value with or without it (ASCII case-insensitive); signing
    /// writes it. An empty prefix means none.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.prefix = (!prefix.is_empty()).then_some(prefix);
        self
    }

    /// How the MAC is encoded (hex by default).
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Signs the body bytes followed by the bytes of the timestamp header
    /// `header` (Unix seconds), as eAgenda's access-list calls do, and refuses
    /// timestamps more than `tolerance` away from now, in either direction.
    #[must_use]
    pub fn signed_timestamp(mut self, header: impl Into<String>, tolerance: Duration) -> Self {
        self.timestamp = Some(SignedTimestamp {
            header: header.into(),
            tolerance,
        });
        self
    }

    /// Compatibility workaround for Decoda's Python sample, off by default.
    ///
    /// Decoda's sample verifier recomputes the MAC over
    /// `json.dumps(json.loads(body))` instead of the raw bytes. When on, and
    /// only after the MAC over the raw body has failed, the body is
    /// re-serialized the way Python does it (separators `", "` and `": "`,
    /// non-ASCII escaped as `\uXXXX`, key order kept, floats as Python's
    /// `repr`) and the MAC over that text is also accepted. A body that is not
    /// valid JSON, or has an object with a repeated key, simply fails.
    #[must_use]
    pub fn python_json_compat(mut self, on: bool) -> Self {
        self.python_json = on;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for name in &self.headers {
            validate_header_name(name)?;
        }
        if let Some(ts) = &self.timestamp {
            validate_header_name(&ts.header)?;
        }
        if let Some(prefix) = &self.prefix {
            validate_prefix(prefix)?;
        }
        Ok(())
    }

    pub(crate) fn verify(
        &self,
        keys: &[MacKey],
        req: &Request<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        let signatures = self.signatures(req)?;

        let (timestamp, signed_at) = match &self.timestamp {
            Some(ts) => {
                let name = ts.header.to_ascii_lowercase();
                let value = required_header(req, &name)?;
                let signed_at = parse_unix_secs(value, &name)?;
                check_tolerance(signed_at, now, ts.tolerance)?;
                (value, Some(signed_at))
            }
            None => (&b""[..], None),
        };

        if matches_any(keys, &signatures, req.body(), timestamp) {
            return Ok(Verified::new(signed_at, None));
        }
        if self.python_json {
            if let Some(body) = python_json::reserialize(req.body()) {
                if body != req.body()[..] && matches_any(keys, &signatures, &body, timestamp) {
                    return Ok(Verified::new(signed_at, None));
                }
            }
        }
        Err(VerifyError::InvalidSignature)
    }

    /// The checks of [`verify`](Self::verify) that need no body: the
    /// signature headers and the signed timestamp.
    pub(crate) fn precheck(&self, req: &Request<'_>, now: SystemTime) -> Result<(), VerifyError> {
        self.signatures(req)?;
        if let Some(ts) = &self.timestamp {
            let name = ts.header.to_ascii_lowercase();
            let value = required_header(req, &name)?;
            let signed_at = parse_unix_secs(value, &name)?;
            check_tolerance(signed_at, now, ts.tolerance)?;
        }
        Ok(())
    }

    /// Decodes the signature from every accepted header that is present.
    fn signatures(&self, req: &Request<'_>) -> Result<Vec<[u8; MAC_LEN]>, VerifyError> {
        let mut found: Vec<[u8; MAC_LEN]> = Vec::with_capacity(self.headers.len());
        let mut first_error = None;
        for name in &self.headers {
            let lower = name.to_ascii_lowercase();
            let value = match req.headers().lookup(&lower) {
                HeaderLookup::Missing => continue,
                HeaderLookup::Repeated => return Err(VerifyError::RepeatedHeader { name: lower }),
                HeaderLookup::One(value) => value,
            };
            match self.decode(value) {
                Ok(mac) => found.push(mac),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match (found.is_empty(), first_error) {
            (false, _) => Ok(found),
            (true, Some(err)) => Err(err),
            (true, None) => Err(VerifyError::MissingHeader {
                name: self
                    .headers
                    .first()
                    .map(|name| name.to_ascii_lowercase())
                    .unwrap_or_default(),
            }),
        }
    }

    fn decode(&self, value: &[u8]) -> Result<[u8; MAC_LEN], VerifyError> {
        if value.len() > MAX_SIGNATURE_HEADER {
            return Err(VerifyError::MalformedSignature {
                reason: "signature header too long",
            });
        }
        let value = value.trim_ascii();
        let value = self
            .prefix
            .as_deref()
            .and_then(|prefix| strip_prefix_ignore_case(value, prefix))
            .unwrap_or(value);
        self.encoding.decode_mac(value)
    }

    pub(crate) fn sign(&self, key: &MacKey, body: &[u8], msg: &SignRequest) -> Signed {
        let mut headers = Vec::with_capacity(2);
        let timestamp = self
            .timestamp
            .as_ref()
            .map(|ts| (ts.header.clone(), msg.unix_secs().to_string()));
        let ts_bytes = timestamp.as_ref().map(|(_, v)| v.as_bytes()).unwrap_or(b"");
        let mac = compute(key, body, ts_bytes);
        let value = format!(
            "{}{}",
            self.prefix.as_deref().unwrap_or(""),
            self.encoding.encode(&mac)
        );
        if let Some(name) = self.headers.first() {
            headers.push((name.clone(), value));
        }
        headers.extend(timestamp);
        Signed {
            headers,
            query: None,
        }
    }
}

fn compute(key: &MacKey, body: &[u8], timestamp: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = key.clone();
    mac.update(body);
    mac.update(timestamp);
    mac.finalize().into_bytes().into()
}

/// Whether any key's MAC over `body ‖ timestamp` equals any signature,
/// compared in constant time.
fn matches_any(
    keys: &[MacKey],
    signatures: &[[u8; MAC_LEN]],
    body: &[u8],
    timestamp: &[u8],
) -> bool {
    keys.iter().any(|key| {
        let expected = compute(key, body, timestamp);
        signatures
            .iter()
            .fold(subtle::Choice::from(0), |acc, sig| {
                acc | expected.ct_eq(sig)
            })
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verifier;
    use std::time::UNIX_EPOCH;

    /// A POST request with these headers and a copy of `body`.
    fn post<'a>(headers: &'a (dyn crate::Headers + Sync), body: &[u8]) -> Request<'a> {
        Request::post(headers, bytes::Bytes::copy_from_slice(body))
    }

    const BODY: &[u8] = br#"{"event":"booking.created","data":{"id":"bk_1"}}"#;

    fn calendence() -> Verifier {
        Verifier::new(
            HmacScheme::new("X-Calendence-Signature").prefix("sha256="),
            ["calendence-secret"],
        )
        .expect("valid")
    }

    fn hex_mac(secret: &[u8], message: &[u8]) -> String {
        let mut mac = MacKey::new_from_slice(secret).expect("any key length");
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn precheck_refuses_from_headers_what_verify_refuses() {
        let verifier = Verifier::new(
            HmacScheme::new("X-Sig").signed_timestamp("X-Ts", Duration::from_secs(300)),
            ["s3cr3t"],
        )
        .expect("valid");
        let now = at(1_700_000_000);
        let signed = verifier.sign(BODY, &SignRequest::at(now));
        let cases: Vec<Vec<(String, String)>> = vec![
            Vec::new(),
            vec![("X-Sig".into(), "not-hex".into())],
            vec![("X-Sig".into(), signed.headers[0].1.clone())],
            vec![
                ("X-Sig".into(), signed.headers[0].1.clone()),
                ("X-Ts".into(), "1699990000".into()),
            ],
        ];
        for headers in cases {
            let request = post(&headers, BODY);
            let refused = verifier.precheck_at(&post(&headers, b""), now);
            assert!(refused.is_err(), "{headers:?}");
            assert_eq!(refused, verifier.verify_at(&request, now).map(|_| ()));
        }
        // Well-formed headers pass; only the body then decides.
        let empty = post(&signed.headers, b"");
        assert_eq!(verifier.precheck_at(&empty, now), Ok(()));
        assert_eq!(
            verifier.verify_at(&empty, now).map(|_| ()),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn accepts_signature_with_prefix() {
        let value = format!("sha256={}", hex_mac(b"calendence-secret", BODY));
        let headers = [("X-Calendence-Signature", value)];
        assert!(calendence().verify(&post(&headers, BODY)).is_ok());
    }

    #[test]
    fn accepts_signature_without_prefix() {
        let headers = [(
            "x-calendence-signature",
            hex_mac(b"calendence-secret", BODY),
        )];
        assert!(calendence().verify(&post(&headers, BODY)).is_ok());
    }

    #[test]
    fn accepts_upper_case_hex() {
        let value = format!(
            "sha256={}",
            hex_mac(b"calendence-secret", BODY).to_uppercase()
        );
        let headers = [("X-Calendence-Signature", value)];
        assert!(calendence().verify(&post(&headers, BODY)).is_ok());
    }

    #[test]
    fn rejects_tampered_body() {
        let verifier = calendence();
        let signed = verifier.sign(BODY, &SignRequest::now());
        let mut tampered = BODY.to_vec();
        tampered[3] ^= 1;
        assert_eq!(
            verifier.verify(&post(&signed.headers, &tampered)),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn rejects_wrong_secret() {
        let headers = [("X-Calendence-Signature", hex_mac(b"other-secret", BODY))];
        assert_eq!(
            calendence().verify(&post(&headers, BODY)),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn accepts_second_secret_during_rotation() {
        let verifier =
            Verifier::new(HmacScheme::new("Decoda-Signature"), ["new", "old"]).expect("valid");
        let old = [("Decoda-Signature", hex_mac(b"old", BODY))];
        let new = [("Decoda-Signature", hex_mac(b"new", BODY))];
        assert!(verifier.verify(&post(&old, BODY)).is_ok());
        assert!(verifier.verify(&post(&new, BODY)).is_ok());
        // Signing uses the first secret.
        let signed = verifier.sign(BODY, &SignRequest::now());
        assert_eq!(
            signed.headers,
            vec![("Decoda-Signature".to_string(), hex_mac(b"new", BODY))]
        );
    }

    fn moncreneau() -> Verifier {
        let scheme = HmacScheme::new("X-Moncreneau-Signature")
            .also_header("X-Webhook-Signature")
            .prefix("sha256=");
        Verifier::new(scheme, ["whsec_Zm9vYmFy"]).expect("valid")
    }

    #[test]
    fn accepts_both_moncreneau_header_variants() {
        // The secret is used as its UTF-8 bytes, not base64-decoded.
        let hex = hex_mac(b"whsec_Zm9vYmFy", BODY);
        let documented = [("X-Moncreneau-Signature", format!("sha256={hex}"))];
        let sdk = [("X-Webhook-Signature", hex.clone())];
        assert!(moncreneau().verify(&post(&documented, BODY)).is_ok());
        assert!(moncreneau().verify(&post(&sdk, BODY)).is_ok());
    }

    #[test]
    fn tries_each_header_when_both_are_present() {
        let good = hex_mac(b"whsec_Zm9vYmFy", BODY);
        let bad = hex_mac(b"wrong", BODY);
        let headers = [
            ("X-Moncreneau-Signature", format!("sha256={bad}")),
            ("X-Webhook-Signature", good.clone()),
        ];
        assert!(moncreneau().verify(&post(&headers, BODY)).is_ok());
        let headers = [
            ("X-Moncreneau-Signature", "sha256=zz".to_string()),
            ("X-Webhook-Signature", good),
        ];
        assert!(moncreneau().verify(&post(&headers, BODY)).is_ok());
    }

    #[test]
    fn rejects_missing_header() {
        let headers = [("Content-Type", "application/json")];
        assert_eq!(
            moncreneau().verify(&post(&headers, BODY)),
            Err(VerifyError::MissingHeader {
                name: "x-moncreneau-signature".into()
            })
        );
    }

    #[test]
    fn rejects_repeated_header() {
        let hex = hex_mac(b"calendence-secret", BODY);
        let headers = [
            ("X-Calendence-Signature", hex.clone()),
            ("x-calendence-signature", hex),
        ];
        assert_eq!(
            calendence().verify(&post(&headers, BODY)),
            Err(VerifyError::RepeatedHeader {
                name: "x-calendence-signature".into()
            })
        );
    }

    #[test]
    fn rejects_bad_hex_and_wrong_length() {
        let headers = [("X-Calendence-Signature", "sha256=xyz")];
        assert_eq!(
            calendence().verify(&post(&headers, BODY)),
            Err(VerifyError::MalformedSignature {
                reason: "invalid hex"
            })
        );
        let short = &hex_mac(b"calendence-secret", BODY)[..62];
        let headers = [("X-Calendence-Signature", short)];
        assert_eq!(
            calendence().verify(&post(&headers, BODY)),
            Err(VerifyError::MalformedSignature {
                reason: "signature is not 32 bytes long"
            })
        );
    }

    #[test]
    fn rejects_oversized_header_cheaply() {
        let huge = "a".repeat(64 * 1024);
        let headers = [("X-Calendence-Signature", huge)];
        assert_eq!(
            calendence().verify(&post(&headers, BODY)),
            Err(VerifyError::MalformedSignature {
                reason: "signature header too long"
            })
        );
    }

    #[test]
    fn base64_accepted_with_and_without_padding() {
        let verifier = Verifier::new(
            HmacScheme::new("X-Sig").encoding(Encoding::Base64),
            ["b64-secret"],
        )
        .expect("valid");
        let signed = verifier.sign(BODY, &SignRequest::now());
        let padded = signed.headers[0].1.clone();
        assert!(padded.ends_with('='));
        let bare = padded.trim_end_matches('=').to_string();
        for value in [padded, bare] {
            let headers = [("X-Sig", value)];
            assert!(verifier.verify(&post(&headers, BODY)).is_ok());
        }
        let headers = [("X-Sig", "%%%not-base64")];
        assert_eq!(
            verifier.verify(&post(&headers, BODY)),
            Err(VerifyError::MalformedSignature {
                reason: "invalid base64"
            })
        );
    }

    #[test]
    fn accepts_non_utf8_body() {
        let body = [0xff, 0xfe, 0x00, 0x80, b'{'];
        let verifier = calendence();
        let signed = verifier.sign(&body, &SignRequest::now());
        assert!(verifier.verify(&post(&signed.headers, &body)).is_ok());
        let headers = [(
            "X-Calendence-Signature",
            hex_mac(b"calendence-secret", &body),
        )];
        assert!(verifier.verify(&post(&headers, &body)).is_ok());
    }

    fn eagenda() -> Verifier {
        let scheme = HmacScheme::new("X-Signature")
            .signed_timestamp("X-Timestamp", Duration::from_secs(120));
        Verifier::new(scheme, ["eagenda-secret"]).expect("valid")
    }

    #[test]
    fn signed_timestamp_covers_body_then_timestamp() {
        let mut message = BODY.to_vec();
        message.extend_from_slice(b"1700000000");
        let headers = [
            ("X-Signature", hex_mac(b"eagenda-secret", &message)),
            ("X-Timestamp", "1700000000".to_string()),
        ];
        let verified = eagenda()
            .verify_at(&post(&headers, BODY), at(1_700_000_000))
            .expect("valid");
        assert_eq!(verified.signed_at(), Some(at(1_700_000_000)));
        assert_eq!(verified.message_id(), None);
        assert!(!verified.is_unverified());

        let signed = eagenda().sign(BODY, &SignRequest::at(at(1_700_000_000)));
        assert_eq!(
            signed.headers,
            headers.map(|(k, v)| (k.to_string(), v)).to_vec()
        );
    }

    #[test]
    fn rejects_timestamp_changed_after_signing() {
        let signed = eagenda().sign(BODY, &SignRequest::at(at(1_700_000_000)));
        let mut headers = signed.headers.clone();
        headers[1].1 = "1700000001".into();
        assert_eq!(
            eagenda().verify_at(&post(&headers, BODY), at(1_700_000_000)),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn timestamp_tolerance_edges() {
        let signed = eagenda().sign(BODY, &SignRequest::at(at(1_700_000_000)));
        let req = post(&signed.headers, BODY);
        let tolerance = Duration::from_secs(120);
        assert!(eagenda().verify_at(&req, at(1_700_000_120)).is_ok());
        assert!(eagenda().verify_at(&req, at(1_699_999_880)).is_ok());
        assert_eq!(
            eagenda().verify_at(&req, at(1_700_000_121)),
            Err(VerifyError::TimestampTooOld {
                age: Duration::from_secs(121),
                tolerance
            })
        );
        assert_eq!(
            eagenda().verify_at(&req, at(1_699_999_879)),
            Err(VerifyError::TimestampTooNew {
                ahead: Duration::from_secs(121),
                tolerance
            })
        );
    }

    #[test]
    fn rejects_missing_or_malformed_timestamp() {
        let signed = eagenda().sign(BODY, &SignRequest::at(at(1_700_000_000)));
        let only_sig = &signed.headers[..1];
        assert_eq!(
            eagenda().verify_at(&post(&only_sig, BODY), at(1_700_000_000)),
            Err(VerifyError::MissingHeader {
                name: "x-timestamp".into()
            })
        );
        let mut headers = signed.headers.clone();
        headers[1].1 = "-1700000000".into();
        assert_eq!(
            eagenda().verify_at(&post(&headers, BODY), at(1_700_000_000)),
            Err(VerifyError::MalformedTimestamp {
                name: "x-timestamp".into()
            })
        );
    }

    #[test]
    fn refuses_empty_header_name() {
        assert_eq!(
            Verifier::new(HmacScheme::new(""), ["s"]).err(),
            Some(ConfigError::InvalidName {
                name: String::new()
            })
        );
        assert_eq!(
            Verifier::new(HmacScheme::new("x-sig").also_header("bad name"), ["s"]).err(),
            Some(ConfigError::InvalidName {
                name: "bad name".into()
            })
        );
    }

    const PY_BODY: &[u8] =
        "{\"id\":\"evt_1\",\"data\":{\"name\":\"Zoë\",\"amount\":1.50}}".as_bytes();
    const PY_DUMPS: &[u8] = br#"{"id": "evt_1", "data": {"name": "Zo\u00eb", "amount": 1.5}}"#;

    #[test]
    fn python_compat_is_off_by_default() {
        let verifier = Verifier::new(HmacScheme::new("Decoda-Signature"), ["decoda"]).expect("ok");
        let headers = [("Decoda-Signature", hex_mac(b"decoda", PY_DUMPS))];
        assert_eq!(
            verifier.verify(&post(&headers, PY_BODY)),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn python_compat_accepts_mac_over_python_dumps() {
        let verifier = Verifier::new(
            HmacScheme::new("Decoda-Signature").python_json_compat(true),
            ["decoda"],
        )
        .expect("ok");
        let headers = [("Decoda-Signature", hex_mac(b"decoda", PY_DUMPS))];
        assert!(verifier.verify(&post(&headers, PY_BODY)).is_ok());
        // The raw-body MAC still works, and a wrong MAC still fails.
        let headers = [("Decoda-Signature", hex_mac(b"decoda", PY_BODY))];
        assert!(verifier.verify(&post(&headers, PY_BODY)).is_ok());
        let headers = [("Decoda-Signature", hex_mac(b"other", PY_DUMPS))];
        assert_eq!(
            verifier.verify(&post(&headers, PY_BODY)),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn python_compat_fails_on_invalid_json() {
        let verifier = Verifier::new(
            HmacScheme::new("Decoda-Signature").python_json_compat(true),
            ["decoda"],
        )
        .expect("ok");
        let body = b"{\"a\": ";
        let headers = [("Decoda-Signature", hex_mac(b"decoda", b"{\"a\": null}"))];
        assert_eq!(
            verifier.verify(&post(&headers, body)),
            Err(VerifyError::InvalidSignature)
        );
    }
}
