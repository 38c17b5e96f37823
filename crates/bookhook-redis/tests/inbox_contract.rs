//! The shared `Inbox` contract (the checks `MemoryInbox` passes), against a
//! real Redis server: each check gets an empty inbox under a prefix of its own.

mod inbox_support;
mod support;

use support::unique;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_inbox_contract_holds_on_redis() {
    let Some(redis) = support::redis() else {
        return;
    };
    let url = redis.url.clone();
    bookhook::testing::inbox::run_all(|| {
        let url = url.clone();
        async move { inbox_support::volatile_inbox(&url, &(unique("contract") + ":")).await }
    })
    .await;
}
