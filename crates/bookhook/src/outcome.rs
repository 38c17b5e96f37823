//! What happened to a delivery, and the one place where that becomes an HTTP status.

use std::time::Duration;

use crate::error::{HandlerError, ParseError, StoreError, VerifyError};
use crate::inbox::{InboxError, InboxId};

/// Why a request was turned away before any handler ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The body is larger than the endpoint allows. Answers 413.
    #[error("payload too large: the limit is {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The body could not be read in full: the client hung up or sent a
    /// broken transfer encoding. Answers 400.
    #[error("incomplete body: the request body could not be read in full")]
    IncompleteBody,
    /// The request used a method other than POST. Answers 405.
    #[error("method not allowed: webhooks are delivered with POST")]
    MethodNotAllowed,
    /// The request is not authentic, or its timestamp is outside the window. Answers 401.
    #[error(transparent)]
    Unauthorized(#[from] VerifyError),
    /// The body is authentic but cannot be read as an event. Answers 400.
    #[error(transparent)]
    Malformed(#[from] ParseError),
    /// The client did not send its whole body within the endpoint's body
    /// timeout. Answers 408; the connection is then closed.
    #[error("body timeout: the request body was not received within {} ms", .after.as_millis())]
    BodyTimeout {
        /// The configured body timeout.
        after: Duration,
    },
    /// The server is at one of its limits (the memory budget for unverified
    /// bodies, or the number of deliveries in progress). Answers 503 with
    /// `Retry-After`.
    #[error("busy: the server is at its {limit} limit; retry later")]
    Busy {
        /// Which limit: `unverified_bytes` or `deliveries`.
        limit: &'static str,
        /// How long the sender should wait.
        retry_after: Duration,
    },
}

impl Rejection {
    /// The machine-readable error code put in the response body.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::PayloadTooLarge { .. } => "payload_too_large",
            Rejection::IncompleteBody => "incomplete_body",
            Rejection::MethodNotAllowed => "method_not_allowed",
            Rejection::Unauthorized(err) if err.is_stale() => "stale_timestamp",
            Rejection::Unauthorized(_) => "invalid_signature",
            Rejection::Malformed(_) => "malformed_payload",
            Rejection::BodyTimeout { .. } => "body_timeout",
            Rejection::Busy { .. } => "busy",
        }
    }
}

/// The result of one delivery.
///
/// [`Outcome::status`] is the only place in bookhook that decides an HTTP
/// status; both web adapters use it.
///
/// | outcome | status |
/// |---|---|
/// | [`Handled`](Outcome::Handled), [`Duplicate`](Outcome::Duplicate), [`Unrouted`](Outcome::Unrouted) | 200 |
/// | [`Queued`](Outcome::Queued) (inbox mode: stored, handled later) | 200 |
/// | [`InFlight`](Outcome::InFlight) | 409 with `Retry-After` |
/// | [`Rejected`](Outcome::Rejected) | 401, 400, 405, 408, 413, or 503 with `Retry-After` (see [`Rejection`]) |
/// | [`Failed`](Outcome::Failed) | 500, claim released |
/// | [`StoreUnavailable`](Outcome::StoreUnavailable), [`InboxUnavailable`](Outcome::InboxUnavailable) | 503 with `Retry-After` |
///
/// ```
/// use bookhook::{Outcome, endpoint::Rejection, signature::VerifyError};
///
/// assert_eq!(Outcome::Duplicate.status(), 200);
/// assert_eq!(Outcome::Rejected(Rejection::Unauthorized(VerifyError::InvalidSignature)).status(), 401);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler ran and succeeded; the key is marked done.
    Handled,
    /// The key was handled before; the handler did not run.
    Duplicate,
    /// No route matched; the event is acknowledged and logged.
    Unrouted,
    /// Another worker holds the claim; the sender should retry later.
    InFlight {
        /// How long the sender should wait.
        retry_after: Duration,
    },
    /// The request was refused before any handler ran.
    Rejected(Rejection),
    /// The handler failed or panicked; the claim was released.
    Failed(HandlerError),
    /// The idempotency store could not answer and the endpoint fails closed.
    StoreUnavailable(StoreError),
    /// Inbox mode: the event is durably stored in the inbox and will be
    /// handled in the background. Answers 200 `{"status":"queued","id":…}`.
    Queued {
        /// The inbox row that holds it.
        id: InboxId,
    },
    /// Inbox mode: the event could not be stored, so it was not accepted.
    /// Answers 503 with `Retry-After`: the sender must try again.
    InboxUnavailable(InboxError),
}

impl Outcome {
    /// The HTTP status for this outcome.
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Handled | Outcome::Duplicate | Outcome::Unrouted | Outcome::Queued { .. } => {
                200
            }
            Outcome::InFlight { .. } => 409,
            Outcome::Rejected(Rejection::PayloadTooLarge { .. }) => 413,
            Outcome::Rejected(Rejection::MethodNotAllowed) => 405,
            Outcome::Rejected(Rejection::Unauthorized(_)) => 401,
            Outcome::Rejected(Rejection::Malformed(_) | Rejection::IncompleteBody) => 400,
            Outcome::Rejected(Rejection::BodyTimeout { .. }) => 408,
            Outcome::Rejected(Rejection::Busy { .. }) => 503,
            Outcome::Failed(_) => 500,
            Outcome::StoreUnavailable(_) | Outcome::InboxUnavailable(_) => 503,
        }
    }

    /// A short `snake_case` name: `handled`, `duplicate`, `unrouted`,
    /// `in_flight`, `rejected`, `failed`, `unavailable` or `queued`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Handled => "handled",
            Outcome::Duplicate => "duplicate",
            Outcome::Unrouted => "unrouted",
            Outcome::InFlight { .. } => "in_flight",
            Outcome::Rejected(_) => "rejected",
            Outcome::Failed(_) => "failed",
            Outcome::StoreUnavailable(_) | Outcome::InboxUnavailable(_) => "unavailable",
            Outcome::Queued { .. } => "queued",
        }
    }

    /// The HTTP response for this outcome.
    pub fn response(&self) -> Response {
        let status = self.status();
        let (body, retry_after) = match self {
            Outcome::Handled => (r#"{"status":"ok"}"#.to_owned(), None),
            Outcome::Duplicate => (r#"{"status":"duplicate"}"#.to_owned(), None),
            Outcome::Unrouted => (r#"{"status":"ignored"}"#.to_owned(), None),
            Outcome::InFlight { retry_after } => {
                let secs = retry_after.as_secs().max(1);
                (
                    error_body("in_flight", "this event is being processed; retry later"),
                    Some(secs),
                )
            }
            Outcome::Rejected(rejection @ Rejection::Busy { retry_after, .. }) => (
                error_body(rejection.code(), &rejection.to_string()),
                Some(retry_after.as_secs().max(1)),
            ),
            Outcome::Rejected(rejection) => {
                (error_body(rejection.code(), &rejection.to_string()), None)
            }
            // The handler's own message may hold anything: keep it in the logs, not the response.
            Outcome::Failed(_) => (
                error_body("handler_failed", "the handler failed; retry later"),
                None,
            ),
            Outcome::StoreUnavailable(_) => (
                error_body(
                    "store_unavailable",
                    "the idempotency store is unavailable; retry later",
                ),
                Some(5),
            ),
            Outcome::Queued { id } => (format!(r#"{{"status":"queued","id":{id}}}"#), None),
            Outcome::InboxUnavailable(_) => (
                error_body(
                    "inbox_unavailable",
                    "the event could not be stored; retry later",
                ),
                Some(5),
            ),
        };
        Response {
            status,
            body,
            retry_after,
        }
    }
}

/// An HTTP response, framework-neutral: the adapters copy it as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// A small JSON object; never contains secrets, MACs or the payload.
    pub body: String,
    /// The value of a `Retry-After` header, in seconds, if any.
    pub retry_after: Option<u64>,
}

impl Response {
    /// The `Content-Type` of every body.
    pub const CONTENT_TYPE: &'static str = "application/json";
}

fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({ "error": code, "message": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_status() {
        let cases: Vec<(Outcome, u16, &str)> = vec![
            (Outcome::Handled, 200, "handled"),
            (Outcome::Duplicate, 200, "duplicate"),
            (Outcome::Unrouted, 200, "unrouted"),
            (
                Outcome::InFlight {
                    retry_after: Duration::from_secs(3),
                },
                409,
                "in_flight",
            ),
            (
                Outcome::Rejected(Rejection::PayloadTooLarge { limit: 10 }),
                413,
                "rejected",
            ),
            (
                Outcome::Rejected(Rejection::IncompleteBody),
                400,
                "rejected",
            ),
            (
                Outcome::Rejected(Rejection::MethodNotAllowed),
                405,
                "rejected",
            ),
            (
                Outcome::Rejected(VerifyError::InvalidSignature.into()),
                401,
                "rejected",
            ),
            (
                Outcome::Rejected(ParseError::MissingField { field: "event" }.into()),
                400,
                "rejected",
            ),
            (
                Outcome::Rejected(Rejection::BodyTimeout {
                    after: Duration::from_secs(30),
                }),
                408,
                "rejected",
            ),
            (
                Outcome::Rejected(Rejection::Busy {
                    limit: "unverified_bytes",
                    retry_after: Duration::from_secs(2),
                }),
                503,
                "rejected",
            ),
            (Outcome::Failed(HandlerError::new("boom")), 500, "failed"),
            (
                Outcome::StoreUnavailable(StoreError::Unavailable {
                    reason: "down".into(),
                }),
                503,
                "unavailable",
            ),
            (
                Outcome::Queued {
                    id: InboxId::new(7),
                },
                200,
                "queued",
            ),
            (
                Outcome::InboxUnavailable(InboxError::Unavailable {
                    reason: "disk full".into(),
                }),
                503,
                "unavailable",
            ),
        ];
        for (outcome, status, name) in cases {
            assert_eq!(outcome.status(), status, "{outcome:?}");
            assert_eq!(outcome.response().status, status);
            assert_eq!(outcome.as_str(), name);
            let body: serde_json::Value = serde_json::from_str(&outcome.response().body).unwrap();
            assert!(body.is_object());
        }
    }

    #[test]
    fn queued_names_its_inbox_row() {
        let response = Outcome::Queued {
            id: InboxId::new(42),
        }
        .response();
        assert_eq!(response.body, r#"{"status":"queued","id":42}"#);
        assert_eq!(response.retry_after, None);
    }

    #[test]
    fn inbox_unavailable_asks_for_a_retry_without_the_reason() {
        let response = Outcome::InboxUnavailable(InboxError::Unavailable {
            reason: "/var/lib/inbox.db: disk full".into(),
        })
        .response();
        assert_eq!(response.status, 503);
        assert_eq!(response.retry_after, Some(5));
        assert!(response.body.contains("\"error\":\"inbox_unavailable\""));
        assert!(!response.body.contains("disk full"));
    }

    #[test]
    fn in_flight_sets_retry_after() {
        let response = Outcome::InFlight {
            retry_after: Duration::from_millis(1500),
        }
        .response();
        assert_eq!(response.retry_after, Some(1));
        assert!(response.body.contains("\"error\":\"in_flight\""));
    }

    #[test]
    fn busy_sets_retry_after_and_timeout_does_not() {
        let busy = Outcome::Rejected(Rejection::Busy {
            limit: "unverified_bytes",
            retry_after: Duration::from_secs(2),
        })
        .response();
        assert_eq!((busy.status, busy.retry_after), (503, Some(2)));
        assert!(busy.body.contains("\"error\":\"busy\""));
        let late = Outcome::Rejected(Rejection::BodyTimeout {
            after: Duration::from_millis(1500),
        })
        .response();
        assert_eq!((late.status, late.retry_after), (408, None));
        assert!(late.body.contains("within 1500 ms"));
    }

    #[test]
    fn stale_timestamp_has_its_own_code() {
        let stale = Rejection::Unauthorized(VerifyError::TimestampTooOld {
            age: Duration::from_secs(600),
            tolerance: Duration::from_secs(300),
        });
        assert_eq!(stale.code(), "stale_timestamp");
        assert!(
            Outcome::Rejected(stale)
                .response()
                .body
                .contains("stale_timestamp")
        );
    }

    #[test]
    fn malformed_body_names_the_field() {
        let response =
            Outcome::Rejected(ParseError::MissingField { field: "data.id" }.into()).response();
        assert_eq!(
            response.body,
            r#"{"error":"malformed_payload","message":"missing field `data.id`"}"#
        );
    }

    #[test]
    fn handler_error_text_is_not_echoed() {
        let response = Outcome::Failed(HandlerError::new("db password is hunter2")).response();
        assert!(!response.body.contains("hunter2"));
    }
}
