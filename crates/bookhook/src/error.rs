//! Typed errors, one enum per concern.
//!
//! Messages are lower case, have no trailing period, and never contain secret
//! material, computed MACs or the request body.

use std::error::Error as StdError;
use std::time::Duration;

/// A configuration mistake, reported when a builder's `build()` runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No secret was given, and the scheme needs one.
    #[error("no secret configured; give at least one secret (several allow rotation)")]
    NoSecrets,
    /// A secret has no bytes.
    #[error("secret #{index} is empty")]
    EmptySecret {
        /// Position of the secret in the list, from 0.
        index: usize,
    },
    /// A secret cannot be used by the scheme (for example bad base64 after `whsec_`).
    #[error("secret #{index} is invalid: {reason}")]
    InvalidSecret {
        /// Position of the secret in the list, from 0.
        index: usize,
        /// What is wrong with it, without its value.
        reason: &'static str,
    },
    /// A header or query parameter name is empty or not a valid token.
    #[error("invalid header or parameter name `{name}`")]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// Two handlers were registered for the same route.
    #[error("two handlers registered for {route}")]
    DuplicateRoute {
        /// The route, for example `event type "booking.created"`.
        route: String,
    },
    /// Some other setting is out of range.
    #[error("invalid setting `{setting}`: {reason}")]
    InvalidSetting {
        /// The setting's name.
        setting: &'static str,
        /// Why it is refused.
        reason: String,
    },
}

/// Why a request failed verification. Every variant answers 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header the scheme needs is absent.
    #[error("missing header `{name}`")]
    MissingHeader {
        /// The header's name (one of them, if several are accepted).
        name: String,
    },
    /// A signature or timestamp header appears more than once.
    #[error("header `{name}` appears more than once")]
    RepeatedHeader {
        /// The header's name.
        name: String,
    },
    /// A query parameter that carries a token appears more than once.
    #[error("query parameter `{name}` appears more than once")]
    RepeatedParameter {
        /// The parameter's name.
        name: String,
    },
    /// The signature header is present but cannot be decoded.
    #[error("malformed signature: {reason}")]
    MalformedSignature {
        /// What is wrong (bad hex, bad base64, wrong length, no `v1,` entry).
        reason: &'static str,
    },
    /// The signature is well formed but no configured secret produces it.
    #[error("signature does not match any configured secret")]
    InvalidSignature,
    /// The timestamp header is present but is not a Unix time in seconds.
    #[error("malformed timestamp in `{name}`")]
    MalformedTimestamp {
        /// The header's name.
        name: String,
    },
    /// The signed timestamp is older than the tolerance allows.
    #[error("timestamp too old: {age:?} old, tolerance {tolerance:?}")]
    TimestampTooOld {
        /// How far in the past the timestamp is.
        age: Duration,
        /// The configured tolerance.
        tolerance: Duration,
    },
    /// The signed timestamp is further in the future than the tolerance allows.
    #[error("timestamp too new: {ahead:?} ahead, tolerance {tolerance:?}")]
    TimestampTooNew {
        /// How far in the future the timestamp is.
        ahead: Duration,
        /// The configured tolerance.
        tolerance: Duration,
    },
    /// No token was found in the configured header or query parameter.
    #[error("missing token in {location}")]
    MissingToken {
        /// Where it was looked for, for example `header authorization`.
        location: String,
    },
    /// A token was found but matches no configured secret.
    #[error("token does not match any configured secret")]
    InvalidToken,
}

impl VerifyError {
    /// Whether this is a replay-window failure rather than a bad signature.
    pub fn is_stale(&self) -> bool {
        matches!(
            self,
            VerifyError::TimestampTooOld { .. } | VerifyError::TimestampTooNew { .. }
        )
    }
}

/// Why a verified body could not be read as an event. Answers 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not JSON (the message gives position, never content).
    #[error("invalid json: {reason} at line {line} column {column}")]
    InvalidJson {
        /// The class of problem: syntax, unexpected end, or data.
        reason: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A field the envelope needs is absent or null.
    #[error("missing field `{field}`")]
    MissingField {
        /// The field, as a JSON path such as `data.object.id`.
        field: &'static str,
    },
    /// A field the envelope needs has the wrong type or format.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The field, as a JSON path.
        field: &'static str,
        /// What was expected.
        reason: &'static str,
    },
    /// None of the JSON pointers a configured envelope tries holds a value.
    #[error("missing value at json pointer {pointers}")]
    MissingValue {
        /// The pointers tried, comma-separated.
        pointers: String,
    },
}

impl ParseError {
    /// Converts a `serde_json` error without copying any of the payload into the message.
    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        let reason = match err.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "unexpected end of input",
        };
        ParseError::InvalidJson {
            reason,
            line: err.line(),
            column: err.column(),
        }
    }
}

/// The idempotency store could not answer. Answers 503 unless the endpoint fails open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or refused the operation.
    #[error("idempotency store unavailable: {reason}")]
    Unavailable {
        /// What the backend reported (never a key's payload).
        reason: String,
    },
    /// The store answered something this version does not understand.
    #[error("idempotency store protocol error: {reason}")]
    Protocol {
        /// What was unexpected.
        reason: String,
    },
}

/// A handler did not finish its work. Answers 500 and releases the claim.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The handler returned an error.
    #[error("handler failed: {0}")]
    Failed(#[source] Box<dyn StdError + Send + Sync>),
    /// The handler panicked. The panic was caught.
    #[error("handler panicked: {message}")]
    Panicked {
        /// The panic payload, when it was a string.
        message: String,
    },
    /// The handler failed and asks for the next attempt no sooner than
    /// `after`. In inbox mode this replaces the retry schedule's delay for
    /// this attempt; a dispatcher treats it as any failure (500).
    #[error("handler failed, retry after {after:?}: {source}")]
    RetryAfter {
        /// How long to wait before the next attempt.
        after: Duration,
        /// Why the handler failed.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The handler failed in a way that retrying will not fix. In inbox mode
    /// the event is marked dead at once; a dispatcher answers 500 as for any
    /// failure.
    #[error("handler failed permanently: {0}")]
    Permanent(#[source] Box<dyn StdError + Send + Sync>),
    /// The handler did not finish within its time limit and was cancelled.
    #[error("handler timed out after {after:?}")]
    TimedOut {
        /// The time limit.
        after: Duration,
    },
}

impl HandlerError {
    /// Wraps any error a handler returns. A [`HandlerError`] given here (for
    /// example by a handler that returns `Err(HandlerError::permanent(..))`)
    /// is kept as it is, not wrapped again.
    pub fn new(err: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        let boxed = err.into();
        match boxed.downcast::<HandlerError>() {
            Ok(handler_error) => *handler_error,
            Err(other) => HandlerError::Failed(other),
        }
    }

    /// A failure after which the next attempt should wait at least `after`
    /// (for example what a rate-limited API said).
    ///
    /// ```
    /// use std::time::Duration;
    /// use bookhook::HandlerError;
    ///
    /// let err = HandlerError::retry_after(Duration::from_secs(90), "crm rate limit");
    /// assert_eq!(err.retry_hint(), Some(Duration::from_secs(90)));
    /// assert!(!err.is_permanent());
    /// ```
    pub fn retry_after(after: Duration, err: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        HandlerError::RetryAfter {
            after,
            source: err.into(),
        }
    }

    /// A failure that retrying will not fix: in inbox mode the event goes
    /// straight to dead, where it waits for a fix and a replay.
    ///
    /// ```
    /// use bookhook::HandlerError;
    ///
    /// assert!(HandlerError::permanent("unknown clinic id").is_permanent());
    /// ```
    pub fn permanent(err: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        HandlerError::Permanent(err.into())
    }

    /// Whether the handler said retrying is pointless.
    pub fn is_permanent(&self) -> bool {
        matches!(self, HandlerError::Permanent(_))
    }

    /// The delay the handler asked for before the next attempt, if any.
    pub fn retry_hint(&self) -> Option<Duration> {
        match self {
            HandlerError::RetryAfter { after, .. } => Some(*after),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lower_case_without_period() {
        let messages = [
            ConfigError::NoSecrets.to_string(),
            VerifyError::InvalidSignature.to_string(),
            VerifyError::MissingHeader {
                name: "x-sig".into(),
            }
            .to_string(),
            ParseError::MissingField { field: "event" }.to_string(),
            StoreError::Unavailable {
                reason: "connection refused".into(),
            }
            .to_string(),
            HandlerError::new("boom").to_string(),
            HandlerError::permanent("boom").to_string(),
            HandlerError::retry_after(Duration::from_secs(3), "boom").to_string(),
            HandlerError::TimedOut {
                after: Duration::from_secs(30),
            }
            .to_string(),
        ];
        for message in messages {
            let first = message.chars().next().unwrap();
            assert!(first.is_lowercase(), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn json_errors_do_not_echo_the_payload() {
        let err = serde_json::from_slice::<serde_json::Value>(b"{\"a\": secretvalue}").unwrap_err();
        let parsed = ParseError::from_json(&err);
        assert!(!parsed.to_string().contains("secretvalue"));
        assert!(matches!(parsed, ParseError::InvalidJson { line: 1, .. }));
    }

    #[test]
    fn handler_errors_given_back_are_not_wrapped_again() {
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(HandlerError::permanent("gone"));
        assert!(HandlerError::new(boxed).is_permanent());
        let hinted = HandlerError::new(HandlerError::retry_after(Duration::from_secs(9), "slow"));
        assert_eq!(hinted.retry_hint(), Some(Duration::from_secs(9)));
        assert!(matches!(
            HandlerError::new("plain"),
            HandlerError::Failed(_)
        ));
    }

    #[test]
    fn stale_errors_are_flagged() {
        let old = VerifyError::TimestampTooOld {
            age: Duration::from_secs(400),
            tolerance: Duration::from_secs(300),
        };
        assert!(old.is_stale());
        assert!(!VerifyError::InvalidSignature.is_stale());
    }
}
