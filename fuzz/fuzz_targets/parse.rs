//! Envelope and typed parsing for every provider over arbitrary bytes.
#![no_main]

use arbitrary::Arbitrary;
use bookhook::Delivery;
use bookhook_fuzz::{Header, ProviderChoice, header_pairs};
use libfuzzer_sys::fuzz_target;

/// Layout: provider (u32), headers, then the rest is the body.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    provider: ProviderChoice,
    headers: Vec<Header<'a>>,
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let headers = header_pairs(&input.headers);
    let provider = input.provider.provider();
    match Delivery::parse(provider, &headers, input.body.to_vec().into()) {
        Ok(delivery) => {
            assert!(
                !delivery.idempotency_key().is_empty(),
                "empty idempotency key"
            );
            // Only the hand-configured `hmac` provider delivers a body that
            // names no type (with an empty type, of kind `other`).
            if provider == bookhook::Provider::Hmac && delivery.event_type().is_empty() {
                assert_eq!(delivery.kind(), bookhook::Kind::Other);
            } else {
                assert!(!delivery.event_type().is_empty(), "empty event type");
                assert!(
                    !delivery.raw_event_type().is_empty(),
                    "empty raw event type"
                );
            }
            assert_eq!(delivery.provider(), provider);
            assert_eq!(delivery.event().provider(), provider);
            assert_eq!(delivery.body().as_ref(), input.body);
            let _ = (
                delivery.kind(),
                delivery.occurred_at().map(|at| at.to_string()),
                delivery.appointment_id(),
                format!("{delivery:?}"),
                delivery.json(),
            );
            if let Some(appointment) = delivery.appointment() {
                let _ = format!("{appointment:?}");
            }
        }
        Err(err) => {
            let _ = (err.to_string(), format!("{err:?}"));
        }
    }
});
