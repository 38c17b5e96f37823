//! The inbox contract of `bookhook::testing::inbox`, run against SQLite files
//! with each durability level.

use std::sync::atomic::{AtomicUsize, Ordering};

use bookhook::testing::inbox;
use bookhook_sqlite::{SqliteInbox, Synchronous};

async fn run_contract(synchronous: Synchronous) {
    let dir = tempfile::tempdir().unwrap();
    let files = AtomicUsize::new(0);
    inbox::run_all(|| {
        let n = files.fetch_add(1, Ordering::Relaxed);
        let path = dir.path().join(format!("inbox-{n}.db"));
        async move {
            SqliteInbox::builder(path)
                .synchronous(synchronous)
                .open()
                .expect("open a fresh inbox")
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_inbox_passes_the_inbox_contract() {
    run_contract(Synchronous::Full).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_inbox_with_synchronous_normal_passes_the_inbox_contract() {
    run_contract(Synchronous::Normal).await;
}
