//! Inbox mode on Redis end to end: `Ingest` stores signed requests in a
//! `RedisInbox`, a `Worker` handles them, and an outage answers 503.

mod inbox_support;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bookhook::inbox::{Inbox, Ingest, Worker};
use bookhook::{Context, Dispatcher, Endpoint, Kind, Provider, signature::SignRequest};
use bookhook_redis::RedisInbox;
use support::unique;

fn body(booking: &str, event: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"{event}","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"{booking}"}}}}"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_then_worker_on_redis_queue_deduplicate_and_handle_once() {
    let Some(redis) = support::redis() else {
        return;
    };
    let inbox = Arc::new(
        RedisInbox::builder()
            .prefix(unique("ingest") + ":")
            .allow_without_append_only()
            .connect(&redis.url)
            .await
            .unwrap(),
    );
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("redis-inbox-secret")
        .namespace(unique("calendence"))
        .build()
        .unwrap();
    let ingest = Ingest::new(endpoint.clone(), inbox.clone());
    let mut ids = Vec::new();
    for (booking, event) in [("b-1", "booking.created"), ("b-2", "booking.created")] {
        let body = body(booking, event);
        let headers = endpoint.sign(&body, &SignRequest::now()).headers;
        let first = ingest
            .receive("POST", &headers, None, body.clone().into())
            .await;
        assert_eq!(first.status(), 200, "{}", first.response().body);
        let id = first.id().unwrap();
        assert_eq!(
            first.response().body,
            format!(r#"{{"status":"queued","id":{id}}}"#)
        );
        let again = ingest.receive("POST", &headers, None, body.into()).await;
        assert_eq!(again.response().body, r#"{"status":"duplicate"}"#);
        ids.push(id);
    }
    let stored = inbox.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(stored.record.ordering_key.as_deref(), Some("b-1"));
    assert_eq!(stored.record.kind, Kind::Created);

    let handled = Arc::new(AtomicUsize::new(0));
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .on_kind(Kind::Created, {
            let handled = handled.clone();
            move |_ctx: Context| {
                let handled = handled.clone();
                async move {
                    handled.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::convert::Infallible>(())
                }
            }
        })
        .build()
        .unwrap();
    let worker = Worker::builder(dispatcher, inbox.clone()).build().unwrap();
    assert_eq!(worker.drain().await, 2);
    assert_eq!(handled.load(Ordering::SeqCst), 2);
    assert_eq!(worker.drain().await, 0, "nothing runs twice");
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.done), (0, 2));
}

#[tokio::test]
async fn ingest_answers_503_with_retry_after_while_redis_is_down() {
    let Some(mut server) = support::private_server("this test stops its own redis-server") else {
        return;
    };
    let inbox = RedisInbox::builder()
        .allow_without_append_only()
        .connect(&server.url())
        .await
        .unwrap();
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("redis-inbox-secret")
        .build()
        .unwrap();
    let ingest = Ingest::new(endpoint.clone(), Arc::new(inbox));
    let send = |booking: &'static str| {
        let ingest = ingest.clone();
        let endpoint = endpoint.clone();
        async move {
            let body = body(booking, "booking.created");
            let headers = endpoint.sign(&body, &SignRequest::now()).headers;
            ingest
                .receive("POST", &headers, None, body.into())
                .await
                .response()
        }
    };
    assert_eq!(send("before").await.status, 200);
    server.kill();
    let down = send("during").await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.retry_after.is_some(), "503 without Retry-After");
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let after = send("during").await;
        if after.status == 200 {
            assert!(after.body.contains("queued"), "{}", after.body);
            break;
        }
        assert_eq!(after.status, 503, "{}", after.body);
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_real_workers_keep_order_per_appointment() {
    use std::collections::{BTreeMap, HashSet};
    use std::sync::Mutex;

    let Some(redis) = support::redis() else {
        return;
    };
    const APPOINTMENTS: usize = 10;
    const EVENTS: usize = 6;
    let prefix = unique("real-workers") + ":";
    let connect = || {
        RedisInbox::builder()
            .prefix(prefix.clone())
            .allow_without_append_only()
            .connect(&redis.url)
    };
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("redis-inbox-secret")
        .namespace(unique("calendence"))
        .build()
        .unwrap();
    let ingest = Ingest::new(endpoint.clone(), Arc::new(connect().await.unwrap()));
    // Interleaved appointments; each event's own time says its place.
    for seq in 0..EVENTS {
        for appt in 0..APPOINTMENTS {
            let body = format!(
                r#"{{"event":"booking.updated","timestamp":"2026-03-24T14:30:0{seq}+00:00","data":{{"id":"appt-{appt}"}}}}"#
            )
            .into_bytes();
            let headers = endpoint.sign(&body, &SignRequest::now()).headers;
            let answer = ingest.receive("POST", &headers, None, body.into()).await;
            assert_eq!(answer.status(), 200, "{}", answer.response().body);
        }
    }

    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let log: Arc<Mutex<BTreeMap<String, Vec<i64>>>> = Arc::default();
    // Counted rather than asserted in the handler: the worker would catch
    // the panic as a failed attempt.
    let overlaps = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..2 {
        let running = running.clone();
        let log = log.clone();
        let overlaps = overlaps.clone();
        let dispatcher = Dispatcher::builder(endpoint.clone())
            .fallback(move |ctx: Context| {
                let running = running.clone();
                let log = log.clone();
                let overlaps = overlaps.clone();
                async move {
                    let appt = ctx.delivery().appointment_id().unwrap().to_owned();
                    let at = ctx.delivery().occurred_at().unwrap().unix_ms();
                    if !running.lock().unwrap().insert(appt.clone()) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    log.lock()
                        .unwrap()
                        .entry(appt.clone())
                        .or_default()
                        .push(at);
                    running.lock().unwrap().remove(&appt);
                    Ok::<_, std::convert::Infallible>(())
                }
            })
            .build()
            .unwrap();
        let inbox = Arc::new(connect().await.unwrap());
        workers.push(
            Worker::builder(dispatcher, inbox)
                .concurrency(8)
                .build()
                .unwrap(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ran = [0; 2];
    while log.lock().unwrap().values().map(Vec::len).sum::<usize>() < APPOINTMENTS * EVENTS {
        assert!(Instant::now() < deadline, "the workers did not finish");
        let (a, b) = tokio::join!(workers[0].drain(), workers[1].drain());
        ran[0] += a;
        ran[1] += b;
    }
    eprintln!("attempts per worker: {ran:?}");
    assert!(ran[0] > 0 && ran[1] > 0, "both workers took part: {ran:?}");
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "two events of one appointment ran at once"
    );
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), APPOINTMENTS);
    for (appt, times) in &log {
        let mut sorted = times.clone();
        sorted.sort_unstable();
        assert_eq!(*times, sorted, "{appt} ran out of order");
        assert_eq!(times.len(), EVENTS, "{appt}: each event once");
    }
}
