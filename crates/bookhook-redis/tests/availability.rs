//! Outages, stalls and several replicas, against real Redis servers.

mod support;

use std::time::{Duration, Instant};

use bookhook::idempotency::{Claim, IdempotencyStore, StoreError};
use bookhook_redis::RedisStore;
use support::unique;

const LEASE: Duration = Duration::from_secs(30);
/// How fast a call must fail while Redis is down or frozen.
const FAIL_FAST: Duration = Duration::from_secs(3);

fn assert_unavailable(result: Result<Claim, StoreError>, elapsed: Duration) {
    assert!(
        matches!(result, Err(StoreError::Unavailable { .. })),
        "expected unavailable, got {result:?}"
    );
    assert!(elapsed < FAIL_FAST, "took {elapsed:?} to fail");
}

#[tokio::test]
async fn redis_down_gives_unavailable_then_recovers() {
    let Some(mut server) = support::private_server("this test stops its own redis-server") else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    assert!(matches!(
        store.claim(&unique("before"), LEASE).await,
        Ok(Claim::Claimed(_))
    ));

    server.kill();
    for attempt in 0..3 {
        let started = Instant::now();
        let result = store.claim(&unique("down"), LEASE).await;
        let elapsed = started.elapsed();
        eprintln!("redis down, call {attempt}: {elapsed:?}");
        assert_unavailable(result, elapsed);
    }

    server.restart();
    let restarted = Instant::now();
    let mut failures = 0;
    loop {
        match store.claim(&unique("after"), LEASE).await {
            Ok(claim) => {
                assert!(matches!(claim, Claim::Claimed(_)), "{claim:?}");
                break;
            }
            Err(StoreError::Unavailable { .. }) if restarted.elapsed() < FAIL_FAST => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("no recovery after {:?}: {err}", restarted.elapsed()),
        }
    }
    eprintln!(
        "recovered {:?} after restart, {failures} failed calls first",
        restarted.elapsed()
    );
    // Scripts are gone after the restart; they are loaded again on demand.
    let key = unique("after-restart");
    let token = match store.claim(&key, LEASE).await.unwrap() {
        Claim::Claimed(token) => token,
        other => panic!("expected a claim, got {other:?}"),
    };
    store
        .complete(&key, token, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn frozen_redis_times_out_as_unavailable() {
    let Some(server) = support::private_server("this test freezes its own redis-server") else {
        return;
    };
    // Default settings: the response timeout is 500 ms.
    let store = RedisStore::connect(&server.url()).await.unwrap();
    assert!(matches!(
        store.claim(&unique("before"), LEASE).await,
        Ok(Claim::Claimed(_))
    ));

    server.freeze();
    let started = Instant::now();
    let result = store.claim(&unique("frozen"), LEASE).await;
    let elapsed = started.elapsed();
    eprintln!("redis frozen, call: {elapsed:?}");
    server.thaw();
    assert_unavailable(result, elapsed);
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");

    // Once it answers again, so does the store.
    let deadline = Instant::now() + FAIL_FAST;
    loop {
        match store.claim(&unique("thawed"), LEASE).await {
            Ok(claim) => {
                assert!(matches!(claim, Claim::Claimed(_)), "{claim:?}");
                break;
            }
            Err(err) if Instant::now() >= deadline => panic!("no recovery: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test]
async fn connect_to_absent_redis_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let result = RedisStore::connect(&format!("redis://127.0.0.1:{port}")).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(StoreError::Unavailable { .. })),
        "{result:?}"
    );
    assert!(elapsed < FAIL_FAST, "took {elapsed:?}");
}

#[tokio::test]
async fn lease_expiry_across_replicas() {
    let Some(redis) = support::redis() else {
        return;
    };
    let prefix = unique("replicas");
    let connect = || {
        RedisStore::builder()
            .prefix(prefix.clone())
            .connect(&redis.url)
    };
    let a = connect().await.unwrap();
    let b = connect().await.unwrap();
    let key = unique("delivery");

    assert!(matches!(
        a.claim(&key, Duration::from_secs(1)).await,
        Ok(Claim::Claimed(_))
    ));
    // Replica A dies without completing or releasing.
    drop(a);

    assert_eq!(b.claim(&key, LEASE).await.unwrap(), Claim::InFlight);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.claim(&key, LEASE).await.unwrap(), Claim::InFlight);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(matches!(b.claim(&key, LEASE).await, Ok(Claim::Claimed(_))));
}

/// Calls per command since the last `CONFIG RESETSTAT`, from `INFO commandstats`.
async fn command_calls(raw: &mut redis::aio::MultiplexedConnection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(raw)
        .await
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn handled_delivery_costs_two_round_trips() {
    // A private server, so that no other test's commands are counted.
    let Some(server) = support::private_server("this test counts its server's commands") else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut raw)
        .await
        .unwrap();

    let key = unique("delivery");
    let appointment = unique("appointment");
    let (claim, _) = store
        .claim_and_observe(
            &key,
            LEASE,
            Some(bookhook::idempotency::Observation {
                appointment: &appointment,
                occurred_at_ms: 1_700_000_000_000,
                ttl: Duration::from_secs(60),
            }),
        )
        .await
        .unwrap();
    let Claim::Claimed(token) = claim else {
        panic!("expected a claim, got {claim:?}");
    };
    store
        .complete(&key, token, Duration::from_secs(60))
        .await
        .unwrap();

    let calls = [
        command_calls(&mut raw, "evalsha").await,
        command_calls(&mut raw, "eval").await,
        command_calls(&mut raw, "script|load").await,
    ];
    assert_eq!(calls, [2, 0, 0], "evalsha, eval, script load");
}

/// The dispatcher on Redis: an outage answers 503 and runs no handler (fail
/// closed); once Redis is back, the sender's retry is handled once.
#[tokio::test]
async fn dispatcher_fails_closed_while_redis_is_down_then_recovers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bookhook::testing::signed_request;
    use bookhook::{
        Context, DispatcherBuilder, Endpoint, HandlerError, Provider, endpoint::Request,
    };

    let Some(mut server) = support::private_server("this test stops its own redis-server") else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("redis-dispatch-secret")
        .namespace(unique("calendence"))
        .store(store)
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), runs.clone())
        .fallback(|ctx: Context<Arc<AtomicUsize>>| async move {
            ctx.state().fetch_add(1, Ordering::SeqCst);
            Ok::<_, HandlerError>(())
        })
        .build()
        .unwrap();
    let send = |body: &'static [u8]| {
        let dispatcher = dispatcher.clone();
        async move {
            let (headers, _) = signed_request(dispatcher.endpoint(), body);
            let finished = dispatcher
                .dispatch(Request::post(&headers, body.into()))
                .await;
            (finished.status(), finished.outcome().as_str())
        }
    };
    let first: &[u8] = br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"r-1"}}"#;
    let during: &[u8] = br#"{"event":"booking.created","timestamp":"2026-03-24T14:31:00+00:00","data":{"id":"r-2"}}"#;

    assert_eq!(send(first).await, (200, "handled"));
    server.kill();
    assert_eq!(send(during).await, (503, "unavailable"));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "no handler ran without deduplication"
    );

    server.restart();
    let restarted = Instant::now();
    loop {
        match send(during).await {
            (200, "handled") => break,
            (503, _) if restarted.elapsed() < FAIL_FAST => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("no recovery after {:?}: {other:?}", restarted.elapsed()),
        }
    }
    assert_eq!(send(during).await, (200, "duplicate"));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}
