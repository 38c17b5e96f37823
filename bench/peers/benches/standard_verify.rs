//! Standard Webhooks verification: bookhook against the peer a Rust user
//! would pick, `Webhook::verify` of the `standardwebhooks` crate (the svix
//! crate's `webhooks::Webhook`, whose code it is, does not build without a TLS
//! stack), and both against a raw `hmac` + `sha2` floor, on the same signed
//! bytes, in one criterion group so that the ratios come from one run.
//!
//! ```text
//! cd bench/peers && cargo bench --bench standard_verify
//! ```

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bookhook::endpoint::Request;
use bookhook::signature::{
    SignRequest, StandardScheme, Verifier, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SIZES: [usize; 4] = [256, 1024, 4096, 64 * 1024];

/// A JSON body of exactly `len` bytes.
fn body(len: usize) -> Vec<u8> {
    let head = br#"{"type":"booking.created","data":{"id":"b-1","notes":""#;
    let tail = br#""}}"#;
    let mut out = head.to_vec();
    out.resize(len - tail.len(), b'x');
    out.extend_from_slice(tail);
    assert_eq!(out.len(), len);
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .expect("signed headers hold every Standard Webhooks header")
}

/// The floor: key state prepared once, then per request one HMAC-SHA256 over
/// `id.timestamp.body`, the base64 signature decoded, and a constant-time compare.
fn floor_verify(
    key: &Hmac<Sha256>,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
) -> bool {
    let Some(encoded) = signature.strip_prefix("v1,") else {
        return false;
    };
    let mut expected = [0u8; 32];
    if BASE64.decode_slice(encoded, &mut expected) != Ok(32) {
        return false;
    }
    let mut mac = key.clone();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let computed: [u8; 32] = mac.finalize().into_bytes().into();
    computed[..].ct_eq(&expected[..]).into()
}

fn standard_verify(c: &mut Criterion) {
    let verifier = Verifier::new(StandardScheme::new(), [SECRET]).expect("valid secret");
    let peer = standardwebhooks::Webhook::new(SECRET).expect("valid secret");
    let key_bytes = BASE64
        .decode(SECRET.trim_start_matches("whsec_"))
        .expect("base64 secret");
    let floor_key = Hmac::<Sha256>::new_from_slice(&key_bytes).expect("any key length");

    let mut group = c.benchmark_group("standard_verify");
    for size in SIZES {
        let body = body(size);
        // Signed now: the peer checks its 5 minute tolerance against the system clock.
        let now = SystemTime::now();
        let signed = verifier.sign(
            &body,
            &SignRequest::at(now).with_id("msg_2KWPBgLlAfxdpx2AI54pPJ85f1W"),
        );
        let headers = signed.headers;
        let mut header_map = http::HeaderMap::new();
        for (name, value) in &headers {
            header_map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("valid name"),
                http::HeaderValue::from_str(value).expect("valid value"),
            );
        }
        let id = header(&headers, WEBHOOK_ID);
        let timestamp = header(&headers, WEBHOOK_TIMESTAMP);
        let signature = header(&headers, WEBHOOK_SIGNATURE);

        // Built once, as an adapter builds it per request (the body is
        // shared, not copied): each iteration times verification alone.
        let request = Request::post(&headers, body.clone().into());

        // Every contender accepts these bytes before it is timed.
        assert!(verifier.verify(&request).is_ok());
        assert!(peer.verify(&body, &header_map).is_ok());
        assert!(floor_verify(&floor_key, id, timestamp, signature, &body));

        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("floor_hmac_sha2", size),
            &body,
            |b, body| {
                b.iter(|| {
                    floor_verify(
                        black_box(&floor_key),
                        black_box(id),
                        black_box(timestamp),
                        black_box(signature),
                        black_box(body),
                    )
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("bookhook", size),
            &request,
            |b, request| b.iter(|| verifier.verify_at(black_box(request), now).is_ok()),
        );
        group.bench_with_input(
            BenchmarkId::new("standardwebhooks", size),
            &body,
            |b, body| b.iter(|| peer.verify(black_box(body), black_box(&header_map)).is_ok()),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = standard_verify
}
criterion_main!(benches);
