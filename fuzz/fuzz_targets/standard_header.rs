//! Standard Webhooks: arbitrary `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` values (any bytes), with some signature entries
//! computed correctly so that the accepting path is reached too.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bookhook::endpoint::Request;
use bookhook::signature::{StandardScheme, Verifier};
use bookhook_fuzz::{Blob, time_from_ms};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;

/// The fixtures' secret, base64 after `whsec_`.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOLERANCE_SECS: u64 = 300;

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Which header names carry the values.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Names {
    Webhook,
    Svix,
    /// `webhook-id` and `svix-timestamp`, `svix-signature`.
    Mixed,
}

/// One space-separated entry of the signature header.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Entry<'a> {
    /// These bytes as they are.
    Raw(Blob<'a>),
    /// `v1,` and the right MAC, padded standard base64.
    Valid,
    /// The right MAC without padding.
    ValidUnpadded,
    /// The right MAC in the URL-safe alphabet.
    ValidUrlSafe,
    /// `v1,` and a MAC with one bit changed.
    Wrong(u8),
}

/// Layout: names (u32), now in ms (u64), then for each of id, timestamp and
/// signature whether it is present; id and timestamp values, the signature
/// entries, whether to repeat the signature header, then the body.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    names: Names,
    now_ms: u64,
    id: Option<Blob<'a>>,
    timestamp: Option<Blob<'a>>,
    signature: Option<Vec<Entry<'a>>>,
    repeat_signature: bool,
    body: &'a [u8],
}

fn mac(id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; 32] {
    let key = STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .expect("fixture secret is base64");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    for part in [id, b".", timestamp, b".", body] {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fuzz_target!(|input: Input<'_>| {
    let verifier = Verifier::new(StandardScheme::new(), [SECRET]).expect("valid secret");
    let now = time_from_ms(input.now_ms);
    let (id_name, ts_name, sig_name) = match input.names {
        Names::Webhook => ("webhook-id", "webhook-timestamp", "webhook-signature"),
        Names::Svix => ("svix-id", "svix-timestamp", "svix-signature"),
        Names::Mixed => ("webhook-id", "svix-timestamp", "svix-signature"),
    };
    let id = input.id.map(|b| b.0);
    let timestamp = input.timestamp.map(|b| b.0);
    let right = mac(id.unwrap_or(b""), timestamp.unwrap_or(b""), input.body);

    let mut valid_entries = 0usize;
    let signature = input.signature.as_ref().map(|entries| {
        let mut text: Vec<u8> = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            if i > 0 {
                text.push(b' ');
            }
            match entry {
                Entry::Raw(blob) => text.extend_from_slice(blob.0),
                Entry::Valid | Entry::ValidUnpadded | Entry::ValidUrlSafe => {
                    valid_entries += 1;
                    let encoded = match entry {
                        Entry::Valid => STANDARD.encode(right),
                        Entry::ValidUnpadded => STANDARD_NO_PAD.encode(right),
                        _ => URL_SAFE_NO_PAD.encode(right),
                    };
                    text.extend_from_slice(b"v1,");
                    text.extend_from_slice(encoded.as_bytes());
                }
                Entry::Wrong(bit) => {
                    let mut wrong = right;
                    wrong[usize::from(bit / 8) % 32] ^= 1 << (bit % 8);
                    text.extend_from_slice(b"v1,");
                    text.extend_from_slice(STANDARD.encode(wrong).as_bytes());
                }
            }
        }
        text
    });

    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    if let Some(id) = id {
        headers.push((id_name, id));
    }
    if let Some(timestamp) = timestamp {
        headers.push((ts_name, timestamp));
    }
    if let Some(signature) = &signature {
        headers.push((sig_name, signature));
        if input.repeat_signature {
            headers.push((sig_name, signature));
        }
    }
    let request = Request::post(&headers, Bytes::copy_from_slice(input.body));
    let result = verifier.verify_at(&request, now);
    if let Err(err) = &result {
        let _ = (err.to_string(), format!("{err:?}"));
    }

    // Accepted only with the right MAC in some `v1,` entry (a raw entry may
    // hold it too: the fixtures' do).
    if result.is_ok() {
        let holds_right_mac = signature.as_deref().is_some_and(|text| {
            text.split(|b| *b == b' ')
                .filter_map(|entry| entry.strip_prefix(b"v1,"))
                .any(|encoded| {
                    [LENIENT_STANDARD, LENIENT_URL_SAFE]
                        .iter()
                        .any(|engine| engine.decode(encoded).is_ok_and(|mac| mac == right))
                })
        });
        assert!(
            valid_entries > 0 || holds_right_mac,
            "accepted without a valid signature"
        );
    }

    // Every entry right, all three headers once under one family, a canonical
    // timestamp within the tolerance: accepted.
    let entries = input.signature.as_deref().unwrap_or(&[]);
    let all_valid = !entries.is_empty()
        && entries.len() <= 16
        && entries
            .iter()
            .all(|e| matches!(e, Entry::Valid | Entry::ValidUnpadded | Entry::ValidUrlSafe));
    let ts_secs = timestamp.and_then(|ts| {
        let canonical = !ts.is_empty() && ts.len() <= 12 && ts.iter().all(u8::is_ascii_digit);
        canonical.then(|| std::str::from_utf8(ts).ok()?.parse::<u64>().ok())?
    });
    let in_window = ts_secs.is_some_and(|secs| {
        let signed_at = UNIX_EPOCH + Duration::from_secs(secs);
        let distance = match now.duration_since(signed_at) {
            Ok(age) => age,
            Err(ahead) => ahead.duration(),
        };
        distance <= Duration::from_secs(TOLERANCE_SECS)
    });
    let one_family = !matches!(input.names, Names::Mixed);
    if all_valid && in_window && one_family && id.is_some() && !input.repeat_signature {
        let verified = result.expect("a correctly signed request is accepted");
        assert_eq!(
            verified.message_id().map(str::as_bytes),
            std::str::from_utf8(id.unwrap_or(b""))
                .ok()
                .map(str::as_bytes)
        );
    }
});
