//! The whole dispatcher: method, headers, query and body, either as they come
//! or correctly signed so that parsing, deduplication and routing are reached.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use bookhook::testing::signed_request;
use bookhook::{
    Context, Dispatcher, Endpoint, HandlerError, Kind, ManualClock, MemoryStore, Outcome, Provider,
    Rejection, Request, VerifyError,
};
use bookhook_fuzz::{Blob, Header, header_pairs, query_text};
use libfuzzer_sys::fuzz_target;

/// The fixtures' time, 2026-01-01T00:00:00Z.
const NOW_SECS: u64 = 1_767_225_600;
const MAX_BODY: usize = 4096;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Which {
    Calendence,
    Standard,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Method<'a> {
    Post,
    LowerPost,
    Get,
    Put,
    Other(Blob<'a>),
}

impl Method<'_> {
    fn text(&self) -> String {
        match self {
            Method::Post => "POST".into(),
            Method::LowerPost => "post".into(),
            Method::Get => "GET".into(),
            Method::Put => "PUT".into(),
            Method::Other(blob) => blob.lossy(),
        }
    }
}

/// Layout: endpoint (u32), method, whether to sign, how many times to send
/// (u8, 1 to 3), clock skew in seconds before the second send (i16), headers,
/// query, then the rest is the body.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    endpoint: Which,
    method: Method<'a>,
    sign: bool,
    sends: u8,
    skew: i16,
    headers: Vec<Header<'a>>,
    query: Option<Blob<'a>>,
    body: &'a [u8],
}

/// The fallback fails when the body's last byte is odd.
async fn fallback(ctx: Context) -> Result<(), HandlerError> {
    match ctx.delivery().body().last() {
        Some(byte) if byte % 2 == 1 => Err(HandlerError::new("odd last byte")),
        _ => Ok(()),
    }
}

fuzz_target!(|input: Input<'_>| {
    let clock = ManualClock::at_unix(NOW_SECS);
    let store = MemoryStore::builder()
        .max_keys(16)
        .shards(1)
        .clock(clock.clone())
        .build()
        .expect("valid store");
    let (provider, secret) = match input.endpoint {
        Which::Calendence => (Provider::Calendence, "cal_test_secret"),
        Which::Standard => (Provider::Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    };
    let endpoint = Endpoint::builder(provider)
        .secret(secret)
        .store(store)
        .clock(clock.clone())
        .max_body(MAX_BODY)
        .max_age(Duration::from_secs(365 * 24 * 3600))
        .build()
        .expect("valid endpoint");
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .on("booking.created", |_ctx: Context| async {
            Ok::<_, HandlerError>(())
        })
        .on_prefix("booking.*", |ctx: Context| async move {
            match ctx.appointment() {
                Some(_) => Ok(()),
                None => Err(HandlerError::new("booking without an appointment")),
            }
        })
        .on_kind(Kind::Cancelled, |_ctx: Context| async {
            Ok::<_, HandlerError>(())
        })
        .fallback(fallback)
        .build()
        .expect("valid routes");

    let mut headers = header_pairs(&input.headers);
    let mut query = query_text(input.query);
    let signed_headers;
    if input.sign {
        let (signed, signed_query) = signed_request(&endpoint, input.body);
        signed_headers = signed;
        // The signature headers replace any of the same name.
        headers.retain(|(name, _)| {
            !signed_headers
                .iter()
                .any(|(signed, _)| signed.eq_ignore_ascii_case(name))
        });
        headers.extend(
            signed_headers
                .iter()
                .map(|(name, value)| (name.clone(), value.as_bytes())),
        );
        if signed_query.is_some() {
            query = signed_query;
        }
    }

    let method = input.method.text();
    for send in 0..(input.sends % 3) + 1 {
        if send == 1 {
            let skew = Duration::from_secs(u64::from(input.skew.unsigned_abs()));
            clock.advance(skew);
        }
        let request = Request::new(
            &method,
            &headers,
            query.as_deref(),
            input.body.to_vec().into(),
        );
        let finished = futures_executor::block_on(dispatcher.dispatch(request));
        let response = finished.response();
        assert!(
            matches!(response.status, 200 | 400 | 401 | 405 | 409 | 413 | 500),
            "unexpected status {} ({})",
            response.status,
            finished.outcome().as_str()
        );
        assert_eq!(response.status, finished.status());
        let body: serde_json::Value =
            serde_json::from_str(&response.body).expect("the response body is json");
        assert!(body.is_object());
        // Signed and sent at once: authentic, unless the body's own time is
        // older than the endpoint's maximum age.
        let too_old = matches!(
            finished.outcome(),
            Outcome::Rejected(Rejection::Unauthorized(VerifyError::TimestampTooOld { .. }))
        );
        if input.sign && send == 0 && method.eq_ignore_ascii_case("POST") && !too_old {
            assert_ne!(response.status, 401, "a signed request was refused: {body}");
        }
    }
});
