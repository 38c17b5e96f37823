//! The conformance table's cases for the ordinary path of a delivery: handled,
//! duplicate, in flight, failed and retried, refused, too large, unrouted.

use std::time::{Duration, UNIX_EPOCH};

use crate::endpoint::Endpoint;
use crate::error::{HandlerError, ParseError, StoreError, VerifyError};
use crate::outcome::{Outcome, Rejection};
use crate::signature::SignRequest;

use crate::testing::sign::{signed_request, signed_request_with};

use super::{
    ATTENDEE_EMAIL, BROKEN_STORE_PATH, CALENDENCE_PATH, Case, FAIL_ONCE_ID, IN_FLIGHT_ID, MAX_BODY,
    NOW_UNIX, PANIC_ID, STANDARD_PATH,
};

pub(super) fn booking(event: &str, id: &str) -> Vec<u8> {
    serde_json::json!({
        "event": event,
        "timestamp": "2026-03-24T14:30:00+00:00",
        "data": {
            "id": id,
            "status": "confirmed",
            "client": {"first_name": "Jane", "last_name": "Doe", "email": ATTENDEE_EMAIL},
            "starts_at": "2026-03-25T14:00:00+00:00",
            "ends_at": "2026-03-25T14:30:00+00:00"
        }
    })
    .to_string()
    .into_bytes()
}

pub(super) fn expect(outcome: Outcome) -> (u16, String, Option<u64>) {
    let response = outcome.response();
    (response.status, response.body, response.retry_after)
}

#[allow(clippy::too_many_lines)]
pub(super) fn cases(calendence: &Endpoint, standard: &Endpoint, broken: &Endpoint) -> Vec<Case> {
    let signed = |endpoint: &Endpoint, body: Vec<u8>| {
        let (headers, query) = signed_request(endpoint, &body);
        (headers, query, body)
    };
    let mut cases = Vec::new();
    let mut push =
        |name: &'static str,
         method: &'static str,
         path: &'static str,
         (headers, query, body): (Vec<(String, String)>, Option<String>, Vec<u8>),
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

    let created = signed(calendence, booking("booking.created", "b-1"));
    push(
        "handled",
        "POST",
        CALENDENCE_PATH,
        created.clone(),
        true,
        expect(Outcome::Handled),
    );
    push(
        "duplicate",
        "POST",
        CALENDENCE_PATH,
        created.clone(),
        true,
        expect(Outcome::Duplicate),
    );
    push(
        "duplicate sent chunked",
        "POST",
        CALENDENCE_PATH,
        created.clone(),
        false,
        expect(Outcome::Duplicate),
    );
    push(
        "unrouted",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, booking("booking.completed", "not-routed")),
        true,
        expect(Outcome::Unrouted),
    );
    push(
        "in flight",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, booking("booking.created", IN_FLIGHT_ID)),
        true,
        expect(Outcome::InFlight {
            retry_after: Duration::from_secs(5),
        }),
    );

    let fail_once = signed(calendence, booking("booking.cancelled", FAIL_ONCE_ID));
    push(
        "handler failed",
        "POST",
        CALENDENCE_PATH,
        fail_once.clone(),
        true,
        expect(Outcome::Failed(HandlerError::new(
            "first attempt fails on purpose",
        ))),
    );
    push(
        "retry after failure",
        "POST",
        CALENDENCE_PATH,
        fail_once.clone(),
        true,
        expect(Outcome::Handled),
    );
    push(
        "duplicate after retry",
        "POST",
        CALENDENCE_PATH,
        fail_once,
        true,
        expect(Outcome::Duplicate),
    );
    push(
        "handler panicked",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, booking("booking.created", PANIC_ID)),
        true,
        expect(Outcome::Failed(HandlerError::Panicked {
            message: String::new(),
        })),
    );

    let (mut headers, query, mut body) = signed(calendence, booking("booking.created", "b-2"));
    if let Some(last) = body.last_mut() {
        *last = b' ';
    }
    push(
        "tampered body",
        "POST",
        CALENDENCE_PATH,
        (headers.clone(), query.clone(), body),
        true,
        expect(Outcome::Rejected(VerifyError::InvalidSignature.into())),
    );
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("x-calendence-signature"));
    push(
        "missing signature",
        "POST",
        CALENDENCE_PATH,
        (headers, None, booking("booking.created", "b-2")),
        true,
        expect(Outcome::Rejected(
            VerifyError::MissingHeader {
                name: "x-calendence-signature".into(),
            }
            .into(),
        )),
    );
    push(
        "missing envelope field",
        "POST",
        CALENDENCE_PATH,
        signed(
            calendence,
            br#"{"timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-3"}}"#.to_vec(),
        ),
        true,
        expect(Outcome::Rejected(
            ParseError::MissingField { field: "event" }.into(),
        )),
    );
    push(
        "invalid json",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, b"{\"event\": ".to_vec()),
        true,
        expect(Outcome::Rejected(
            ParseError::InvalidJson {
                reason: "unexpected end of input",
                line: 1,
                column: 10,
            }
            .into(),
        )),
    );
    push(
        "empty body",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, Vec::new()),
        true,
        expect(Outcome::Rejected(
            ParseError::InvalidJson {
                reason: "unexpected end of input",
                line: 1,
                column: 0,
            }
            .into(),
        )),
    );
    let too_large = vec![b' '; MAX_BODY + 1];
    push(
        "too large with content-length",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, too_large.clone()),
        true,
        expect(Outcome::Rejected(Rejection::PayloadTooLarge {
            limit: MAX_BODY,
        })),
    );
    push(
        "too large chunked",
        "POST",
        CALENDENCE_PATH,
        signed(calendence, too_large),
        false,
        expect(Outcome::Rejected(Rejection::PayloadTooLarge {
            limit: MAX_BODY,
        })),
    );
    push(
        "method not allowed",
        "GET",
        CALENDENCE_PATH,
        (Vec::new(), None, Vec::new()),
        true,
        expect(Outcome::Rejected(Rejection::MethodNotAllowed)),
    );
    push(
        "missing content-type is accepted",
        "POST",
        CALENDENCE_PATH,
        {
            let (mut headers, query, body) =
                signed(calendence, booking("booking.created", "no-content-type"));
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
            (headers, query, body)
        },
        true,
        expect(Outcome::Handled),
    );

    let standard_body =
        br#"{"type":"appointment.created","timestamp":"2026-03-24T14:30:00Z","data":{"id":"s-1"}}"#
            .to_vec();
    push(
        "standard webhooks handled",
        "POST",
        STANDARD_PATH,
        signed(standard, standard_body.clone()),
        true,
        expect(Outcome::Handled),
    );
    let old = UNIX_EPOCH + Duration::from_secs(NOW_UNIX - 301);
    let (headers, query) = signed_request_with(
        standard,
        &standard_body,
        SignRequest::at(old).with_id("msg_old"),
    );
    push(
        "stale timestamp",
        "POST",
        STANDARD_PATH,
        (headers, query, standard_body),
        true,
        expect(Outcome::Rejected(
            VerifyError::TimestampTooOld {
                age: Duration::from_secs(301),
                tolerance: Duration::from_secs(300),
            }
            .into(),
        )),
    );
    push(
        "store unavailable",
        "POST",
        BROKEN_STORE_PATH,
        signed(broken, booking("booking.created", "b-9")),
        true,
        expect(Outcome::StoreUnavailable(StoreError::Unavailable {
            reason: String::new(),
        })),
    );
    cases
}
