//! Inbox mode with axum and SQLite: answer Calendence at once, handle in the background.
//!
//! Run it with `cargo run --example inbox_axum`. It listens on `127.0.0.1:5003`
//! (set `BOOKHOOK_ADDR` to change it), stores every verified event in the
//! SQLite file `bookhook-inbox.db` (set `BOOKHOOK_INBOX_FILE` to change it),
//! answers `200 {"status":"queued","id":…}` once the event is on disk, and
//! runs the handlers from the file in the background, with retries. Events
//! stored before a crash or a restart are handled when it starts again.
//! The signing secret comes from `CALENDENCE_SECRET` (a printed development
//! secret otherwise). Stop it with Ctrl-C.
//!
//! With `BOOKHOOK_INBOX=redis://…` it stores the events in that Redis
//! instead (a `RedisInbox` under the key prefix `bookhook:inbox:`, or
//! `BOOKHOOK_INBOX_PREFIX`), as several replicas of one receiver would; the
//! server must keep an append-only file (`appendonly yes`).
//!
//! `BOOKHOOK_INBOX_WORKER=off` runs the receiving side only: events are
//! stored and acknowledged, and left pending for a worker elsewhere (another
//! replica on the same Redis, or this example started again without it).
//! `bench/inbox.sh` uses it to measure the acknowledgement path alone.
//!
//! `BOOKHOOK_INBOX_MAX_BATCH` sets the most writes committed together (512 by
//! default, the library's default); `BOOKHOOK_INBOX_MAX_BATCH=1` commits every
//! event on its own, which `bench/inbox.sh` uses to measure what group commit
//! saves.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bookhook_axum::inbox::{Inbox, Ingest, RetrySchedule, Worker};
use bookhook_axum::{
    ConfigError, Context, DispatcherBuilder, Endpoint, HandlerError, InboxService, Kind, Provider,
};
use bookhook_examples::{Sink, listen_addr, print_curl, samples, secret_from_env, serve};
use bookhook_redis::RedisInbox;
use bookhook_sqlite::SqliteInbox;

const PATH: &str = "/webhook/calendence";

/// The variable that sets the most writes per transaction.
const MAX_BATCH_VAR: &str = "BOOKHOOK_INBOX_MAX_BATCH";

/// A handler that would be too slow for Calendence's 10 s timeout if it ran
/// on the request: here it runs from the inbox.
async fn on_created(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(booking) = ctx.appointment() {
        ctx.state()
            .say(format!("Booking {} created: confirmation sent", booking.id));
    }
    Ok(())
}

async fn on_cancelled(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(booking) = ctx.appointment() {
        ctx.state().say(format!("Booking {} cancelled", booking.id));
    }
    Ok(())
}

/// The receiving route and the worker that handles what it stored.
fn app(
    secret: &str,
    inbox: Arc<dyn Inbox>,
    sink: Sink,
) -> Result<(Router, Worker<Sink>, Endpoint), ConfigError> {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(secret)
        .build()?;
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), sink)
        .on_kind(Kind::Created, on_created)
        .on_kind(Kind::Cancelled, on_cancelled)
        .build()?;
    let worker = Worker::builder(dispatcher, inbox)
        // Handlers at once, and so events claimed and completed per commit:
        // these handlers only print, so many can run together.
        .concurrency(32)
        .timeout(Duration::from_secs(30))
        .schedule(RetrySchedule::default())
        .build()?;
    let ingest: Ingest = worker.ingest();
    let app = Router::new().route_service(PATH, InboxService::new(ingest));
    Ok((app, worker, endpoint))
}

/// The Redis inbox named by `BOOKHOOK_INBOX`, when it names one.
async fn open_redis_inbox() -> Result<Option<Arc<dyn Inbox>>, Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("BOOKHOOK_INBOX") else {
        return Ok(None);
    };
    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
        return Err(format!("BOOKHOOK_INBOX must be a redis:// URL here, not `{url}`").into());
    }
    let prefix =
        std::env::var("BOOKHOOK_INBOX_PREFIX").unwrap_or_else(|_| "bookhook:inbox:".into());
    let inbox = RedisInbox::builder()
        .prefix(prefix)
        .connect(&url)
        .await
        .map_err(|err| format!("cannot open the Redis inbox: {err}"))?;
    Ok(Some(Arc::new(inbox)))
}

fn open_inbox(path: &Path, max_batch: usize) -> Result<Arc<dyn Inbox>, Box<dyn std::error::Error>> {
    let inbox = SqliteInbox::builder(path)
        .max_batch(max_batch)
        .open()
        .map_err(|err| format!("cannot open the inbox {}: {err}", path.display()))?;
    Ok(Arc::new(inbox))
}

/// `BOOKHOOK_INBOX_MAX_BATCH`, or 512.
fn max_batch() -> Result<usize, String> {
    match std::env::var(MAX_BATCH_VAR) {
        Ok(value) if !value.is_empty() => value
            .parse()
            .map_err(|err| format!("{MAX_BATCH_VAR}={value}: {err}")),
        _ => Ok(512),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = secret_from_env("CALENDENCE_SECRET", "calendence-development-secret");
    let addr = listen_addr("127.0.0.1:5003")?;
    let file = std::env::var("BOOKHOOK_INBOX_FILE").unwrap_or_else(|_| "bookhook-inbox.db".into());
    let inbox = match open_redis_inbox().await? {
        Some(inbox) => {
            println!("Storing events in Redis");
            inbox
        }
        None => {
            let max_batch = max_batch()?;
            println!("Storing events in {file}, up to {max_batch} writes per transaction");
            open_inbox(Path::new(&file), max_batch)?
        }
    };
    let (app, worker, endpoint) = app(&secret, inbox, Sink::new())?;
    print_curl(&endpoint, addr, PATH, samples::CALENDENCE_CREATED);
    if std::env::var("BOOKHOOK_INBOX_WORKER").is_ok_and(|v| v == "off") {
        println!("No worker here: stored events stay pending for a worker elsewhere");
        return Ok(serve(app, addr).await?);
    }
    // The worker runs beside the server and stops with it.
    let (served, report) = worker.alongside(serve(app, addr)).await;
    served?;
    println!(
        "Worker stopped: {} handlers finished, {} cut off",
        report.finished, report.cut_off
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_examples::send_signed;

    /// Sends one event twice to a fresh inbox committing up to `max_batch`
    /// writes together, then drains the worker.
    async fn queued_duplicate_then_handled(max_batch: usize) {
        let dir = std::env::temp_dir().join(format!(
            "bookhook-inbox-example-{max_batch}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let inbox = open_inbox(&dir.join("inbox.db"), max_batch).unwrap();
        let sink = Sink::new();
        let (app, worker, endpoint) = app("test-secret", inbox, sink.clone()).unwrap();

        let created = send_signed(&app, &endpoint, PATH, samples::CALENDENCE_CREATED).await;
        assert_eq!(created, (200, r#"{"status":"queued","id":1}"#.to_owned()));
        let again = send_signed(&app, &endpoint, PATH, samples::CALENDENCE_CREATED).await;
        assert_eq!(again, (200, r#"{"status":"duplicate"}"#.to_owned()));
        // Nothing was handled on the request path.
        assert!(sink.lines().is_empty());

        assert_eq!(worker.drain().await, 1);
        assert_eq!(sink.lines(), ["Booking b-1001 created: confirmation sent"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn answers_queued_then_handles_from_the_file() {
        queued_duplicate_then_handled(512).await;
    }

    #[tokio::test]
    async fn one_row_per_transaction_still_queues_then_deduplicates() {
        queued_duplicate_then_handled(1).await;
    }
}
