//! Measures how much memory a `MemoryStore` uses per key.
//!
//! Claims and completes a million keys (default; pass another count as the
//! first argument), then reads the resident set size from `/proc/self/statm`
//! (Linux) before and after:
//!
//! ```text
//! cargo run --release -p bookhook --example memory_per_key [KEYS]
//! ```

use std::time::{Duration, Instant};

use bookhook::idempotency::{Claim, IdempotencyStore, MemoryStore};

fn main() {
    let keys: usize = match std::env::args().nth(1).map(|arg| arg.parse()) {
        None => 1_000_000,
        Some(Ok(keys)) => keys,
        Some(Err(err)) => {
            eprintln!("usage: memory_per_key [KEYS]: {err}");
            std::process::exit(2);
        }
    };
    let Some(before) = resident_bytes() else {
        eprintln!("cannot read /proc/self/statm: this example needs Linux");
        std::process::exit(1);
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime builds");
    // Room for every key, so that none is evicted while measuring.
    let store = MemoryStore::builder()
        .capacity(keys.max(1) + keys / 8)
        .build()
        .expect("valid settings");
    let lease = Duration::from_secs(30);
    let ttl = Duration::from_secs(72 * 3600);
    let started = Instant::now();
    runtime.block_on(async {
        let mut key = String::with_capacity(32);
        for i in 0..keys {
            use std::fmt::Write as _;
            key.clear();
            write!(key, "evt_{i:012}").expect("writing to a string");
            match store.claim(&key, lease).await {
                Ok(Claim::Claimed(token)) => {
                    if let Err(err) = store.complete(&key, token, ttl).await {
                        eprintln!("complete failed: {err}");
                    }
                }
                other => eprintln!("unexpected claim answer for {key}: {other:?}"),
            }
        }
    });
    let elapsed = started.elapsed();
    let after = resident_bytes().unwrap_or(before);

    let held = store.len();
    let grown = after.saturating_sub(before);
    println!("keys inserted:   {keys}");
    println!("keys held:       {held}");
    println!("shards:          {}", store.shards());
    println!("rss before:      {:.1} MiB", mib(before));
    println!("rss after:       {:.1} MiB", mib(after));
    println!("bytes per key:   {:.1}", grown as f64 / held.max(1) as f64);
    println!(
        "claim+complete:  {:.0} ns per key",
        elapsed.as_nanos() as f64 / keys.max(1) as f64
    );
}

/// Resident set size in bytes, from `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The page size: 4 KiB on the platforms this example targets.
fn page_size() -> u64 {
    4096
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
