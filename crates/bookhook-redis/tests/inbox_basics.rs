//! `RedisInbox` against a real Redis server: the life of rows, leases,
//! order per ordering key, replay, purge and retention.

mod support;

use std::time::Duration;

use bookhook::inbox::{
    AttemptOutcome, Enqueued, Failure, Filter, Inbox, InboxError, NewEvent, Page, Selection, State,
    Trigger,
};
use bookhook::{Kind, Provider};
use bookhook_redis::RedisInbox;
use support::unique;

const LEASE: Duration = Duration::from_secs(30);
const T0: i64 = 1_764_547_200_000;

async fn inbox(url: &str) -> RedisInbox {
    RedisInbox::builder()
        .prefix(unique("inbox-test") + ":")
        .allow_without_append_only()
        .connect(url)
        .await
        .expect("connect to redis")
}

fn event(key: &str, ordering: Option<&str>, at: i64) -> NewEvent {
    NewEvent::new(
        "ns",
        key,
        ordering.map(str::to_owned),
        Provider::Calendence,
        "booking.created",
        Kind::Created,
        at,
        Some(at),
        format!("{{\"key\":\"{key}\"}}").into(),
        vec![("content-type".into(), "application/json".into())],
    )
}

#[tokio::test]
async fn enqueue_stores_once_and_claim_leases_oldest_first() {
    let Some(redis) = support::redis() else {
        return;
    };
    let inbox = inbox(&redis.url).await;
    let a = inbox.enqueue(event("a", None, T0)).await.unwrap();
    let b = inbox.enqueue(event("b", None, T0)).await.unwrap();
    assert!(matches!(a, Enqueued::Queued(_)));
    assert_eq!(
        inbox.enqueue(event("a", None, T0)).await.unwrap(),
        Enqueued::Duplicate(a.id())
    );
    let claimed = inbox.claim("ns", T0, LEASE, 10).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|c| c.record.id).collect();
    assert_eq!(ids, vec![a.id(), b.id()]);
    let first = &claimed[0];
    assert_eq!(first.record.state, State::Processing);
    assert_eq!(first.record.attempts, 1);
    assert_eq!(first.body, "{\"key\":\"a\"}");
    assert_eq!(first.headers[0].0, "content-type");
    assert_eq!(first.lease.until_ms, T0 + 30_000);
    assert!(inbox.claim("ns", T0, LEASE, 10).await.unwrap().is_empty());

    inbox.complete(&first.lease, T0 + 5).await.unwrap();
    let detail = inbox.get(a.id()).await.unwrap().unwrap();
    assert_eq!(detail.record.state, State::Done);
    assert_eq!(detail.attempts.len(), 1);
    assert_eq!(detail.attempts[0].outcome, AttemptOutcome::Processed);
    assert_eq!(detail.attempts[0].ended_at_ms, Some(T0 + 5));
    assert!(matches!(
        inbox.complete(&first.lease, T0 + 6).await,
        Err(InboxError::LeaseLost { .. })
    ));
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.processing, stats.done), (0, 1, 1));
}

#[tokio::test]
async fn expired_lease_is_taken_over_and_fences_the_old_worker() {
    let Some(redis) = support::redis() else {
        return;
    };
    let inbox = inbox(&redis.url).await;
    let id = inbox.enqueue(event("a", None, T0)).await.unwrap().id();
    let old = inbox.claim("ns", T0, LEASE, 1).await.unwrap().remove(0);
    assert!(
        inbox
            .claim("ns", T0 + 30_000, LEASE, 1)
            .await
            .unwrap()
            .is_empty()
    );
    let new = inbox
        .claim("ns", T0 + 30_001, LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(new.record.id, id);
    assert_eq!(new.record.attempts, 2);
    assert!(matches!(
        inbox.complete(&old.lease, T0 + 30_002).await,
        Err(InboxError::LeaseLost { .. })
    ));
    inbox.complete(&new.lease, T0 + 30_003).await.unwrap();
    let detail = inbox.get(id).await.unwrap().unwrap();
    let outcomes: Vec<_> = detail.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![AttemptOutcome::Expired, AttemptOutcome::Processed]
    );
}

#[tokio::test]
async fn retry_waits_for_its_time_then_dead_frees_the_ordering_key() {
    let Some(redis) = support::redis() else {
        return;
    };
    let inbox = inbox(&redis.url).await;
    let first = inbox
        .enqueue(event("a1", Some("appt"), T0))
        .await
        .unwrap()
        .id();
    let second = inbox
        .enqueue(event("a2", Some("appt"), T0 + 1))
        .await
        .unwrap()
        .id();
    let other = inbox
        .enqueue(event("b", Some("other"), T0 + 2))
        .await
        .unwrap()
        .id();
    let claimed = inbox.claim("ns", T0 + 10, LEASE, 10).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|c| c.record.id).collect();
    assert_eq!(ids, vec![first, other]);
    let retry = Failure::Retry {
        at_ms: T0 + 5_000,
        error: "boom | 1".into(),
    };
    inbox.fail(&claimed[0].lease, T0 + 20, retry).await.unwrap();
    // Not due yet, and the younger row of its key stays behind it.
    assert!(
        inbox
            .claim("ns", T0 + 4_999, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = inbox.claim("ns", T0 + 5_000, LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].record.id, first);
    let dead = Failure::Dead {
        error: "permanent".into(),
    };
    inbox.fail(&again[0].lease, T0 + 5_001, dead).await.unwrap();
    let next = inbox.claim("ns", T0 + 5_002, LEASE, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].record.id, second);
    let detail = inbox.get(first).await.unwrap().unwrap();
    assert_eq!(detail.record.state, State::Dead);
    assert_eq!(detail.record.last_error.as_deref(), Some("permanent"));
    assert_eq!(detail.attempts[0].error.as_deref(), Some("boom | 1"));
}

#[tokio::test]
async fn replay_list_count_purge_and_expire() {
    let Some(redis) = support::redis() else {
        return;
    };
    let inbox = inbox(&redis.url).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            inbox
                .enqueue(event(&format!("k{n}"), Some("appt"), T0 + n))
                .await
                .unwrap()
                .id(),
        );
    }
    for (n, id) in (0i64..).zip(&ids) {
        let claimed = inbox.claim("ns", T0 + 100, LEASE, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].record.id, *id);
        // Each older row was done with an earlier `occurred_at`: never stale.
        assert_eq!(claimed[0].newer_done_at_ms, None);
        inbox
            .complete(&claimed[0].lease, T0 + 200 + n)
            .await
            .unwrap();
    }
    let page = inbox
        .list(&Filter::default(), Page::first(2))
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[4], ids[3]]
    );
    let page = inbox
        .list(&Filter::default(), Page::after(ids[3], 10))
        .await
        .unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(
        inbox
            .count(&Filter::default().state(State::Done))
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        inbox
            .count(&Filter::default().since_ms(T0 + 3))
            .await
            .unwrap(),
        2
    );

    // Replaying the oldest row: it runs again, manually, and is stale.
    assert_eq!(
        inbox
            .replay(&Selection::Ids(vec![ids[0]]), T0 + 300)
            .await
            .unwrap(),
        1
    );
    let claimed = inbox.claim("ns", T0 + 300, LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].trigger, Trigger::Manual);
    assert_eq!(claimed[0].newer_done_at_ms, Some(T0 + 4));
    inbox.complete(&claimed[0].lease, T0 + 301).await.unwrap();

    assert!(inbox.mark_dead(ids[1], T0 + 400, "bad data").await.unwrap());
    assert_eq!(
        inbox
            .purge(&Filter::default().state(State::Dead))
            .await
            .unwrap(),
        1
    );
    assert!(inbox.get(ids[1]).await.unwrap().is_none());
    // Its key is free again.
    assert!(matches!(
        inbox.enqueue(event("k1", None, T0)).await.unwrap(),
        Enqueued::Queued(_)
    ));
    // Done at T0+202..=T0+204 and T0+301: a horizon of T0+300 takes three.
    assert_eq!(
        inbox
            .expire(T0 + 1_300, Duration::from_secs(1))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        inbox
            .count(&Filter::default().state(State::Done))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn expire_forgets_consumers_that_are_gone() {
    let Some(redis) = support::redis() else {
        return;
    };
    let prefix = unique("consumers") + ":";
    let gone = RedisInbox::builder()
        .prefix(&prefix)
        .allow_without_append_only()
        .connect(&redis.url)
        .await
        .unwrap();
    let id = gone.enqueue(event("a", None, T0)).await.unwrap().id();
    let claimed = gone.claim("ns", T0, LEASE, 1).await.unwrap().remove(0);
    gone.complete(&claimed.lease, T0 + 1).await.unwrap();
    let stays = RedisInbox::builder()
        .prefix(&prefix)
        .allow_without_append_only()
        .forget_consumers_after(Duration::from_millis(100))
        .connect(&redis.url)
        .await
        .unwrap();
    let handle_one = |key: &'static str| {
        let stays = stays.clone();
        async move {
            stays.enqueue(event(key, None, T0)).await.unwrap();
            let claimed = stays.claim("ns", T0, LEASE, 1).await.unwrap().remove(0);
            stays.complete(&claimed.lease, T0 + 1).await.unwrap();
        }
    };
    handle_one("b").await;

    let consumers = |url: String, prefix: String| async move {
        let client = redis::Client::open(url).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let reply: Vec<redis::Value> = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(format!("{prefix}s:ns"))
            .arg("bookhook")
            .query_async(&mut connection)
            .await
            .unwrap();
        reply.len()
    };
    assert_eq!(consumers(redis.url.clone(), prefix.clone()).await, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // `stays` reads again just before expiring; `gone` has been idle.
    handle_one("c").await;
    assert_eq!(
        stays.expire(T0, Duration::from_secs(3600)).await.unwrap(),
        0
    );
    assert_eq!(consumers(redis.url.clone(), prefix.clone()).await, 1);
    assert!(gone.get(id).await.unwrap().is_some());
}
