//! Known-answer vectors computed outside the project (see `produced_by` in
//! the fixture file): verification must agree with them, and signing must
//! reproduce them wherever signing is deterministic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bookhook::{
    endpoint::Request,
    signature::{
        Encoding, HmacScheme, Scheme, SignRequest, StandardScheme, TokenScheme, Verifier,
        VerifyError,
    },
};
use serde::Deserialize;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/signatures.json");

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    scheme: SchemeSpec,
    secrets: Vec<String>,
    body: Option<String>,
    body_hex: Option<String>,
    headers: Vec<(String, String)>,
    query: Option<String>,
    now: u64,
    sign: Option<SignSpec>,
    expect: String,
    produced_by: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum SchemeSpec {
    Hmac {
        headers: Vec<String>,
        prefix: Option<String>,
        encoding: String,
        signed_timestamp: Option<TimestampSpec>,
        #[serde(default)]
        python_json_compat: bool,
    },
    Standard,
    Token {
        sources: Vec<SourceSpec>,
    },
}

#[derive(Deserialize)]
struct TimestampSpec {
    header: String,
    tolerance_secs: u64,
}

#[derive(Deserialize)]
struct SourceSpec {
    header: Option<String>,
    prefix: Option<String>,
    query: Option<String>,
}

#[derive(Deserialize)]
struct SignSpec {
    timestamp: u64,
    id: Option<String>,
}

fn unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn build_scheme(spec: &SchemeSpec) -> Scheme {
    match spec {
        SchemeSpec::Hmac {
            headers,
            prefix,
            encoding,
            signed_timestamp,
            python_json_compat,
        } => {
            let (first, rest) = headers.split_first().expect("at least one header");
            let mut scheme = HmacScheme::new(first.as_str());
            for header in rest {
                scheme = scheme.also_header(header.as_str());
            }
            if let Some(prefix) = prefix {
                scheme = scheme.prefix(prefix.as_str());
            }
            scheme = scheme.encoding(match encoding.as_str() {
                "hex" => Encoding::Hex,
                "base64" => Encoding::Base64,
                other => panic!("unknown encoding {other}"),
            });
            if let Some(ts) = signed_timestamp {
                scheme = scheme
                    .signed_timestamp(ts.header.as_str(), Duration::from_secs(ts.tolerance_secs));
            }
            scheme.python_json_compat(*python_json_compat).into()
        }
        SchemeSpec::Standard => StandardScheme::new().into(),
        SchemeSpec::Token { sources } => {
            let mut scheme: Option<TokenScheme> = None;
            for source in sources {
                scheme = Some(match (&source.header, &source.query, scheme) {
                    (Some(name), None, None) => TokenScheme::header(name, source.prefix.clone()),
                    (Some(name), None, Some(s)) => s.or_header(name, source.prefix.clone()),
                    (None, Some(param), None) => TokenScheme::query(param),
                    (None, Some(param), Some(s)) => s.or_query(param),
                    _ => panic!("a token source is a header or a query parameter"),
                });
            }
            scheme.expect("at least one token source").into()
        }
    }
}

fn outcome(result: &Result<bookhook::signature::Verified, VerifyError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(VerifyError::InvalidSignature) => "invalid_signature",
        Err(VerifyError::MalformedSignature { .. }) => "malformed_signature",
        Err(VerifyError::MissingHeader { .. }) => "missing_header",
        Err(VerifyError::RepeatedHeader { .. }) => "repeated_header",
        Err(VerifyError::MalformedTimestamp { .. }) => "malformed_timestamp",
        Err(VerifyError::TimestampTooOld { .. }) => "timestamp_too_old",
        Err(VerifyError::TimestampTooNew { .. }) => "timestamp_too_new",
        Err(VerifyError::MissingToken { .. }) => "missing_token",
        Err(VerifyError::InvalidToken) => "invalid_token",
        Err(_) => "other",
    }
}

fn load() -> Vec<Vector> {
    let text = std::fs::read_to_string(FIXTURES).expect("fixture file is readable");
    let file: File = serde_json::from_str(&text).expect("fixture file is valid");
    file.vectors
}

fn body_of(vector: &Vector) -> Vec<u8> {
    match (&vector.body, &vector.body_hex) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(hex)) => hex::decode(hex).expect("body_hex is hex"),
        _ => panic!("{}: exactly one of body and body_hex", vector.name),
    }
}

#[test]
fn every_vector_verifies_as_recorded() {
    let vectors = load();
    assert!(vectors.len() >= 10, "too few vectors: {}", vectors.len());
    for vector in &vectors {
        assert!(
            vector.produced_by.contains("print("),
            "{}: record the snippet that produced the vector",
            vector.name
        );
        let verifier = Verifier::new(build_scheme(&vector.scheme), vector.secrets.clone())
            .unwrap_or_else(|err| panic!("{}: {err}", vector.name));
        let body = body_of(vector);
        let req = Request::post(&vector.headers, body.into()).with_query(vector.query.as_deref());
        let result = verifier.verify_at(&req, unix(vector.now));
        assert_eq!(
            outcome(&result),
            vector.expect,
            "{}: got {result:?}",
            vector.name
        );
    }
}

#[test]
fn signing_reproduces_the_recorded_headers() {
    let vectors = load();
    let mut checked = 0;
    for vector in vectors.iter().filter(|v| v.expect == "ok") {
        let Some(sign) = &vector.sign else { continue };
        let verifier =
            Verifier::new(build_scheme(&vector.scheme), vector.secrets.clone()).expect("builds");
        let mut msg = SignRequest::at(unix(sign.timestamp));
        if let Some(id) = &sign.id {
            msg = msg.with_id(id.as_str());
        }
        let signed = verifier.sign(&body_of(vector), &msg);
        assert_eq!(signed.headers, vector.headers, "{}", vector.name);
        assert_eq!(signed.query, vector.query, "{}", vector.name);
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} vectors checked signing");
}

#[test]
fn every_scheme_has_a_vector() {
    let vectors = load();
    let has = |pred: &dyn Fn(&Vector) -> bool| vectors.iter().any(pred);
    assert!(has(&|v| matches!(
        &v.scheme,
        SchemeSpec::Hmac { prefix: Some(_), encoding, .. } if encoding == "hex"
    )));
    assert!(has(&|v| matches!(
        &v.scheme,
        SchemeSpec::Hmac { encoding, .. } if encoding == "base64"
    )));
    assert!(has(&|v| matches!(
        &v.scheme,
        SchemeSpec::Hmac {
            signed_timestamp: Some(_),
            ..
        }
    )));
    assert!(has(&|v| matches!(
        &v.scheme,
        SchemeSpec::Hmac {
            python_json_compat: true,
            ..
        }
    )));
    assert!(has(&|v| matches!(v.scheme, SchemeSpec::Standard)
        && v.secrets.iter().all(|s| s.starts_with("whsec_"))
        && v.produced_by.contains("standardwebhooks")));
    // A secret without `whsec_`, signed by the `standardwebhooks` package,
    // which base64-decodes it as every Standard Webhooks library does.
    assert!(has(&|v| matches!(v.scheme, SchemeSpec::Standard)
        && v.expect == "ok"
        && v.secrets.iter().all(|s| !s.starts_with("whsec_"))
        && v.produced_by.contains("standardwebhooks")));
    assert!(has(&|v| matches!(v.scheme, SchemeSpec::Token { .. })));
}
