//! The in-memory inbox passes the inbox contract suite.
#![cfg(feature = "testing")]

use bookhook::inbox::MemoryInbox;
use bookhook::testing::inbox;

#[tokio::test]
async fn memory_inbox_meets_the_inbox_contract() {
    inbox::run_all(|| async { MemoryInbox::new() }).await;
}
