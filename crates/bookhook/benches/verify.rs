//! Verification per scheme at 256 B, 1 KiB, 4 KiB and 64 KiB, each next to
//! its floor (a raw `hmac` + `sha2` verify of the same bytes) in one group.
//!
//! ```text
//! cargo bench -p bookhook --bench verify
//! ```

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

mod support;

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bookhook::{
    endpoint::Request,
    signature::{
        HmacScheme, SignRequest, StandardScheme, TokenScheme, Verifier, WEBHOOK_ID,
        WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
    },
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::{SECRET, SIZES, STANDARD_SECRET, floor_verify_hex, header, json_body};

/// HMAC-SHA256 of the body, hex with `sha256=` (the Calendence preset).
fn hmac_hex(c: &mut Criterion) {
    let verifier = Verifier::new(
        HmacScheme::new("X-Calendence-Signature").prefix("sha256="),
        [SECRET],
    )
    .expect("valid scheme");
    let key = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    let now = SystemTime::now();
    let mut group = c.benchmark_group("verify_hmac_hex");
    for size in SIZES {
        let body = json_body(size);
        let headers = verifier.sign(&body, &SignRequest::at(now)).headers;
        let signature = header(&headers, "X-Calendence-Signature").as_bytes();
        // Built once: the body is shared, not copied, and each iteration
        // measures verification alone.
        let request = Request::post(&headers, body.clone().into());
        assert!(verifier.verify_at(&request, now).is_ok());
        assert!(floor_verify_hex(&key, &[&body], signature));

        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("floor", size), &body, |b, body| {
            b.iter(|| floor_verify_hex(black_box(&key), &[black_box(body)], black_box(signature)))
        });
        group.bench_with_input(
            BenchmarkId::new("bookhook", size),
            &request,
            |b, request| b.iter(|| verifier.verify_at(black_box(request), now).is_ok()),
        );
    }
    group.finish();
}

/// Standard Webhooks: HMAC of `id.timestamp.body`, base64 `v1,` signatures.
fn standard(c: &mut Criterion) {
    let verifier = Verifier::new(StandardScheme::new(), [STANDARD_SECRET]).expect("valid secret");
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(STANDARD_SECRET.trim_start_matches("whsec_"))
        .expect("base64 secret");
    let key = Hmac::<Sha256>::new_from_slice(&key_bytes).expect("any key length");
    let now = SystemTime::now();
    let mut group = c.benchmark_group("verify_standard");
    for size in SIZES {
        let body = json_body(size);
        let headers = verifier
            .sign(
                &body,
                &SignRequest::at(now).with_id("msg_2KWPBgLlAfxdpx2AI54pPJ85f1W"),
            )
            .headers;
        let id = header(&headers, WEBHOOK_ID).as_bytes();
        let timestamp = header(&headers, WEBHOOK_TIMESTAMP).as_bytes();
        let signature = header(&headers, WEBHOOK_SIGNATURE);
        let floor = |body: &[u8]| {
            let Some(encoded) = signature.strip_prefix("v1,") else {
                return false;
            };
            let mut expected = [0u8; 32];
            if base64::engine::general_purpose::STANDARD.decode_slice(encoded, &mut expected)
                != Ok(32)
            {
                return false;
            }
            let mut mac = key.clone();
            for part in [id, b".", timestamp, b".", body] {
                mac.update(part);
            }
            let computed: [u8; 32] = mac.finalize().into_bytes().into();
            subtle::ConstantTimeEq::ct_eq(&computed[..], &expected[..]).into()
        };
        // Built once: the body is shared, not copied, and each iteration
        // measures verification alone.
        let request = Request::post(&headers, body.clone().into());
        assert!(verifier.verify_at(&request, now).is_ok());
        assert!(floor(&body));

        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("floor", size), &body, |b, body| {
            b.iter(|| floor(black_box(body)))
        });
        group.bench_with_input(
            BenchmarkId::new("bookhook", size),
            &request,
            |b, request| b.iter(|| verifier.verify_at(black_box(request), now).is_ok()),
        );
    }
    group.finish();
}

/// A bearer token (eAgenda, Orufy): the body is not hashed, so the cost does
/// not grow with its size. The floor is still the raw HMAC of the body, to
/// show what a token check costs next to a body MAC.
fn token(c: &mut Criterion) {
    let verifier = Verifier::new(TokenScheme::bearer(), [SECRET]).expect("valid token");
    let key = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    let now = SystemTime::now();
    let mut group = c.benchmark_group("verify_token");
    for size in SIZES {
        let body = json_body(size);
        let headers = verifier.sign(&body, &SignRequest::at(now)).headers;
        let mut mac = key.clone();
        mac.update(&body);
        let signature = hex::encode(mac.finalize().into_bytes());
        // Built once: the body is shared, not copied, and each iteration
        // measures verification alone.
        let request = Request::post(&headers, body.clone().into());
        assert!(verifier.verify_at(&request, now).is_ok());
        assert!(floor_verify_hex(&key, &[&body], signature.as_bytes()));

        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("floor", size), &body, |b, body| {
            b.iter(|| {
                floor_verify_hex(
                    black_box(&key),
                    &[black_box(body)],
                    black_box(signature.as_bytes()),
                )
            })
        });
        group.bench_with_input(
            BenchmarkId::new("bookhook", size),
            &request,
            |b, request| b.iter(|| verifier.verify_at(black_box(request), now).is_ok()),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = hmac_hex, standard, token
}
criterion_main!(benches);
