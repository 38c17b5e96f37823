//! `bookhook inbox list|show|stats|replay|purge`: what an inbox holds (`ui` is in `ui.rs`).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use bookhook::inbox::{
    Attempt, EventDetail, EventRecord, Filter, Inbox, InboxId, Page, Selection, State,
};
use serde_json::{Map, Value, json};

use crate::cli::{
    InboxArgs, InboxCommand, InboxUrlArg, ListArgs, PurgeArgs, ReplayArgs, RowFilter, ShowArgs,
    StatsArgs,
};
use crate::error::CliError;
use crate::inbox_url::{InboxUrl, now_ms, rfc3339};

pub(crate) async fn run(args: InboxArgs) -> Result<ExitCode, CliError> {
    match args.command {
        InboxCommand::List(args) => list(args).await,
        InboxCommand::Show(args) => show(args).await,
        InboxCommand::Stats(args) => stats(args).await,
        InboxCommand::Replay(args) => replay(args).await,
        InboxCommand::Purge(args) => purge(args).await,
        InboxCommand::Ui(args) => crate::ui::run(args).await,
    }
}

/// The inbox a command reads, which must exist.
async fn open(arg: &InboxUrlArg) -> Result<(InboxUrl, Arc<dyn Inbox>), CliError> {
    let url = InboxUrl::resolve(arg.inbox.as_deref())?;
    let inbox = url.open_existing().await?;
    Ok((url, inbox))
}

fn filter_of(state: Option<crate::cli::StateName>, rows: &RowFilter) -> Filter {
    let mut filter = Filter::default();
    if let Some(state) = state {
        filter = filter.state(state.state());
    }
    if let Some(provider) = rows.provider {
        filter = filter.provider(provider.provider());
    }
    if let Some(event_type) = &rows.event_type {
        filter = filter.event_type(event_type.clone());
    }
    if let Some(since) = rows.since {
        filter = filter.since_ms(since);
    }
    filter
}

const RETRY_HINT: &str = "try again, or check the inbox with `bookhook inbox stats`";

async fn list(args: ListArgs) -> Result<ExitCode, CliError> {
    let (url, inbox) = open(&args.url).await?;
    let filter = filter_of(args.state, &args.filter);
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let rows = inbox
        .list(&filter, Page::first(limit))
        .await
        .map_err(|err| url.failure(&err, RETRY_HINT))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for row in &rows {
            writeln!(out, "{}", Value::Object(record_json(row))).map_err(write_error)?;
        }
    } else {
        let mut table = vec![
            [
                "ID",
                "RECEIVED",
                "PROVIDER",
                "TYPE",
                "KIND",
                "APPOINTMENT",
                "STATE",
                "ATTEMPTS",
                "NEXT ATTEMPT",
                "LAST ERROR",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for row in &rows {
            table.push(vec![
                row.id.to_string(),
                rfc3339(row.received_at_ms),
                row.provider.as_str().to_owned(),
                row.event_type.clone(),
                row.kind.as_str().to_owned(),
                row.ordering_key.clone().unwrap_or_else(|| "-".into()),
                row.state.as_str().to_owned(),
                row.attempts.to_string(),
                next_attempt(row).map_or_else(|| "-".into(), rfc3339),
                row.last_error
                    .as_deref()
                    .map_or_else(|| "-".into(), |e| one_line(e, 60)),
            ]);
        }
        write!(out, "{}", crate::table::render(&table)).map_err(write_error)?;
        if rows.is_empty() {
            writeln!(out, "(no events in {})", url.shown()).map_err(write_error)?;
        }
    }
    out.flush().map_err(write_error)?;
    Ok(ExitCode::SUCCESS)
}

/// When a pending row runs next; `None` in the other states.
fn next_attempt(row: &EventRecord) -> Option<i64> {
    match row.state {
        State::Pending => row.next_attempt_at_ms,
        _ => None,
    }
}

/// The fields `list --json` prints for a row, which `show --json` extends.
pub(crate) fn record_json(row: &EventRecord) -> Map<String, Value> {
    let value = json!({
        "id": row.id.get(),
        "received_at": rfc3339(row.received_at_ms),
        "provider": row.provider.as_str(),
        "event": row.event_type,
        "kind": row.kind.as_str(),
        "key": row.key,
        "appointment_id": row.ordering_key,
        "state": row.state.as_str(),
        "attempts": row.attempts,
        "next_attempt_at": next_attempt(row).map(rfc3339),
        "last_error": row.last_error,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn attempt_json(attempt: &Attempt) -> Value {
    json!({
        "attempt": attempt.number,
        "started_at": rfc3339(attempt.started_at_ms),
        "ended_at": attempt.ended_at_ms.map(rfc3339),
        "outcome": attempt.outcome.as_str(),
        "error": attempt.error,
        "trigger": attempt.trigger.as_str(),
    })
}

fn headers_json(headers: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        match map.get_mut(name) {
            // A repeated header reads as one, its values joined as HTTP does.
            Some(Value::String(seen)) => {
                seen.push_str(", ");
                seen.push_str(value);
            }
            _ => {
                map.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    Value::Object(map)
}

fn detail_json(detail: &EventDetail) -> Value {
    let mut map = record_json(&detail.record);
    map.insert(
        "body".into(),
        Value::String(String::from_utf8_lossy(&detail.body).into_owned()),
    );
    map.insert("headers".into(), headers_json(&detail.headers));
    map.insert(
        "attempts".into(),
        Value::Array(detail.attempts.iter().map(attempt_json).collect()),
    );
    Value::Object(map)
}

fn parse_id(text: &str) -> Result<InboxId, CliError> {
    text.parse()
        .map_err(|_| CliError::usage(format!("invalid id `{text}`: inbox ids are whole numbers")))
}

async fn show(args: ShowArgs) -> Result<ExitCode, CliError> {
    let id = parse_id(&args.id)?;
    let (url, inbox) = open(&args.url).await?;
    let detail = inbox
        .get(id)
        .await
        .map_err(|err| url.failure(&err, RETRY_HINT))?
        .ok_or_else(|| {
            CliError::failure(format!(
                "inbox {}: no event has the id {id}; `bookhook inbox list` shows the ids",
                url.shown()
            ))
        })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", detail_json(&detail)).map_err(write_error)?;
    } else {
        write!(out, "{}", detail_text(&detail)).map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(ExitCode::SUCCESS)
}

fn detail_text(detail: &EventDetail) -> String {
    let row = &detail.record;
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut text = String::new();
    let fields = [
        ("id", row.id.to_string()),
        ("received", rfc3339(row.received_at_ms)),
        ("occurred", or_dash(row.occurred_at_ms.map(rfc3339))),
        ("provider", row.provider.as_str().to_owned()),
        ("namespace", row.namespace.clone()),
        ("type", row.event_type.clone()),
        ("kind", row.kind.as_str().to_owned()),
        ("key", row.key.clone()),
        ("appointment", or_dash(row.ordering_key.clone())),
        ("state", row.state.as_str().to_owned()),
        ("attempts", row.attempts.to_string()),
        ("next attempt", or_dash(next_attempt(row).map(rfc3339))),
        ("last error", or_dash(row.last_error.clone())),
    ];
    for (name, value) in fields {
        text.push_str(&format!("{name:<13}{value}\n"));
    }
    text.push_str("\nattempts:\n");
    if detail.attempts.is_empty() {
        text.push_str("  (none yet)\n");
    }
    for attempt in &detail.attempts {
        text.push_str(&format!(
            "  #{} {} {} -> {} ({}){}\n",
            attempt.number,
            rfc3339(attempt.started_at_ms),
            attempt.trigger.as_str(),
            attempt.outcome.as_str(),
            attempt.ended_at_ms.map_or_else(
                || "not ended".into(),
                |end| format!("{} ms", end - attempt.started_at_ms)
            ),
            attempt
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default(),
        ));
    }
    text.push_str("\nheaders:\n");
    for (name, value) in &detail.headers {
        text.push_str(&format!("  {name}: {value}\n"));
    }
    text.push_str("\nbody:\n");
    let body = serde_json::from_slice::<Value>(&detail.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&detail.body).into_owned());
    text.push_str(&body);
    text.push('\n');
    text
}

async fn stats(args: StatsArgs) -> Result<ExitCode, CliError> {
    let (url, inbox) = open(&args.url).await?;
    let stats = inbox
        .stats()
        .await
        .map_err(|err| url.failure(&err, RETRY_HINT))?;
    let age = stats
        .oldest_pending_received_ms
        .map(|at| (now_ms().saturating_sub(at)).max(0) as f64 / 1000.0);
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = json!({
            "pending": stats.pending,
            "processing": stats.processing,
            "done": stats.done,
            "dead": stats.dead,
            "oldest_pending_age_s": age,
        });
        writeln!(out, "{value}").map_err(write_error)?;
    } else {
        let table = vec![
            vec!["STATE".to_owned(), "EVENTS".to_owned()],
            vec!["pending".to_owned(), stats.pending.to_string()],
            vec!["processing".to_owned(), stats.processing.to_string()],
            vec!["done".to_owned(), stats.done.to_string()],
            vec!["dead".to_owned(), stats.dead.to_string()],
        ];
        write!(out, "{}", crate::table::render(&table)).map_err(write_error)?;
        match age {
            Some(age) => writeln!(out, "oldest pending event: {age:.1} s old"),
            None => writeln!(out, "no pending event"),
        }
        .map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(ExitCode::SUCCESS)
}

async fn replay(args: ReplayArgs) -> Result<ExitCode, CliError> {
    let ids = args
        .ids
        .iter()
        .map(|id| parse_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let (url, inbox) = open(&args.url).await?;
    if let Some(to) = &args.to {
        return replay_to(&args, to, &url, inbox.as_ref(), ids).await;
    }
    let selection = if ids.is_empty() {
        Selection::Matching(filter_of(args.state, &args.filter))
    } else {
        Selection::Ids(ids)
    };
    let count = if args.dry_run {
        replayable(inbox.as_ref(), &selection)
            .await
            .map_err(|err| url.failure(&err, RETRY_HINT))?
    } else {
        inbox
            .replay(&selection, now_ms())
            .await
            .map_err(|err| url.failure(&err, RETRY_HINT))?
    };
    let events = if count == 1 { "event" } else { "events" };
    if args.dry_run {
        println!("would replay {count} {events} (dry run: nothing changed)");
    } else {
        println!("replayed {count} {events}: back to pending");
    }
    Ok(ExitCode::SUCCESS)
}

/// How long one re-delivery may take, connection to last byte.
const REPLAY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Events listed per page when selecting by filter.
const PAGE: usize = 500;
/// More events than this show a progress count on a terminal.
const PROGRESS_FROM: usize = 5;

/// `replay --to`: signs each selected event again and POSTs it, oldest first.
async fn replay_to(
    args: &ReplayArgs,
    to: &str,
    url: &InboxUrl,
    inbox: &dyn Inbox,
    ids: Vec<InboxId>,
) -> Result<ExitCode, CliError> {
    let target = crate::client::Target::parse(to).map_err(CliError::usage)?;
    let secret = args
        .secret
        .clone()
        .ok_or_else(|| CliError::usage("--to needs --secret S"))?;
    let mut ids = if ids.is_empty() {
        let filter = filter_of(args.state, &args.filter);
        let mut found = Vec::new();
        let mut page = Page::first(PAGE);
        loop {
            let rows = inbox
                .list(&filter, page)
                .await
                .map_err(|err| url.failure(&err, RETRY_HINT))?;
            let Some(last) = rows.last() else { break };
            page = Page::after(last.id, PAGE);
            found.extend(rows.iter().map(|row| row.id));
        }
        found
    } else {
        ids
    };
    // Received order: ids grow in the order events were stored.
    ids.sort_unstable();
    ids.dedup();
    let mut events = Vec::with_capacity(ids.len());
    for id in ids {
        let detail = inbox
            .get(id)
            .await
            .map_err(|err| url.failure(&err, RETRY_HINT))?
            .ok_or_else(|| {
                CliError::failure(format!(
                    "inbox {}: no event has the id {id}; nothing was sent",
                    url.shown()
                ))
            })?;
        events.push(detail);
    }
    // Every signer is built before anything is sent: a usage error sends nothing.
    let mut endpoints = std::collections::HashMap::new();
    for event in &events {
        let provider = args
            .sign_as
            .or_else(|| crate::cli::ProviderName::of(event.record.provider))
            .ok_or_else(|| CliError::usage("an event's provider has no --sign-as name"))?;
        if let std::collections::hash_map::Entry::Vacant(slot) = endpoints.entry(provider) {
            let provider_args = crate::cli::ProviderArgs {
                provider,
                secrets: vec![secret.clone()],
                header: args.header.clone(),
                prefix: args.prefix.clone(),
                encoding: args.encoding,
                type_header: None,
            };
            slot.insert(provider_args.endpoint()?);
        }
    }
    let client = crate::client::Client::new(&target, REPLAY_TIMEOUT).map_err(CliError::failure)?;
    let progress = std::io::stderr().is_terminal() && events.len() > PROGRESS_FROM;
    let total = events.len();
    let mut failed = 0usize;
    for (done, event) in events.iter().enumerate() {
        let provider = args
            .sign_as
            .or_else(|| crate::cli::ProviderName::of(event.record.provider));
        let Some(endpoint) = provider.and_then(|p| endpoints.get(&p)) else {
            continue;
        };
        let signed = endpoint.sign(&event.body, &bookhook::signature::SignRequest::now());
        // The line names the event as the receiver will see it, as `send` does.
        let (event_type, key) = match bookhook::Delivery::parse(
            endpoint.provider(),
            &signed.headers,
            event.body.clone(),
        ) {
            Ok(delivery) => (
                delivery.event_type().to_owned(),
                delivery.idempotency_key().to_owned(),
            ),
            Err(_) => (event.record.event_type.clone(), event.record.key.clone()),
        };
        let target = target.with_query(signed.query.as_deref());
        let reply = client.post(&target, &signed.headers, &event.body).await;
        if progress {
            eprint!("\r{}/{total}", done + 1);
        }
        match reply {
            Ok(reply) => {
                let mut out = std::io::stdout().lock();
                if progress {
                    eprint!("\r");
                }
                writeln!(out, "{} {event_type} {key}", reply.status)
                    .and_then(|()| out.flush())
                    .map_err(write_error)?;
                if !(200..300).contains(&reply.status) {
                    failed += 1;
                }
            }
            Err(err) => {
                eprintln!(
                    "error: {event_type} {key} (inbox id {}): {err}",
                    event.record.id
                );
                failed += 1;
            }
        }
    }
    if progress {
        eprintln!();
    }
    if failed > 0 {
        eprintln!("{failed} of {total} events did not get a 2xx response");
        return Ok(ExitCode::from(crate::error::EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}

/// How many rows a replay of `selection` would put back: those not processing.
async fn replayable(
    inbox: &dyn Inbox,
    selection: &Selection,
) -> Result<u64, bookhook::inbox::InboxError> {
    match selection {
        Selection::Ids(ids) => {
            let mut seen = std::collections::BTreeSet::new();
            let mut count = 0;
            for id in ids {
                if !seen.insert(*id) {
                    continue;
                }
                if let Some(detail) = inbox.get(*id).await?
                    && detail.record.state != State::Processing
                {
                    count += 1;
                }
            }
            Ok(count)
        }
        Selection::Matching(filter) => match filter.state {
            Some(State::Processing) => Ok(0),
            Some(_) => inbox.count(filter).await,
            None => {
                let all = inbox.count(filter).await?;
                let busy = inbox
                    .count(&filter.clone().state(State::Processing))
                    .await?;
                Ok(all.saturating_sub(busy))
            }
        },
        _ => Ok(0),
    }
}

async fn purge(args: PurgeArgs) -> Result<ExitCode, CliError> {
    let (url, inbox) = open(&args.url).await?;
    let mut filter = Filter::default();
    if let Some(state) = args.state {
        filter = filter.state(state.state());
    }
    if let Some(before) = args.before {
        filter = filter.before_ms(before);
    }
    if !args.yes && std::io::stdin().is_terminal() {
        let count = inbox
            .count(&filter)
            .await
            .map_err(|err| url.failure(&err, RETRY_HINT))?;
        eprint!(
            "remove {count} event(s) from {} for good? [y/N] ",
            url.shown()
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|err| CliError::failure(format!("cannot read the answer: {err}")))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            eprintln!("nothing removed");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let count = inbox
        .purge(&filter)
        .await
        .map_err(|err| url.failure(&err, RETRY_HINT))?;
    let events = if count == 1 { "event" } else { "events" };
    println!("purged {count} {events}");
    Ok(ExitCode::SUCCESS)
}

/// `text` on one line, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

fn write_error(err: std::io::Error) -> CliError {
    CliError::failure(format!("cannot write to standard output: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_cut_on_one_line() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }

    #[test]
    fn repeated_headers_are_joined() {
        let headers = vec![
            ("a".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
            ("b".to_owned(), "3".to_owned()),
        ];
        assert_eq!(headers_json(&headers), json!({"a": "1, 2", "b": "3"}));
    }
}
