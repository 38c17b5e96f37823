//! How an event is laid out in its Redis hash, and the decoding of the
//! scripts' replies.

use std::collections::HashMap;

use bookhook::idempotency::ClaimToken;
use bookhook::inbox::{
    Attempt, AttemptOutcome, Claimed, EventDetail, EventRecord, InboxError, InboxId, Lease, State,
    Trigger,
};
use bookhook::{Kind, Provider};
use bytes::Bytes;
use redis::Value;

pub(crate) fn incompatible(reason: impl Into<String>) -> InboxError {
    InboxError::Incompatible {
        reason: reason.into(),
    }
}

/// Headers as one string: for each pair, `<len>:<name><len>:<value>`, with
/// lengths in bytes. Any text round-trips, separators included.
pub(crate) fn encode_headers(headers: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        for part in [name, value] {
            out.push_str(&part.len().to_string());
            out.push(':');
            out.push_str(part);
        }
    }
    out
}

/// The inverse of [`encode_headers`].
pub(crate) fn decode_headers(text: &str) -> Result<Vec<(String, String)>, InboxError> {
    let mut rest = text;
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_once(':')
            .ok_or_else(|| incompatible("stored headers are malformed"))?;
        let len: usize = len
            .parse()
            .map_err(|_| incompatible("stored headers are malformed"))?;
        if tail.len() < len || !tail.is_char_boundary(len) {
            return Err(incompatible("stored headers are malformed"));
        }
        parts.push(tail[..len].to_owned());
        rest = &tail[len..];
    }
    if parts.len() % 2 != 0 {
        return Err(incompatible("stored headers are malformed"));
    }
    let mut pairs = Vec::with_capacity(parts.len() / 2);
    let mut iter = parts.into_iter();
    while let (Some(name), Some(value)) = (iter.next(), iter.next()) {
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// What `b:<id>` holds: `<len>:` and the encoded headers (see
/// [`encode_headers`]) of that many bytes, then the raw body.
pub(crate) fn encode_payload(headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let headers = encode_headers(headers);
    let mut out = Vec::with_capacity(headers.len() + body.len() + 8);
    out.extend_from_slice(headers.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(headers.as_bytes());
    out.extend_from_slice(body);
    out
}

/// The inverse of [`encode_payload`].
pub(crate) fn decode_payload(payload: &[u8]) -> Result<(Vec<(String, String)>, Bytes), InboxError> {
    let bad = || incompatible("a stored payload is malformed");
    let colon = payload.iter().position(|&b| b == b':').ok_or_else(bad)?;
    let len: usize = std::str::from_utf8(&payload[..colon])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let rest = &payload[colon + 1..];
    if rest.len() < len {
        return Err(bad());
    }
    let headers = std::str::from_utf8(&rest[..len]).map_err(|_| bad())?;
    Ok((
        decode_headers(headers)?,
        Bytes::copy_from_slice(&rest[len..]),
    ))
}

/// The fields of one row, as read back.
pub(crate) struct Fields(HashMap<String, Vec<u8>>);

impl Fields {
    /// From the flat `HGETALL` reply (name, value, name, value, …).
    pub(crate) fn from_flat(value: &Value) -> Result<Self, InboxError> {
        let mut map = HashMap::new();
        match value {
            Value::Array(items) => {
                for pair in items.chunks(2) {
                    if let [name, value] = pair {
                        map.insert(text(name)?, bytes(value)?);
                    }
                }
            }
            Value::Map(pairs) => {
                for (name, value) in pairs {
                    map.insert(text(name)?, bytes(value)?);
                }
            }
            _ => return Err(incompatible("expected the fields of an inbox event")),
        }
        Ok(Self(map))
    }

    /// From an `HMGET` reply of `names`.
    pub(crate) fn from_named(names: &[&str], value: &Value) -> Result<Self, InboxError> {
        let Value::Array(items) = value else {
            return Err(incompatible("expected the fields of an inbox event"));
        };
        let mut map = HashMap::new();
        for (name, value) in names.iter().zip(items) {
            if !matches!(value, Value::Nil) {
                map.insert((*name).to_owned(), bytes(value)?);
            }
        }
        Ok(Self(map))
    }

    /// Whether the row does not exist (`HGETALL` of a missing key).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn str(&self, name: &str) -> Result<Option<&str>, InboxError> {
        self.0
            .get(name)
            .map(|v| {
                std::str::from_utf8(v).map_err(|_| {
                    incompatible(format!("field {name} of an inbox event is not text"))
                })
            })
            .transpose()
    }

    fn required(&self, name: &str) -> Result<&str, InboxError> {
        self.str(name)?
            .ok_or_else(|| incompatible(format!("an inbox event lacks its field {name}")))
    }

    fn int(&self, name: &str) -> Result<Option<i64>, InboxError> {
        self.str(name)?
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    incompatible(format!("field {name} of an inbox event is not an integer"))
                })
            })
            .transpose()
    }

    /// The record (without body, headers and attempts) of row `id`.
    pub(crate) fn record(&self, id: InboxId) -> Result<EventRecord, InboxError> {
        let provider: Provider = self
            .required("prov")?
            .parse()
            .map_err(|_| incompatible("an inbox event names an unknown provider"))?;
        let kind: Kind = self
            .required("kind")?
            .parse()
            .map_err(|_| incompatible("an inbox event names an unknown kind"))?;
        let received = self
            .int("recv")?
            .ok_or_else(|| incompatible("an inbox event lacks its received time"))?;
        let mut record = EventRecord::new(
            id,
            self.required("ns")?,
            self.required("key")?,
            self.str("ok")?.map(str::to_owned),
            provider,
            self.required("type")?,
            kind,
            received,
            self.int("occ")?,
        );
        record.state = self
            .required("st")?
            .parse::<State>()
            .map_err(|_| incompatible("an inbox event has an unknown state"))?;
        record.attempts = self
            .int("att")?
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
        record.next_attempt_at_ms = match record.state {
            State::Pending => self.int("next")?,
            _ => None,
        };
        record.lease_until_ms = match record.state {
            State::Processing => self.int("lease")?,
            _ => None,
        };
        record.last_error = self.str("err")?.map(str::to_owned);
        Ok(record)
    }

    /// Every attempt, oldest first.
    pub(crate) fn attempts(&self, count: u32) -> Result<Vec<Attempt>, InboxError> {
        let mut attempts = Vec::new();
        for number in 1..=count {
            let Some(text) = self.str(&format!("a{number}"))? else {
                continue;
            };
            attempts.push(decode_attempt(number, text)?);
        }
        Ok(attempts)
    }

    /// The row with its payload (`b:<id>`) and attempts.
    pub(crate) fn detail(&self, id: InboxId, payload: &Value) -> Result<EventDetail, InboxError> {
        let record = self.record(id)?;
        let attempts = self.attempts(record.attempts)?;
        let (headers, body) = decode_payload(&bytes(payload)?)?;
        Ok(EventDetail::new(record, body, headers, attempts))
    }
}

fn trigger(text: &str) -> Trigger {
    if text == "manual" {
        Trigger::Manual
    } else {
        Trigger::Automatic
    }
}

/// `started|ended|outcome|trigger|error`.
fn decode_attempt(number: u32, text: &str) -> Result<Attempt, InboxError> {
    let bad = || incompatible("an inbox attempt record is malformed");
    let mut parts = text.splitn(5, '|');
    let started = parts.next().ok_or_else(bad)?;
    let ended = parts.next().ok_or_else(bad)?;
    let outcome = parts.next().ok_or_else(bad)?;
    let trig = parts.next().ok_or_else(bad)?;
    let error = parts.next().ok_or_else(bad)?;
    let started: i64 = started.parse().map_err(|_| bad())?;
    let ended = if ended.is_empty() {
        None
    } else {
        Some(ended.parse::<i64>().map_err(|_| bad())?)
    };
    let outcome = match outcome {
        "running" => AttemptOutcome::Running,
        "processed" => AttemptOutcome::Processed,
        "retrying" => AttemptOutcome::Retrying,
        "dead" => AttemptOutcome::Dead,
        "expired" => AttemptOutcome::Expired,
        _ => return Err(bad()),
    };
    let error = match outcome {
        AttemptOutcome::Retrying | AttemptOutcome::Dead => Some(error.to_owned()),
        _ => None,
    };
    Ok(Attempt::new(
        number,
        started,
        ended,
        outcome,
        error,
        trigger(trig),
    ))
}

fn text(value: &Value) -> Result<String, InboxError> {
    match value {
        Value::BulkString(b) => {
            String::from_utf8(b.clone()).map_err(|_| incompatible("an inbox reply is not text"))
        }
        Value::SimpleString(s) => Ok(s.clone()),
        Value::Int(n) => Ok(n.to_string()),
        _ => Err(incompatible("unexpected inbox reply")),
    }
}

fn bytes(value: &Value) -> Result<Vec<u8>, InboxError> {
    match value {
        Value::BulkString(b) => Ok(b.clone()),
        Value::SimpleString(s) => Ok(s.as_bytes().to_vec()),
        Value::Int(n) => Ok(n.to_string().into_bytes()),
        _ => Err(incompatible("unexpected inbox reply")),
    }
}

pub(crate) fn int(value: &Value) -> Result<i64, InboxError> {
    match value {
        Value::Int(n) => Ok(*n),
        Value::BulkString(_) | Value::SimpleString(_) => text(value)?
            .parse()
            .map_err(|_| incompatible("expected an integer inbox reply")),
        _ => Err(incompatible("expected an integer inbox reply")),
    }
}

pub(crate) fn array(value: &Value) -> Result<&[Value], InboxError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(&[]),
        _ => Err(incompatible("expected a list in an inbox reply")),
    }
}

pub(crate) fn id(value: &Value) -> Result<InboxId, InboxError> {
    u64::try_from(int(value)?)
        .map(InboxId::new)
        .map_err(|_| incompatible("an inbox id is negative"))
}

/// The token text the claim script wrote (32 hex digits).
pub(crate) fn token(value: &Value) -> Result<ClaimToken, InboxError> {
    let text = text(value)?;
    u128::from_str_radix(&text, 16)
        .map(ClaimToken::from_u128)
        .map_err(|_| incompatible("an inbox lease token is malformed"))
}

/// One entry of the claim script's reply: `{id, token, newer, fields, payload}`.
pub(crate) fn claimed(value: &Value) -> Result<Claimed, InboxError> {
    let items = array(value)?;
    let [id_v, token_v, newer_v, fields_v, payload_v] = items else {
        return Err(incompatible("a claimed inbox event is malformed"));
    };
    let id = id(id_v)?;
    let token = token(token_v)?;
    let newer = match text(newer_v)?.as_str() {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| incompatible("a done time is not an integer"))?,
        ),
    };
    let fields = Fields::from_flat(fields_v)?;
    let record = fields.record(id)?;
    let until = record
        .lease_until_ms
        .ok_or_else(|| incompatible("a claimed inbox event has no lease"))?;
    let attempts = fields.attempts(record.attempts)?;
    let trigger = attempts
        .last()
        .map_or(Trigger::Automatic, |attempt| attempt.trigger);
    let lease = Lease::new(id, token, record.attempts, until);
    let (headers, body) = decode_payload(&bytes(payload_v)?)?;
    Ok(Claimed::new(record, body, headers, lease, trigger, newer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_with_separators_and_unicode() {
        let headers = vec![
            ("x-sig".to_owned(), "t=1,v1=ab:cd".to_owned()),
            ("empty".to_owned(), String::new()),
            ("x-note".to_owned(), "café 12:3".to_owned()),
        ];
        let text = encode_headers(&headers);
        assert_eq!(decode_headers(&text).unwrap(), headers);
        assert_eq!(decode_headers("").unwrap(), Vec::new());
    }

    #[test]
    fn payload_round_trips_binary_bodies() {
        let headers = vec![("a:b".to_owned(), "1:2".to_owned())];
        let body = [0u8, 255, b':', b'9'];
        let (h, b) = decode_payload(&encode_payload(&headers, &body)).unwrap();
        assert_eq!(h, headers);
        assert_eq!(b.as_ref(), body);
        let (h, b) = decode_payload(&encode_payload(&[], b"")).unwrap();
        assert!(h.is_empty() && b.is_empty());
        assert!(decode_payload(b"9:ab").is_err());
        assert!(decode_payload(b"body").is_err());
    }

    #[test]
    fn malformed_headers_are_incompatible() {
        for text in ["3:ab", "x:abc", "2:ab", "1:é"] {
            assert!(matches!(
                decode_headers(text),
                Err(InboxError::Incompatible { .. })
            ));
        }
    }

    #[test]
    fn attempts_decode_with_errors_containing_bars() {
        let attempt = decode_attempt(2, "10|20|retrying|manual|boom | again").unwrap();
        assert_eq!(
            attempt,
            Attempt::new(
                2,
                10,
                Some(20),
                AttemptOutcome::Retrying,
                Some("boom | again".into()),
                Trigger::Manual
            )
        );
        let running = decode_attempt(1, "10||running|automatic|").unwrap();
        assert_eq!(running.ended_at_ms, None);
        assert_eq!(running.error, None);
        assert!(decode_attempt(1, "10|x|done|automatic|").is_err());
    }
}
