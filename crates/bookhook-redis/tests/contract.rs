//! The `IdempotencyStore` contract, against a real Redis server.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bookhook::idempotency::{
    Claim, ClaimToken, Freshness, IdempotencyStore, Observation, StoreError,
};
use bookhook_redis::RedisStore;
use support::unique;

const LEASE: Duration = Duration::from_secs(30);
const TTL: Duration = Duration::from_secs(3600);
const SHORT: Duration = Duration::from_millis(500);
/// Comfortably longer than [`SHORT`], so that Redis has expired the key.
const PAST_SHORT: Duration = Duration::from_millis(700);

async fn store(url: &str) -> RedisStore {
    RedisStore::connect(url).await.expect("connect to redis")
}

fn claimed(claim: Claim) -> ClaimToken {
    match claim {
        Claim::Claimed(token) => token,
        other => panic!("expected a claim, got {other:?}"),
    }
}

/// Runs the store contract that every `IdempotencyStore` meets (the same
/// checks `MemoryStore` passes), in real time: Redis keeps its own clock.
struct RealTime(RedisStore);

impl bookhook::testing::store::StoreHarness for RealTime {
    type Store = RedisStore;

    fn store(&self) -> &RedisStore {
        &self.0
    }

    fn advance(&self, by: Duration) -> bookhook::idempotency::BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(by))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_store_contract_holds_on_redis() {
    let Some(redis) = support::redis() else {
        return;
    };
    let harness = RealTime(store(&redis.url).await);
    bookhook::testing::store::run_all(&harness).await;
}

fn obs(appointment: &str, occurred_at_ms: i64) -> Option<Observation<'_>> {
    Some(Observation {
        appointment,
        occurred_at_ms,
        ttl: TTL,
    })
}

#[tokio::test]
async fn claim_is_exclusive() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let key = unique("exclusive");

    claimed(store.claim(&key, LEASE).await.unwrap());
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::InFlight);
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::InFlight);
    // Another key is unaffected.
    claimed(store.claim(&unique("other"), LEASE).await.unwrap());
}

#[tokio::test]
async fn done_key_reports_done() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let key = unique("done");

    let token = claimed(store.claim(&key, LEASE).await.unwrap());
    store.complete(&key, token, TTL).await.unwrap();
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::Done);
    // Done outlives the lease it replaced and is not changed by a release.
    store.release(&key, token).await.unwrap();
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn release_lets_retry_through() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let key = unique("release");

    let first = claimed(store.claim(&key, LEASE).await.unwrap());
    store.release(&key, first).await.unwrap();
    let second = claimed(store.claim(&key, LEASE).await.unwrap());
    assert_ne!(first, second, "every claim gets its own token");
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::InFlight);
}

#[tokio::test]
async fn expired_lease_lets_later_copy_through() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let key = unique("lease");

    claimed(store.claim(&key, SHORT).await.unwrap());
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::InFlight);
    tokio::time::sleep(PAST_SHORT).await;
    claimed(store.claim(&key, LEASE).await.unwrap());
}

#[tokio::test]
async fn stale_token_complete_is_noop() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let key = unique("stale-complete");

    let old = claimed(store.claim(&key, SHORT).await.unwrap());
    tokio::time::sleep(PAST_SHORT).await;
    let new = claimed(store.claim(&key, LEASE).await.unwrap());

    store.complete(&key, old, TTL).await.unwrap();
    assert_eq!(
        store.claim(&key, LEASE).await.unwrap(),
        Claim::InFlight,
        "the old token must not mark the new claim done"
    );
    store.complete(&key, new, TTL).await.unwrap();
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::Done);

    // A token on a free key does not create a done record either.
    let free = unique("free");
    store
        .complete(&free, ClaimToken::from_u128(42), TTL)
        .await
        .unwrap();
    claimed(store.claim(&free, LEASE).await.unwrap());
}

#[tokio::test]
async fn stale_token_release_is_noop() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let key = unique("stale-release");

    let old = claimed(store.claim(&key, SHORT).await.unwrap());
    tokio::time::sleep(PAST_SHORT).await;
    let new = claimed(store.claim(&key, LEASE).await.unwrap());

    store.release(&key, old).await.unwrap();
    assert_eq!(
        store.claim(&key, LEASE).await.unwrap(),
        Claim::InFlight,
        "the old token must not free the new claim"
    );
    store.release(&key, new).await.unwrap();
    claimed(store.claim(&key, LEASE).await.unwrap());
}

#[tokio::test]
async fn done_expires_after_ttl() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let key = unique("done-ttl");

    let token = claimed(store.claim(&key, LEASE).await.unwrap());
    store.complete(&key, token, SHORT).await.unwrap();
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::Done);
    tokio::time::sleep(PAST_SHORT).await;
    claimed(store.claim(&key, LEASE).await.unwrap());
}

#[tokio::test]
async fn observe_reports_stale_and_keeps_max() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let appt = unique("appt");

    assert_eq!(
        store.observe(&appt, 1_000, TTL).await,
        Ok(Freshness::Latest)
    );
    assert_eq!(
        store.observe(&appt, 2_000, TTL).await,
        Ok(Freshness::Latest)
    );
    assert_eq!(
        store.observe(&appt, 1_500, TTL).await,
        Ok(Freshness::Stale {
            newer_seen_at: 2_000
        })
    );
    // An equal time counts as latest; the stale one did not lower the max.
    assert_eq!(
        store.observe(&appt, 2_000, TTL).await,
        Ok(Freshness::Latest)
    );
    assert_eq!(
        store.observe(&appt, 1_999, TTL).await,
        Ok(Freshness::Stale {
            newer_seen_at: 2_000
        })
    );

    // Exact beyond the 53 bits a Lua number holds, and across zero.
    let big = unique("appt-big");
    let edge = (1_i64 << 53) + 1;
    assert_eq!(store.observe(&big, edge, TTL).await, Ok(Freshness::Latest));
    assert_eq!(
        store.observe(&big, edge - 1, TTL).await,
        Ok(Freshness::Stale {
            newer_seen_at: edge
        })
    );
    assert_eq!(
        store.observe(&big, i64::MAX, TTL).await,
        Ok(Freshness::Latest)
    );
    let neg = unique("appt-neg");
    assert_eq!(store.observe(&neg, -20, TTL).await, Ok(Freshness::Latest));
    assert_eq!(
        store.observe(&neg, -100, TTL).await,
        Ok(Freshness::Stale { newer_seen_at: -20 })
    );
    assert_eq!(store.observe(&neg, -3, TTL).await, Ok(Freshness::Latest));
    assert_eq!(store.observe(&neg, 0, TTL).await, Ok(Freshness::Latest));
    assert_eq!(
        store.observe(&neg, i64::MIN, TTL).await,
        Ok(Freshness::Stale { newer_seen_at: 0 })
    );
}

#[tokio::test]
async fn observation_expires_after_ttl() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let appt = unique("appt-ttl");

    assert_eq!(
        store.observe(&appt, 5_000, SHORT).await,
        Ok(Freshness::Latest)
    );
    assert!(
        !store
            .observe(&appt, 4_000, SHORT)
            .await
            .unwrap()
            .is_latest()
    );
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        store.observe(&appt, 4_000, SHORT).await,
        Ok(Freshness::Latest)
    );
}

#[tokio::test]
async fn claim_and_observe_observes_only_when_claimed() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    let appt = unique("appt");
    let first = unique("first");

    let (claim, fresh) = store
        .claim_and_observe(&first, LEASE, obs(&appt, 2_000))
        .await
        .unwrap();
    let token = claimed(claim);
    assert_eq!(fresh, Freshness::Latest);

    // In flight: nothing is recorded, whatever the time.
    assert_eq!(
        store
            .claim_and_observe(&first, LEASE, obs(&appt, 9_000))
            .await,
        Ok((Claim::InFlight, Freshness::Latest))
    );
    // Done: nothing is recorded either.
    store.complete(&first, token, TTL).await.unwrap();
    assert_eq!(
        store
            .claim_and_observe(&first, LEASE, obs(&appt, 9_000))
            .await,
        Ok((Claim::Done, Freshness::Latest))
    );

    // A new delivery is claimed and sees the time of the first only.
    let (claim, fresh) = store
        .claim_and_observe(&unique("second"), LEASE, obs(&appt, 1_000))
        .await
        .unwrap();
    claimed(claim);
    assert_eq!(
        fresh,
        Freshness::Stale {
            newer_seen_at: 2_000
        }
    );

    // Without an appointment it is a plain claim.
    let (claim, fresh) = store
        .claim_and_observe(&unique("plain"), LEASE, None)
        .await
        .unwrap();
    claimed(claim);
    assert_eq!(fresh, Freshness::Latest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_claims_admit_exactly_one() {
    let Some(redis) = support::redis() else {
        return;
    };
    // Four replicas, each with its own connection, share the key.
    let mut replicas = Vec::new();
    for _ in 0..4 {
        replicas.push(Arc::new(store(&redis.url).await));
    }
    let key = Arc::new(unique("race"));
    let start = Arc::new(tokio::sync::Barrier::new(64));

    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = Arc::clone(&replicas[i % replicas.len()]);
        let key = Arc::clone(&key);
        let start = Arc::clone(&start);
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.claim(&key, LEASE).await
        }));
    }
    let mut claimed_count = 0;
    let mut in_flight = 0;
    for task in tasks {
        match task.await.expect("task finished").expect("redis answered") {
            Claim::Claimed(_) => claimed_count += 1,
            Claim::InFlight => in_flight += 1,
            Claim::Done => panic!("nobody completed the key"),
        }
    }
    assert_eq!((claimed_count, in_flight), (1, 63));
}

#[tokio::test]
async fn keys_are_namespaced_by_prefix() {
    let Some(redis) = support::redis() else {
        return;
    };
    let a = RedisStore::builder()
        .prefix(unique("tenant-a"))
        .connect(&redis.url)
        .await
        .unwrap();
    let b = RedisStore::builder()
        .prefix(unique("tenant-b"))
        .connect(&redis.url)
        .await
        .unwrap();
    let key = unique("shared-name");
    let appt = unique("shared-appt");

    let token = claimed(a.claim(&key, LEASE).await.unwrap());
    a.complete(&key, token, TTL).await.unwrap();
    assert_eq!(a.claim(&key, LEASE).await.unwrap(), Claim::Done);
    claimed(b.claim(&key, LEASE).await.unwrap());
    assert_eq!(b.claim(&key, LEASE).await.unwrap(), Claim::InFlight);

    assert_eq!(a.observe(&appt, 5_000, TTL).await, Ok(Freshness::Latest));
    assert_eq!(b.observe(&appt, 1_000, TTL).await, Ok(Freshness::Latest));
}

#[tokio::test]
async fn default_prefix_is_used_for_keys() {
    let Some(redis) = support::redis() else {
        return;
    };
    let store = store(&redis.url).await;
    assert_eq!(store.prefix(), bookhook_redis::DEFAULT_PREFIX);
    let key = unique("prefixed");
    claimed(store.claim(&key, LEASE).await.unwrap());

    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let held: Option<String> = redis::cmd("GET")
        .arg(format!("bookhook:k:{key}"))
        .query_async(&mut raw)
        .await
        .unwrap();
    let held = held.expect("claim stored under the default prefix");
    assert!(held.starts_with("c:") && held.len() == 34, "{held}");
}

#[tokio::test]
async fn foreign_values_are_protocol_errors_without_payload() {
    let Some(redis) = support::redis() else {
        return;
    };
    let prefix = unique("foreign");
    let store = RedisStore::builder()
        .prefix(prefix.clone())
        .connect(&redis.url)
        .await
        .unwrap();
    let key = unique("key");
    let appt = unique("appt");
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    for name in [format!("{prefix}k:{key}"), format!("{prefix}f:{appt}")] {
        let () = redis::cmd("SET")
            .arg(name)
            .arg("secret-payload")
            .query_async(&mut raw)
            .await
            .unwrap();
    }

    let err = store.claim(&key, LEASE).await.unwrap_err();
    assert!(matches!(err, StoreError::Protocol { .. }), "{err:?}");
    assert!(!err.to_string().contains("secret-payload"), "{err}");

    let err = store.observe(&appt, 1, TTL).await.unwrap_err();
    assert!(matches!(err, StoreError::Protocol { .. }), "{err:?}");
    assert!(!err.to_string().contains("secret-payload"), "{err}");

    // A corrupt record does not leave a claim behind.
    let fresh_key = unique("fresh");
    let err = store
        .claim_and_observe(&fresh_key, LEASE, obs(&appt, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Protocol { .. }), "{err:?}");
    claimed(store.claim(&fresh_key, LEASE).await.unwrap());
}
