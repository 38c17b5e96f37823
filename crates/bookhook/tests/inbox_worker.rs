//! The inbox worker: retries on the schedule, dead-lettering, replay, order
//! per appointment, timeouts, panics and shutdown.
#![cfg(feature = "testing")]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bookhook::inbox::{
    AttemptReport, AttemptResult, Filter, Inbox, Ingest, MemoryInbox, RetrySchedule, Selection,
    State, Trigger, Worker,
};
use bookhook::testing::signed_request;
use bookhook::{
    Context, Dispatcher, Endpoint, HandlerError, Kind, Provider, endpoint::ManualClock,
    idempotency::Freshness,
};

const NOW_UNIX: u64 = 1_774_362_600;

fn endpoint(clock: &ManualClock) -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret("s3cr3t")
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn booking(id: &str, second: u32) -> String {
    format!(
        r#"{{"event":"booking.updated","timestamp":"2026-03-24T14:{:02}:{:02}+00:00","data":{{"id":"{id}"}}}}"#,
        second / 60,
        second % 60
    )
}

async fn store(ingest: &Ingest, body: &str) -> bookhook::inbox::InboxId {
    let (headers, _) = signed_request(ingest.endpoint(), body.as_bytes());
    let stored = ingest
        .receive("POST", &headers, None, body.to_owned().into())
        .await;
    assert_eq!(stored.status(), 200, "{:?}", stored.response());
    stored.id().expect("a new event")
}

fn recorder() -> (
    Arc<Mutex<Vec<AttemptReport>>>,
    impl Fn(&AttemptReport) + Send + Sync + 'static,
) {
    let seen: Arc<Mutex<Vec<AttemptReport>>> = Arc::default();
    let sink = seen.clone();
    (seen, move |report: &AttemptReport| {
        sink.lock().unwrap().push(report.clone())
    })
}

#[tokio::test]
async fn failing_handler_is_retried_on_the_schedule_ends_dead_and_replay_handles_it() {
    let clock = ManualClock::at_unix(NOW_UNIX);
    let endpoint = endpoint(&clock);
    let broken = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(AtomicUsize::new(0));
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .on("booking.updated", {
            let (broken, runs) = (broken.clone(), runs.clone());
            move |_ctx: Context| {
                let (broken, runs) = (broken.clone(), runs.clone());
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    if broken.load(Ordering::SeqCst) {
                        Err(HandlerError::new("crm unreachable"))
                    } else {
                        Ok(())
                    }
                }
            }
        })
        .build()
        .unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let ingest = Ingest::new(endpoint, inbox.clone());
    let (seen, observer) = recorder();
    let schedule = RetrySchedule::new([Duration::from_secs(5), Duration::from_secs(300)])
        .jitter(0.0)
        .max_attempts(3);
    let worker = Worker::builder(dispatcher, inbox.clone())
        .clock(clock.clone())
        .schedule(schedule)
        .observer(observer)
        .build()
        .unwrap();
    let id = store(&ingest, &booking("b-1", 0)).await;
    let t0 = i64::try_from(NOW_UNIX * 1000).unwrap();

    assert_eq!(worker.drain().await, 1, "first attempt");
    let row = inbox.get(id).await.unwrap().unwrap().record;
    assert_eq!(row.state, State::Pending);
    assert_eq!(row.next_attempt_at_ms, Some(t0 + 5_000), "retry after 5 s");
    assert_eq!(worker.drain().await, 0, "not due yet");

    clock.advance(Duration::from_millis(4_999));
    assert_eq!(worker.drain().await, 0, "still not due");
    clock.advance(Duration::from_millis(1));
    assert_eq!(worker.drain().await, 1, "second attempt, on time");
    let row = inbox.get(id).await.unwrap().unwrap().record;
    assert_eq!(row.next_attempt_at_ms, Some(t0 + 5_000 + 300_000));

    clock.advance(Duration::from_secs(300));
    assert_eq!(worker.drain().await, 1, "third and last attempt");
    let row = inbox.get(id).await.unwrap().unwrap().record;
    assert_eq!(row.state, State::Dead);
    assert_eq!(
        row.last_error.as_deref(),
        Some("handler failed: crm unreachable")
    );
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(worker.drain().await, 0, "a dead event is not retried");

    broken.store(false, Ordering::SeqCst);
    let replayed = inbox
        .replay(
            &Selection::Matching(Filter::default().state(State::Dead)),
            i64::try_from(clock_ms(&clock)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    assert_eq!(worker.drain().await, 1, "the replayed event runs");
    assert_eq!(
        inbox.get(id).await.unwrap().unwrap().record.state,
        State::Done
    );
    assert_eq!(runs.load(Ordering::SeqCst), 4);

    let seen = seen.lock().unwrap();
    let results: Vec<AttemptResult> = seen.iter().map(|r| r.result).collect();
    assert_eq!(
        results,
        [
            AttemptResult::Retrying { at_ms: t0 + 5_000 },
            AttemptResult::Retrying {
                at_ms: t0 + 305_000
            },
            AttemptResult::Dead,
            AttemptResult::Processed
        ]
    );
    let triggers: Vec<Trigger> = seen.iter().map(|r| r.trigger).collect();
    assert_eq!(
        triggers,
        [
            Trigger::Automatic,
            Trigger::Automatic,
            Trigger::Automatic,
            Trigger::Manual
        ]
    );
    assert_eq!(seen[3].attempt, 4, "replays keep counting attempts");
    assert_eq!(seen[0].to_json()["result"], "retrying");
}

fn clock_ms(clock: &ManualClock) -> u64 {
    use bookhook::endpoint::Clock;
    clock.now_unix_ms()
}

#[tokio::test]
async fn permanent_errors_panics_and_timeouts_are_failed_attempts() {
    let clock = ManualClock::at_unix(NOW_UNIX);
    let endpoint = endpoint(&clock);
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .on("booking.updated", |ctx: Context| async move {
            match ctx.appointment().map(|a| a.id.clone()).as_deref() {
                Some("permanent") => Err(HandlerError::permanent("unknown clinic")),
                Some("panic") => panic!("handler bug"),
                Some("slow") => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok(())
                }
                _ => Ok(()),
            }
        })
        .build()
        .unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let ingest = Ingest::new(endpoint, inbox.clone());
    let (seen, observer) = recorder();
    let worker = Worker::builder(dispatcher, inbox.clone())
        .clock(clock.clone())
        .timeout(Duration::from_millis(100))
        .lease(Duration::from_secs(10))
        .concurrency(3)
        .observer(observer)
        .build()
        .unwrap();
    let permanent = store(&ingest, &booking("permanent", 0)).await;
    let panics = store(&ingest, &booking("panic", 1)).await;
    let slow = store(&ingest, &booking("slow", 2)).await;
    let started = std::time::Instant::now();
    assert_eq!(worker.drain().await, 3);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the slow handler was cut off"
    );

    let state = |id| {
        let inbox = inbox.clone();
        async move { inbox.get(id).await.unwrap().unwrap().record }
    };
    let row = state(permanent).await;
    assert_eq!(row.state, State::Dead, "a permanent error is dead at once");
    assert_eq!(row.attempts, 1);
    let row = state(panics).await;
    assert_eq!(row.state, State::Pending, "a panic is retried");
    assert!(row.last_error.unwrap().contains("handler bug"));
    let row = state(slow).await;
    assert_eq!(row.state, State::Pending, "a timeout is retried");
    assert_eq!(
        row.last_error.as_deref(),
        Some("handler timed out after 100ms")
    );
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn unrouted_events_are_done_and_stale_events_say_so() {
    let clock = ManualClock::at_unix(NOW_UNIX);
    let endpoint = endpoint(&clock);
    let freshness: Arc<Mutex<Vec<Freshness>>> = Arc::default();
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .on_kind(Kind::Updated, {
            let freshness = freshness.clone();
            move |ctx: Context| {
                freshness.lock().unwrap().push(ctx.freshness());
                async { Ok::<_, HandlerError>(()) }
            }
        })
        .build()
        .unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let ingest = Ingest::new(endpoint, inbox.clone());
    let worker = Worker::builder(dispatcher, inbox.clone())
        .clock(clock)
        .build()
        .unwrap();
    // The newer update arrives first, then an older one for the same booking.
    store(&ingest, &booking("b-7", 90)).await;
    store(&ingest, &booking("b-7", 30)).await;
    let payment = r#"{"event":"payment.updated","data":{"id":"p-1"}}"#;
    let unrouted = store(&ingest, payment).await;
    worker.drain().await;
    assert_eq!(
        *freshness.lock().unwrap(),
        [
            Freshness::Latest,
            Freshness::Stale {
                newer_seen_at: 1_774_360_800_000 + 90_000
            }
        ]
    );
    assert_eq!(
        inbox.get(unrouted).await.unwrap().unwrap().record.state,
        State::Done
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_one_appointment_run_in_order_with_eight_workers() {
    const APPOINTMENTS: usize = 6;
    const EVENTS: u32 = 12;
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("s3cr3t")
        .build()
        .unwrap();
    let handled: Arc<Mutex<Vec<(String, u32)>>> = Arc::default();
    let running: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .fallback({
            let (handled, running) = (handled.clone(), running.clone());
            move |ctx: Context| {
                let (handled, running) = (handled.clone(), running.clone());
                async move {
                    let id = ctx.appointment().unwrap().id.clone();
                    assert!(
                        running.lock().unwrap().insert(id.clone()),
                        "two events of {id} ran at once"
                    );
                    let at = ctx.delivery().occurred_at().unwrap().unix_ms();
                    // Vary the handler's time so that a broken order would show.
                    let pause = u64::try_from(at % 7).unwrap();
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    let second = u32::try_from((at / 1000) % 3600).unwrap();
                    handled.lock().unwrap().push((id.clone(), second));
                    running.lock().unwrap().remove(&id);
                    Ok::<_, HandlerError>(())
                }
            }
        })
        .build()
        .unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let worker = Worker::builder(dispatcher, inbox.clone())
        .concurrency(8)
        .poll(Duration::from_millis(20))
        .build()
        .unwrap();
    let ingest = Ingest::new(endpoint, inbox.clone()).wakeup(worker.wakeup());
    let handle = worker.spawn();
    // Interleaved: event 0 of every appointment, then event 1 of every one...
    for second in 0..EVENTS {
        for appointment in 0..APPOINTMENTS {
            store(&ingest, &booking(&format!("a{appointment}"), second)).await;
        }
    }
    let total = APPOINTMENTS * EVENTS as usize;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while handled.lock().unwrap().len() < total {
        assert!(
            std::time::Instant::now() < deadline,
            "events not handled in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report = handle.shutdown().await;
    assert_eq!(report.cut_off, 0);
    let handled = handled.lock().unwrap().clone();
    for appointment in 0..APPOINTMENTS {
        let id = format!("a{appointment}");
        let order: Vec<u32> = handled
            .iter()
            .filter(|(a, _)| *a == id)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(order, (0..EVENTS).collect::<Vec<_>>(), "order of {id}");
    }
    let stats = inbox.stats().await.unwrap();
    assert_eq!(stats.done, total as u64);
}

#[tokio::test]
async fn shutdown_waits_for_running_handlers_then_cuts_them_off() {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("s3cr3t")
        .build()
        .unwrap();
    let started = Arc::new(tokio::sync::Notify::new());
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .fallback({
            let started = started.clone();
            move |ctx: Context| {
                let started = started.clone();
                async move {
                    started.notify_one();
                    if ctx.appointment().unwrap().id == "stuck" {
                        tokio::time::sleep(Duration::from_secs(20)).await;
                    }
                    Ok::<_, HandlerError>(())
                }
            }
        })
        .build()
        .unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let worker = Worker::builder(dispatcher, inbox.clone())
        .shutdown_grace(Duration::from_millis(200))
        .abandon_on_shutdown(true)
        .build()
        .unwrap();
    let ingest = Ingest::new(endpoint, inbox.clone()).wakeup(worker.wakeup());
    let handle = worker.spawn();
    let stuck = store(&ingest, &booking("stuck", 0)).await;
    tokio::time::timeout(Duration::from_secs(5), started.notified())
        .await
        .expect("the handler started");
    let began = std::time::Instant::now();
    let report = handle.shutdown().await;
    assert!(began.elapsed() < Duration::from_secs(5));
    assert_eq!(report.cut_off, 1);
    let row = inbox.get(stuck).await.unwrap().unwrap().record;
    assert_eq!(
        row.state,
        State::Pending,
        "the cut-off event was given back for the next worker"
    );
}

#[tokio::test]
async fn worker_settings_are_checked() {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("s3cr3t")
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder(endpoint).build().unwrap();
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    let build =
        |f: fn(bookhook::inbox::WorkerBuilder<()>) -> bookhook::inbox::WorkerBuilder<()>| {
            f(Worker::builder(dispatcher.clone(), inbox.clone())).build()
        };
    assert!(build(|b| b).is_ok());
    assert!(build(|b| b.concurrency(0)).is_err());
    assert!(
        build(|b| b.timeout(Duration::from_secs(60))).is_err(),
        "lease must outlast the timeout"
    );
    assert!(build(|b| b.schedule(RetrySchedule::default().jitter(2.0))).is_err());
}

#[tokio::test]
async fn done_events_are_removed_after_the_retention_period() {
    let clock = ManualClock::at_unix(NOW_UNIX);
    let endpoint = endpoint(&clock);
    let dispatcher = Dispatcher::builder(endpoint.clone()).build().unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let worker = Worker::builder(dispatcher, inbox.clone())
        .clock(clock.clone())
        .retention(Duration::from_secs(3600))
        .poll(Duration::from_millis(10))
        .build()
        .unwrap();
    let ingest = worker.ingest();
    let done = store(&ingest, &booking("b-1", 0)).await;
    let handle = worker.spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while inbox.get(done).await.unwrap().unwrap().record.state != State::Done {
        assert!(std::time::Instant::now() < deadline, "not handled in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    clock.advance(Duration::from_secs(3599));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        inbox.get(done).await.unwrap().is_some(),
        "kept within retention"
    );
    // The worker looks for old events once a minute.
    clock.advance(Duration::from_secs(60));
    while inbox.get(done).await.unwrap().is_some() {
        assert!(std::time::Instant::now() < deadline, "not removed in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Its key is free again: the same event is a new one now.
    let again = store(&ingest, &booking("b-1", 0)).await;
    assert_ne!(again, done);
    handle.shutdown().await;
}

#[tokio::test]
async fn stored_headers_let_the_worker_parse_as_the_request_was_parsed() {
    // Standard Webhooks take the idempotency key from the `webhook-id` header.
    let endpoint = Endpoint::builder(Provider::Standard)
        .scheme(bookhook::signature::StandardScheme::new())
        .secret("whsec_Y29uZm9ybWFuY2Utc2VjcmV0LWtleQ==")
        .build()
        .unwrap();
    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .fallback({
            let keys = keys.clone();
            move |ctx: Context| {
                keys.lock()
                    .unwrap()
                    .push(ctx.delivery().idempotency_key().to_owned());
                async { Ok::<_, HandlerError>(()) }
            }
        })
        .build()
        .unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let worker = Worker::builder(dispatcher, inbox.clone()).build().unwrap();
    let body = r#"{"type":"invoice.paid","timestamp":"2026-03-24T14:30:00Z","data":{"id":"i-1"}}"#;
    let signed = endpoint.sign(
        body.as_bytes(),
        &bookhook::signature::SignRequest::now().with_id("msg_2a1b"),
    );
    let stored = worker
        .ingest()
        .receive("POST", &signed.headers, None, body.into())
        .await;
    assert_eq!(stored.status(), 200, "{:?}", stored.response());
    assert_eq!(worker.drain().await, 1);
    assert_eq!(*keys.lock().unwrap(), ["msg_2a1b"]);
    let row = inbox.get(stored.id().unwrap()).await.unwrap().unwrap();
    assert_eq!(row.record.key, "msg_2a1b");
    assert_eq!(row.record.state, State::Done);
}
