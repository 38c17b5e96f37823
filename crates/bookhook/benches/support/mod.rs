//! Inputs shared by the benchmarks: bodies of a given size and a raw HMAC floor.

#![allow(dead_code, reason = "each benchmark uses part of the shared inputs")]

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub(crate) mod pipeline;

/// The secret of the HMAC and token benchmarks.
pub(crate) const SECRET: &str = "calendence-webhook-secret";
/// The Standard Webhooks secret of the benchmarks.
pub(crate) const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The body sizes of the verification benchmarks.
pub(crate) const SIZES: [usize; 4] = [256, 1024, 4096, 64 * 1024];

/// A Calendence `booking.created` body of exactly `len` bytes, with booking id
/// `id`, padded with a `notes` field that no parser keeps.
pub(crate) fn calendence_body(id: u64, len: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"b-{id:012}","status":"confirmed","service":{{"id":"service-uuid","name":"Express Wash"}},"client":{{"first_name":"Jane","last_name":"Doe","email":"jane@example.com"}},"starts_at":"2026-03-25T14:00:00+00:00","ends_at":"2026-03-25T14:30:00+00:00","location":{{"id":"location-uuid","name":"Main Shop"}},"notes":""#
    );
    let tail = br#""}}"#;
    let mut out = head.into_bytes();
    assert!(out.len() + tail.len() <= len, "{len} bytes is too short");
    out.resize(len - tail.len(), b'x');
    out.extend_from_slice(tail);
    out
}

/// A small JSON event of exactly `len` bytes (at least 64), padded with a
/// `notes` field: verification reads bytes only.
pub(crate) fn json_body(len: usize) -> Vec<u8> {
    let head = br#"{"event":"booking.created","data":{"id":"b-1","notes":""#;
    let tail = br#""}}"#;
    let mut out = head.to_vec();
    assert!(out.len() + tail.len() <= len, "{len} bytes is too short");
    out.resize(len - tail.len(), b'x');
    out.extend_from_slice(tail);
    out
}

/// The floor of every verification: a keyed HMAC-SHA256 state prepared once,
/// cloned per request, fed `parts`, and compared in constant time with a hex
/// signature (after an optional `sha256=`).
pub(crate) fn floor_verify_hex(key: &Hmac<Sha256>, parts: &[&[u8]], signature: &[u8]) -> bool {
    let hex = signature.strip_prefix(b"sha256=").unwrap_or(signature);
    let mut expected = [0u8; 32];
    if hex::decode_to_slice(hex, &mut expected).is_err() {
        return false;
    }
    let mut mac = key.clone();
    for part in parts {
        mac.update(part);
    }
    let computed: [u8; 32] = mac.finalize().into_bytes().into();
    computed[..].ct_eq(&expected[..]).into()
}

/// The value of header `name` in signed headers.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no header {name}"))
}
