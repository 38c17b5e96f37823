//! The life of a row in a SQLite inbox: enqueue, claim, complete, fail,
//! abandon, replay, mark dead, purge and expire, with the exact rules of the
//! `Inbox` trait's documentation.

mod support;

use std::time::Duration;

use bookhook::Provider;
use bookhook::inbox::{
    AttemptOutcome, Enqueued, Failure, Filter, Inbox, InboxError, Page, Selection, State, Trigger,
};
use bookhook_sqlite::SqliteInbox;
use support::{T0, event, inbox};

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn enqueue_stores_a_pending_row_due_at_once_and_deduplicates_by_namespace_and_key() {
    let (_dir, inbox) = inbox();
    let first = inbox
        .enqueue(event("a", "k1", None, T0, None))
        .await
        .unwrap();
    let Enqueued::Queued(id) = first else {
        panic!("expected a new row, got {first:?}")
    };
    assert_eq!(
        inbox
            .enqueue(event("a", "k1", None, T0 + 5, None))
            .await
            .unwrap(),
        Enqueued::Duplicate(id)
    );
    let other = inbox
        .enqueue(event("b", "k1", None, T0, None))
        .await
        .unwrap();
    assert!(matches!(other, Enqueued::Queued(other) if other > id));

    let detail = inbox.get(id).await.unwrap().expect("stored");
    assert_eq!(detail.record.state, State::Pending);
    assert_eq!(detail.record.next_attempt_at_ms, Some(T0));
    assert_eq!(detail.record.received_at_ms, T0);
    assert_eq!(detail.record.attempts, 0);
    assert_eq!(&detail.body[..], br#"{"id":"k1"}"#);
    assert_eq!(
        detail.headers,
        vec![("content-type".to_owned(), "application/json".to_owned())]
    );
    assert!(detail.attempts.is_empty());
}

#[tokio::test]
async fn concurrent_enqueues_of_one_key_store_one_row() {
    let (_dir, inbox) = inbox();
    let mut tasks = Vec::new();
    for n in 0..64 {
        let inbox = inbox.clone();
        tasks.push(tokio::spawn(async move {
            inbox
                .enqueue(event("a", &format!("k{}", n % 8), None, T0, None))
                .await
                .unwrap()
        }));
    }
    let mut queued = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Enqueued::Queued(_)) {
            queued += 1;
        }
    }
    assert_eq!(queued, 8);
    assert_eq!(inbox.count(&Filter::default()).await.unwrap(), 8);
}

#[tokio::test]
async fn claim_leases_due_rows_oldest_first_and_counts_the_attempt() {
    let (_dir, inbox) = inbox();
    for n in 0..5 {
        inbox
            .enqueue(event("a", &format!("k{n}"), None, T0 + n, None))
            .await
            .unwrap();
    }
    inbox
        .enqueue(event("b", "other", None, T0, None))
        .await
        .unwrap();
    let claimed = inbox.claim("a", T0 + 10, LEASE, 3).await.unwrap();
    let keys: Vec<_> = claimed.iter().map(|c| c.record.key.as_str()).collect();
    assert_eq!(keys, ["k0", "k1", "k2"]);
    let row = &claimed[0];
    assert_eq!(row.record.state, State::Processing);
    assert_eq!(row.record.attempts, 1);
    assert_eq!(row.lease.attempt, 1);
    assert_eq!(row.lease.until_ms, T0 + 10 + 30_000);
    assert_eq!(row.record.lease_until_ms, Some(T0 + 10 + 30_000));
    assert_eq!(row.trigger, Trigger::Automatic);
    assert_eq!(&row.body[..], br#"{"id":"k0"}"#);

    let detail = inbox.get(row.record.id).await.unwrap().unwrap();
    assert_eq!(detail.attempts.len(), 1);
    assert_eq!(detail.attempts[0].outcome, AttemptOutcome::Running);
    assert_eq!(detail.attempts[0].started_at_ms, T0 + 10);
    assert_eq!(detail.attempts[0].ended_at_ms, None);

    let rest = inbox.claim("a", T0 + 10, LEASE, 10).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert!(
        inbox
            .claim("a", T0 + 10, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(inbox.claim("a", T0, LEASE, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn claim_skips_rows_not_yet_due() {
    let (_dir, inbox) = inbox();
    inbox
        .enqueue(event("a", "k", None, T0 + 1_000, None))
        .await
        .unwrap();
    assert!(inbox.claim("a", T0, LEASE, 10).await.unwrap().is_empty());
    assert_eq!(
        inbox.claim("a", T0 + 1_000, LEASE, 10).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn claim_runs_one_row_per_ordering_key_at_a_time_oldest_first() {
    let (_dir, inbox) = inbox();
    inbox
        .enqueue(event("a", "x1", Some("apt-x"), T0, None))
        .await
        .unwrap();
    inbox
        .enqueue(event("a", "y1", Some("apt-y"), T0, None))
        .await
        .unwrap();
    inbox
        .enqueue(event("a", "x2", Some("apt-x"), T0, None))
        .await
        .unwrap();
    inbox
        .enqueue(event("a", "n1", None, T0, None))
        .await
        .unwrap();

    let first = inbox.claim("a", T0, LEASE, 10).await.unwrap();
    let keys: Vec<_> = first.iter().map(|c| c.record.key.as_str()).collect();
    assert_eq!(keys, ["x1", "y1", "n1"], "x2 waits for x1");
    // While x1 holds a live lease, x2 stays blocked.
    assert!(
        inbox
            .claim("a", T0 + 1, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    inbox.complete(&first[0].lease, T0 + 2).await.unwrap();
    let next = inbox.claim("a", T0 + 3, LEASE, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].record.key, "x2");
}

#[tokio::test]
async fn an_older_pending_row_blocks_its_ordering_key_even_when_not_due() {
    let (_dir, inbox) = inbox();
    inbox
        .enqueue(event("a", "x1", Some("apt"), T0, None))
        .await
        .unwrap();
    inbox
        .enqueue(event("a", "x2", Some("apt"), T0, None))
        .await
        .unwrap();
    let first = inbox.claim("a", T0, LEASE, 1).await.unwrap();
    inbox
        .fail(
            &first[0].lease,
            T0,
            Failure::Retry {
                at_ms: T0 + 60_000,
                error: "busy".into(),
            },
        )
        .await
        .unwrap();
    assert!(
        inbox
            .claim("a", T0 + 1, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = inbox.claim("a", T0 + 60_000, LEASE, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].record.key, "x1");
    assert_eq!(retried[0].record.attempts, 2);
}

#[tokio::test]
async fn an_older_row_never_claimed_and_not_yet_due_blocks_a_newer_due_one() {
    let (_dir, inbox) = inbox();
    inbox
        .enqueue(event("a", "x1", Some("apt"), T0 + 1_000, None))
        .await
        .unwrap();
    inbox
        .enqueue(event("a", "x2", Some("apt"), T0, None))
        .await
        .unwrap();
    assert!(inbox.claim("a", T0, LEASE, 10).await.unwrap().is_empty());
    let first = inbox.claim("a", T0 + 1_000, LEASE, 10).await.unwrap();
    let keys: Vec<_> = first.iter().map(|c| c.record.key.as_str()).collect();
    assert_eq!(keys, ["x1"], "x2 waits for the older x1");
}

#[tokio::test]
async fn dead_and_done_rows_do_not_block_their_ordering_key() {
    let (_dir, inbox) = inbox();
    inbox
        .enqueue(event("a", "x1", Some("apt"), T0, None))
        .await
        .unwrap();
    inbox
        .enqueue(event("a", "x2", Some("apt"), T0, None))
        .await
        .unwrap();
    inbox
        .enqueue(event("a", "x3", Some("apt"), T0, None))
        .await
        .unwrap();
    let first = inbox.claim("a", T0, LEASE, 10).await.unwrap();
    inbox
        .fail(
            &first[0].lease,
            T0,
            Failure::Dead {
                error: "bad".into(),
            },
        )
        .await
        .unwrap();
    let second = inbox.claim("a", T0, LEASE, 10).await.unwrap();
    assert_eq!(second[0].record.key, "x2");
    inbox.complete(&second[0].lease, T0).await.unwrap();
    let third = inbox.claim("a", T0, LEASE, 10).await.unwrap();
    assert_eq!(third[0].record.key, "x3");
}

#[tokio::test]
async fn an_expired_lease_is_reclaimed_and_its_attempt_recorded_as_expired() {
    let (_dir, inbox) = inbox();
    let id = inbox
        .enqueue(event("a", "k", None, T0, None))
        .await
        .unwrap()
        .id();
    let first = inbox.claim("a", T0, LEASE, 1).await.unwrap().remove(0);
    // The lease runs until T0 + 30 s: still live at that instant.
    assert!(
        inbox
            .claim("a", T0 + 30_000, LEASE, 1)
            .await
            .unwrap()
            .is_empty()
    );
    let second = inbox
        .claim("a", T0 + 30_001, LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.lease.attempt, 2);
    assert_ne!(second.lease.token, first.lease.token);

    // Fencing: the first worker's lease is lost and changes nothing.
    assert_eq!(
        inbox.complete(&first.lease, T0 + 30_002).await,
        Err(InboxError::LeaseLost { id })
    );
    assert_eq!(
        inbox
            .fail(
                &first.lease,
                T0 + 30_002,
                Failure::Dead { error: "x".into() }
            )
            .await,
        Err(InboxError::LeaseLost { id })
    );
    assert_eq!(
        inbox.abandon(&first.lease, T0 + 30_002).await,
        Err(InboxError::LeaseLost { id })
    );
    let detail = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(detail.record.state, State::Processing);
    assert_eq!(detail.attempts.len(), 2);
    assert_eq!(detail.attempts[0].outcome, AttemptOutcome::Expired);
    assert_eq!(detail.attempts[0].ended_at_ms, None);
    assert_eq!(detail.attempts[1].outcome, AttemptOutcome::Running);

    inbox.complete(&second.lease, T0 + 30_003).await.unwrap();
    assert_eq!(
        inbox.get(id).await.unwrap().unwrap().record.state,
        State::Done
    );
}

#[tokio::test]
async fn an_expired_lease_still_holds_until_someone_claims_the_row() {
    let (_dir, inbox) = inbox();
    let id = inbox
        .enqueue(event("a", "k", None, T0, None))
        .await
        .unwrap()
        .id();
    let row = inbox.claim("a", T0, LEASE, 1).await.unwrap().remove(0);
    inbox.complete(&row.lease, T0 + 3_600_000).await.unwrap();
    let detail = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(detail.record.state, State::Done);
    assert_eq!(detail.record.lease_until_ms, None);
    assert_eq!(detail.attempts[0].outcome, AttemptOutcome::Processed);
    assert_eq!(detail.attempts[0].ended_at_ms, Some(T0 + 3_600_000));
    // Completing twice: the lease is gone.
    assert_eq!(
        inbox.complete(&row.lease, T0 + 3_600_001).await,
        Err(InboxError::LeaseLost { id })
    );
}

#[tokio::test]
async fn fail_with_retry_reschedules_and_with_dead_stops() {
    let (_dir, inbox) = inbox();
    let id = inbox
        .enqueue(event("a", "k", None, T0, None))
        .await
        .unwrap()
        .id();
    let row = inbox.claim("a", T0, LEASE, 1).await.unwrap().remove(0);
    inbox
        .fail(
            &row.lease,
            T0 + 10,
            Failure::Retry {
                at_ms: T0 + 5_000,
                error: "timeout".into(),
            },
        )
        .await
        .unwrap();
    let detail = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(detail.record.state, State::Pending);
    assert_eq!(detail.record.next_attempt_at_ms, Some(T0 + 5_000));
    assert_eq!(detail.record.last_error.as_deref(), Some("timeout"));
    assert_eq!(detail.attempts[0].outcome, AttemptOutcome::Retrying);
    assert_eq!(detail.attempts[0].error.as_deref(), Some("timeout"));
    assert_eq!(detail.attempts[0].ended_at_ms, Some(T0 + 10));

    let row = inbox
        .claim("a", T0 + 5_000, LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    inbox
        .fail(
            &row.lease,
            T0 + 5_010,
            Failure::Dead {
                error: "gone".into(),
            },
        )
        .await
        .unwrap();
    let detail = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(detail.record.state, State::Dead);
    assert_eq!(detail.record.next_attempt_at_ms, None);
    assert_eq!(detail.record.last_error.as_deref(), Some("gone"));
    assert_eq!(detail.attempts[1].outcome, AttemptOutcome::Dead);
    assert!(
        inbox
            .claim("a", T0 + 1_000_000, LEASE, 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn abandon_puts_the_row_back_due_now_and_records_the_attempt_as_expired() {
    let (_dir, inbox) = inbox();
    let id = inbox
        .enqueue(event("a", "k", None, T0, None))
        .await
        .unwrap()
        .id();
    let row = inbox.claim("a", T0, LEASE, 1).await.unwrap().remove(0);
    inbox.abandon(&row.lease, T0 + 7).await.unwrap();
    let detail = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(detail.record.state, State::Pending);
    assert_eq!(detail.record.next_attempt_at_ms, Some(T0 + 7));
    assert_eq!(detail.record.lease_until_ms, None);
    assert_eq!(detail.attempts[0].outcome, AttemptOutcome::Expired);
    let again = inbox.claim("a", T0 + 7, LEASE, 1).await.unwrap().remove(0);
    assert_eq!(again.lease.attempt, 2);
}

#[tokio::test]
async fn replay_puts_done_dead_and_pending_rows_back_as_a_manual_attempt() {
    let (_dir, inbox) = inbox();
    let done = inbox
        .enqueue(event("a", "done", None, T0, None))
        .await
        .unwrap()
        .id();
    let dead = inbox
        .enqueue(event("a", "dead", None, T0, None))
        .await
        .unwrap()
        .id();
    let busy = inbox
        .enqueue(event("a", "busy", None, T0, None))
        .await
        .unwrap()
        .id();
    let rows = inbox.claim("a", T0, LEASE, 3).await.unwrap();
    inbox.complete(&rows[0].lease, T0).await.unwrap();
    inbox
        .fail(&rows[1].lease, T0, Failure::Dead { error: "no".into() })
        .await
        .unwrap();
    let unknown = bookhook::inbox::InboxId::new(999);
    let replayed = inbox
        .replay(
            &Selection::Ids(vec![done, dead, busy, unknown, done]),
            T0 + 100,
        )
        .await
        .unwrap();
    assert_eq!(
        replayed, 2,
        "the processing row is left alone, a repeated id counts once"
    );
    assert_eq!(
        inbox.get(busy).await.unwrap().unwrap().record.state,
        State::Processing
    );
    let again = inbox.claim("a", T0 + 100, LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|row| row.trigger == Trigger::Manual));
    let detail = inbox.get(done).await.unwrap().unwrap();
    assert_eq!(detail.attempts.len(), 2);
    assert_eq!(detail.attempts[1].trigger, Trigger::Manual);
    assert_eq!(detail.attempts[1].number, 2);

    // A retry after a manual attempt is automatic again.
    let row = again.iter().find(|row| row.record.id == done).unwrap();
    inbox
        .fail(
            &row.lease,
            T0 + 100,
            Failure::Retry {
                at_ms: T0 + 200,
                error: "again".into(),
            },
        )
        .await
        .unwrap();
    let retry = inbox.claim("a", T0 + 200, LEASE, 10).await.unwrap();
    assert_eq!(retry[0].trigger, Trigger::Automatic);
}

#[tokio::test]
async fn replay_by_filter_takes_only_matching_rows() {
    let (_dir, inbox) = inbox();
    for n in 0..4 {
        inbox
            .enqueue(event("a", &format!("k{n}"), None, T0 + n, None))
            .await
            .unwrap();
    }
    let rows = inbox.claim("a", T0 + 10, LEASE, 4).await.unwrap();
    for row in &rows[..3] {
        inbox
            .fail(&row.lease, T0 + 10, Failure::Dead { error: "x".into() })
            .await
            .unwrap();
    }
    inbox.complete(&rows[3].lease, T0 + 10).await.unwrap();
    let filter = Filter::default().state(State::Dead).since_ms(T0 + 1);
    assert_eq!(
        inbox
            .replay(&Selection::Matching(filter), T0 + 20)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        inbox
            .count(&Filter::default().state(State::Pending))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        inbox
            .count(&Filter::default().state(State::Dead))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn newer_done_at_tells_a_claimed_event_that_a_later_one_was_handled() {
    let (_dir, inbox) = inbox();
    inbox
        .enqueue(event("a", "late", Some("apt"), T0, Some(T0 + 500)))
        .await
        .unwrap();
    inbox
        .enqueue(event("a", "early", Some("apt"), T0, Some(T0 + 100)))
        .await
        .unwrap();
    let late = inbox.claim("a", T0, LEASE, 10).await.unwrap().remove(0);
    assert_eq!(late.newer_done_at_ms, None);
    inbox.complete(&late.lease, T0).await.unwrap();
    let early = inbox.claim("a", T0, LEASE, 10).await.unwrap().remove(0);
    assert_eq!(early.record.key, "early");
    assert_eq!(early.newer_done_at_ms, Some(T0 + 500));
}

#[tokio::test]
async fn mark_dead_takes_pending_and_done_rows_but_not_processing_ones() {
    let (_dir, inbox) = inbox();
    let pending = inbox
        .enqueue(event("a", "p", None, T0, None))
        .await
        .unwrap()
        .id();
    let busy = inbox
        .enqueue(event("a", "b", None, T0 + 1, None))
        .await
        .unwrap()
        .id();
    let row = inbox.claim("a", T0 + 1, LEASE, 2).await.unwrap();
    inbox.abandon(&row[0].lease, T0 + 1).await.unwrap();
    assert!(inbox.mark_dead(pending, T0 + 2, "spam").await.unwrap());
    assert!(!inbox.mark_dead(busy, T0 + 2, "spam").await.unwrap());
    let detail = inbox.get(pending).await.unwrap().unwrap();
    assert_eq!(detail.record.state, State::Dead);
    assert_eq!(detail.record.last_error.as_deref(), Some("spam"));
    let unknown = bookhook::inbox::InboxId::new(12345);
    assert_eq!(
        inbox.mark_dead(unknown, T0, "x").await,
        Err(InboxError::NotFound { id: unknown })
    );
}

#[tokio::test]
async fn purge_removes_matching_rows_except_processing_and_frees_their_keys() {
    let (_dir, inbox) = inbox();
    inbox
        .enqueue(event("a", "k1", None, T0, None))
        .await
        .unwrap();
    inbox
        .enqueue(event("a", "k2", None, T0, None))
        .await
        .unwrap();
    let busy = inbox.claim("a", T0, LEASE, 1).await.unwrap().remove(0);
    assert_eq!(
        inbox
            .purge(&Filter::default().namespace("a"))
            .await
            .unwrap(),
        1
    );
    assert!(inbox.get(busy.record.id).await.unwrap().is_some());
    assert!(matches!(
        inbox
            .enqueue(event("a", "k2", None, T0, None))
            .await
            .unwrap(),
        Enqueued::Queued(_)
    ));
}

#[tokio::test]
async fn expire_removes_done_rows_past_retention_only() {
    let (_dir, inbox) = inbox();
    for key in ["old", "new", "dead"] {
        inbox
            .enqueue(event("a", key, None, T0, None))
            .await
            .unwrap();
    }
    let rows = inbox.claim("a", T0, LEASE, 3).await.unwrap();
    inbox.complete(&rows[0].lease, T0).await.unwrap();
    inbox.complete(&rows[1].lease, T0 + 5_000).await.unwrap();
    inbox
        .fail(&rows[2].lease, T0, Failure::Dead { error: "x".into() })
        .await
        .unwrap();
    let retention = Duration::from_secs(10);
    assert_eq!(inbox.expire(T0 + 10_000, retention).await.unwrap(), 0);
    assert_eq!(inbox.expire(T0 + 10_001, retention).await.unwrap(), 1);
    assert_eq!(inbox.get(rows[0].record.id).await.unwrap(), None);
    assert!(inbox.get(rows[1].record.id).await.unwrap().is_some());
    assert!(inbox.get(rows[2].record.id).await.unwrap().is_some());
    // The expired key is free again: the dedup window is over.
    assert!(matches!(
        inbox
            .enqueue(event("a", "old", None, T0, None))
            .await
            .unwrap(),
        Enqueued::Queued(_)
    ));
}

#[tokio::test]
async fn list_pages_newest_first_and_count_and_stats_agree_with_the_filter() {
    let (_dir, inbox) = inbox();
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(
            inbox
                .enqueue(event("a", &format!("k{n}"), Some("apt"), T0 + n, None))
                .await
                .unwrap()
                .id(),
        );
    }
    let row = inbox
        .claim("a", T0 + 100, LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    inbox.complete(&row.lease, T0 + 100).await.unwrap();
    let filter = Filter::default()
        .namespace("a")
        .provider(Provider::Calendence);
    let first = inbox.list(&filter, Page::first(3)).await.unwrap();
    let got: Vec<_> = first.iter().map(|r| r.id).collect();
    assert_eq!(got, [ids[6], ids[5], ids[4]]);
    let second = inbox.list(&filter, Page::after(ids[4], 3)).await.unwrap();
    let got: Vec<_> = second.iter().map(|r| r.id).collect();
    assert_eq!(got, [ids[3], ids[2], ids[1]]);
    let window = Filter::default().since_ms(T0 + 2).before_ms(T0 + 5);
    assert_eq!(inbox.count(&window).await.unwrap(), 3);
    assert_eq!(inbox.list(&window, Page::first(10)).await.unwrap().len(), 3);
    for record in inbox
        .list(&Filter::default(), Page::first(100))
        .await
        .unwrap()
    {
        assert!(
            window.matches(&record)
                == (record.received_at_ms >= T0 + 2 && record.received_at_ms < T0 + 5)
        );
    }
    assert_eq!(
        inbox
            .count(
                &Filter::default()
                    .event_type("appointment.updated")
                    .ordering_key("apt")
            )
            .await
            .unwrap(),
        7
    );
    assert_eq!(
        inbox
            .count(&Filter::default().namespace("b"))
            .await
            .unwrap(),
        0
    );
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.processing, stats.done, stats.dead),
        (6, 0, 1, 0)
    );
    assert_eq!(stats.oldest_pending_received_ms, Some(T0 + 1));
}

#[tokio::test]
async fn rows_survive_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let id = {
        let inbox = SqliteInbox::open(&path).unwrap();
        inbox
            .enqueue(event("a", "k", None, T0, None))
            .await
            .unwrap()
            .id()
    };
    let inbox = SqliteInbox::open(&path).unwrap();
    assert_eq!(
        inbox
            .enqueue(event("a", "k", None, T0, None))
            .await
            .unwrap(),
        Enqueued::Duplicate(id)
    );
    assert_eq!(inbox.claim("a", T0, LEASE, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn ids_are_never_reused_after_the_newest_row_is_purged() {
    let (_dir, inbox) = inbox();
    let first = inbox
        .enqueue(event("a", "k", None, T0, None))
        .await
        .unwrap()
        .id();
    inbox.purge(&Filter::default()).await.unwrap();
    let second = inbox
        .enqueue(event("a", "k", None, T0, None))
        .await
        .unwrap()
        .id();
    assert!(second > first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_share_dedup_and_never_claim_a_row_twice() {
    // Two handles have two writers, as a receiver and a worker in two
    // processes do: SQLite's lock makes their transactions take turns.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let a = SqliteInbox::open(&path).unwrap();
    let b = SqliteInbox::open(&path).unwrap();
    let mut tasks = Vec::new();
    for n in 0..200 {
        let inbox = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            inbox
                .enqueue(event("a", &format!("k{}", n / 2), None, T0, None))
                .await
                .unwrap()
        }));
    }
    let mut queued = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Enqueued::Queued(_)) {
            queued += 1;
        }
    }
    assert_eq!(queued, 100, "each key stored once across both handles");

    let mut claimers = Vec::new();
    for n in 0..8 {
        let inbox = if n % 2 == 0 { a.clone() } else { b.clone() };
        claimers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let rows = inbox.claim("a", T0, LEASE, 7).await.unwrap();
                if rows.is_empty() {
                    return ids;
                }
                for row in rows {
                    inbox.complete(&row.lease, T0).await.unwrap();
                    ids.push(row.record.id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 100);
    assert_eq!(distinct.len(), 100, "a row was claimed twice");
    assert_eq!(a.stats().await.unwrap().done, 100);
}
