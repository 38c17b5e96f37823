//! For the load harness only (`bench/inbox.sh`): the `inbox_axum` receiver
//! with a configurable group commit. It is `inbox_axum` (the same endpoint,
//! routes, worker and `SqliteInbox` with `synchronous=FULL`) except that the
//! inbox is opened with `SqliteInbox::builder(file).max_batch(N)`, N from
//! `BOOKHOOK_INBOX_MAX_BATCH` (default 512, the library's default). With
//! `BOOKHOOK_INBOX_MAX_BATCH=1` every write commits on its own: the receiver
//! without group commit, which the harness compares with `inbox_axum`.
//!
//! Listens on `BOOKHOOK_ADDR` (default `127.0.0.1:18093`), stores in
//! `BOOKHOOK_INBOX_FILE` (default `bookhook-bench-inbox.db`), verifies with
//! `CALENDENCE_SECRET`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bookhook_axum::inbox::{Inbox, RetrySchedule, Worker};
use bookhook_axum::{
    ConfigError, Context, DispatcherBuilder, Endpoint, HandlerError, InboxService, Kind, Provider,
};
use bookhook_examples::{Sink, listen_addr, secret_from_env, serve};
use bookhook_sqlite::SqliteInbox;

const PATH: &str = "/webhook/calendence";

/// The variable that sets the most writes per transaction.
const MAX_BATCH_VAR: &str = "BOOKHOOK_INBOX_MAX_BATCH";

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

/// The receiving route and its worker, as in `inbox_axum`.
fn app(
    secret: &str,
    inbox: Arc<dyn Inbox>,
    sink: Sink,
) -> Result<(Router, Worker<Sink>), ConfigError> {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(secret)
        .build()?;
    let dispatcher = DispatcherBuilder::new(endpoint, sink)
        .on_kind(Kind::Created, on_created)
        .on_kind(Kind::Cancelled, on_cancelled)
        .build()?;
    let worker = Worker::builder(dispatcher, inbox)
        .concurrency(4)
        .timeout(Duration::from_secs(30))
        .schedule(RetrySchedule::default())
        .build()?;
    let app = Router::new().route_service(PATH, InboxService::new(worker.ingest()));
    Ok((app, worker))
}

fn open_inbox(path: &Path, max_batch: usize) -> Result<Arc<dyn Inbox>, Box<dyn std::error::Error>> {
    let inbox = SqliteInbox::builder(path)
        .max_batch(max_batch)
        .open()
        .map_err(|err| format!("cannot open the inbox {}: {err}", path.display()))?;
    Ok(Arc::new(inbox))
}

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
    let addr = listen_addr("127.0.0.1:18093")?;
    let file =
        std::env::var("BOOKHOOK_INBOX_FILE").unwrap_or_else(|_| "bookhook-bench-inbox.db".into());
    let max_batch = max_batch()?;
    let inbox = open_inbox(Path::new(&file), max_batch)?;
    println!("Storing events in {file}, up to {max_batch} writes per transaction");
    let (app, worker) = app(&secret, inbox, Sink::new())?;
    let (served, _report) = worker.alongside(serve(app, addr)).await;
    served?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_examples::{samples, send_signed};

    #[tokio::test]
    async fn one_row_per_transaction_still_queues_then_deduplicates() {
        let dir = std::env::temp_dir().join(format!(
            "bookhook-bench-inbox-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let inbox = open_inbox(&dir.join("inbox.db"), 1).unwrap();
        let sink = Sink::new();
        let (app, worker) = app("test-secret", inbox, sink.clone()).unwrap();
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret("test-secret")
            .build()
            .unwrap();

        let created = send_signed(&app, &endpoint, PATH, samples::CALENDENCE_CREATED).await;
        assert_eq!(created, (200, r#"{"status":"queued","id":1}"#.to_owned()));
        let again = send_signed(&app, &endpoint, PATH, samples::CALENDENCE_CREATED).await;
        assert_eq!(again, (200, r#"{"status":"duplicate"}"#.to_owned()));
        assert_eq!(worker.drain().await, 1);
        assert_eq!(sink.lines(), ["Booking b-1001 created: confirmation sent"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
