//! The Lua scripts that make every operation atomic, and the decoding of
//! their replies.
//!
//! Layout in Redis, under the store's prefix:
//! - `k:<key>` holds `c:<token as 32 hex digits>` while a claim is live (with
//!   the lease as its expiry), then `d` once done (with the TTL as expiry);
//! - `f:<appointment>` holds the newest `occurred_at` seen, as a decimal
//!   integer of milliseconds.

use bookhook::idempotency::{Claim, ClaimToken, Freshness, StoreError};
use redis::{Script, Value};

/// Shared Lua helpers, put in front of every script that needs them.
///
/// `claim` answers 1 (claimed), 0 (in flight), 2 (done) or -1 (the key holds
/// something bookhook never writes).
///
/// `observe` answers `{1}` (latest, recorded), `{0, seen}` (stale) or `{-1}`
/// (the record is not an integer). Times are compared as decimal strings, so
/// the whole `i64` range is exact (Lua numbers are doubles).
const HELPERS: &str = r#"
local function claim(key, value, lease)
  if redis.call('SET', key, value, 'NX', 'PX', lease) then
    return 1
  end
  local held = redis.call('GET', key)
  if held == 'd' then
    return 2
  end
  if type(held) == 'string' and string.sub(held, 1, 2) == 'c:' then
    return 0
  end
  return -1
end

local function is_int(s)
  return type(s) == 'string' and string.match(s, '^%-?%d+$') ~= nil
end

local function compare(a, b)
  local neg_a = string.sub(a, 1, 1) == '-'
  local neg_b = string.sub(b, 1, 1) == '-'
  if neg_a ~= neg_b then
    if neg_a then return -1 else return 1 end
  end
  local da = neg_a and string.sub(a, 2) or a
  local db = neg_b and string.sub(b, 2) or b
  local r
  if #da ~= #db then
    r = (#da < #db) and -1 or 1
  elseif da == db then
    r = 0
  else
    r = (da < db) and -1 or 1
  end
  if neg_a then r = -r end
  return r
end

local function observe(key, at, ttl)
  local seen = redis.call('GET', key)
  if seen then
    if not is_int(seen) then
      return {-1}
    end
    if compare(seen, at) > 0 then
      return {0, seen}
    end
  end
  redis.call('SET', key, at, 'PX', ttl)
  return {1}
end
"#;

/// KEYS: claim key. ARGV: claim value, lease ms.
const CLAIM: &str = r#"
return claim(KEYS[1], ARGV[1], ARGV[2])
"#;

/// KEYS: claim key, freshness key. ARGV: claim value, lease ms, at ms, ttl ms.
///
/// Observes only if claimed. A corrupt freshness record undoes the claim, so
/// that the error does not leave a lease behind.
const CLAIM_AND_OBSERVE: &str = r#"
local c = claim(KEYS[1], ARGV[1], ARGV[2])
if c ~= 1 then
  return {c}
end
local o = observe(KEYS[2], ARGV[3], ARGV[4])
if o[1] < 0 then
  redis.call('DEL', KEYS[1])
  return {-2}
end
return {c, o[1], o[2]}
"#;

/// KEYS: freshness key. ARGV: at ms, ttl ms.
const OBSERVE: &str = r#"
return observe(KEYS[1], ARGV[1], ARGV[2])
"#;

/// KEYS: claim key. ARGV: claim value, ttl ms. Answers 1 if it was done, 0 if
/// the token no longer owns the key.
const COMPLETE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'd', 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// KEYS: claim key. ARGV: claim value. Answers 1 if it was released, 0 if
/// the token no longer owns the key.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#;

/// The loaded scripts. `redis::Script` sends `EVALSHA` and falls back to
/// loading the script when the server does not know it (after a restart, for
/// example).
pub(crate) struct Scripts {
    pub(crate) claim: Script,
    pub(crate) claim_and_observe: Script,
    pub(crate) observe: Script,
    pub(crate) complete: Script,
    pub(crate) release: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        let with_helpers = |body: &str| Script::new(&format!("{HELPERS}{body}"));
        Self {
            claim: with_helpers(CLAIM),
            claim_and_observe: with_helpers(CLAIM_AND_OBSERVE),
            observe: with_helpers(OBSERVE),
            complete: Script::new(COMPLETE),
            release: Script::new(RELEASE),
        }
    }
}

impl Scripts {
    /// Every script, to load them all at start.
    pub(crate) fn all(&self) -> [&Script; 5] {
        [
            &self.claim,
            &self.claim_and_observe,
            &self.observe,
            &self.complete,
            &self.release,
        ]
    }
}

/// The value stored under a claim key while `token` holds it.
pub(crate) fn claim_value(token: ClaimToken) -> String {
    format!("c:{:032x}", token.as_u128())
}

fn protocol(reason: impl Into<String>) -> StoreError {
    StoreError::Protocol {
        reason: reason.into(),
    }
}

fn as_int(value: &Value, what: &str) -> Result<i64, StoreError> {
    match value {
        Value::Int(n) => Ok(*n),
        _ => Err(protocol(format!("expected an integer for {what}"))),
    }
}

/// Decodes the claim code of the `claim` helper.
pub(crate) fn decode_claim(code: i64, token: ClaimToken) -> Result<Claim, StoreError> {
    match code {
        1 => Ok(Claim::Claimed(token)),
        0 => Ok(Claim::InFlight),
        2 => Ok(Claim::Done),
        -1 => Err(protocol(
            "claim key holds a value that is not a bookhook claim",
        )),
        other => Err(protocol(format!("unknown claim reply code {other}"))),
    }
}

/// Decodes the reply of the `CLAIM` script.
pub(crate) fn decode_claim_reply(reply: &Value, token: ClaimToken) -> Result<Claim, StoreError> {
    decode_claim(as_int(reply, "the claim reply")?, token)
}

/// Decodes `{1}`, `{0, seen}` or `{-1}` as returned by the `observe` helper.
fn decode_freshness(code: i64, seen: Option<&Value>) -> Result<Freshness, StoreError> {
    match code {
        1 => Ok(Freshness::Latest),
        0 => {
            let seen = match seen {
                Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok()),
                Some(Value::Int(n)) => Some(*n),
                _ => None,
            };
            seen.map(|newer_seen_at| Freshness::Stale { newer_seen_at })
                .ok_or_else(|| protocol("newest time seen is not an integer"))
        }
        -1 => Err(protocol("appointment record is not an integer")),
        other => Err(protocol(format!("unknown observe reply code {other}"))),
    }
}

fn as_array<'v>(reply: &'v Value, what: &str) -> Result<&'v [Value], StoreError> {
    match reply {
        Value::Array(items) if !items.is_empty() => Ok(items),
        _ => Err(protocol(format!("expected a non-empty array for {what}"))),
    }
}

/// Decodes the reply of the `OBSERVE` script.
pub(crate) fn decode_observe_reply(reply: &Value) -> Result<Freshness, StoreError> {
    let items = as_array(reply, "the observe reply")?;
    decode_freshness(as_int(&items[0], "the observe reply code")?, items.get(1))
}

/// Decodes the reply of the `CLAIM_AND_OBSERVE` script.
pub(crate) fn decode_claim_and_observe_reply(
    reply: &Value,
    token: ClaimToken,
) -> Result<(Claim, Freshness), StoreError> {
    let items = as_array(reply, "the claim and observe reply")?;
    let code = as_int(&items[0], "the claim reply code")?;
    if code == -2 {
        return Err(protocol(
            "appointment record is not an integer; the claim was undone",
        ));
    }
    let claim = decode_claim(code, token)?;
    match claim {
        Claim::Claimed(_) => {
            let fresh = items
                .get(1)
                .ok_or_else(|| protocol("claim and observe reply lacks the observation"))?;
            let fresh = decode_freshness(as_int(fresh, "the observe reply code")?, items.get(2))?;
            Ok((claim, fresh))
        }
        Claim::InFlight | Claim::Done => Ok((claim, Freshness::Latest)),
    }
}

/// Decodes the 0/1 reply of `COMPLETE` and `RELEASE`; both answers are fine.
pub(crate) fn decode_owned_reply(reply: &Value) -> Result<bool, StoreError> {
    match as_int(reply, "the owner check")? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(protocol(format!("unknown owner check reply {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn claim_value_is_fixed_width_hex() {
        assert_eq!(
            claim_value(ClaimToken::from_u128(0xab)),
            "c:000000000000000000000000000000ab"
        );
        assert_eq!(claim_value(ClaimToken::from_u128(u128::MAX)).len(), 34);
    }

    #[test]
    fn claim_codes_decode_to_claims() {
        let token = ClaimToken::from_u128(7);
        assert_eq!(
            decode_claim_reply(&Value::Int(1), token),
            Ok(Claim::Claimed(token))
        );
        assert_eq!(
            decode_claim_reply(&Value::Int(0), token),
            Ok(Claim::InFlight)
        );
        assert_eq!(decode_claim_reply(&Value::Int(2), token), Ok(Claim::Done));
    }

    #[test]
    fn unexpected_replies_are_protocol_errors() {
        let token = ClaimToken::from_u128(7);
        for reply in [Value::Int(-1), Value::Int(9), bulk("1"), Value::Nil] {
            assert!(matches!(
                decode_claim_reply(&reply, token),
                Err(StoreError::Protocol { .. })
            ));
        }
        assert!(matches!(
            decode_observe_reply(&Value::Array(vec![Value::Int(0), bulk("soon")])),
            Err(StoreError::Protocol { .. })
        ));
        assert!(matches!(
            decode_observe_reply(&Value::Array(vec![])),
            Err(StoreError::Protocol { .. })
        ));
        assert!(matches!(
            decode_claim_and_observe_reply(&Value::Array(vec![Value::Int(-2)]), token),
            Err(StoreError::Protocol { .. })
        ));
        assert!(matches!(
            decode_owned_reply(&Value::Int(3)),
            Err(StoreError::Protocol { .. })
        ));
    }

    #[test]
    fn stale_reply_carries_the_newest_time() {
        let reply = Value::Array(vec![Value::Int(0), bulk("-1700000000123")]);
        assert_eq!(
            decode_observe_reply(&reply),
            Ok(Freshness::Stale {
                newer_seen_at: -1_700_000_000_123
            })
        );
    }

    #[test]
    fn claim_and_observe_ignores_freshness_unless_claimed() {
        let token = ClaimToken::from_u128(1);
        assert_eq!(
            decode_claim_and_observe_reply(&Value::Array(vec![Value::Int(2)]), token),
            Ok((Claim::Done, Freshness::Latest))
        );
        let stale = Value::Array(vec![Value::Int(1), Value::Int(0), bulk("42")]);
        assert_eq!(
            decode_claim_and_observe_reply(&stale, token),
            Ok((
                Claim::Claimed(token),
                Freshness::Stale { newer_seen_at: 42 }
            ))
        );
    }
}
