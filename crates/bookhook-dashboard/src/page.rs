//! Each page and action: read the inbox, fill a template, answer.

use askama::Template;
use bookhook::inbox::{
    EventDetail, EventRecord, InboxError, InboxId, Page, Selection, State, histogram_windows,
    is_secret_header,
};
use bookhook::{Delivery, Provider};

use crate::chart::Chart;
use crate::dashboard::Inner;
use crate::format;
use crate::query::{ListQuery, Params, encode};
use crate::request::Response;

/// The stylesheet, embedded in the binary.
const STYLE: &str = include_str!("../assets/style.css");

/// The most body bytes an event page shows.
const MAX_BODY: usize = 256 * 1024;

/// Minutes in the overview's chart.
const CHART_MINUTES: usize = 60;

const MINUTE_MS: i64 = 60_000;

/// The reason written on rows marked dead without one.
const DEFAULT_DEAD_REASON: &str = "marked dead from the dashboard";

fn now_ms(inner: &Inner) -> i64 {
    i64::try_from(inner.clock.now_unix_ms()).unwrap_or(i64::MAX)
}

fn render(status: u16, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Response::html(status, html),
        Err(err) => Response::new(
            500,
            "text/plain; charset=utf-8",
            format!("the page could not be drawn: {err}"),
        ),
    }
}

/// A page that only says something: an error, a refusal.
#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    base: &'a str,
    nav: &'static str,
    title: &'a str,
    message: &'a str,
    signed_in: bool,
}

fn message(inner: &Inner, status: u16, title: &str, text: &str, signed_in: bool) -> Response {
    render(
        status,
        &MessagePage {
            base: &inner.prefix,
            nav: "",
            title,
            message: text,
            signed_in,
        },
    )
}

pub(crate) fn not_found(inner: &Inner) -> Response {
    message(
        inner,
        404,
        "Not found",
        "Nothing is here: the event may have been purged.",
        false,
    )
}

pub(crate) fn unauthorized(inner: &Inner) -> Response {
    message(
        inner,
        401,
        "Access token needed",
        "Open the dashboard with the link printed when it started (it ends in ?token=…), \
         or send the token as Authorization: Bearer.",
        false,
    )
    .with_header("www-authenticate", "Bearer realm=\"bookhook dashboard\"")
}

pub(crate) fn forbidden(inner: &Inner, reason: &str) -> Response {
    message(inner, 403, "Refused", reason, true)
}

pub(crate) fn method_not_allowed(inner: &Inner, allowed: &str) -> Response {
    message(
        inner,
        405,
        "Method not allowed",
        "This address takes another method.",
        true,
    )
    .with_header("allow", allowed)
}

pub(crate) fn too_large(inner: &Inner) -> Response {
    message(
        inner,
        413,
        "Form too large",
        "The form sent is too large.",
        true,
    )
}

fn bad_request(inner: &Inner, reason: &str) -> Response {
    message(inner, 400, "Bad filter", reason, true)
}

fn unavailable(inner: &Inner, err: &InboxError) -> Response {
    message(
        inner,
        503,
        "Inbox unavailable",
        &format!("The inbox did not answer: {err}. Reload to try again."),
        true,
    )
    .with_header("retry-after", "5")
}

pub(crate) fn style(method: &str) -> Response {
    if !method.eq_ignore_ascii_case("GET") && !method.eq_ignore_ascii_case("HEAD") {
        return Response::new(405, "text/plain; charset=utf-8", "method not allowed")
            .with_header("allow", "GET, HEAD");
    }
    Response::new(200, "text/css; charset=utf-8", STYLE)
        .with_header("cache-control", "public, max-age=3600")
}

// ---------------------------------------------------------------- overview

struct StateCount {
    name: &'static str,
    count: u64,
    href: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage<'a> {
    base: &'a str,
    nav: &'static str,
    title: &'a str,
    signed_in: bool,
    states: Vec<StateCount>,
    total: u64,
    oldest_pending: String,
    dead: u64,
    chart: Chart,
}

pub(crate) async fn overview(inner: &Inner) -> Response {
    let now = now_ms(inner);
    let stats = match inner.inbox.stats().await {
        Ok(stats) => stats,
        Err(err) => return unavailable(inner, &err),
    };
    let start = (now.div_euclid(MINUTE_MS) - (CHART_MINUTES as i64 - 1)) * MINUTE_MS;
    let width = std::time::Duration::from_millis(MINUTE_MS as u64);
    let counts = match inner
        .inbox
        .received_histogram(&Default::default(), start, width, CHART_MINUTES)
        .await
    {
        Ok(counts) => counts,
        Err(err) => return unavailable(inner, &err),
    };
    debug_assert_eq!(
        histogram_windows(start, width, CHART_MINUTES).len(),
        counts.len()
    );
    let base = &inner.prefix;
    let states = [
        (State::Pending, stats.pending),
        (State::Processing, stats.processing),
        (State::Done, stats.done),
        (State::Dead, stats.dead),
    ]
    .into_iter()
    .map(|(state, count)| StateCount {
        name: state.as_str(),
        count,
        href: format!("{base}/events?state={state}"),
    })
    .collect();
    render(
        200,
        &OverviewPage {
            base,
            nav: "overview",
            title: "Overview",
            signed_in: true,
            states,
            total: stats.pending + stats.processing + stats.done + stats.dead,
            oldest_pending: stats
                .oldest_pending_received_ms
                .map(|at| format::span(now - at))
                .unwrap_or_default(),
            dead: stats.dead,
            chart: Chart::new(&counts, start, MINUTE_MS),
        },
    )
}

// ---------------------------------------------------------------- listings

struct Choice {
    value: &'static str,
    selected: bool,
}

struct Row {
    id: String,
    href: String,
    received: String,
    provider: &'static str,
    event_type: String,
    kind: &'static str,
    appointment: String,
    state: &'static str,
    attempts: u32,
    next_attempt: String,
    last_error: String,
    last_error_full: String,
}

fn row(base: &str, record: &EventRecord, now: i64) -> Row {
    let next_attempt = match (
        record.state,
        record.next_attempt_at_ms,
        record.lease_until_ms,
    ) {
        (State::Pending, Some(at), _) if at <= now => "due now".to_owned(),
        (State::Pending, Some(at), _) => format!("in {}", format::span(at - now)),
        (State::Processing, _, Some(until)) => {
            format!("running, lease {}", format::span(until - now))
        }
        _ => String::new(),
    };
    let error = record.last_error.clone().unwrap_or_default();
    Row {
        id: record.id.to_string(),
        href: format!("{base}/events/{}", record.id),
        received: format::time(record.received_at_ms),
        provider: record.provider.as_str(),
        event_type: record.event_type.clone(),
        kind: record.kind.as_str(),
        appointment: record.ordering_key.clone().unwrap_or_default(),
        state: record.state.as_str(),
        attempts: record.attempts,
        next_attempt,
        last_error: format::one_line(&error, 80),
        last_error_full: format::one_line(&error, 2000),
    }
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage<'a> {
    base: &'a str,
    nav: &'static str,
    title: &'a str,
    signed_in: bool,
    dead_letters: bool,
    action: String,
    states: Vec<Choice>,
    providers: Vec<Choice>,
    event_type: &'a str,
    appointment: &'a str,
    since: &'a str,
    before: &'a str,
    filtered: bool,
    rows: Vec<Row>,
    newest: Option<String>,
    older: Option<String>,
    bulk: String,
    notice: Option<String>,
}

async fn listing(inner: &Inner, params: &Params, dead_letters: bool) -> Response {
    let mut query = match ListQuery::read(params) {
        Ok(query) => query,
        Err(reason) => return bad_request(inner, &reason),
    };
    let base = inner.prefix.as_str();
    let path = if dead_letters {
        format!("{base}/dead")
    } else {
        format!("{base}/events")
    };
    if params.has_empty() {
        // A form sends its blank fields too: keep the URL to the filters set,
        // so that it reads well and can be shared.
        let mut pairs = query.pairs(!dead_letters, query.cursor);
        if let Some(n) = params.get("replayed") {
            pairs.push(("replayed", n.to_owned()));
        }
        return Response::redirect(format!("{path}{}", encode(&pairs)));
    }
    if dead_letters {
        query.state = Some(State::Dead);
    }
    let filter = query.filter();
    let page = match query.cursor {
        Some(cursor) => Page::after(cursor, inner.page_size + 1),
        None => Page::first(inner.page_size + 1),
    };
    let mut records = match inner.inbox.list(&filter, page).await {
        Ok(records) => records,
        Err(err) => return unavailable(inner, &err),
    };
    let older = if records.len() > inner.page_size {
        records.truncate(inner.page_size);
        records
            .last()
            .map(|last| format!("{path}{}", query.to_query(!dead_letters, Some(last.id))))
    } else {
        None
    };
    let newest = query
        .cursor
        .map(|_| format!("{path}{}", query.to_query(!dead_letters, None)));
    let now = now_ms(inner);
    let notice = if dead_letters {
        params
            .get("replayed")
            .and_then(|n| n.parse::<u64>().ok())
            .map(|n| format!("Put {n} dead events back to pending: a worker will run them again."))
    } else {
        None
    };
    render(
        200,
        &EventsPage {
            base,
            nav: if dead_letters { "dead" } else { "events" },
            title: if dead_letters {
                "Dead letters"
            } else {
                "Events"
            },
            signed_in: true,
            dead_letters,
            action: path,
            states: State::ALL
                .iter()
                .map(|s| Choice {
                    value: s.as_str(),
                    selected: query.state == Some(*s),
                })
                .collect(),
            providers: Provider::ALL
                .iter()
                .map(|p| Choice {
                    value: p.as_str(),
                    selected: query.provider == Some(*p),
                })
                .collect(),
            event_type: &query.event_type,
            appointment: &query.appointment,
            since: &query.since,
            before: &query.before,
            filtered: filtered_beyond_state(&query, dead_letters),
            rows: records.iter().map(|r| row(base, r, now)).collect(),
            newest,
            older,
            bulk: format!("{base}/dead/replay{}", query.to_query(false, None)),
            notice,
        },
    )
}

/// Whether filters other than the dead letters' own state are set.
fn filtered_beyond_state(query: &ListQuery, dead_letters: bool) -> bool {
    let mut other = query.clone();
    if dead_letters {
        other.state = None;
    }
    other.is_filtered()
}

pub(crate) async fn events(inner: &Inner, params: &Params) -> Response {
    listing(inner, params, false).await
}

pub(crate) async fn dead(inner: &Inner, params: &Params) -> Response {
    listing(inner, params, true).await
}

// ---------------------------------------------------------------- one event

struct AttemptRow {
    number: u32,
    started: String,
    duration: String,
    outcome: &'static str,
    error: String,
    trigger: &'static str,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage<'a> {
    base: &'a str,
    nav: &'static str,
    title: &'a str,
    signed_in: bool,
    id: String,
    state: &'static str,
    csrf: &'a str,
    fields: Vec<(&'static str, String)>,
    headers: Vec<(String, String)>,
    body: String,
    body_cut: bool,
    appointment: Option<String>,
    attempts: Vec<AttemptRow>,
    can_replay: bool,
    can_mark_dead: bool,
    notice: Option<&'static str>,
}

fn parse_id(id: &str) -> Option<InboxId> {
    id.parse().ok()
}

/// The normalized appointment, parsed again from the stored body as the
/// worker does, pretty-printed.
fn appointment(detail: &EventDetail) -> Option<String> {
    let delivery =
        Delivery::parse(detail.record.provider, &detail.headers, detail.body.clone()).ok()?;
    serde_json::to_string_pretty(delivery.appointment()?).ok()
}

pub(crate) async fn event(inner: &Inner, id: &str, params: &Params) -> Response {
    let Some(id) = parse_id(id) else {
        return not_found(inner);
    };
    let detail = match inner.inbox.get(id).await {
        Ok(Some(detail)) => detail,
        Ok(None) => return not_found(inner),
        Err(err) => return unavailable(inner, &err),
    };
    let record = &detail.record;
    let optional_time = |ms: Option<i64>| ms.map(format::time).unwrap_or_default();
    let fields = vec![
        ("Id", record.id.to_string()),
        ("Namespace", record.namespace.clone()),
        ("Idempotency key", record.key.clone()),
        ("Provider", record.provider.as_str().to_owned()),
        ("Type", record.event_type.clone()),
        ("Kind", record.kind.as_str().to_owned()),
        (
            "Appointment",
            record.ordering_key.clone().unwrap_or_default(),
        ),
        ("Received (UTC)", format::time(record.received_at_ms)),
        ("Occurred (UTC)", optional_time(record.occurred_at_ms)),
        ("State", record.state.as_str().to_owned()),
        ("Attempts", record.attempts.to_string()),
        (
            "Next attempt (UTC)",
            optional_time(record.next_attempt_at_ms),
        ),
        ("Lease until (UTC)", optional_time(record.lease_until_ms)),
        ("Last error", record.last_error.clone().unwrap_or_default()),
    ];
    // Stored headers are redacted already; a second look keeps any secret
    // that an older version stored off the page.
    let headers = detail
        .headers
        .iter()
        .map(|(name, value)| {
            let value = if is_secret_header(name) {
                bookhook::inbox::REDACTED.to_owned()
            } else {
                value.clone()
            };
            (name.clone(), value)
        })
        .collect();
    let (body, body_cut) = format::body(&detail.body, MAX_BODY);
    let attempts = detail
        .attempts
        .iter()
        .map(|attempt| AttemptRow {
            number: attempt.number,
            started: format::time(attempt.started_at_ms),
            duration: attempt
                .ended_at_ms
                .map(|end| format::duration(end - attempt.started_at_ms))
                .unwrap_or_default(),
            outcome: attempt.outcome.as_str(),
            error: attempt.error.clone().unwrap_or_default(),
            trigger: attempt.trigger.as_str(),
        })
        .collect();
    let notice = match params.get("done") {
        Some("replayed") => Some("Put back to pending: a worker will run it again."),
        Some("not-replayed") => Some("Not replayed: the event is being processed."),
        Some("dead") => Some("Marked dead: no more automatic attempts."),
        Some("not-dead") => Some("Not marked dead: only pending and done events can be."),
        _ => None,
    };
    let title = format!("Event {}", record.id);
    render(
        200,
        &EventPage {
            base: &inner.prefix,
            nav: "events",
            title: &title,
            signed_in: true,
            id: record.id.to_string(),
            state: record.state.as_str(),
            csrf: inner.keys.csrf(),
            fields,
            headers,
            body,
            body_cut,
            appointment: appointment(&detail),
            attempts,
            can_replay: record.state != State::Processing,
            can_mark_dead: matches!(record.state, State::Pending | State::Done),
            notice,
        },
    )
}

fn back_to_event(inner: &Inner, id: InboxId, done: &str) -> Response {
    Response::redirect(format!("{}/events/{id}?done={done}", inner.prefix))
}

pub(crate) async fn replay(inner: &Inner, id: &str) -> Response {
    let Some(id) = parse_id(id) else {
        return not_found(inner);
    };
    match inner.inbox.get(id).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(inner),
        Err(err) => return unavailable(inner, &err),
    }
    let selection = Selection::Ids(vec![id]);
    match inner.inbox.replay(&selection, now_ms(inner)).await {
        Ok(0) => back_to_event(inner, id, "not-replayed"),
        Ok(_) => back_to_event(inner, id, "replayed"),
        Err(err) => unavailable(inner, &err),
    }
}

pub(crate) async fn mark_dead(inner: &Inner, id: &str, form: &Params) -> Response {
    let Some(id) = parse_id(id) else {
        return not_found(inner);
    };
    let reason = form
        .get("reason")
        .map(|r| format::one_line(r, 500))
        .unwrap_or_else(|| DEFAULT_DEAD_REASON.to_owned());
    match inner.inbox.mark_dead(id, now_ms(inner), &reason).await {
        Ok(true) => back_to_event(inner, id, "dead"),
        Ok(false) => back_to_event(inner, id, "not-dead"),
        Err(InboxError::NotFound { .. }) => not_found(inner),
        Err(err) => unavailable(inner, &err),
    }
}

// ---------------------------------------------------------------- bulk replay

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    base: &'a str,
    nav: &'static str,
    title: &'a str,
    signed_in: bool,
    csrf: &'a str,
    count: u64,
    hidden: Vec<(&'a str, String)>,
    back: String,
    described: String,
}

fn dead_query(params: &Params) -> Result<ListQuery, String> {
    let mut query = ListQuery::read(params)?;
    query.state = Some(State::Dead);
    query.cursor = None;
    Ok(query)
}

pub(crate) async fn confirm_dead_replay(inner: &Inner, params: &Params) -> Response {
    let query = match dead_query(params) {
        Ok(query) => query,
        Err(reason) => return bad_request(inner, &reason),
    };
    let count = match inner.inbox.count(&query.filter()).await {
        Ok(count) => count,
        Err(err) => return unavailable(inner, &err),
    };
    let pairs = query.pairs(false, None);
    let described = if pairs.is_empty() {
        "every dead event".to_owned()
    } else {
        let terms: Vec<String> = pairs.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        format!("the dead events with {}", terms.join(", "))
    };
    render(
        200,
        &ConfirmPage {
            base: &inner.prefix,
            nav: "dead",
            title: "Replay dead events",
            signed_in: true,
            csrf: inner.keys.csrf(),
            count,
            back: format!("{}/dead{}", inner.prefix, encode(&pairs)),
            hidden: pairs,
            described,
        },
    )
}

pub(crate) async fn replay_dead(inner: &Inner, form: &Params) -> Response {
    let query = match dead_query(form) {
        Ok(query) => query,
        Err(reason) => return bad_request(inner, &reason),
    };
    let selection = Selection::Matching(query.filter());
    match inner.inbox.replay(&selection, now_ms(inner)).await {
        Ok(n) => {
            let mut pairs = query.pairs(false, None);
            pairs.push(("replayed", n.to_string()));
            Response::redirect(format!("{}/dead{}", inner.prefix, encode(&pairs)))
        }
        Err(err) => unavailable(inner, &err),
    }
}
