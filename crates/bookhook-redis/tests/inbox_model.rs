//! `RedisInbox` against `MemoryInbox`, the reference implementation: the same
//! random sequence of operations on both must give the same answers and
//! leave the same rows.

mod inbox_support;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use bookhook::inbox::{
    Failure, Filter, Inbox, InboxId, Lease, MemoryInbox, NewEvent, Page, Selection, State,
};
use bookhook::{Kind, Provider};
use bookhook_redis::RedisInbox;
use inbox_support::volatile_inbox;
use support::unique;

const T0: i64 = 1_774_362_600_000;

/// xorshift64*: a small deterministic generator, so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn new_event(rng: &mut Rng, now: i64) -> NewEvent {
    let ns = ["a", "b"][rng.below(2) as usize];
    let key = format!("k{}", rng.below(40));
    let ordering = match rng.below(4) {
        0 => None,
        n => Some(format!("appt-{n}")),
    };
    let provider = [Provider::Calendence, Provider::Eagenda][rng.below(2) as usize];
    let occurred = now - rng.below(10_000) as i64;
    NewEvent::new(
        ns,
        key,
        ordering,
        provider,
        ["booking.created", "booking.cancelled"][rng.below(2) as usize],
        Kind::Created,
        now,
        (rng.below(5) != 0).then_some(occurred),
        format!("body {now}").into(),
        vec![("x-n".into(), rng.below(100).to_string())],
    )
}

fn random_filter(rng: &mut Rng, now: i64) -> Filter {
    let mut filter = Filter::default();
    if rng.below(2) == 0 {
        filter = filter.state(State::ALL[rng.below(4) as usize]);
    }
    if rng.below(3) == 0 {
        filter = filter.namespace(["a", "b"][rng.below(2) as usize]);
    }
    if rng.below(4) == 0 {
        filter = filter.ordering_key(format!("appt-{}", 1 + rng.below(3)));
    }
    if rng.below(4) == 0 {
        filter = filter.provider(Provider::Eagenda);
    }
    if rng.below(4) == 0 {
        filter = filter.event_type("booking.cancelled");
    }
    if rng.below(4) == 0 {
        filter = filter.since_ms(now - rng.below(50_000) as i64);
    }
    if rng.below(4) == 0 {
        filter = filter.before_ms(now - rng.below(50_000) as i64);
    }
    filter
}

/// Every row of both inboxes, with details, must be equal.
async fn assert_same_rows(redis: &RedisInbox, memory: &MemoryInbox, step: usize) {
    let all = Filter::default();
    let r = redis.list(&all, Page::first(10_000)).await.unwrap();
    let m = memory.list(&all, Page::first(10_000)).await.unwrap();
    for (rr, mr) in r.iter().zip(&m) {
        assert_eq!(rr, mr, "step {step}: rows differ");
    }
    assert_eq!(r.len(), m.len(), "step {step}: listings differ in length");
    for record in &m {
        let rd = redis.get(record.id).await.unwrap();
        let md = memory.get(record.id).await.unwrap();
        assert_eq!(rd, md, "step {step}: row {} differs", record.id);
    }
    assert_eq!(
        redis.stats().await.unwrap(),
        memory.stats().await.unwrap(),
        "step {step}: stats differ"
    );
}

async fn run(url: &str, seed: u64, steps: usize) {
    let redis = volatile_inbox(url, &(unique("model") + ":")).await;
    let memory = MemoryInbox::new();
    let mut rng = Rng(seed);
    let mut now = T0;
    // The leases each backend handed out, by row.
    let mut leases: BTreeMap<InboxId, (Lease, Lease)> = BTreeMap::new();
    for step in 0..steps {
        let op = rng.below(100);
        match op {
            0..=29 => {
                let event = new_event(&mut rng, now);
                let r = redis.enqueue(event.clone()).await.unwrap();
                let m = memory.enqueue(event).await.unwrap();
                assert_eq!(r, m, "step {step}: enqueue");
            }
            30..=49 => {
                let ns = ["a", "b"][rng.below(2) as usize];
                let lease = Duration::from_millis(1_000 + rng.below(5_000));
                // Sometimes every row that may run, sometimes a few: the
                // oldest ids must come first either way.
                let max = if rng.below(2) == 0 {
                    64
                } else {
                    1 + rng.below(3) as usize
                };
                let r = redis.claim(ns, now, lease, max).await.unwrap();
                let m = memory.claim(ns, now, lease, max).await.unwrap();
                let r_ids: Vec<_> = r.iter().map(|c| c.record.id).collect();
                let m_ids: Vec<_> = m.iter().map(|c| c.record.id).collect();
                assert_eq!(r_ids, m_ids, "step {step}: claim {ns} at {now}, max {max}");
                for (rc, mc) in r.iter().zip(&m) {
                    assert_eq!(rc.record, mc.record, "step {step}: claimed record");
                    assert_eq!(rc.trigger, mc.trigger, "step {step}: trigger");
                    assert_eq!(
                        rc.newer_done_at_ms, mc.newer_done_at_ms,
                        "step {step}: newer done of {}",
                        rc.record.id
                    );
                    leases.insert(rc.record.id, (rc.lease, mc.lease));
                }
            }
            50..=79 => {
                let Some((&id, &(rl, ml))) = leases
                    .iter()
                    .nth(rng.below(leases.len().max(1) as u64) as usize)
                else {
                    continue;
                };
                let action = rng.below(4);
                let (r, m) = match action {
                    0 | 1 => (
                        redis.complete(&rl, now).await,
                        memory.complete(&ml, now).await,
                    ),
                    2 => {
                        let failure = if rng.below(2) == 0 {
                            Failure::Retry {
                                at_ms: now + rng.below(8_000) as i64,
                                error: "flaky | again".into(),
                            }
                        } else {
                            Failure::Dead {
                                error: "permanent".into(),
                            }
                        };
                        (
                            redis.fail(&rl, now, failure.clone()).await,
                            memory.fail(&ml, now, failure).await,
                        )
                    }
                    _ => (
                        redis.abandon(&rl, now).await,
                        memory.abandon(&ml, now).await,
                    ),
                };
                assert_eq!(r, m, "step {step}: finishing {id} (action {action})");
                if rng.below(3) != 0 {
                    leases.remove(&id);
                }
            }
            80..=84 => {
                let selection = if rng.below(2) == 0 {
                    Selection::Ids(vec![
                        InboxId::new(1 + rng.below(30)),
                        InboxId::new(1 + rng.below(30)),
                    ])
                } else {
                    Selection::Matching(random_filter(&mut rng, now))
                };
                let r = redis.replay(&selection, now).await.unwrap();
                let m = memory.replay(&selection, now).await.unwrap();
                assert_eq!(r, m, "step {step}: replay {selection:?}");
            }
            85..=87 => {
                let id = InboxId::new(1 + rng.below(30));
                let r = redis.mark_dead(id, now, "by hand").await;
                let m = memory.mark_dead(id, now, "by hand").await;
                assert_eq!(r, m, "step {step}: mark_dead {id}");
            }
            88..=89 => {
                let filter = random_filter(&mut rng, now);
                let r = redis.purge(&filter).await.unwrap();
                let m = memory.purge(&filter).await.unwrap();
                assert_eq!(r, m, "step {step}: purge {filter:?}");
            }
            90..=91 => {
                let retention = Duration::from_millis(rng.below(20_000));
                let r = redis.expire(now, retention).await.unwrap();
                let m = memory.expire(now, retention).await.unwrap();
                assert_eq!(r, m, "step {step}: expire {retention:?}");
            }
            92..=95 => {
                let filter = random_filter(&mut rng, now);
                let page = Page::first(1 + rng.below(5) as usize);
                let r = redis.list(&filter, page).await.unwrap();
                let m = memory.list(&filter, page).await.unwrap();
                assert_eq!(r, m, "step {step}: list {filter:?}");
                if let Some(last) = m.last() {
                    let next = Page::after(last.id, 3);
                    assert_eq!(
                        redis.list(&filter, next).await.unwrap(),
                        memory.list(&filter, next).await.unwrap(),
                        "step {step}: next page of {filter:?}"
                    );
                }
                assert_eq!(
                    redis.count(&filter).await.unwrap(),
                    memory.count(&filter).await.unwrap(),
                    "step {step}: count {filter:?}"
                );
            }
            _ => now += rng.below(4_000) as i64,
        }
        now += 1;
        if step % 10 == 0 {
            assert_same_rows(&redis, &memory, step).await;
        }
    }
    assert_same_rows(&redis, &memory, steps).await;
}

#[tokio::test]
async fn random_operations_agree_with_the_memory_inbox() {
    let Some(redis) = support::redis() else {
        return;
    };
    let seeds: u64 = std::env::var("INBOX_MODEL_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6);
    for seed in 1..=seeds {
        run(
            &redis.url,
            seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            400,
        )
        .await;
    }
}
