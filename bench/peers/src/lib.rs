//! What the hand-written floors of the load harness share: the Calendence
//! envelope a receiver parses, and the raw HMAC-SHA256 check of
//! `X-Calendence-Signature` (with `hmac` + `sha2`, compared in constant time
//! with `subtle`).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The Calendence envelope, with the fields a receiver reads.
#[derive(Deserialize)]
pub struct Envelope {
    /// The event type, such as `booking.created`.
    pub event: String,
    /// When the event happened, as the platform wrote it.
    pub timestamp: String,
    /// The booking.
    pub data: Booking,
}

/// A booking, parsed as a receiver would.
#[derive(Deserialize)]
#[allow(dead_code)] // parsed as a receiver would, not read further here
pub struct Booking {
    /// The booking id.
    pub id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    client: Option<Client>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Client {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl Envelope {
    /// The same key as bookhook's Calendence preset: event, booking id, time.
    pub fn key(&self) -> String {
        serde_json::json!([self.event, self.data.id, self.timestamp]).to_string()
    }
}

/// A JSON answer.
pub fn reply(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

/// The verified, parsed envelope of a request, or the answer refusing it
/// (401 for a bad signature, 400 for a body that is not an envelope).
#[allow(clippy::result_large_err)] // a refusal is rare and answered at once
pub fn accept(mac: &Hmac<Sha256>, headers: &HeaderMap, body: &[u8]) -> Result<Envelope, Response> {
    if !verified(mac, headers, body) {
        return Err(reply(
            StatusCode::UNAUTHORIZED,
            r#"{"status":"unauthorized"}"#,
        ));
    }
    serde_json::from_slice(body)
        .map_err(|_| reply(StatusCode::BAD_REQUEST, r#"{"status":"invalid"}"#))
}

/// Whether the body's HMAC-SHA256 is the hex in `X-Calendence-Signature`
/// (with or without `sha256=`). `mac` holds the prepared key state.
pub fn verified(mac: &Hmac<Sha256>, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(value) = headers
        .get("x-calendence-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let hex = value.strip_prefix("sha256=").unwrap_or(value);
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let mut mac = mac.clone();
    mac.update(body);
    mac.finalize().into_bytes().ct_eq(&expected).into()
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}
