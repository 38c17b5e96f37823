//! Every provider's verification over arbitrary headers, query and body, and
//! sign → verify round trips with a mutated-body check.
#![no_main]

use arbitrary::Arbitrary;
use bookhook::endpoint::Request;
use bookhook::signature::{SignRequest, VerifyError};
use bookhook_fuzz::{Blob, Header, Preset, header_pairs, query_text, time_from_ms};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

/// Layout: preset (u32), now in ms (u64), extra secret, message id, mutation
/// position (u16) and mask (u8), headers, query, then the rest is the body.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    preset: Preset,
    now_ms: u64,
    extra_secret: Option<Blob<'a>>,
    message_id: Option<Blob<'a>>,
    flip_at: u16,
    flip_mask: u8,
    headers: Vec<Header<'a>>,
    query: Option<Blob<'a>>,
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let verifier = input.preset.verifier(input.extra_secret);
    let now = time_from_ms(input.now_ms);

    // 1. Arbitrary request: any answer, never a panic.
    let headers = header_pairs(&input.headers);
    let query = query_text(input.query);
    let body = Bytes::copy_from_slice(input.body);
    let arbitrary = Request::post(&headers, body.clone()).with_query(query.as_deref());
    if let Err(err) = verifier.verify_at(&arbitrary, now) {
        let _ = (err.to_string(), format!("{err:?}"));
    }

    // 2. Round trip: what `sign` writes, `verify_at` accepts.
    let mut request = SignRequest::at(now);
    if let Some(id) = input.message_id {
        request = request.with_id(id.lossy());
    }
    let signed = verifier.sign(input.body, &request);
    let signed_request = Request::post(&signed.headers, body).with_query(signed.query.as_deref());
    let verified = verifier
        .verify_at(&signed_request, now)
        .unwrap_or_else(|err| panic!("{:?} refused its own signature: {err}", input.preset));
    if input.preset == Preset::Standard {
        assert_eq!(verified.message_id(), signed.header(bookhook::WEBHOOK_ID));
    }

    // 3. One changed body byte (or one added byte) is refused by the schemes
    // that sign the body, and changes nothing for token schemes.
    let mut mutated = input.body.to_vec();
    let mask = input.flip_mask.max(1);
    match mutated.len() {
        0 => mutated.push(mask),
        len => mutated[usize::from(input.flip_at) % len] ^= mask,
    }
    let mutated = Bytes::from(mutated);
    let mutated_request =
        Request::post(&signed.headers, mutated.clone()).with_query(signed.query.as_deref());
    let result = verifier.verify_at(&mutated_request, now);
    match input.preset {
        Preset::Eagenda | Preset::Orufy => {
            assert!(
                result.is_ok(),
                "token scheme depends on the body: {result:?}"
            );
        }
        Preset::DecodaPythonJson => {
            // Python's `json.dumps(json.loads(body))` maps some different texts
            // to one (`\u00E9` and `\u00e9`, `1E5` and `1e5`): a mutated body is
            // accepted only if it is the same JSON.
            if result.is_ok() {
                let original = serde_json::from_slice::<serde_json::Value>(input.body);
                let changed = serde_json::from_slice::<serde_json::Value>(&mutated);
                if let (Ok(original), Ok(changed)) = (original, changed) {
                    assert_eq!(original, changed, "python-json compat accepted other json");
                }
            } else {
                assert_eq!(result, Err(VerifyError::InvalidSignature));
            }
        }
        preset => {
            assert!(preset.signs_body());
            assert_eq!(result, Err(VerifyError::InvalidSignature));
        }
    }
});
