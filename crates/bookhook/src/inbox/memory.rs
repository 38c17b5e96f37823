//! An inbox in process memory: the reference implementation of [`Inbox`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

use crate::idempotency::{BoxFuture, ClaimToken};

use super::{
    Attempt, AttemptOutcome, Claimed, Enqueued, EventDetail, EventRecord, Failure, Filter, Inbox,
    InboxError, InboxId, Lease, NewEvent, Page, Selection, State, Stats, Trigger,
};

/// An [`Inbox`] that keeps every row in process memory.
///
/// It is not durable: whatever it holds is gone when the process exits, so a
/// 200 from a receiver that uses it only promises the event reached this
/// process. Use it in tests, and as the reference that the durable backends
/// (`bookhook-sqlite`, `bookhook-redis`) are compared with; it passes the
/// contract suite in `bookhook::testing::inbox`.
///
/// ```
/// use bookhook::inbox::{Enqueued, Inbox, MemoryInbox, NewEvent};
/// use bookhook::{Kind, Provider};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let inbox = MemoryInbox::new();
/// let event = NewEvent::new(
///     "calendence", "evt-1", Some("b-1".into()), Provider::Calendence,
///     "booking.created", Kind::Created, 1_000, None, "{}".into(), Vec::new(),
/// );
/// let first = inbox.enqueue(event.clone()).await.unwrap();
/// assert!(matches!(first, Enqueued::Queued(_)));
/// assert_eq!(inbox.enqueue(event).await.unwrap(), Enqueued::Duplicate(first.id()));
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryInbox {
    inner: Mutex<Rows>,
}

#[derive(Debug, Default)]
struct Rows {
    last_id: u64,
    rows: BTreeMap<InboxId, Row>,
    keys: HashMap<(String, String), InboxId>,
}

#[derive(Debug)]
struct Row {
    record: EventRecord,
    body: Bytes,
    headers: Vec<(String, String)>,
    attempts: Vec<Attempt>,
    token: Option<ClaimToken>,
    next_trigger: Trigger,
    done_at_ms: Option<i64>,
}

impl MemoryInbox {
    /// An empty inbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(&self) -> MutexGuard<'_, Rows> {
        // A panic while holding the lock leaves whole rows behind: every
        // change below is made after its checks, with no panicking step.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Rows {
    fn held(&mut self, lease: &Lease) -> Result<&mut Row, InboxError> {
        match self.rows.get_mut(&lease.id) {
            Some(row)
                if row.record.state == State::Processing && row.token == Some(lease.token) =>
            {
                Ok(row)
            }
            _ => Err(InboxError::LeaseLost { id: lease.id }),
        }
    }

    fn selected(&self, selection: &Selection) -> Vec<InboxId> {
        match selection {
            Selection::Ids(ids) => ids
                .iter()
                .copied()
                .filter(|id| self.rows.contains_key(id))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect(),
            Selection::Matching(filter) => self
                .rows
                .iter()
                .filter(|(_, row)| filter.matches(&row.record))
                .map(|(id, _)| *id)
                .collect(),
        }
    }

    fn newest_done(&self, namespace: &str, ordering_key: &str) -> Option<i64> {
        self.rows
            .values()
            .filter(|row| {
                row.record.state == State::Done
                    && row.record.namespace == namespace
                    && row.record.ordering_key.as_deref() == Some(ordering_key)
            })
            .filter_map(|row| row.record.occurred_at_ms)
            .max()
    }
}

impl Row {
    fn end_attempt(&mut self, now_ms: i64, outcome: AttemptOutcome, error: Option<String>) {
        if let Some(attempt) = self.attempts.last_mut() {
            if attempt.outcome == AttemptOutcome::Running {
                attempt.ended_at_ms = Some(now_ms);
                attempt.outcome = outcome;
                attempt.error = error;
            }
        }
    }

    fn make_pending(&mut self, at_ms: i64) {
        self.record.state = State::Pending;
        self.record.next_attempt_at_ms = Some(at_ms);
        self.record.lease_until_ms = None;
        self.token = None;
        self.done_at_ms = None;
    }

    fn make_final(&mut self, state: State, now_ms: i64) {
        self.record.state = state;
        self.record.next_attempt_at_ms = None;
        self.record.lease_until_ms = None;
        self.token = None;
        self.done_at_ms = (state == State::Done).then_some(now_ms);
    }
}

impl Inbox for MemoryInbox {
    fn enqueue(&self, event: NewEvent) -> BoxFuture<'_, Result<Enqueued, InboxError>> {
        let mut rows = self.rows();
        let unique = (event.namespace.clone(), event.key.clone());
        let answer = if let Some(id) = rows.keys.get(&unique) {
            Enqueued::Duplicate(*id)
        } else {
            rows.last_id += 1;
            let id = InboxId::new(rows.last_id);
            let record = EventRecord::new(
                id,
                event.namespace,
                event.key,
                event.ordering_key,
                event.provider,
                event.event_type,
                event.kind,
                event.received_at_ms,
                event.occurred_at_ms,
            );
            rows.keys.insert(unique, id);
            rows.rows.insert(
                id,
                Row {
                    record,
                    body: event.body,
                    headers: event.headers,
                    attempts: Vec::new(),
                    token: None,
                    next_trigger: Trigger::Automatic,
                    done_at_ms: None,
                },
            );
            Enqueued::Queued(id)
        };
        Box::pin(std::future::ready(Ok(answer)))
    }

    fn claim(
        &self,
        namespace: &str,
        now_ms: i64,
        lease: Duration,
        max: usize,
    ) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>> {
        let mut rows = self.rows();
        let mut blocked: HashSet<String> = HashSet::new();
        let mut chosen = Vec::new();
        for (id, row) in &rows.rows {
            if chosen.len() >= max {
                break;
            }
            let record = &row.record;
            if record.namespace != namespace {
                continue;
            }
            let (runnable, blocks) = match record.state {
                State::Pending => (
                    record.next_attempt_at_ms.is_none_or(|at| at <= now_ms),
                    true,
                ),
                State::Processing => {
                    let expired = record.lease_until_ms.is_none_or(|until| until < now_ms);
                    (expired, true)
                }
                State::Done | State::Dead => (false, false),
            };
            if !blocks {
                continue;
            }
            match &record.ordering_key {
                Some(key) if blocked.contains(key) => continue,
                Some(key) => {
                    blocked.insert(key.clone());
                }
                None => {}
            }
            if runnable {
                chosen.push(*id);
            }
        }
        let until_ms = now_ms.saturating_add(ms(lease));
        let mut claimed = Vec::with_capacity(chosen.len());
        for id in chosen {
            let newer_done_at_ms = {
                let record = &rows.rows[&id].record;
                match (&record.ordering_key, record.occurred_at_ms) {
                    (Some(key), Some(own)) => rows
                        .newest_done(&record.namespace, key)
                        .filter(|newest| *newest > own),
                    _ => None,
                }
            };
            let Some(row) = rows.rows.get_mut(&id) else {
                continue;
            };
            if row.record.state == State::Processing {
                if let Some(attempt) = row.attempts.last_mut() {
                    if attempt.outcome == AttemptOutcome::Running {
                        attempt.outcome = AttemptOutcome::Expired;
                    }
                }
            }
            let token = ClaimToken::random();
            let trigger = std::mem::replace(&mut row.next_trigger, Trigger::Automatic);
            row.record.attempts += 1;
            row.record.state = State::Processing;
            row.record.next_attempt_at_ms = None;
            row.record.lease_until_ms = Some(until_ms);
            row.token = Some(token);
            row.attempts.push(Attempt::new(
                row.record.attempts,
                now_ms,
                None,
                AttemptOutcome::Running,
                None,
                trigger,
            ));
            claimed.push(Claimed::new(
                row.record.clone(),
                row.body.clone(),
                row.headers.clone(),
                Lease::new(id, token, row.record.attempts, until_ms),
                trigger,
                newer_done_at_ms,
            ));
        }
        Box::pin(std::future::ready(Ok(claimed)))
    }

    fn complete(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        let mut rows = self.rows();
        let result = rows.held(lease).map(|row| {
            row.end_attempt(now_ms, AttemptOutcome::Processed, None);
            row.make_final(State::Done, now_ms);
        });
        Box::pin(std::future::ready(result))
    }

    fn fail(
        &self,
        lease: &Lease,
        now_ms: i64,
        failure: Failure,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        let mut rows = self.rows();
        let result = rows.held(lease).map(|row| match failure {
            Failure::Retry { at_ms, error } => {
                row.end_attempt(now_ms, AttemptOutcome::Retrying, Some(error.clone()));
                row.record.last_error = Some(error);
                row.make_pending(at_ms);
            }
            Failure::Dead { error } => {
                row.end_attempt(now_ms, AttemptOutcome::Dead, Some(error.clone()));
                row.record.last_error = Some(error);
                row.make_final(State::Dead, now_ms);
            }
        });
        Box::pin(std::future::ready(result))
    }

    fn abandon(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        let mut rows = self.rows();
        let result = rows.held(lease).map(|row| {
            row.end_attempt(now_ms, AttemptOutcome::Expired, None);
            row.make_pending(now_ms);
        });
        Box::pin(std::future::ready(result))
    }

    fn get(&self, id: InboxId) -> BoxFuture<'_, Result<Option<EventDetail>, InboxError>> {
        let rows = self.rows();
        let detail = rows.rows.get(&id).map(|row| {
            EventDetail::new(
                row.record.clone(),
                row.body.clone(),
                row.headers.clone(),
                row.attempts.clone(),
            )
        });
        Box::pin(std::future::ready(Ok(detail)))
    }

    fn list<'a>(
        &'a self,
        filter: &'a Filter,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, InboxError>> {
        let rows = self.rows();
        let listed = rows
            .rows
            .values()
            .rev()
            .filter(|row| page.before.is_none_or(|before| row.record.id < before))
            .filter(|row| filter.matches(&row.record))
            .take(page.limit)
            .map(|row| row.record.clone())
            .collect();
        Box::pin(std::future::ready(Ok(listed)))
    }

    fn count<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        let rows = self.rows();
        let count = rows
            .rows
            .values()
            .filter(|row| filter.matches(&row.record))
            .count();
        Box::pin(std::future::ready(Ok(count as u64)))
    }

    fn stats(&self) -> BoxFuture<'_, Result<Stats, InboxError>> {
        let rows = self.rows();
        let mut stats = Stats::default();
        for row in rows.rows.values() {
            match row.record.state {
                State::Pending => {
                    stats.pending += 1;
                    let received = row.record.received_at_ms;
                    stats.oldest_pending_received_ms = Some(
                        stats
                            .oldest_pending_received_ms
                            .map_or(received, |oldest| oldest.min(received)),
                    );
                }
                State::Processing => stats.processing += 1,
                State::Done => stats.done += 1,
                State::Dead => stats.dead += 1,
            }
        }
        Box::pin(std::future::ready(Ok(stats)))
    }

    fn replay<'a>(
        &'a self,
        selection: &'a Selection,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<u64, InboxError>> {
        let mut rows = self.rows();
        let mut replayed = 0;
        for id in rows.selected(selection) {
            if let Some(row) = rows.rows.get_mut(&id) {
                if row.record.state != State::Processing {
                    row.make_pending(now_ms);
                    row.next_trigger = Trigger::Manual;
                    replayed += 1;
                }
            }
        }
        Box::pin(std::future::ready(Ok(replayed)))
    }

    fn mark_dead<'a>(
        &'a self,
        id: InboxId,
        now_ms: i64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<bool, InboxError>> {
        let mut rows = self.rows();
        let result = match rows.rows.get_mut(&id) {
            None => Err(InboxError::NotFound { id }),
            Some(row) => match row.record.state {
                State::Pending | State::Done => {
                    row.record.last_error = Some(reason.to_owned());
                    row.make_final(State::Dead, now_ms);
                    Ok(true)
                }
                State::Processing | State::Dead => Ok(false),
            },
        };
        Box::pin(std::future::ready(result))
    }

    fn purge<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        let mut rows = self.rows();
        let doomed: Vec<InboxId> = rows
            .rows
            .iter()
            .filter(|(_, row)| row.record.state != State::Processing && filter.matches(&row.record))
            .map(|(id, _)| *id)
            .collect();
        for id in &doomed {
            if let Some(row) = rows.rows.remove(id) {
                rows.keys.remove(&(row.record.namespace, row.record.key));
            }
        }
        Box::pin(std::future::ready(Ok(doomed.len() as u64)))
    }

    fn expire(&self, now_ms: i64, retention: Duration) -> BoxFuture<'_, Result<u64, InboxError>> {
        let mut rows = self.rows();
        let horizon = now_ms.saturating_sub(ms(retention));
        let expired: Vec<InboxId> = rows
            .rows
            .iter()
            .filter(|(_, row)| {
                row.record.state == State::Done && row.done_at_ms.is_some_and(|at| at < horizon)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            if let Some(row) = rows.rows.remove(id) {
                rows.keys.remove(&(row.record.namespace, row.record.key));
            }
        }
        Box::pin(std::future::ready(Ok(expired.len() as u64)))
    }
}

impl<I: Inbox + ?Sized> Inbox for std::sync::Arc<I> {
    fn enqueue(&self, event: NewEvent) -> BoxFuture<'_, Result<Enqueued, InboxError>> {
        (**self).enqueue(event)
    }

    fn claim(
        &self,
        namespace: &str,
        now_ms: i64,
        lease: Duration,
        max: usize,
    ) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>> {
        (**self).claim(namespace, now_ms, lease, max)
    }

    fn complete(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        (**self).complete(lease, now_ms)
    }

    fn fail(
        &self,
        lease: &Lease,
        now_ms: i64,
        failure: Failure,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        (**self).fail(lease, now_ms, failure)
    }

    fn abandon(&self, lease: &Lease, now_ms: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        (**self).abandon(lease, now_ms)
    }

    fn get(&self, id: InboxId) -> BoxFuture<'_, Result<Option<EventDetail>, InboxError>> {
        (**self).get(id)
    }

    fn list<'a>(
        &'a self,
        filter: &'a Filter,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, InboxError>> {
        (**self).list(filter, page)
    }

    fn count<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        (**self).count(filter)
    }

    fn stats(&self) -> BoxFuture<'_, Result<Stats, InboxError>> {
        (**self).stats()
    }

    fn received_histogram<'a>(
        &'a self,
        filter: &'a Filter,
        start_ms: i64,
        width: Duration,
        buckets: usize,
    ) -> BoxFuture<'a, Result<Vec<u64>, InboxError>> {
        (**self).received_histogram(filter, start_ms, width, buckets)
    }

    fn replay<'a>(
        &'a self,
        selection: &'a Selection,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<u64, InboxError>> {
        (**self).replay(selection, now_ms)
    }

    fn mark_dead<'a>(
        &'a self,
        id: InboxId,
        now_ms: i64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<bool, InboxError>> {
        (**self).mark_dead(id, now_ms, reason)
    }

    fn purge<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<u64, InboxError>> {
        (**self).purge(filter)
    }

    fn expire(&self, now_ms: i64, retention: Duration) -> BoxFuture<'_, Result<u64, InboxError>> {
        (**self).expire(now_ms, retention)
    }
}
