//! How long the dashboard's pages take over a SQLite inbox of a million rows.
//!
//! `cargo bench -p bookhook-dashboard --bench million` (BOOKHOOK_BENCH_ROWS
//! changes the count). The rows are written through `Inbox::enqueue`, many at
//! once so that group commit batches them; their states are then set with
//! one SQL statement per state (90 % done, 5 % dead, 5 % pending), which a
//! worker would take a million claims to reach. Each page is then rendered
//! through `Dashboard::handle` (inbox query, template, escaping) 7 times;
//! the median and the slowest are printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bookhook::inbox::{Inbox, NewEvent};
use bookhook::{Kind, Provider};
use bookhook_dashboard::{Dashboard, Request};
use bookhook_sqlite::{SqliteInbox, Synchronous};
use futures_util::future::join_all;

const TOKEN: &str = "bench-token-0123456789abcdef";
const T0: i64 = 1_774_362_600_000;
const RUNS: usize = 7;

fn event(n: u64) -> NewEvent {
    let providers = [Provider::Calendence, Provider::Eagenda, Provider::Decoda];
    let types = ["booking.created", "booking.updated", "booking.cancelled"];
    let provider = providers[(n % 3) as usize];
    let event_type = types[(n / 3 % 3) as usize];
    NewEvent::new(
        provider.as_str(),
        format!("evt-{n}"),
        Some(format!("apt-{}", n % 50_000)),
        provider,
        event_type,
        Kind::Created,
        // A million rows over the last ~11.5 days, one every second.
        T0 + n as i64 * 1_000,
        None,
        format!(
            r#"{{"event":"{event_type}","data":{{"id":"apt-{}","n":{n}}}}}"#,
            n % 50_000
        )
        .into(),
        vec![("content-type".into(), "application/json".into())],
    )
}

async fn seed(inbox: &Arc<SqliteInbox>, rows: u64) -> Duration {
    let started = Instant::now();
    let mut n = 0;
    while n < rows {
        let end = (n + 4_096).min(rows);
        let writes = (n..end).map(|i| inbox.enqueue(event(i)));
        for written in join_all(writes).await {
            written.expect("enqueue");
        }
        n = end;
    }
    started.elapsed()
}

fn set_states(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).expect("the inbox file");
    conn.execute_batch(
        "BEGIN;
         UPDATE events SET state = 2, next_attempt_at = NULL, attempts = 1,
                finished_at = received_at + 200 WHERE id % 20 NOT IN (0, 1);
         UPDATE events SET state = 3, next_attempt_at = NULL, attempts = 5,
                last_error = 'handler failed: upstream 502', finished_at = received_at + 900
                WHERE id % 20 = 1;
         COMMIT;",
    )
    .expect("states set");
}

async fn time_page(dashboard: &Dashboard, name: &str, path: &str, query: &str) {
    let mut times = Vec::with_capacity(RUNS);
    let mut size = 0;
    for _ in 0..RUNS {
        let request = Request::new("GET", path)
            .query(query)
            .header("authorization", format!("Bearer {TOKEN}"));
        let started = Instant::now();
        let response = dashboard.handle(request).await;
        times.push(started.elapsed());
        assert_eq!(response.status, 200, "{path}?{query}");
        size = response.body.len();
    }
    times.sort();
    println!(
        "{name:<44} median {:>8.2} ms   slowest {:>8.2} ms   ({} KiB)",
        times[RUNS / 2].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
        size / 1024
    );
}

fn main() {
    let rows: u64 = std::env::var("BOOKHOOK_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("inbox.db");
    runtime.block_on(async {
        let inbox = Arc::new(
            SqliteInbox::builder(&path)
                .synchronous(Synchronous::Normal)
                .max_batch(4_096)
                .open()
                .expect("the inbox opens"),
        );
        let took = seed(&inbox, rows).await;
        println!(
            "seeded {rows} rows through enqueue in {:.1} s",
            took.as_secs_f64()
        );
        drop(inbox);
        set_states(&path);
        let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&path).expect("the inbox opens"));
        // "Now" is one minute after the newest row, so the chart has data.
        let now = T0 + rows as i64 * 1_000 + 60_000;
        let clock = bookhook::endpoint::ManualClock::at(
            std::time::UNIX_EPOCH + Duration::from_millis(now as u64),
        );
        let dashboard = Dashboard::builder(inbox)
            .token(TOKEN)
            .clock(clock)
            .build()
            .expect("a dashboard");
        let middle = rows / 2;
        let deep = (rows / 100).max(2);
        time_page(&dashboard, "overview (counts, oldest, chart)", "/", "").await;
        time_page(&dashboard, "events, first page", "/events", "").await;
        time_page(&dashboard, "events, state=dead", "/events", "state=dead").await;
        time_page(
            &dashboard,
            "events, provider=eagenda",
            "/events",
            "provider=eagenda",
        )
        .await;
        time_page(
            &dashboard,
            "events, appointment=apt-123",
            "/events",
            "appointment=apt-123",
        )
        .await;
        time_page(
            &dashboard,
            "events, last hour (since)",
            "/events",
            &format!("since={}", chrono_like(now - 3_600_000)),
        )
        .await;
        time_page(
            &dashboard,
            "events, cursor in the middle",
            "/events",
            &format!("cursor={middle}"),
        )
        .await;
        time_page(
            &dashboard,
            "events, cursor near the oldest",
            "/events",
            &format!("cursor={deep}"),
        )
        .await;
        time_page(
            &dashboard,
            "events, state=dead, deep cursor",
            "/events",
            &format!("state=dead&cursor={deep}"),
        )
        .await;
        time_page(
            &dashboard,
            "events, type matching nothing",
            "/events",
            "type=no.such.type",
        )
        .await;
        time_page(&dashboard, "dead letters", "/dead", "").await;
        time_page(&dashboard, "replay all matching: count", "/dead/replay", "").await;
        time_page(&dashboard, "one event", &format!("/events/{middle}"), "").await;
    });
}

/// `ms` as the filter form writes a time (UTC).
fn chrono_like(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a time in range")
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}
