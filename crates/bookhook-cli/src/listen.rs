//! `bookhook listen`: a local receiver that prints one JSON line per delivery.
//!
//! The path is served by `bookhook-axum`'s `WebhookService`; the dispatcher's
//! observer ([`Dispatcher::on_finished`]) prints the line from each
//! [`Finished`] report, so that every request is seen, rejections included.

use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bookhook::inbox::{
    AttemptReport, AttemptResult, EventRecord, Inbox, Ingested, RetrySchedule, Worker, WorkerHandle,
};
use bookhook::{
    Context, Delivery, Dispatcher, HandlerError,
    endpoint::{DEFAULT_MAX_BODY, UnverifiedBudget},
};
use bookhook_axum::{InboxService, WebhookService};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::ListenArgs;
use crate::endpoint;
use crate::error::CliError;
use crate::inbox_url::{InboxUrl, rfc3339};
use crate::output::{Lines, RequestLine};

/// How long `--exec` may run before it is killed and the event counted failed.
const EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// How much longer than the command's timeout the worker waits for it.
const WORKER_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);
/// How often the worker looks for due retries (new events wake it at once).
const WORKER_POLL: Duration = Duration::from_millis(250);
/// The longest value put in the command's environment, in bytes.
const MAX_ENV_VALUE: usize = 4096;
/// The variable `--secret` is read from.
const SECRET_VAR: &str = "BOOKHOOK_SECRET";

pub(crate) async fn run(args: ListenArgs) -> Result<ExitCode, CliError> {
    check_path(&args.path)?;
    let max_body = match args.max_body {
        Some(bytes) => usize::try_from(bytes)
            .map_err(|_| CliError::usage("--max-body is larger than this machine can hold"))?,
        None => DEFAULT_MAX_BODY,
    };
    let budget = UnverifiedBudget::new(usize::try_from(args.unverified_budget).map_err(|_| {
        CliError::usage("--unverified-budget is larger than this machine can hold")
    })?);
    // Configuration mistakes are usage errors, found before any connection.
    endpoint::build(args.provider.builder()?.max_body(max_body))?;
    let mut builder = args
        .provider
        .builder()?
        .max_body(max_body)
        .body_timeout(args.body_timeout)
        .unverified_budget(budget)
        // Nothing listen prints or gives `--exec` says whether an event is
        // its appointment's newest: no record of it is kept.
        .track_freshness(false);
    if let Some(url) = &args.redis {
        let known = ["redis://", "rediss://", "redis+unix://", "unix://"];
        if !known.iter().any(|scheme| {
            url.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        }) {
            return Err(CliError::usage(
                "--redis needs a redis:// (or rediss://, unix://) url",
            ));
        }
        let store = bookhook_redis::RedisStore::connect(url)
            .await
            .map_err(|err| CliError::failure(format!("cannot use redis: {err}")))?;
        builder = builder.store(store);
    }
    let endpoint = endpoint::build(builder)?;
    // Inbox mode: the inbox is opened before the address is announced.
    let inbox = match &args.inbox {
        Some(given) => {
            let url = InboxUrl::resolve(given.as_deref())?;
            let opened = url.open().await?;
            Some((url, opened))
        }
        None => None,
    };
    let exec_timeout = args.handler_timeout.unwrap_or(EXEC_TIMEOUT);
    let dispatcher = match args.exec.clone() {
        Some(command) => {
            let command = Arc::new(Exec {
                command,
                hidden: hidden_vars(&args.provider.secrets),
                timeout: exec_timeout,
            });
            Dispatcher::builder(endpoint).fallback(move |ctx: Context| {
                let command = Arc::clone(&command);
                async move { exec(&command, ctx.delivery()).await }
            })
        }
        None => Dispatcher::builder(endpoint)
            .fallback(|_ctx: Context| async { Ok::<_, HandlerError>(()) }),
    }
    .build()
    .map_err(|err| CliError::usage(format!("invalid configuration: {err}")))?;

    // Signals are taken over before the address is announced, so that a
    // SIGTERM sent right after `listening on` stops the server gracefully.
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|err| CliError::failure(format!("cannot handle SIGTERM: {err}")))?;
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|err| CliError::failure(format!("cannot handle SIGINT: {err}")))?;

    if let Some(addr) = args.metrics {
        let bound = crate::metrics::serve(addr).await?;
        eprintln!("metrics on http://{bound}{}", crate::metrics::PATH);
    }

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|err| CliError::failure(format!("cannot listen on {}: {err}", args.addr)))?;
    let bound = listener
        .local_addr()
        .map_err(|err| CliError::failure(format!("cannot read the bound address: {err}")))?;

    let provider = dispatcher.endpoint().provider();
    let output = Lines::start();
    let state = Arc::new(App {
        path: args.path.clone(),
    });
    let (app, background) = match inbox {
        None => {
            let lines = output.lines();
            let dispatcher = dispatcher.on_finished(move |finished| {
                lines.print_json(&RequestLine::new(
                    provider,
                    finished.delivery().map(|d| d.as_ref()),
                    finished.outcome(),
                    finished.status(),
                ));
            });
            let service = WebhookService::new(dispatcher);
            let app = Router::new()
                .route_service(&args.path, service)
                .fallback(elsewhere)
                .with_state(state);
            (app, None)
        }
        Some((url, inbox)) => {
            let background =
                Background::start(&args, &url, inbox, dispatcher, exec_timeout, output.lines())?;
            let lines = output.lines();
            let service =
                InboxService::new(background.worker.ingest()).on_received(move |received| {
                    lines.print_json(&received_line(provider, received));
                });
            let app = Router::new()
                .route_service(&args.path, service)
                .fallback(elsewhere)
                .with_state(state);
            eprintln!("inbox {}", url.shown());
            (app, Some(background))
        }
    };
    eprintln!("listening on http://{bound}{}", args.path);

    let grace = args.grace;
    let last_lines = output.lines();
    bookhook_axum::serve(listener, app)
        .header_timeout(args.header_timeout)
        .idle_timeout(args.idle_timeout)
        .max_connections(usize::try_from(args.max_connections).unwrap_or(usize::MAX))
        .max_deliveries(usize::try_from(args.max_deliveries).unwrap_or(usize::MAX))
        .grace(grace)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            eprintln!(
                "shutting down: finishing the requests in progress (at most {} ms); a second signal exits at once",
                grace.as_millis()
            );
            tokio::spawn(async move {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
                eprintln!("second signal: exiting now");
                kill_running_commands();
                last_lines.flush(Duration::from_millis(200)).await;
                std::process::exit(130);
            });
        })
        .await
        .map_err(|err| CliError::failure(format!("the server stopped: {err}")))?;
    if let Some(background) = background {
        background.stop().await;
    }
    output.finish(Duration::from_secs(5)).await;
    Ok(ExitCode::SUCCESS)
}

/// Inbox mode's background side: the worker that runs `--exec` on stored
/// events, and the task that prints one line per attempt.
struct Background {
    worker: Worker,
    handle: WorkerHandle,
    printer: tokio::task::JoinHandle<()>,
}

impl Background {
    fn start(
        args: &ListenArgs,
        url: &InboxUrl,
        inbox: Arc<dyn Inbox>,
        dispatcher: Dispatcher,
        exec_timeout: Duration,
        lines: Lines,
    ) -> Result<Self, CliError> {
        let mut schedule = match &args.retry_schedule {
            Some(delays) => RetrySchedule::new(delays.iter().copied()),
            None => RetrySchedule::default(),
        };
        if let Some(attempts) = args.max_attempts {
            schedule = schedule.max_attempts(attempts);
        }
        let (reports, mut received) = tokio::sync::mpsc::unbounded_channel::<AttemptReport>();
        let builder = Worker::builder(dispatcher, Arc::clone(&inbox))
            .concurrency(usize::try_from(args.workers.unwrap_or(4)).unwrap_or(4))
            // The command's own timeout kills it with what it started; the
            // worker's is a backstop, and the lease outlives both.
            .timeout(exec_timeout + WORKER_TIMEOUT_MARGIN)
            .lease(exec_timeout + WORKER_TIMEOUT_MARGIN * 2)
            .schedule(schedule)
            .poll(WORKER_POLL)
            .shutdown_grace(args.grace)
            .abandon_on_shutdown(true)
            .observer(move |report| {
                let _ = reports.send(report.clone());
            });
        let worker = builder.build().map_err(|err| {
            CliError::usage(format!("invalid inbox settings for {}: {err}", url.shown()))
        })?;
        let printer = tokio::spawn(async move {
            while let Some(report) = received.recv().await {
                let detail = inbox.get(report.id).await.ok().flatten();
                lines.print_json(&attempt_line(&report, detail.as_ref().map(|d| &d.record)));
            }
        });
        let handle = worker.spawn();
        Ok(Self {
            worker,
            handle,
            printer,
        })
    }

    /// Stops the worker (running commands get the grace period) and prints
    /// the last attempt lines.
    async fn stop(self) {
        let report = self.handle.shutdown().await;
        if report.cut_off > 0 {
            eprintln!(
                "{} command(s) still running were cut off; their events run again on the next start",
                report.cut_off
            );
        }
        drop(self.worker);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.printer).await;
    }
}

/// The JSON line printed for one attempt of inbox mode.
fn attempt_line(report: &AttemptReport, record: Option<&EventRecord>) -> Value {
    let next = match report.result {
        AttemptResult::Retrying { at_ms } => Some(rfc3339(at_ms)),
        _ => None,
    };
    json!({
        "id": report.id.get(),
        "provider": report.provider.as_str(),
        "event": report.event_type,
        "kind": record.map(|r| r.kind.as_str()),
        "key": report.key,
        "appointment_id": record.and_then(|r| r.ordering_key.as_deref()),
        "attempt": report.attempt,
        "outcome": report.result.as_str(),
        "next_attempt_at": next,
        "error": report.error,
    })
}

/// The JSON line printed for one request in inbox mode: the usual fields and
/// the inbox id (of the new row, or for a duplicate of the row it repeats).
fn received_line(provider: bookhook::Provider, received: &Ingested) -> RequestLine<'_> {
    RequestLine::new(
        provider,
        received.delivery().map(|d| d.as_ref()),
        received.outcome(),
        received.status(),
    )
    .with_id(
        received
            .id()
            .or_else(|| received.existing_id())
            .map(|id| id.get()),
    )
}

/// A path axum can route as it is: it starts with `/` and has no captures.
fn check_path(path: &str) -> Result<(), CliError> {
    let ok = path.starts_with('/')
        && !path
            .bytes()
            .any(|b| b.is_ascii_control() || b" {}*:?#%".contains(&b) || b >= 0x80);
    if ok {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "invalid --path `{path}`: it must start with `/` and hold no spaces, `{{`, `}}`, `*`, `:`, `?`, `#` or `%`"
        )))
    }
}

struct App {
    path: String,
}

/// A request to another path: not a delivery, so no JSON line; said on stderr.
async fn elsewhere(State(app): State<Arc<App>>, method: Method, uri: Uri) -> Response {
    eprintln!(
        "warning: {method} {} is not the webhook path {}; answered 404",
        uri.path(),
        app.path
    );
    let body =
        json!({"error": "not_found", "message": format!("webhooks are received at {}", app.path)});
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body.to_string(),
    )
        .into_response()
}

/// The `--exec` command, and the variables it must not inherit.
struct Exec {
    command: String,
    /// `BOOKHOOK_SECRET` and every variable whose value is one of the secrets.
    hidden: Vec<std::ffi::OsString>,
    /// How long it may run before it is killed with what it started.
    timeout: Duration,
}

/// The variables that hold a secret: `BOOKHOOK_SECRET`, and any other whose
/// value is one of `secrets` (a secret passed as `--secret "$VAR"`).
fn hidden_vars(secrets: &[String]) -> Vec<std::ffi::OsString> {
    let mut hidden = vec![std::ffi::OsString::from(SECRET_VAR)];
    for (name, value) in std::env::vars_os() {
        let holds_secret = secrets
            .iter()
            .any(|secret| !secret.is_empty() && value.as_encoded_bytes() == secret.as_bytes());
        if holds_secret && name != SECRET_VAR {
            hidden.push(name);
        }
    }
    hidden
}

/// A value as put in the command's environment: NUL bytes dropped (the
/// kernel cannot pass them) and cut to [`MAX_ENV_VALUE`] bytes on a
/// character boundary. The body on stdin carries the full values.
fn env_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_ENV_VALUE));
    for ch in value.chars().filter(|ch| *ch != '\0') {
        if out.len() + ch.len_utf8() > MAX_ENV_VALUE {
            break;
        }
        out.push(ch);
    }
    out
}

/// Why the `--exec` command did not handle an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
enum ExecError {
    /// Standard error could not be duplicated for the command.
    #[error("cannot pass stderr to the command: {0}")]
    Stderr(#[source] std::io::Error),
    /// The shell could not be started.
    #[error("cannot run the command: {0}")]
    Spawn(#[source] std::io::Error),
    /// Waiting for the command failed.
    #[error("cannot wait for the command: {0}")]
    Wait(#[source] std::io::Error),
    /// The command exited with a failure status.
    #[error("the command failed: {0}")]
    Exit(std::process::ExitStatus),
    /// The command ran too long and was killed with what it started.
    #[error("the command ran longer than {ms} ms and was killed")]
    TimedOut {
        /// The time allowed, in milliseconds.
        ms: u128,
    },
}

/// Runs the `--exec` command for one new event.
async fn exec(command: &Exec, delivery: &Delivery) -> Result<(), ExecError> {
    exec_with(command, delivery, command.timeout).await
}

/// Runs `command` with `sh -c`, the body on its stdin and the event's names in
/// its environment. It runs in a process group of its own, so that a timeout
/// kills whatever it started, and a Ctrl-C meant for `listen` lets it finish.
async fn exec_with(
    command: &Exec,
    delivery: &Delivery,
    timeout: Duration,
) -> Result<(), ExecError> {
    let stdout = stderr_for_child().map_err(ExecError::Stderr)?;
    let mut child = tokio::process::Command::new("sh");
    child.arg("-c").arg(&command.command);
    for name in &command.hidden {
        child.env_remove(name);
    }
    let mut child = child
        .env("BOOKHOOK_PROVIDER", delivery.provider().as_str())
        .env("BOOKHOOK_EVENT", env_value(delivery.event_type()))
        .env("BOOKHOOK_KIND", delivery.kind().as_str())
        .env("BOOKHOOK_KEY", env_value(delivery.idempotency_key()))
        .env(
            "BOOKHOOK_APPOINTMENT_ID",
            env_value(delivery.appointment_id().unwrap_or_default()),
        )
        .stdin(Stdio::piped())
        .stdout(stdout)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(ExecError::Spawn)?;
    let group = child.id();
    // Kills the command's whole group if this future is dropped before it
    // ends: a delivery cut off at shutdown leaves nothing running.
    let guard = GroupGuard::new(group);
    let stdin = child.stdin.take();
    let body = delivery.body().clone();
    let finished = tokio::time::timeout(timeout, async {
        if let Some(mut stdin) = stdin {
            // A command that does not read its input is fine: ignore a closed pipe.
            let _ = stdin.write_all(&body).await;
            drop(stdin);
        }
        child.wait().await
    })
    .await;
    let Ok(waited) = finished else {
        // Every process the command started, not only the shell.
        drop(guard);
        let _ = child.kill().await;
        return Err(ExecError::TimedOut {
            ms: timeout.as_millis(),
        });
    };
    guard.disarm();
    match waited {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(ExecError::Exit(status)),
        Err(err) => Err(ExecError::Wait(err)),
    }
}

/// The process groups of `--exec` commands still running.
static RUNNING: std::sync::Mutex<std::collections::BTreeSet<u32>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn running() -> std::sync::MutexGuard<'static, std::collections::BTreeSet<u32>> {
    RUNNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Kills process group `group` with SIGKILL.
fn kill_group(group: u32) {
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -9 -{group} 2>/dev/null"))
        .stdin(Stdio::null())
        .status();
}

/// Kills every `--exec` command still running, for an exit that cannot wait.
fn kill_running_commands() {
    let groups: Vec<u32> = running().iter().copied().collect();
    for group in groups {
        kill_group(group);
    }
}

/// A running command's process group: killed when dropped, unless disarmed
/// once the command has ended.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn new(group: Option<u32>) -> Self {
        if let Some(group) = group {
            running().insert(group);
        }
        Self(group)
    }

    fn disarm(mut self) {
        if let Some(group) = self.0.take() {
            running().remove(&group);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0.take() {
            running().remove(&group);
            kill_group(group);
        }
    }
}

/// A duplicate of standard error, given to a child process as its stdout so
/// that what it prints never mixes with the JSON lines.
fn stderr_for_child() -> std::io::Result<Stdio> {
    use std::os::fd::AsFd;
    Ok(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_plain() {
        for ok in [
            "/",
            "/webhook",
            "/hooks/calendence-1",
            "/a.b~c_d",
            "/v1/x+y",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
            // What passes the check is a path axum takes without panicking.
            let _ = Router::<()>::new().route(ok, axum::routing::any(|| async {}));
        }
        for bad in [
            "", "webhook", "/{id}", "/:id", "/a b", "/*rest", "/a?b", "/é",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }

    fn delivery() -> Delivery {
        let body = br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
        Delivery::parse(
            bookhook::Provider::Calendence,
            &bookhook::endpoint::NoHeaders,
            body.as_slice().into(),
        )
        .unwrap()
    }

    fn plain(command: &str) -> Exec {
        Exec {
            command: command.to_owned(),
            hidden: hidden_vars(&[]),
            timeout: EXEC_TIMEOUT,
        }
    }

    #[test]
    fn env_values_lose_nul_and_are_cut_on_a_character_boundary() {
        assert_eq!(env_value("a\0b"), "ab");
        let long = "é".repeat(3000); // 6000 bytes
        let cut = env_value(&long);
        assert!(cut.len() <= MAX_ENV_VALUE && cut.len() > MAX_ENV_VALUE - 2);
        assert!(long.starts_with(&cut));
    }

    #[tokio::test]
    async fn exec_error_is_not_nested_in_the_report() {
        let err = HandlerError::new(
            exec_with(&plain("exit 4"), &delivery(), Duration::from_secs(20))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            err.to_string(),
            "handler failed: the command failed: exit status: 4"
        );
    }

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "bookhook-cli-unit-{name}-{}-{}",
            std::process::id(),
            crate::fixture::fresh_hex()
        ))
    }

    #[tokio::test]
    async fn exec_gets_the_body_and_the_names() {
        let out = temp("exec-out");
        let command = format!(
            "cat > '{0}'; echo \"$BOOKHOOK_PROVIDER $BOOKHOOK_EVENT $BOOKHOOK_KIND $BOOKHOOK_APPOINTMENT_ID\" >> '{0}'",
            out.display()
        );
        exec_with(&plain(&command), &delivery(), Duration::from_secs(20))
            .await
            .unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        let _ = std::fs::remove_file(&out);
        let body = String::from_utf8(delivery().body().to_vec()).unwrap();
        assert_eq!(
            written,
            format!("{body}calendence booking.created created b-1\n")
        );
    }

    #[tokio::test]
    async fn exec_cut_off_kills_what_the_command_started() {
        let marker = temp("exec-cut");
        let command = plain(&format!(
            "(sleep 1; touch '{}') & sleep 20",
            marker.display()
        ));
        let delivery = delivery();
        let run = exec_with(&command, &delivery, Duration::from_secs(20));
        // The delivery is cut off: its future is dropped half-way.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), run)
                .await
                .is_err()
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!marker.exists(), "a process the command started lived on");
    }

    #[tokio::test]
    async fn exec_fails_on_a_non_zero_exit() {
        let err = exec_with(&plain("exit 3"), &delivery(), Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("exit status: 3"), "{err}");
    }

    #[tokio::test]
    async fn exec_is_killed_after_the_timeout_with_what_it_started() {
        let marker = temp("exec-late");
        let command = format!("(sleep 2; touch '{}') & sleep 20", marker.display());
        let started = std::time::Instant::now();
        let err = exec_with(&plain(&command), &delivery(), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("was killed"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "a process the command started lived on");
    }
}
