//! The [`Inbox`] contract, as async checks that every backend must pass.
//!
//! Each check takes an empty inbox, drives it with explicit times (every
//! method takes `now_ms`, so nothing sleeps) and panics with a message naming
//! the broken rule. [`run_all`] runs every check, each on a fresh inbox from
//! the factory it is given:
//!
//! ```
//! use bookhook::inbox::MemoryInbox;
//! use bookhook::testing::inbox;
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! runtime.block_on(inbox::run_all(|| async { MemoryInbox::new() }));
//! ```
//!
//! A backend whose factory cannot give an empty store each time (one server
//! shared by several runs) can call the checks one by one instead; only
//! [`stats_count_each_state`] and [`expire_removes_done_rows_after_retention`]
//! look beyond the namespace a check writes to.
//!
//! [`DownInbox`] is an inbox that is always unavailable, for testing what a
//! receiver answers when its inbox cannot be written.
//!
//! [`InboxConformance`] is the adapters' conformance table in inbox mode:
//! the same requests as [`Conformance`], mounted on [`Ingest`]s, so that every
//! web adapter's inbox mode answers with the same statuses and bodies.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;

use crate::error::HandlerError;
use crate::idempotency::BoxFuture;
use crate::inbox::{
    AttemptOutcome, Claimed, Enqueued, EventDetail, EventRecord, Failure, Filter, Inbox,
    InboxError, InboxId, Ingest, Ingested, Lease, MemoryInbox, NewEvent, Page, RetrySchedule,
    Selection, State, Stats, Trigger,
};
use crate::kind::Kind;
use crate::outcome::Outcome;
use crate::provider::Provider;

use super::conformance::{Answered, BROKEN_STORE_PATH, Case, Conformance, Stage};

/// The time the checks start at: 2026-03-24T14:30:00Z, in ms.
pub const T0: i64 = 1_774_362_600_000;

/// The lease the checks give claims.
pub const LEASE: Duration = Duration::from_secs(30);

const LEASE_MS: i64 = 30_000;

/// Concurrent claimers in [`concurrent_claimers_never_share_a_row`].
const CLAIMERS: usize = 8;

/// Runs every check in this module, each on a fresh inbox made by `make`.
pub async fn run_all<F, Fut, I>(mut make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = I>,
    I: Inbox,
{
    enqueue_stores_a_pending_row(&make().await).await;
    enqueue_deduplicates_per_namespace_and_key(&make().await).await;
    finished_rows_still_deduplicate(&make().await).await;
    claim_takes_due_rows_oldest_first(&make().await).await;
    claim_stays_within_its_namespace(&make().await).await;
    complete_marks_done(&make().await).await;
    stale_lease_is_fenced(&make().await).await;
    late_lease_holds_until_reclaimed(&make().await).await;
    retry_reschedules_and_records_the_error(&make().await).await;
    schedule_retries_until_dead(&make().await).await;
    dead_rows_are_not_claimed(&make().await).await;
    ordering_key_runs_one_at_a_time_oldest_first(&make().await).await;
    expired_older_row_keeps_its_turn(&make().await).await;
    newer_done_event_makes_a_claim_stale(&make().await).await;
    replay_by_ids_puts_rows_back_as_manual(&make().await).await;
    replay_by_filter_takes_matching_rows(&make().await).await;
    mark_dead_takes_pending_and_done_rows(&make().await).await;
    purge_removes_rows_and_frees_keys(&make().await).await;
    expire_removes_done_rows_after_retention(&make().await).await;
    list_pages_newest_first_and_agrees_with_filter(&make().await).await;
    stats_count_each_state(&make().await).await;
    received_histogram_counts_each_window(&make().await).await;
    abandon_puts_a_row_back_at_once(&make().await).await;
    crashed_worker_lease_is_reclaimed(&make().await).await;
    concurrent_claimers_never_share_a_row(&make().await).await;
}

/// An event of `namespace` with idempotency key `key`, received at `T0`.
pub fn sample_event(namespace: &str, key: &str, ordering_key: Option<&str>) -> NewEvent {
    NewEvent::new(
        namespace,
        key,
        ordering_key.map(str::to_owned),
        Provider::Calendence,
        "booking.created",
        Kind::Created,
        T0,
        Some(T0 - 1_000),
        Bytes::from(format!(r#"{{"event":"booking.created","key":"{key}"}}"#)),
        vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-calendence-signature".to_owned(), format!("sha256={key}")),
        ],
    )
}

fn ok<T>(result: Result<T, InboxError>, what: &str) -> T {
    result.unwrap_or_else(|err| panic!("{what}: unexpected error: {err}"))
}

async fn queue<I: Inbox>(inbox: &I, event: NewEvent) -> InboxId {
    let key = event.key.clone();
    match ok(inbox.enqueue(event).await, "enqueue") {
        Enqueued::Queued(id) => id,
        Enqueued::Duplicate(id) => panic!("enqueue of new key {key}: Duplicate({id}), not Queued"),
    }
}

async fn detail<I: Inbox>(inbox: &I, id: InboxId) -> EventDetail {
    ok(inbox.get(id).await, "get").unwrap_or_else(|| panic!("row {id} must exist"))
}

async fn claim<I: Inbox>(inbox: &I, namespace: &str, now_ms: i64, max: usize) -> Vec<Claimed> {
    let claimed = ok(inbox.claim(namespace, now_ms, LEASE, max).await, "claim");
    assert!(
        claimed.len() <= max,
        "claim(max = {max}) returned {} rows",
        claimed.len()
    );
    claimed
}

async fn claim_one<I: Inbox>(inbox: &I, namespace: &str, now_ms: i64) -> Claimed {
    let mut claimed = claim(inbox, namespace, now_ms, 1).await;
    assert_eq!(claimed.len(), 1, "one row must be claimable at {now_ms}");
    claimed.remove(0)
}

fn ids(claimed: &[Claimed]) -> Vec<InboxId> {
    claimed.iter().map(|c| c.record.id).collect()
}

fn assert_lease_lost(result: Result<(), InboxError>, id: InboxId, what: &str) {
    match result {
        Err(InboxError::LeaseLost { id: lost }) => {
            assert_eq!(lost, id, "{what}: LeaseLost names the row");
        }
        other => panic!("{what}: must be LeaseLost, got {other:?}"),
    }
}

/// A new event is a pending row, due at once, stored with its body and headers.
pub async fn enqueue_stores_a_pending_row<I: Inbox>(inbox: &I) {
    let event = sample_event("stores", "evt-1", Some("b-1"));
    let id = queue(inbox, event.clone()).await;
    let stored = detail(inbox, id).await;
    let record = &stored.record;
    assert_eq!(record.id, id);
    assert_eq!(record.namespace, "stores");
    assert_eq!(record.key, "evt-1");
    assert_eq!(record.ordering_key.as_deref(), Some("b-1"));
    assert_eq!(record.provider, Provider::Calendence);
    assert_eq!(record.event_type, "booking.created");
    assert_eq!(record.kind, Kind::Created);
    assert_eq!(record.received_at_ms, T0);
    assert_eq!(record.occurred_at_ms, Some(T0 - 1_000));
    assert_eq!(record.state, State::Pending, "a new row is pending");
    assert_eq!(record.attempts, 0, "a new row has no attempts");
    assert_eq!(
        record.next_attempt_at_ms,
        Some(T0),
        "a new row is due when received"
    );
    assert_eq!(record.lease_until_ms, None);
    assert_eq!(record.last_error, None);
    assert_eq!(stored.body, event.body, "the body is stored byte for byte");
    assert_eq!(stored.headers, event.headers, "headers are stored in order");
    assert!(stored.attempts.is_empty());
    assert!(
        ok(inbox.get(InboxId::new(id.get() + 1_000)).await, "get").is_none(),
        "an unknown id is None"
    );
}

/// The unique key is namespace plus idempotency key; ids grow.
pub async fn enqueue_deduplicates_per_namespace_and_key<I: Inbox>(inbox: &I) {
    let first = queue(inbox, sample_event("dedup", "evt-1", None)).await;
    let mut again = sample_event("dedup", "evt-1", None);
    again.body = Bytes::from_static(b"{\"another\":\"body\"}");
    assert_eq!(
        ok(inbox.enqueue(again).await, "enqueue"),
        Enqueued::Duplicate(first),
        "the same namespace and key is a duplicate of the first row"
    );
    assert_eq!(
        detail(inbox, first).await.body,
        sample_event("dedup", "evt-1", None).body,
        "a duplicate writes nothing"
    );
    let other_namespace = queue(inbox, sample_event("dedup-other", "evt-1", None)).await;
    let other_key = queue(inbox, sample_event("dedup", "evt-2", None)).await;
    assert!(
        first < other_namespace && other_namespace < other_key,
        "ids grow in the order events are received"
    );
    assert_eq!(
        ok(inbox.count(&Filter::default()).await, "count"),
        3,
        "three rows"
    );
}

/// Done and dead rows keep their key until they are removed.
pub async fn finished_rows_still_deduplicate<I: Inbox>(inbox: &I) {
    let done = queue(inbox, sample_event("finished", "done", None)).await;
    let dead = queue(inbox, sample_event("finished", "dead", None)).await;
    for claimed in claim(inbox, "finished", T0, 10).await {
        if claimed.record.id == done {
            ok(inbox.complete(&claimed.lease, T0 + 1).await, "complete");
        } else {
            let failure = Failure::Dead {
                error: "boom".into(),
            };
            ok(inbox.fail(&claimed.lease, T0 + 1, failure).await, "fail");
        }
    }
    for (key, id) in [("done", done), ("dead", dead)] {
        assert_eq!(
            ok(
                inbox.enqueue(sample_event("finished", key, None)).await,
                "enqueue"
            ),
            Enqueued::Duplicate(id),
            "a {key} row still deduplicates"
        );
    }
}

/// Claim takes due rows, oldest first, up to `max`, and leases each.
pub async fn claim_takes_due_rows_oldest_first<I: Inbox>(inbox: &I) {
    let a = queue(inbox, sample_event("order", "a", None)).await;
    let b = queue(inbox, sample_event("order", "b", None)).await;
    let c = queue(inbox, sample_event("order", "c", None)).await;
    assert!(
        claim(inbox, "order", T0, 0).await.is_empty(),
        "max 0 claims nothing"
    );
    assert!(
        claim(inbox, "order", T0 - 1, 10).await.is_empty(),
        "rows are not due before they are received"
    );
    let now = T0 + 5;
    let first = claim(inbox, "order", now, 2).await;
    assert_eq!(ids(&first), vec![a, b], "oldest first, at most max");
    for claimed in &first {
        assert_eq!(claimed.record.state, State::Processing);
        assert_eq!(claimed.record.attempts, 1, "the attempt is counted");
        assert_eq!(claimed.record.lease_until_ms, Some(now + LEASE_MS));
        assert_eq!(claimed.record.next_attempt_at_ms, None);
        assert_eq!(claimed.lease.id, claimed.record.id);
        assert_eq!(claimed.lease.attempt, 1);
        assert_eq!(claimed.lease.until_ms, now + LEASE_MS);
        assert_eq!(claimed.trigger, Trigger::Automatic);
        let stored = detail(inbox, claimed.record.id).await;
        assert_eq!(stored.record.state, State::Processing);
        assert_eq!(stored.attempts.len(), 1, "a running attempt is recorded");
        let attempt = &stored.attempts[0];
        assert_eq!(attempt.number, 1);
        assert_eq!(attempt.started_at_ms, now);
        assert_eq!(attempt.ended_at_ms, None);
        assert_eq!(attempt.outcome, AttemptOutcome::Running);
        assert_eq!(attempt.trigger, Trigger::Automatic);
        assert_eq!(claimed.body, stored.body, "a claim carries the body");
        assert_eq!(
            claimed.headers, stored.headers,
            "a claim carries the headers"
        );
    }
    assert_ne!(
        first[0].lease.token, first[1].lease.token,
        "each lease has its own token"
    );
    assert_eq!(ids(&claim(inbox, "order", now, 10).await), vec![c]);
    assert!(
        claim(inbox, "order", now, 10).await.is_empty(),
        "rows under a live lease are not claimed again"
    );
}

/// Claim only takes rows of the namespace asked for.
pub async fn claim_stays_within_its_namespace<I: Inbox>(inbox: &I) {
    let mine = queue(inbox, sample_event("ns-mine", "k", Some("same"))).await;
    queue(inbox, sample_event("ns-theirs", "k", Some("same"))).await;
    assert_eq!(ids(&claim(inbox, "ns-mine", T0, 10).await), vec![mine]);
    assert!(claim(inbox, "ns-none", T0, 10).await.is_empty());
}

/// Complete marks the row done and its attempt processed.
pub async fn complete_marks_done<I: Inbox>(inbox: &I) {
    let id = queue(inbox, sample_event("complete", "k", None)).await;
    let claimed = claim_one(inbox, "complete", T0).await;
    ok(inbox.complete(&claimed.lease, T0 + 700).await, "complete");
    let stored = detail(inbox, id).await;
    assert_eq!(stored.record.state, State::Done);
    assert_eq!(stored.record.lease_until_ms, None);
    assert_eq!(stored.record.next_attempt_at_ms, None);
    assert_eq!(stored.attempts.len(), 1);
    assert_eq!(stored.attempts[0].outcome, AttemptOutcome::Processed);
    assert_eq!(stored.attempts[0].ended_at_ms, Some(T0 + 700));
    assert!(
        claim(inbox, "complete", T0 + 10 * LEASE_MS, 10)
            .await
            .is_empty(),
        "a done row is never claimed"
    );
    assert_lease_lost(
        inbox.complete(&claimed.lease, T0 + 800).await,
        id,
        "completing twice",
    );
}

/// Once a lease expired and the row was claimed again, the old lease can
/// neither complete, fail nor abandon it.
pub async fn stale_lease_is_fenced<I: Inbox>(inbox: &I) {
    let id = queue(inbox, sample_event("fence", "k", None)).await;
    let old = claim_one(inbox, "fence", T0).await;
    let later = T0 + LEASE_MS + 1;
    let new = claim_one(inbox, "fence", later).await;
    assert_eq!(new.record.id, id, "the expired row is claimed again");
    assert_eq!(new.lease.attempt, 2, "the new claim is attempt 2");
    assert_ne!(old.lease.token, new.lease.token);
    assert_lease_lost(
        inbox.complete(&old.lease, later + 1).await,
        id,
        "complete with a stale lease",
    );
    let failure = Failure::Dead {
        error: "stale".into(),
    };
    assert_lease_lost(
        inbox.fail(&old.lease, later + 1, failure).await,
        id,
        "fail with a stale lease",
    );
    assert_lease_lost(
        inbox.abandon(&old.lease, later + 1).await,
        id,
        "abandon with a stale lease",
    );
    let stored = detail(inbox, id).await;
    assert_eq!(
        stored.record.state,
        State::Processing,
        "the stale lease changed nothing"
    );
    assert_eq!(stored.record.lease_until_ms, Some(new.lease.until_ms));
    ok(inbox.complete(&new.lease, later + 2).await, "complete");
    assert_eq!(detail(inbox, id).await.record.state, State::Done);
}

/// A lease past its `until_ms` still holds while no one claimed the row again.
pub async fn late_lease_holds_until_reclaimed<I: Inbox>(inbox: &I) {
    let id = queue(inbox, sample_event("late", "k", None)).await;
    let claimed = claim_one(inbox, "late", T0).await;
    ok(
        inbox.complete(&claimed.lease, T0 + 3 * LEASE_MS).await,
        "complete after the lease ran out, row not reclaimed",
    );
    assert_eq!(detail(inbox, id).await.record.state, State::Done);
}

/// A retry moves the row back to pending at its time, with its error.
pub async fn retry_reschedules_and_records_the_error<I: Inbox>(inbox: &I) {
    let id = queue(inbox, sample_event("retry", "k", None)).await;
    let claimed = claim_one(inbox, "retry", T0).await;
    let at = T0 + 60_000;
    let failure = Failure::Retry {
        at_ms: at,
        error: "crm unreachable".into(),
    };
    ok(inbox.fail(&claimed.lease, T0 + 10, failure).await, "fail");
    let stored = detail(inbox, id).await;
    assert_eq!(stored.record.state, State::Pending);
    assert_eq!(stored.record.next_attempt_at_ms, Some(at));
    assert_eq!(stored.record.lease_until_ms, None);
    assert_eq!(stored.record.last_error.as_deref(), Some("crm unreachable"));
    let attempt = &stored.attempts[0];
    assert_eq!(attempt.outcome, AttemptOutcome::Retrying);
    assert_eq!(attempt.error.as_deref(), Some("crm unreachable"));
    assert_eq!(attempt.ended_at_ms, Some(T0 + 10));
    assert_lease_lost(
        inbox.complete(&claimed.lease, T0 + 11).await,
        id,
        "complete after fail",
    );
    assert!(
        claim(inbox, "retry", at - 1, 10).await.is_empty(),
        "not due before its retry time"
    );
    let again = claim_one(inbox, "retry", at).await;
    assert_eq!(again.record.attempts, 2);
    assert_eq!(again.lease.attempt, 2);
    assert_eq!(again.trigger, Trigger::Automatic);
    assert_eq!(detail(inbox, id).await.attempts.len(), 2);
}

/// Failures decided by a [`RetrySchedule`] run the row on the schedule until it is dead.
pub async fn schedule_retries_until_dead<I: Inbox>(inbox: &I) {
    let schedule = RetrySchedule::new([Duration::from_secs(5), Duration::from_secs(300)])
        .jitter(0.0)
        .max_attempts(4);
    let delays_ms = [5_000, 300_000, 300_000];
    let id = queue(inbox, sample_event("schedule", "k", None)).await;
    let mut now = T0;
    for attempt in 1..=4_u32 {
        let claimed = claim_one(inbox, "schedule", now).await;
        assert_eq!(claimed.lease.attempt, attempt);
        let error = HandlerError::new(format!("failure {attempt}"));
        let failure = schedule.failure(attempt, now + 1, &error);
        ok(inbox.fail(&claimed.lease, now + 1, failure).await, "fail");
        let stored = detail(inbox, id).await;
        if attempt < 4 {
            let due = now + 1 + delays_ms[attempt as usize - 1];
            assert_eq!(stored.record.state, State::Pending);
            assert_eq!(stored.record.next_attempt_at_ms, Some(due));
            assert!(
                claim(inbox, "schedule", due - 1, 10).await.is_empty(),
                "attempt {} is not due early",
                attempt + 1
            );
            now = due;
        } else {
            assert_eq!(stored.record.state, State::Dead, "dead after 4 attempts");
            assert_eq!(
                stored.record.last_error.as_deref(),
                Some("handler failed: failure 4")
            );
            let outcomes: Vec<AttemptOutcome> = stored.attempts.iter().map(|a| a.outcome).collect();
            assert_eq!(
                outcomes,
                [
                    AttemptOutcome::Retrying,
                    AttemptOutcome::Retrying,
                    AttemptOutcome::Retrying,
                    AttemptOutcome::Dead
                ]
            );
        }
    }
    assert!(
        claim(inbox, "schedule", now + 86_400_000, 10)
            .await
            .is_empty()
    );
}

/// A dead row is never claimed, and does not hold up its ordering key.
pub async fn dead_rows_are_not_claimed<I: Inbox>(inbox: &I) {
    let first = queue(inbox, sample_event("dead", "1", Some("appt"))).await;
    let second = queue(inbox, sample_event("dead", "2", Some("appt"))).await;
    let claimed = claim_one(inbox, "dead", T0).await;
    assert_eq!(claimed.record.id, first);
    let failure = Failure::Dead {
        error: "permanent".into(),
    };
    ok(inbox.fail(&claimed.lease, T0 + 1, failure).await, "fail");
    let stored = detail(inbox, first).await;
    assert_eq!(stored.record.state, State::Dead);
    assert_eq!(stored.record.last_error.as_deref(), Some("permanent"));
    assert_eq!(stored.attempts[0].outcome, AttemptOutcome::Dead);
    assert_eq!(
        ids(&claim(inbox, "dead", T0 + 2, 10).await),
        vec![second],
        "the dead row frees its ordering key"
    );
}

/// Rows of one ordering key run one at a time, oldest first; other keys and
/// rows without a key run alongside.
pub async fn ordering_key_runs_one_at_a_time_oldest_first<I: Inbox>(inbox: &I) {
    let a1 = queue(inbox, sample_event("ordering", "a1", Some("a"))).await;
    let b1 = queue(inbox, sample_event("ordering", "b1", Some("b"))).await;
    let a2 = queue(inbox, sample_event("ordering", "a2", Some("a"))).await;
    let free = queue(inbox, sample_event("ordering", "free", None)).await;
    let b2 = queue(inbox, sample_event("ordering", "b2", Some("b"))).await;
    let first = claim(inbox, "ordering", T0, 10).await;
    assert_eq!(
        ids(&first),
        vec![a1, b1, free],
        "one row per ordering key, and rows without one"
    );
    assert!(
        claim(inbox, "ordering", T0 + 1, 10).await.is_empty(),
        "processing rows hold their keys"
    );
    let a1_lease = first[0].lease;
    let b1_lease = first[1].lease;
    ok(inbox.complete(&first[2].lease, T0 + 1).await, "complete");
    // a1 fails and will be retried later: a2 must still wait for it.
    let retry = Failure::Retry {
        at_ms: T0 + 100_000,
        error: "later".into(),
    };
    ok(inbox.fail(&a1_lease, T0 + 2, retry).await, "fail");
    assert!(
        claim(inbox, "ordering", T0 + 3, 10).await.is_empty(),
        "an older pending row, even not yet due, holds its key"
    );
    ok(inbox.complete(&b1_lease, T0 + 4).await, "complete");
    let b2_claim = claim(inbox, "ordering", T0 + 5, 10).await;
    assert_eq!(ids(&b2_claim), vec![b2]);
    ok(inbox.complete(&b2_claim[0].lease, T0 + 6).await, "complete");
    let a1_again = claim_one(inbox, "ordering", T0 + 100_000).await;
    assert_eq!(a1_again.record.id, a1, "the retried row goes before a2");
    ok(
        inbox.complete(&a1_again.lease, T0 + 100_001).await,
        "complete",
    );
    assert_eq!(
        ids(&claim(inbox, "ordering", T0 + 100_002, 10).await),
        vec![a2]
    );
}

/// When an older row's lease expires, it is the one claimed next, not the
/// newer row of its key.
pub async fn expired_older_row_keeps_its_turn<I: Inbox>(inbox: &I) {
    let older = queue(inbox, sample_event("turn", "1", Some("k"))).await;
    queue(inbox, sample_event("turn", "2", Some("k"))).await;
    assert_eq!(ids(&claim(inbox, "turn", T0, 10).await), vec![older]);
    let later = T0 + LEASE_MS + 1;
    assert_eq!(
        ids(&claim(inbox, "turn", later, 10).await),
        vec![older],
        "the expired older row runs again before the newer one"
    );
}

/// A claim reports the newest `occurred_at` of done rows of its key when it
/// is later than its own event's.
pub async fn newer_done_event_makes_a_claim_stale<I: Inbox>(inbox: &I) {
    let mut newer = sample_event("fresh", "newer", Some("appt"));
    newer.occurred_at_ms = Some(T0 + 5_000);
    let mut older = sample_event("fresh", "older", Some("appt"));
    older.occurred_at_ms = Some(T0 - 5_000);
    let mut newest = sample_event("fresh", "newest", Some("appt"));
    newest.occurred_at_ms = Some(T0 + 9_000);
    queue(inbox, newer).await;
    queue(inbox, older).await;
    queue(inbox, newest).await;
    let first = claim_one(inbox, "fresh", T0).await;
    assert_eq!(first.newer_done_at_ms, None, "nothing done yet");
    ok(inbox.complete(&first.lease, T0 + 1).await, "complete");
    let second = claim_one(inbox, "fresh", T0 + 2).await;
    assert_eq!(
        second.newer_done_at_ms,
        Some(T0 + 5_000),
        "a newer event of the appointment was handled"
    );
    ok(inbox.complete(&second.lease, T0 + 3).await, "complete");
    let third = claim_one(inbox, "fresh", T0 + 4).await;
    assert_eq!(
        third.newer_done_at_ms, None,
        "the newest event is not stale"
    );
}

/// Replay by ids puts done, dead and pending rows back to pending now, with
/// a manual next attempt; it leaves processing rows and unknown ids alone.
pub async fn replay_by_ids_puts_rows_back_as_manual<I: Inbox>(inbox: &I) {
    let done = queue(inbox, sample_event("replay", "done", None)).await;
    let dead = queue(inbox, sample_event("replay", "dead", None)).await;
    let busy = queue(inbox, sample_event("replay", "busy", None)).await;
    let claimed = claim(inbox, "replay", T0, 10).await;
    ok(inbox.complete(&claimed[0].lease, T0 + 1).await, "complete");
    let failure = Failure::Dead {
        error: "gave up".into(),
    };
    ok(inbox.fail(&claimed[1].lease, T0 + 1, failure).await, "fail");
    // Within the busy row's lease, which stays live throughout.
    let now = T0 + 10_000;
    let selection = Selection::Ids(vec![done, dead, busy, InboxId::new(busy.get() + 1_000)]);
    assert_eq!(
        ok(inbox.replay(&selection, now).await, "replay"),
        2,
        "done and dead rows are replayed; processing and unknown ones are not"
    );
    assert_eq!(detail(inbox, busy).await.record.state, State::Processing);
    for id in [done, dead] {
        let record = detail(inbox, id).await.record;
        assert_eq!(record.state, State::Pending);
        assert_eq!(record.next_attempt_at_ms, Some(now), "due at once");
    }
    let again = claim(inbox, "replay", now, 10).await;
    assert_eq!(ids(&again), vec![done, dead]);
    for claimed in &again {
        assert_eq!(claimed.trigger, Trigger::Manual, "a replay is manual");
        assert_eq!(claimed.lease.attempt, 2, "replays keep counting attempts");
        let stored = detail(inbox, claimed.record.id).await;
        assert_eq!(stored.attempts[1].trigger, Trigger::Manual);
        ok(inbox.complete(&claimed.lease, now + 1).await, "complete");
    }
    assert_eq!(
        ok(
            inbox.enqueue(sample_event("replay", "done", None)).await,
            "enqueue"
        ),
        Enqueued::Duplicate(done),
        "a replayed row keeps its key"
    );
    // The next automatic attempt after a manual one is automatic again.
    ok(
        inbox.replay(&Selection::Ids(vec![done]), now + 2).await,
        "replay",
    );
    let manual = claim_one(inbox, "replay", now + 2).await;
    let retry = Failure::Retry {
        at_ms: now + 3,
        error: "again".into(),
    };
    ok(inbox.fail(&manual.lease, now + 2, retry).await, "fail");
    assert_eq!(
        claim_one(inbox, "replay", now + 3).await.trigger,
        Trigger::Automatic
    );
}

/// Replay by filter takes every matching row that is not processing.
pub async fn replay_by_filter_takes_matching_rows<I: Inbox>(inbox: &I) {
    let mut ids_dead = Vec::new();
    for key in ["a", "b", "c"] {
        ids_dead.push(queue(inbox, sample_event("replay-filter", key, None)).await);
    }
    let done = queue(inbox, sample_event("replay-filter", "d", None)).await;
    for claimed in claim(inbox, "replay-filter", T0, 10).await {
        if claimed.record.id == done {
            ok(inbox.complete(&claimed.lease, T0 + 1).await, "complete");
        } else {
            let failure = Failure::Dead {
                error: "boom".into(),
            };
            ok(inbox.fail(&claimed.lease, T0 + 1, failure).await, "fail");
        }
    }
    let dead_only = Selection::Matching(
        Filter::default()
            .namespace("replay-filter")
            .state(State::Dead),
    );
    assert_eq!(ok(inbox.replay(&dead_only, T0 + 10).await, "replay"), 3);
    for id in &ids_dead {
        assert_eq!(detail(inbox, *id).await.record.state, State::Pending);
    }
    assert_eq!(
        detail(inbox, done).await.record.state,
        State::Done,
        "rows outside the filter are left alone"
    );
    assert_eq!(ok(inbox.replay(&dead_only, T0 + 11).await, "replay"), 0);
}

/// mark_dead takes pending and done rows, leaves processing ones, and knows
/// no unknown ids.
pub async fn mark_dead_takes_pending_and_done_rows<I: Inbox>(inbox: &I) {
    let busy = queue(inbox, sample_event("mark", "busy", None)).await;
    let done = queue(inbox, sample_event("mark", "done", None)).await;
    let claimed = claim(inbox, "mark", T0, 2).await;
    ok(inbox.complete(&claimed[1].lease, T0 + 1).await, "complete");
    let pending = queue(inbox, sample_event("mark", "pending", None)).await;
    assert!(ok(
        inbox.mark_dead(pending, T0 + 2, "bad data").await,
        "mark_dead"
    ));
    assert!(ok(
        inbox.mark_dead(done, T0 + 2, "handled wrongly").await,
        "mark_dead"
    ));
    assert!(
        !ok(inbox.mark_dead(busy, T0 + 2, "busy").await, "mark_dead"),
        "a processing row is left alone"
    );
    for (id, reason) in [(pending, "bad data"), (done, "handled wrongly")] {
        let record = detail(inbox, id).await.record;
        assert_eq!(record.state, State::Dead);
        assert_eq!(record.last_error.as_deref(), Some(reason));
        assert_eq!(record.next_attempt_at_ms, None);
    }
    assert_eq!(detail(inbox, busy).await.record.state, State::Processing);
    assert!(claim(inbox, "mark", T0 + 3, 10).await.is_empty());
    let unknown = InboxId::new(pending.get() + 1_000);
    match inbox.mark_dead(unknown, T0, "x").await {
        Err(InboxError::NotFound { id }) => assert_eq!(id, unknown),
        other => panic!("mark_dead of an unknown id must be NotFound, got {other:?}"),
    }
}

/// Purge removes matching rows (not processing ones) with their keys.
pub async fn purge_removes_rows_and_frees_keys<I: Inbox>(inbox: &I) {
    let busy = queue(inbox, sample_event("purge", "busy", None)).await;
    claim_one(inbox, "purge", T0).await;
    let waiting = queue(inbox, sample_event("purge", "waiting", None)).await;
    let kept = queue(inbox, sample_event("purge-kept", "waiting", None)).await;
    let removed = ok(
        inbox.purge(&Filter::default().namespace("purge")).await,
        "purge",
    );
    assert_eq!(removed, 1, "the processing row is not purged");
    assert!(ok(inbox.get(waiting).await, "get").is_none());
    assert_eq!(detail(inbox, busy).await.record.state, State::Processing);
    assert_eq!(detail(inbox, kept).await.record.state, State::Pending);
    let again = queue(inbox, sample_event("purge", "waiting", None)).await;
    assert_ne!(again, waiting, "a purged key is free, with a new id");
}

/// Expire removes done rows whose last attempt ended before the retention
/// period, and frees their keys; other rows stay.
pub async fn expire_removes_done_rows_after_retention<I: Inbox>(inbox: &I) {
    let retention = Duration::from_secs(3600);
    let old = queue(inbox, sample_event("expire", "old", None)).await;
    let recent = queue(inbox, sample_event("expire", "recent", None)).await;
    let dead = queue(inbox, sample_event("expire", "dead", None)).await;
    let pending = queue(inbox, sample_event("expire", "pending", None)).await;
    let claimed = claim(inbox, "expire", T0, 3).await;
    ok(
        inbox.complete(&claimed[0].lease, T0 + 1_000).await,
        "complete",
    );
    ok(
        inbox.complete(&claimed[1].lease, T0 + 2_000_000).await,
        "complete",
    );
    let failure = Failure::Dead {
        error: "dead".into(),
    };
    ok(
        inbox.fail(&claimed[2].lease, T0 + 1_000, failure).await,
        "fail",
    );
    let now = T0 + 3_600_000 + 1_001;
    assert_eq!(ok(inbox.expire(now, retention).await, "expire"), 1);
    assert!(ok(inbox.get(old).await, "get").is_none());
    for id in [recent, dead, pending] {
        assert!(ok(inbox.get(id).await, "get").is_some(), "row {id} is kept");
    }
    assert_ne!(
        queue(inbox, sample_event("expire", "old", None)).await,
        old,
        "an expired key is free again"
    );
    assert_eq!(ok(inbox.expire(now, retention).await, "expire"), 0);
}

/// Listing is newest first, pages by cursor, and returns exactly the rows
/// that [`Filter::matches`]; `count` agrees.
pub async fn list_pages_newest_first_and_agrees_with_filter<I: Inbox>(inbox: &I) {
    let providers = [Provider::Calendence, Provider::Eagenda, Provider::Decoda];
    let types = ["booking.created", "booking.cancelled"];
    let mut all = Vec::new();
    for n in 0..18_i64 {
        let mut event = sample_event(
            if n % 4 == 0 { "list-b" } else { "list-a" },
            &format!("k{n}"),
            Some(if n % 2 == 0 { "even" } else { "odd" }),
        );
        event.provider = providers[n as usize % 3];
        event.event_type = types[n as usize % 2].to_owned();
        event.received_at_ms = T0 + n * 1_000;
        all.push(queue(inbox, event).await);
    }
    // Some rows done, some dead, some processing.
    for claimed in claim(inbox, "list-a", T0 + 60_000, 3).await {
        match claimed.record.id.get() % 3 {
            0 => ok(
                inbox.complete(&claimed.lease, T0 + 60_001).await,
                "complete",
            ),
            1 => {
                let failure = Failure::Dead { error: "x".into() };
                ok(
                    inbox.fail(&claimed.lease, T0 + 60_001, failure).await,
                    "fail",
                );
            }
            _ => {}
        }
    }
    let mut records: Vec<EventRecord> = Vec::new();
    for id in &all {
        records.push(detail(inbox, *id).await.record);
    }
    let filters = [
        Filter::default(),
        Filter::default().namespace("list-a"),
        Filter::default().state(State::Pending),
        Filter::default().state(State::Done),
        Filter::default().state(State::Dead),
        Filter::default().state(State::Processing),
        Filter::default().provider(Provider::Eagenda),
        Filter::default().event_type("booking.cancelled"),
        Filter::default().ordering_key("even"),
        Filter::default().since_ms(T0 + 5_000),
        Filter::default().before_ms(T0 + 5_000),
        Filter::default()
            .namespace("list-a")
            .provider(Provider::Calendence)
            .since_ms(T0 + 2_000)
            .before_ms(T0 + 16_000),
        Filter::default().namespace("list-none"),
    ];
    for filter in &filters {
        let mut expected: Vec<InboxId> = records
            .iter()
            .filter(|record| filter.matches(record))
            .map(|record| record.id)
            .collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        let mut listed = Vec::new();
        let mut page = Page::first(4);
        loop {
            let rows = ok(inbox.list(filter, page).await, "list");
            assert!(rows.len() <= 4, "a page holds at most its limit");
            for row in &rows {
                assert!(filter.matches(row), "{filter:?} listed {row:?}");
                let stored = records.iter().find(|r| r.id == row.id);
                assert_eq!(Some(row), stored, "a listed row is what get returns");
            }
            listed.extend(rows.iter().map(|r| r.id));
            match rows.last() {
                Some(last) if rows.len() == 4 => page = Page::after(last.id, 4),
                _ => break,
            }
        }
        assert_eq!(listed, expected, "list of {filter:?}, newest first");
        assert_eq!(
            ok(inbox.count(filter).await, "count"),
            expected.len() as u64,
            "count of {filter:?}"
        );
    }
    assert!(
        ok(inbox.list(&Filter::default(), Page::first(0)).await, "list").is_empty(),
        "a page of 0 is empty"
    );
}

/// Stats count the rows in each state and give the oldest pending row's time.
pub async fn stats_count_each_state<I: Inbox>(inbox: &I) {
    assert_eq!(
        ok(inbox.stats().await, "stats"),
        Stats::default(),
        "an empty inbox"
    );
    for n in 0..6_i64 {
        let mut event = sample_event("stats", &format!("k{n}"), None);
        event.received_at_ms = T0 + n;
        queue(inbox, event).await;
    }
    let claimed = claim(inbox, "stats", T0 + 10, 3).await;
    ok(inbox.complete(&claimed[0].lease, T0 + 11).await, "complete");
    let failure = Failure::Dead { error: "x".into() };
    ok(
        inbox.fail(&claimed[1].lease, T0 + 11, failure).await,
        "fail",
    );
    let stats = ok(inbox.stats().await, "stats");
    assert_eq!(
        (stats.pending, stats.processing, stats.done, stats.dead),
        (3, 1, 1, 1)
    );
    assert_eq!(
        stats.oldest_pending_received_ms,
        Some(T0 + 3),
        "the oldest pending row was received at T0 + 3"
    );
}

/// The histogram counts, per window, the rows that match the filter and were
/// received in it: the same numbers as [`Filter::matches`] gives.
pub async fn received_histogram_counts_each_window<I: Inbox>(inbox: &I) {
    let mut records = Vec::new();
    for n in 0..20_i64 {
        let mut event = sample_event("histogram", &format!("k{n}"), None);
        // Windows of 10 s from T0: 0, 3, 1, 4, 2, … rows land in each.
        event.received_at_ms = T0 - 5_000 + n * n * 700;
        if n % 3 == 0 {
            event.provider = Provider::Eagenda;
        }
        let id = queue(inbox, event).await;
        records.push(detail(inbox, id).await.record);
    }
    let width = Duration::from_secs(10);
    let filters = [
        Filter::default().namespace("histogram"),
        Filter::default()
            .namespace("histogram")
            .provider(Provider::Eagenda),
        Filter::default()
            .namespace("histogram")
            .since_ms(T0 + 12_000)
            .before_ms(T0 + 95_000),
        Filter::default().namespace("histogram").state(State::Dead),
    ];
    for filter in &filters {
        let counts = ok(
            inbox.received_histogram(filter, T0, width, 12).await,
            "received_histogram",
        );
        let expected: Vec<u64> = crate::inbox::histogram_windows(T0, width, 12)
            .iter()
            .map(|window| {
                records
                    .iter()
                    .filter(|record| {
                        filter.matches(record)
                            && record.received_at_ms >= window.start_ms
                            && record.received_at_ms < window.end_ms
                    })
                    .count() as u64
            })
            .collect();
        assert_eq!(counts, expected, "received_histogram of {filter:?}");
    }
    assert!(
        ok(
            inbox
                .received_histogram(&Filter::default(), T0, width, 0)
                .await,
            "received_histogram"
        )
        .is_empty(),
        "no windows, no counts"
    );
}

/// Abandon puts the row back to pending, due at once, and records the
/// attempt as expired.
pub async fn abandon_puts_a_row_back_at_once<I: Inbox>(inbox: &I) {
    let id = queue(inbox, sample_event("abandon", "k", None)).await;
    let claimed = claim_one(inbox, "abandon", T0).await;
    ok(inbox.abandon(&claimed.lease, T0 + 5).await, "abandon");
    let stored = detail(inbox, id).await;
    assert_eq!(stored.record.state, State::Pending);
    assert_eq!(stored.record.next_attempt_at_ms, Some(T0 + 5));
    assert_eq!(stored.attempts[0].outcome, AttemptOutcome::Expired);
    assert_lease_lost(
        inbox.abandon(&claimed.lease, T0 + 6).await,
        id,
        "abandoning twice",
    );
    let again = claim_one(inbox, "abandon", T0 + 5).await;
    assert_eq!(again.record.id, id, "claimable at once");
}

/// A worker that died leaves a lease that expires; the row is claimed again
/// with its dead attempt recorded as expired.
pub async fn crashed_worker_lease_is_reclaimed<I: Inbox>(inbox: &I) {
    let id = queue(inbox, sample_event("crash", "k", Some("appt"))).await;
    let dead_worker: Lease = claim_one(inbox, "crash", T0).await.lease;
    assert!(
        claim(inbox, "crash", T0 + LEASE_MS, 10).await.is_empty(),
        "the lease is live up to its end"
    );
    let stats = ok(inbox.stats().await, "stats");
    assert_eq!(stats.processing, 1);
    let later = T0 + LEASE_MS + 1;
    let recovered = claim_one(inbox, "crash", later).await;
    assert_eq!(recovered.record.id, id);
    assert_eq!(recovered.record.attempts, 2);
    let stored = detail(inbox, id).await;
    assert_eq!(stored.attempts.len(), 2);
    assert_eq!(
        stored.attempts[0].outcome,
        AttemptOutcome::Expired,
        "the dead worker's attempt is expired"
    );
    assert_eq!(stored.attempts[1].outcome, AttemptOutcome::Running);
    assert_eq!(stored.attempts[1].started_at_ms, later);
    assert_ne!(dead_worker.token, recovered.lease.token);
    ok(
        inbox.complete(&recovered.lease, later + 1).await,
        "complete",
    );
}

/// Many claims at once never hand one row to two of them.
pub async fn concurrent_claimers_never_share_a_row<I: Inbox>(inbox: &I) {
    let mut queued = HashSet::new();
    for n in 0..40 {
        let key = format!("k{n}");
        // Some rows share ordering keys, to stress that rule as well.
        let ordering = (n % 5 == 0).then(|| format!("appt{}", n % 3));
        let event = sample_event("concurrent", &key, ordering.as_deref());
        queued.insert(queue(inbox, event).await);
    }
    let mut seen = HashSet::new();
    for now in T0..T0 + 8 {
        let rounds =
            join_all((0..CLAIMERS).map(|_| inbox.claim("concurrent", now, LEASE, 4))).await;
        for claimed in rounds {
            for row in ok(claimed, "claim") {
                assert!(
                    seen.insert(row.record.id),
                    "row {} was handed out twice",
                    row.record.id
                );
                ok(inbox.complete(&row.lease, now).await, "complete");
            }
        }
    }
    assert_eq!(seen, queued, "every row was claimed exactly once");
}

/// An inbox that cannot be reached: every call is [`InboxError::Unavailable`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DownInbox;

fn down<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, InboxError>> {
    Box::pin(std::future::ready(Err(InboxError::Unavailable {
        reason: "connection refused".into(),
    })))
}

impl Inbox for DownInbox {
    fn enqueue(&self, _event: NewEvent) -> BoxFuture<'_, Result<Enqueued, InboxError>> {
        down()
    }

    fn claim(
        &self,
        _namespace: &str,
        _now_ms: i64,
        _lease: Duration,
        _max: usize,
    ) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>> {
        down()
    }

    fn complete(&self, _lease: &Lease, _now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        down()
    }

    fn fail(
        &self,
        _lease: &Lease,
        _now_ms: i64,
        _failure: Failure,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        down()
    }

    fn abandon(&self, _lease: &Lease, _now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        down()
    }

    fn get(&self, _id: InboxId) -> BoxFuture<'_, Result<Option<EventDetail>, InboxError>> {
        down()
    }

    fn list<'a>(
        &'a self,
        _filter: &'a Filter,
        _page: Page,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, InboxError>> {
        down()
    }

    fn count<'a>(&'a self, _filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        down()
    }

    fn stats(&self) -> BoxFuture<'_, Result<Stats, InboxError>> {
        down()
    }

    fn replay<'a>(
        &'a self,
        _selection: &'a Selection,
        _now_ms: i64,
    ) -> BoxFuture<'a, Result<u64, InboxError>> {
        down()
    }

    fn mark_dead<'a>(
        &'a self,
        _id: InboxId,
        _now_ms: i64,
        _reason: &'a str,
    ) -> BoxFuture<'a, Result<bool, InboxError>> {
        down()
    }

    fn purge<'a>(&'a self, _filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        down()
    }

    fn expire(&self, _now_ms: i64, _retention: Duration) -> BoxFuture<'_, Result<u64, InboxError>> {
        down()
    }
}

/// An [`Ingest`] mounted at a path for the inbox-mode conformance run.
#[derive(Debug, Clone)]
pub struct InboxMount {
    /// Where to mount it.
    pub path: &'static str,
    /// What to serve there, in inbox mode.
    pub ingest: Ingest,
}

/// The conformance table in inbox mode: the requests of [`Conformance`],
/// each answered as an [`Ingest`] answers it.
///
/// A test mounts each of the [`mounts`](Self::mounts) with the adapter's
/// inbox mode, sends every case in order, and hands each answer to
/// [`check_answered`](Self::check_answered). The answers expected:
///
/// - requests the dispatcher table refuses before any claim (size, method,
///   signature, timestamp, body) get the same answer in inbox mode;
/// - every other request is stored: 200 `{"status":"queued","id":N}` the
///   first time its key is seen (ids from 1, in the order sent), 200
///   `{"status":"duplicate"}` after that;
/// - the mount whose store is down in the dispatcher table has an inbox that
///   is down ([`DownInbox`]): 503 `inbox_unavailable` with `Retry-After`.
///
/// After the run, [`inbox`](Self::inbox) holds exactly the queued events.
///
/// The cases carry inbox mode's answers, which [`Case::stage`] does not know:
/// ask the dispatcher table ([`Conformance::new`]) for stages instead.
#[derive(Debug)]
pub struct InboxConformance {
    /// Ingests to mount, each at its path.
    pub mounts: Vec<InboxMount>,
    /// The requests, to send in order, with the answers of inbox mode.
    pub cases: Vec<Case>,
    /// The inbox behind every mount but the broken one.
    pub inbox: Arc<MemoryInbox>,
    table: Conformance,
}

impl InboxConformance {
    /// Builds the mounts and the table. Call it inside a tokio runtime.
    ///
    /// # Panics
    /// If inbox mode would answer a case that the dispatcher table refuses
    /// before its claim any differently: the two modes must agree there.
    pub async fn new() -> Self {
        let table = Conformance::new().await;
        let inbox = Arc::new(MemoryInbox::new());
        let mounts = Self::mounts_on(&table, inbox.clone());
        // The answers are the core's own, from the same mounts on a second inbox.
        let reference = Self::mounts_on(&table, Arc::new(MemoryInbox::new()));
        let mut cases = Vec::with_capacity(table.cases.len());
        for case in &table.cases {
            let ingest = &reference
                .iter()
                .find(|mount| mount.path == case.path)
                .unwrap_or_else(|| panic!("case `{}`: no mount at {}", case.name, case.path))
                .ingest;
            let answer = send_to(ingest, case).await;
            let response = answer.response();
            let stage = case.stage();
            match (stage, answer.outcome()) {
                (Stage::Verify, _) => assert_eq!(
                    (response.status, &response.body, response.retry_after),
                    (case.status, &case.response_body, case.retry_after),
                    "case `{}`: inbox mode must refuse it as a dispatcher does",
                    case.name
                ),
                (_, Outcome::Queued { .. } | Outcome::Duplicate) => {}
                (_, Outcome::InboxUnavailable(_)) if case.path == BROKEN_STORE_PATH => {}
                (_, outcome) => panic!(
                    "case `{}`: an authentic request must be stored, got {outcome:?}",
                    case.name
                ),
            }
            let mut expected = case.clone();
            expected.status = response.status;
            expected.response_body = response.body;
            expected.retry_after = response.retry_after;
            cases.push(expected);
        }
        Self {
            mounts,
            cases,
            inbox,
            table,
        }
    }

    fn mounts_on(table: &Conformance, inbox: Arc<MemoryInbox>) -> Vec<InboxMount> {
        table
            .mounts
            .iter()
            .map(|mount| {
                let endpoint = mount.dispatcher.endpoint().clone();
                let ingest = if mount.path == BROKEN_STORE_PATH {
                    Ingest::new(endpoint, Arc::new(DownInbox))
                } else {
                    Ingest::new(endpoint, inbox.clone())
                };
                InboxMount {
                    path: mount.path,
                    ingest,
                }
            })
            .collect()
    }

    /// Sends `case` straight to the ingest mounted at its path, with no web
    /// adapter in between.
    ///
    /// # Panics
    /// If no mount serves the case's path.
    pub async fn receive(&self, case: &Case) -> Ingested {
        let mount = self
            .mounts
            .iter()
            .find(|mount| mount.path == case.path)
            .unwrap_or_else(|| panic!("case `{}`: no mount at {}", case.name, case.path));
        send_to(&mount.ingest, case).await
    }

    /// Compares what an adapter answered with what `case` expects, and
    /// panics with the case's name if they differ.
    pub fn check(&self, case: &Case, status: u16, body: &[u8], retry_after: Option<&str>) {
        self.table.check(case, status, body, retry_after);
    }

    /// Like [`check`](Self::check), with the content type as well.
    pub fn check_answered(&self, case: &Case, answered: &Answered) {
        self.table.check_answered(case, answered);
    }

    /// Checks the inbox once every case ran: one row per queued answer.
    pub async fn check_stored(&self) {
        let queued = self
            .cases
            .iter()
            .filter(|case| case.response_body.contains(r#""status":"queued""#))
            .count() as u64;
        let stored = self
            .inbox
            .count(&Filter::default())
            .await
            .unwrap_or_else(|err| panic!("count: {err}"));
        assert_eq!(stored, queued, "one stored row per queued answer");
    }
}

async fn send_to(ingest: &Ingest, case: &Case) -> Ingested {
    ingest
        .receive(
            case.method,
            &case.headers,
            case.query.as_deref(),
            Bytes::from(case.body.clone()),
        )
        .await
}

/// An inbox that can be switched off: while it is down every call is
/// [`InboxError::Unavailable`] and nothing reaches the inner inbox. For
/// testing that a receiver never acknowledges what it could not store.
///
/// ```
/// use bookhook::inbox::{Inbox, MemoryInbox};
/// use bookhook::testing::inbox::{Breakable, sample_event};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let inbox = Breakable::new(MemoryInbox::new());
/// inbox.set_down(true);
/// assert!(inbox.enqueue(sample_event("ns", "k", None)).await.is_err());
/// inbox.set_down(false);
/// assert!(inbox.enqueue(sample_event("ns", "k", None)).await.is_ok());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct Breakable<I> {
    inner: I,
    down: std::sync::atomic::AtomicBool,
}

impl<I: Inbox> Breakable<I> {
    /// Wraps `inner`, up.
    pub fn new(inner: I) -> Self {
        Self {
            inner,
            down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Switches the inbox off (`true`) or on again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// The wrapped inbox, reachable even while down.
    pub fn inner(&self) -> &I {
        &self.inner
    }

    fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl<I: Inbox> Inbox for Breakable<I> {
    fn enqueue(&self, event: NewEvent) -> BoxFuture<'_, Result<Enqueued, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.enqueue(event)
    }

    fn claim(
        &self,
        namespace: &str,
        now_ms: i64,
        lease: Duration,
        max: usize,
    ) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.claim(namespace, now_ms, lease, max)
    }

    fn complete(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.complete(lease, now_ms)
    }

    fn fail(
        &self,
        lease: &Lease,
        now_ms: i64,
        failure: Failure,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.fail(lease, now_ms, failure)
    }

    fn abandon(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.abandon(lease, now_ms)
    }

    fn get(&self, id: InboxId) -> BoxFuture<'_, Result<Option<EventDetail>, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.get(id)
    }

    fn list<'a>(
        &'a self,
        filter: &'a Filter,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.list(filter, page)
    }

    fn count<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.count(filter)
    }

    fn stats(&self) -> BoxFuture<'_, Result<Stats, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.stats()
    }

    fn replay<'a>(
        &'a self,
        selection: &'a Selection,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<u64, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.replay(selection, now_ms)
    }

    fn mark_dead<'a>(
        &'a self,
        id: InboxId,
        now_ms: i64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<bool, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.mark_dead(id, now_ms, reason)
    }

    fn purge<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.purge(filter)
    }

    fn expire(&self, now_ms: i64, retention: Duration) -> BoxFuture<'_, Result<u64, InboxError>> {
        if self.is_down() {
            return down();
        }
        self.inner.expire(now_ms, retention)
    }
}
