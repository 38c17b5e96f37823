//! `MemoryStore` against the store contract, plus what only an in-memory store
//! promises: a capacity with least-recently-used eviction.
#![cfg(feature = "testing")]

use std::sync::Arc;
use std::time::Duration;

use bookhook::testing::store::{self, StoreHarness};
use bookhook::{BoxFuture, Claim, ClaimToken, IdempotencyStore, ManualClock, MemoryStore};

struct Memory {
    clock: ManualClock,
    store: MemoryStore,
}

impl Memory {
    fn new() -> Self {
        Self::with(MemoryStore::builder())
    }

    fn with(builder: bookhook::MemoryStoreBuilder) -> Self {
        let clock = ManualClock::at_unix(1_700_000_000);
        let store = builder.clock(clock.clone()).build().unwrap();
        Self { clock, store }
    }
}

impl StoreHarness for Memory {
    type Store = MemoryStore;

    fn store(&self) -> &MemoryStore {
        &self.store
    }

    fn advance(&self, by: Duration) -> BoxFuture<'_, ()> {
        self.clock.advance(by);
        Box::pin(std::future::ready(()))
    }
}

const LEASE: Duration = Duration::from_secs(30);
const TTL: Duration = Duration::from_secs(72 * 3600);

async fn claimed(store: &MemoryStore, key: &str) -> ClaimToken {
    match store.claim(key, LEASE).await.unwrap() {
        Claim::Claimed(token) => token,
        other => panic!("claim of {key}: expected Claimed, got {other:?}"),
    }
}

#[tokio::test]
async fn meets_the_store_contract() {
    store::run_all(&Memory::new()).await;
}

#[tokio::test]
async fn meets_the_store_contract_with_one_shard() {
    store::run_all(&Memory::with(MemoryStore::builder().shards(1))).await;
}

#[tokio::test]
async fn capacity_evicts_least_recently_used() {
    let memory = Memory::with(MemoryStore::builder().capacity(3).shards(1));
    let store = &memory.store;
    for key in ["a", "b", "c"] {
        let token = claimed(store, key).await;
        store.complete(key, token, TTL).await.unwrap();
    }
    // Touch "a", so that "b" is now the least recently used.
    assert_eq!(store.claim("a", LEASE).await.unwrap(), Claim::Done);

    claimed(store, "d").await;
    assert_eq!(store.len(), 3);
    assert_eq!(store.claim("a", LEASE).await.unwrap(), Claim::Done);
    assert_eq!(store.claim("c", LEASE).await.unwrap(), Claim::Done);
    assert_eq!(store.claim("d", LEASE).await.unwrap(), Claim::InFlight);
    // "b" was forgotten: a copy of it is processed again.
    claimed(store, "b").await;
    assert_eq!(store.len(), 3);
}

#[tokio::test]
async fn appointment_records_count_against_capacity() {
    let memory = Memory::with(MemoryStore::builder().capacity(2).shards(1));
    let store = &memory.store;
    claimed(store, "evt").await;
    store.observe("appt_1", 10, TTL).await.unwrap();
    store.observe("appt_2", 10, TTL).await.unwrap();
    assert_eq!(store.len(), 2);
    // The claim was the least recently used entry.
    claimed(store, "evt").await;
}

#[tokio::test]
async fn ttl_expiry_frees_done_key() {
    let memory = Memory::new();
    let store = &memory.store;
    let token = claimed(store, "evt").await;
    store.complete("evt", token, TTL).await.unwrap();

    memory.clock.advance(TTL - Duration::from_millis(1));
    assert_eq!(store.claim("evt", LEASE).await.unwrap(), Claim::Done);
    memory.clock.advance(Duration::from_millis(1));
    assert_eq!(store.len(), 1);
    assert_eq!(store.purge_expired(), 1);
    assert!(store.is_empty());
    claimed(store, "evt").await;
}

#[tokio::test]
async fn lease_expiry_lets_later_copy_through() {
    let memory = Memory::new();
    let store = &memory.store;
    let crashed = claimed(store, "evt").await;

    memory.clock.advance(LEASE - Duration::from_millis(1));
    assert_eq!(store.claim("evt", LEASE).await.unwrap(), Claim::InFlight);
    memory.clock.advance(Duration::from_millis(1));
    let retry = claimed(store, "evt").await;
    assert_ne!(crashed, retry);

    // The crashed worker comes back: its token no longer counts.
    store.complete("evt", crashed, TTL).await.unwrap();
    assert_eq!(store.claim("evt", LEASE).await.unwrap(), Claim::InFlight);
    store.complete("evt", retry, TTL).await.unwrap();
    assert_eq!(store.claim("evt", LEASE).await.unwrap(), Claim::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_claims_admit_one() {
    const TASKS: usize = 64;
    for round in 0..20 {
        let store = Arc::new(MemoryStore::builder().shards(4).build().unwrap());
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let key = format!("evt_{round}");
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let key = key.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.claim(&key, LEASE).await.unwrap()
                })
            })
            .collect();
        let mut claimed = 0;
        for task in tasks {
            match task.await.unwrap() {
                Claim::Claimed(_) => claimed += 1,
                Claim::InFlight => {}
                Claim::Done => panic!("round {round}: a new key was reported done"),
            }
        }
        assert_eq!(claimed, 1, "round {round}: claims admitted");
    }
}
