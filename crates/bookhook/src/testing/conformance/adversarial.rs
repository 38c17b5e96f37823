//! The conformance table's adversarial cases: odd sizes, headers, encodings,
//! timestamps, methods and bodies, each named for what it checks.

use std::time::{Duration, UNIX_EPOCH};

use crate::endpoint::Endpoint;
use crate::error::{ParseError, VerifyError};
use crate::outcome::{Outcome, Rejection};
use crate::signature::{Encoding, SignRequest};

use crate::testing::sign::{signed_request, signed_request_with};

use super::cases::{booking, expect};
use super::{BASE64_PATH, CALENDENCE_PATH, Case, MAX_BODY, NOW_UNIX, STANDARD_PATH};

/// The booking id (or Standard Webhooks message id) of every adversarial
/// request that must be refused: a handler run for it is a failure.
pub(super) const REFUSED_ID: &str = "refused";
/// The ids of the adversarial requests that are authentic and handled once.
pub(super) const ACCEPTED_ADVERSARIAL: [&str; 5] = [
    "upper-case-hex",
    "large-other-header",
    "odd-content-type",
    "base64-padded",
    "base64-unpadded",
];
/// Three mebibytes: far above the conformance endpoints' 64 KiB limit.
pub(super) const THREE_MIB: usize = 3 * 1024 * 1024;
/// A 64 KiB header value.
pub(super) const LONG_HEADER: usize = 64 * 1024;

/// A copy of `headers` where every header called `name` (ASCII
/// case-insensitive) has `value` instead.
pub(super) fn replaced(
    headers: &[(String, String)],
    name: &str,
    value: &str,
) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(key, old)| {
            let value = if key.eq_ignore_ascii_case(name) {
                value
            } else {
                old
            };
            (key.clone(), value.to_owned())
        })
        .collect()
}

/// The value of the first header called `name`.
pub(super) fn value_of(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.clone())
        .unwrap_or_default()
}

pub(super) fn rejected(err: impl Into<Rejection>) -> (u16, String, Option<u64>) {
    expect(Outcome::Rejected(err.into()))
}

pub(super) fn malformed_signature(reason: &'static str) -> (u16, String, Option<u64>) {
    rejected(VerifyError::MalformedSignature { reason })
}

pub(super) fn too_deep() -> (u16, String, Option<u64>) {
    rejected(ParseError::InvalidJson {
        reason: "recursion limit exceeded",
        line: 1,
        column: 128,
    })
}

/// JSON arrays nested 10,000 deep.
pub(super) fn nested_10000() -> Vec<u8> {
    let mut body = vec![b'['; 10_000];
    body.extend(std::iter::repeat_n(b']', 10_000));
    body
}

/// A generic envelope for the base64 endpoint.
pub(super) fn generic(id: &str) -> Vec<u8> {
    serde_json::json!({
        "type": "booking.created",
        "id": id,
        "timestamp": "2026-03-24T14:30:00Z",
    })
    .to_string()
    .into_bytes()
}

/// What an unauthenticated public door must survive: every request here is
/// answered with a clean status and none of them panics. Authentic requests
/// in unusual shapes (upper-case hex, unpadded base64, odd `Content-Type`)
/// are accepted; everything else is refused before a handler runs.
#[allow(clippy::too_many_lines)]
pub(super) fn adversarial_cases(
    calendence: &Endpoint,
    standard: &Endpoint,
    base64: &Endpoint,
) -> Vec<Case> {
    type Request = (Vec<(String, String)>, Option<String>, Vec<u8>);
    let signed = |endpoint: &Endpoint, body: Vec<u8>| -> Request {
        let (headers, query) = signed_request(endpoint, &body);
        (headers, query, body)
    };
    let standard_body = |id: &str| {
        serde_json::json!({
            "type": "appointment.created",
            "timestamp": "2026-03-24T14:30:00Z",
            "data": {"id": id},
        })
        .to_string()
        .into_bytes()
    };
    let standard_signed = |id: &str, at: u64| -> Request {
        let body = standard_body(id);
        let (headers, query) = signed_request_with(
            standard,
            &body,
            SignRequest::at(UNIX_EPOCH + Duration::from_secs(at)).with_id(id),
        );
        (headers, query, body)
    };
    let refused = || booking("booking.created", REFUSED_ID);
    const SIG: &str = "X-Calendence-Signature";
    let calendence_mac = |body: &[u8]| {
        let (headers, _) = signed_request(calendence, body);
        value_of(&headers, SIG)
            .trim_start_matches("sha256=")
            .to_owned()
    };

    let mut cases = Vec::new();
    let mut push =
        |name: &'static str,
         method: &'static str,
         path: &'static str,
         (headers, query, body): Request,
         declare_length: bool,
         (status, response_body, retry_after): (u16, String, Option<u64>)| {
            cases.push(Case {
                name,
                method,
                path,
                query,
                headers,
                body,
                declare_length,
                status,
                response_body,
                retry_after,
            });
        };

    // Empty bodies.
    push(
        "empty body without content-length",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, Vec::new()),
        false,
        rejected(ParseError::InvalidJson {
            reason: "unexpected end of input",
            line: 1,
            column: 0,
        }),
    );
    push(
        "empty body without signature",
        "POST",
        CALENDENCE_PATH,
        (Vec::new(), None, Vec::new()),
        true,
        rejected(VerifyError::MissingHeader {
            name: "x-calendence-signature".into(),
        }),
    );

    // 3 MiB: refused before reading with a length, cut off without one.
    let mut huge = refused();
    huge.resize(THREE_MIB, b' ');
    let huge = signed(calendence, huge);
    push(
        "3 MiB body with content-length",
        "POST",
        CALENDENCE_PATH,
        huge.clone(),
        true,
        rejected(Rejection::PayloadTooLarge { limit: MAX_BODY }),
    );
    push(
        "3 MiB body without content-length",
        "POST",
        CALENDENCE_PATH,
        huge,
        false,
        rejected(Rejection::PayloadTooLarge { limit: MAX_BODY }),
    );

    // 1,000 signatures in one header; 64 KiB header values.
    let body = refused();
    let (headers, query, _) = signed(calendence, body.clone());
    let mut many: Vec<String> = (0..999u32)
        .map(|i| format!("sha256={}", hex::encode(wrong_mac(i))))
        .collect();
    many.push(value_of(&headers, SIG));
    push(
        "1,000 signatures in one header",
        "POST",
        CALENDENCE_PATH,
        (replaced(&headers, SIG, &many.join(",")), query, body),
        true,
        malformed_signature("signature header too long"),
    );
    let (headers, query, body) = standard_signed(REFUSED_ID, NOW_UNIX);
    let mut many: Vec<String> = (0..999u32)
        .map(|i| format!("v1,{}", Encoding::Base64.encode(&wrong_mac(i))))
        .collect();
    many.push(value_of(&headers, "webhook-signature"));
    push(
        "1,000 signatures in one standard webhooks header",
        "POST",
        STANDARD_PATH,
        (
            replaced(&headers, "webhook-signature", &many.join(" ")),
            query.clone(),
            body.clone(),
        ),
        true,
        malformed_signature("signature header too long"),
    );
    // Short enough to pass the length check: only the first few are examined.
    let short = vec!["v1,AA=="; 1000].join(" ");
    push(
        "1,000 short signatures in one standard webhooks header",
        "POST",
        STANDARD_PATH,
        (replaced(&headers, "webhook-signature", &short), query, body),
        true,
        malformed_signature("signature is not 32 bytes long"),
    );
    let body = refused();
    let (headers, query, _) = signed(calendence, body.clone());
    push(
        "64 KiB signature header value",
        "POST",
        CALENDENCE_PATH,
        (
            replaced(&headers, SIG, &"a".repeat(LONG_HEADER)),
            query,
            body,
        ),
        true,
        malformed_signature("signature header too long"),
    );
    let (mut headers, query, body) =
        signed(calendence, booking("booking.created", "large-other-header"));
    headers.push(("X-Padding".to_owned(), "p".repeat(LONG_HEADER)));
    push(
        "64 KiB value in another header is ignored",
        "POST",
        CALENDENCE_PATH,
        (headers, query, body),
        true,
        expect(Outcome::Handled),
    );

    // Bodies that are authentic but not JSON an envelope can be read from.
    let mut not_utf8 = br#"{"event":"booking.created","data":{"id":""#.to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe, 0x80]);
    not_utf8.extend_from_slice(br#""}}"#);
    push(
        "invalid utf-8 body",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, not_utf8),
        true,
        // Column 42 is the first invalid byte.
        rejected(ParseError::InvalidJson {
            reason: "syntax error",
            line: 1,
            column: 42,
        }),
    );
    push(
        "json nested 10,000 deep",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, nested_10000()),
        true,
        too_deep(),
    );
    push(
        "json nested 10,000 deep to standard webhooks",
        "POST",
        STANDARD_PATH,
        {
            let body = nested_10000();
            let (headers, query) = signed_request_with(
                standard,
                &body,
                SignRequest::at(UNIX_EPOCH + Duration::from_secs(NOW_UNIX)).with_id(REFUSED_ID),
            );
            (headers, query, body)
        },
        true,
        too_deep(),
    );
    push(
        "json nested 10,000 deep to a generic envelope",
        "POST",
        BASE64_PATH,
        signed(base64, nested_10000()),
        true,
        too_deep(),
    );
    push(
        "json nested 10,000 deep with a forged signature",
        "POST",
        CALENDENCE_PATH,
        {
            let (headers, query, body) = signed(calendence, nested_10000());
            let forged = format!("sha256={}", calendence_mac(b"something else"));
            (replaced(&headers, SIG, &forged), query, body)
        },
        true,
        rejected(VerifyError::InvalidSignature),
    );

    // Duplicate signature headers: ambiguous, refused even when both match.
    let (mut headers, query, body) = signed(calendence, refused());
    let valid = value_of(&headers, SIG);
    headers.push((SIG.to_ascii_lowercase(), valid));
    push(
        "duplicate signature headers",
        "POST",
        CALENDENCE_PATH,
        (headers, query, body),
        true,
        rejected(VerifyError::RepeatedHeader {
            name: "x-calendence-signature".into(),
        }),
    );
    let (mut headers, query, body) = signed(calendence, refused());
    headers.push((
        SIG.to_owned(),
        format!("sha256={}", calendence_mac(b"forged")),
    ));
    push(
        "duplicate signature headers, one forged",
        "POST",
        CALENDENCE_PATH,
        (headers, query, body),
        true,
        rejected(VerifyError::RepeatedHeader {
            name: "x-calendence-signature".into(),
        }),
    );
    let (mut headers, query, body) = standard_signed(REFUSED_ID, NOW_UNIX);
    let valid = value_of(&headers, "webhook-signature");
    headers.push(("Webhook-Signature".to_owned(), valid));
    push(
        "duplicate standard webhooks signature headers",
        "POST",
        STANDARD_PATH,
        (headers, query, body),
        true,
        rejected(VerifyError::RepeatedHeader {
            name: "webhook-signature".into(),
        }),
    );

    // Hex: odd length and bad digits refused, upper case accepted.
    let (headers, query, body) = signed(calendence, refused());
    let mut odd = value_of(&headers, SIG);
    odd.pop();
    push(
        "hex signature of odd length",
        "POST",
        CALENDENCE_PATH,
        (replaced(&headers, SIG, &odd), query.clone(), body.clone()),
        true,
        malformed_signature("signature is not 32 bytes long"),
    );
    let not_hex = value_of(&headers, SIG).replace(['a', 'b', 'c'], "g");
    push(
        "hex signature with a non-hex digit",
        "POST",
        CALENDENCE_PATH,
        (replaced(&headers, SIG, &not_hex), query, body),
        true,
        malformed_signature("invalid hex"),
    );
    let (headers, query, body) = signed(calendence, booking("booking.created", "upper-case-hex"));
    let upper = value_of(&headers, SIG).to_ascii_uppercase();
    push(
        "upper-case hex signature is accepted",
        "POST",
        CALENDENCE_PATH,
        (replaced(&headers, SIG, &upper), query, body),
        true,
        expect(Outcome::Handled),
    );

    // Base64: with or without padding.
    let padded = signed(base64, generic("base64-padded"));
    assert!(value_of(&padded.0, "X-Signature").ends_with('='));
    push(
        "base64 signature with padding is accepted",
        "POST",
        BASE64_PATH,
        padded,
        true,
        expect(Outcome::Handled),
    );
    let (headers, query, body) = signed(base64, generic("base64-unpadded"));
    let unpadded = value_of(&headers, "X-Signature")
        .trim_end_matches('=')
        .to_owned();
    push(
        "base64 signature without padding is accepted",
        "POST",
        BASE64_PATH,
        (replaced(&headers, "X-Signature", &unpadded), query, body),
        true,
        expect(Outcome::Handled),
    );
    let (headers, query, body) = signed(base64, generic(REFUSED_ID));
    push(
        "base64 signature with invalid characters",
        "POST",
        BASE64_PATH,
        (
            replaced(&headers, "X-Signature", &"*".repeat(44)),
            query.clone(),
            body.clone(),
        ),
        true,
        malformed_signature("invalid base64"),
    );
    let short = Encoding::Base64.encode(&[7u8; 16]);
    push(
        "base64 signature of the wrong length",
        "POST",
        BASE64_PATH,
        (replaced(&headers, "X-Signature", &short), query, body),
        true,
        malformed_signature("signature is not 32 bytes long"),
    );

    // Standard Webhooks timestamps: negative, huge, non-numeric, far ahead.
    let (headers, query, body) = standard_signed(REFUSED_ID, NOW_UNIX);
    for (name, timestamp) in [
        ("negative timestamp", format!("-{NOW_UNIX}")),
        ("huge timestamp", format!("{}0", u64::MAX)),
        ("non-numeric timestamp", "2026-03-24T14:30:00Z".to_owned()),
    ] {
        push(
            name,
            "POST",
            STANDARD_PATH,
            (
                replaced(&headers, "webhook-timestamp", &timestamp),
                query.clone(),
                body.clone(),
            ),
            true,
            rejected(VerifyError::MalformedTimestamp {
                name: "webhook-timestamp".into(),
            }),
        );
    }
    let far = 999_999_999_999;
    push(
        "timestamp far in the future",
        "POST",
        STANDARD_PATH,
        standard_signed(REFUSED_ID, far),
        true,
        rejected(VerifyError::TimestampTooNew {
            ahead: Duration::from_secs(far - NOW_UNIX),
            tolerance: Duration::from_secs(300),
        }),
    );

    // Content-Type is not checked: senders vary.
    let (headers, query, body) = signed(calendence, booking("booking.created", "odd-content-type"));
    push(
        "odd content-type is accepted",
        "POST",
        CALENDENCE_PATH,
        (
            replaced(&headers, "content-type", "text/plain; charset=iso-8859-1"),
            query,
            body,
        ),
        true,
        expect(Outcome::Handled),
    );

    // Methods other than POST, even with an authentic body.
    for (name, method) in [
        ("put is not allowed", "PUT"),
        ("delete is not allowed", "DELETE"),
        ("lower-case post is not POST", "post"),
    ] {
        push(
            name,
            method,
            CALENDENCE_PATH,
            signed(calendence, refused()),
            true,
            rejected(Rejection::MethodNotAllowed),
        );
    }
    cases
}

/// A well-formed but wrong 32-byte MAC, different for each `i`.
pub(super) fn wrong_mac(i: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(4) {
        chunk.copy_from_slice(&i.to_be_bytes());
    }
    out
}
