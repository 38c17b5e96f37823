//! Every page and action of the dashboard over HTTP-shaped requests: status,
//! content, escaping, and the refusals (token, CSRF, cross-site, method, id).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bookhook::inbox::{Failure, Filter, Inbox, InboxId, MemoryInbox, NewEvent, State};
use bookhook::testing::samples::sample;
use bookhook::{Kind, Provider, endpoint::ManualClock};
use bookhook_dashboard::{BuildError, Dashboard, Request, Response};

const TOKEN: &str = "test-token-0123456789abcdef";
/// 2026-03-24T14:30:00Z.
const T0: i64 = 1_774_362_600_000;

struct Fixture {
    inbox: Arc<MemoryInbox>,
    dashboard: Dashboard,
    cookie: String,
    csrf: String,
}

fn event(n: i64, provider: Provider, event_type: &str, appointment: &str) -> NewEvent {
    let body = sample(provider, event_type)
        .map(str::to_owned)
        .unwrap_or_else(|| format!(r#"{{"event":"{event_type}","n":{n}}}"#));
    NewEvent::new(
        "main",
        format!("key-{n}"),
        Some(appointment.to_owned()),
        provider,
        event_type,
        Kind::Created,
        T0 + n * 1_000,
        None,
        body.into(),
        vec![("content-type".into(), "application/json".into())],
    )
}

async fn enqueue(inbox: &MemoryInbox, event: NewEvent) -> InboxId {
    inbox.enqueue(event).await.unwrap().id()
}

/// Kills the one event of `namespace` with `error` through a claim and a
/// failure, as a worker would.
async fn kill(inbox: &MemoryInbox, namespace: &str, error: &str) {
    let claimed = inbox
        .claim(namespace, T0 + 100_000, Duration::from_secs(30), 1)
        .await
        .unwrap();
    let failure = Failure::Dead {
        error: error.to_owned(),
    };
    inbox
        .fail(&claimed[0].lease, T0 + 100_500, failure)
        .await
        .unwrap();
}

async fn fixture_with(inbox: Arc<MemoryInbox>, page_size: usize) -> Fixture {
    let clock = ManualClock::at(UNIX_EPOCH + Duration::from_millis((T0 + 600_000) as u64));
    let dashboard = Dashboard::builder(inbox.clone())
        .token(TOKEN)
        .prefix("/inbox")
        .page_size(page_size)
        .clock(clock)
        .build()
        .unwrap();
    let login = dashboard
        .handle(Request::new("GET", "/inbox/").query(format!("token={TOKEN}")))
        .await;
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut fixture = Fixture {
        inbox,
        dashboard,
        cookie,
        csrf: String::new(),
    };
    let page = fixture.get("/inbox/events/1", "").await;
    fixture.csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .unwrap_or_default();
    fixture
}

/// Five events: 1–3 calendence (3 dead), 4 eagenda, 5 dead with a `<script>`.
async fn seeded(page_size: usize) -> Fixture {
    let inbox = Arc::new(MemoryInbox::new());
    enqueue(
        &inbox,
        event(1, Provider::Calendence, "booking.created", "b-1"),
    )
    .await;
    enqueue(
        &inbox,
        event(2, Provider::Calendence, "booking.cancelled", "b-2"),
    )
    .await;
    let mut three = event(3, Provider::Calendence, "booking.created", "b-3");
    three.namespace = "third".into();
    enqueue(&inbox, three).await;
    enqueue(
        &inbox,
        event(4, Provider::Eagenda, "appointment.created", "e-4"),
    )
    .await;
    let mut hostile = event(5, Provider::Hmac, "<script>alert('type')</script>", "h-5");
    hostile.body = r#"{"note":"<script>alert('body')</script>"}"#.into();
    hostile.headers = vec![
        ("x-note".into(), "<script>alert('header')</script>".into()),
        ("authorization".into(), "Bearer leaked-secret-value".into()),
    ];
    hostile.namespace = "fifth".into();
    enqueue(&inbox, hostile).await;
    kill(&inbox, "third", "handler failed: upstream 502").await;
    kill(&inbox, "fifth", "<script>alert('error')</script>").await;
    fixture_with(inbox, page_size).await
}

impl Fixture {
    async fn send(&self, request: Request) -> Response {
        self.dashboard.handle(request).await
    }

    async fn get_response(&self, path: &str, query: &str) -> Response {
        self.send(
            Request::new("GET", path)
                .query(query)
                .header("cookie", self.cookie.clone()),
        )
        .await
    }

    async fn get(&self, path: &str, query: &str) -> String {
        let response = self.get_response(path, query).await;
        assert_eq!(response.status, 200, "GET {path}?{query}");
        String::from_utf8(response.body.to_vec()).unwrap()
    }

    fn post_request(&self, path: &str, form: &str) -> Request {
        Request::new("POST", path)
            .header("cookie", self.cookie.clone())
            .header("host", "127.0.0.1:5050")
            .header("origin", "http://127.0.0.1:5050")
            .header("sec-fetch-site", "same-origin")
            .body(form.to_owned())
    }

    async fn post(&self, path: &str, form: &str) -> Response {
        self.send(self.post_request(path, form)).await
    }

    async fn state(&self, id: u64) -> State {
        self.inbox
            .get(InboxId::new(id))
            .await
            .unwrap()
            .unwrap()
            .record
            .state
    }
}

fn body(response: &Response) -> String {
    String::from_utf8(response.body.to_vec()).unwrap()
}

/// How many rows a listing shows.
fn listed(html: &str) -> usize {
    html.matches("<td><span class=\"badge state-").count()
}

/// The event ids linked from a listing, in order.
fn listed_ids(html: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = html
        .split("<td><a href=\"/inbox/events/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect();
    ids.dedup();
    ids
}

#[tokio::test]
async fn overview_counts_each_state_and_draws_the_last_hour() {
    let f = seeded(50).await;
    let html = f.get("/inbox/", "").await;
    assert!(html.contains("<title>Overview"), "{html}");
    // 3 pending, 0 processing, 0 done, 2 dead.
    for (state, count) in [("pending", 3), ("processing", 0), ("done", 0), ("dead", 2)] {
        let card = format!(
            "<a class=\"card state-{state}\" href=\"/inbox/events?state={state}\">\n    <span class=\"label\">{state}</span>\n    <span class=\"value\">{count}</span>"
        );
        assert!(html.contains(&card), "{state} = {count} in {html}");
    }
    // Received between T0 + 1 s and T0 + 5 s, now is T0 + 10 min: one minute
    // of the chart holds all five.
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 60);
    assert!(html.contains("14:30 UTC: 5"), "{html}");
    assert!(html.contains("5 in the last hour"));
    assert!(html.contains("<svg class=\"chart\""));
    // The oldest pending event (1) was received 9 min 59 s ago.
    assert!(html.contains("9 min"), "{html}");
}

#[tokio::test]
async fn events_are_listed_newest_first_with_every_column() {
    let f = seeded(50).await;
    let html = f.get("/inbox/events", "").await;
    assert_eq!(listed_ids(&html), vec![5, 4, 3, 2, 1]);
    for column in [
        "Received (UTC)",
        "Provider",
        "Type",
        "Kind",
        "Appointment",
        "State",
        "Attempts",
        "Next attempt",
        "Last error",
    ] {
        assert!(html.contains(&format!("<th>{column}</th>")), "{column}");
    }
    assert!(html.contains("2026-03-24 14:30:03"));
    assert!(html.contains("handler failed: upstream 502"));
    assert!(html.contains("<span class=\"badge state-dead\">dead</span>"));
    assert!(html.contains("b-3"));
}

#[tokio::test]
async fn filters_select_rows_and_stay_in_the_url() {
    let f = seeded(50).await;
    let cases = [
        ("state=dead", vec![5, 3]),
        ("provider=eagenda", vec![4]),
        ("type=booking.created", vec![3, 1]),
        ("appointment=b-2", vec![2]),
        (
            "since=2026-03-24T14%3A30%3A02&before=2026-03-24T14%3A30%3A04",
            vec![3, 2],
        ),
        ("state=pending&provider=calendence", vec![2, 1]),
        ("provider=decoda", vec![]),
    ];
    for (query, ids) in cases {
        let html = f.get("/inbox/events", query).await;
        assert_eq!(listed_ids(&html), ids, "{query}");
    }
    let html = f
        .get("/inbox/events", "state=dead&provider=calendence")
        .await;
    assert!(html.contains("<option value=\"dead\" selected>"));
    assert!(html.contains("<option value=\"calendence\" selected>"));
    assert!(html.contains(">Clear</a>"));
    // A form's blank fields leave the URL.
    let blank = f
        .get_response("/inbox/events", "state=dead&provider=&type=&since=")
        .await;
    assert_eq!(blank.status, 303);
    assert_eq!(blank.header("location"), Some("/inbox/events?state=dead"));
    let empty = f.get("/inbox/events", "provider=decoda").await;
    assert!(empty.contains("No events match these filters."));
}

#[tokio::test]
async fn the_cursor_pages_through_every_row_and_keeps_the_filters() {
    let f = seeded(2).await;
    let first = f.get("/inbox/events", "").await;
    assert_eq!(listed_ids(&first), vec![5, 4]);
    assert!(
        first.contains("href=\"/inbox/events?cursor=4\">Older"),
        "{first}"
    );
    assert!(!first.contains("Newest"));
    let second = f.get("/inbox/events", "cursor=4").await;
    assert_eq!(listed_ids(&second), vec![3, 2]);
    assert!(second.contains("href=\"/inbox/events?cursor=2\">Older"));
    assert!(second.contains("href=\"/inbox/events\">← Newest"));
    let last = f.get("/inbox/events", "cursor=2").await;
    assert_eq!(listed_ids(&last), vec![1]);
    assert!(!last.contains("Older"));

    let filtered = f.get("/inbox/events", "provider=calendence").await;
    assert_eq!(listed_ids(&filtered), vec![3, 2]);
    assert!(filtered.contains("href=\"/inbox/events?provider=calendence&#38;cursor=2\""));
    let next = f.get("/inbox/events", "provider=calendence&cursor=2").await;
    assert_eq!(listed_ids(&next), vec![1]);
}

#[tokio::test]
async fn bad_filters_are_refused_with_the_field_named() {
    let f = seeded(50).await;
    for (query, says) in [
        ("state=lost", "unknown state `lost`"),
        ("provider=nope", "unknown provider `nope`"),
        ("since=soon", "`since` is not a time"),
        ("cursor=abc", "the page cursor is not an event id"),
    ] {
        let response = f.get_response("/inbox/events", query).await;
        assert_eq!(response.status, 400, "{query}");
        assert!(body(&response).contains(says), "{query}");
    }
}

#[tokio::test]
async fn an_event_page_shows_its_fields_headers_body_appointment_and_attempts() {
    let f = seeded(50).await;
    let html = f.get("/inbox/events/3", "").await;
    assert!(html.contains("<title>Event 3"));
    assert!(html.contains("<tr><th>Idempotency key</th><td>key-3</td></tr>"));
    assert!(html.contains("<tr><th>Provider</th><td>calendence</td></tr>"));
    assert!(
        html.contains("<tr><th>content-type</th><td class=\"mono\">application/json</td></tr>")
    );
    // The body, pretty-printed (escaped quotes).
    assert!(html.contains("{\n  &#34;"), "{html}");
    // The normalized appointment, parsed from the sample.
    assert!(html.contains("Appointment <span class=\"muted\">(normalized)"));
    assert!(html.contains("&#34;kind&#34;: &#34;created&#34;"), "{html}");
    // The attempt that killed it.
    assert!(html.contains("<span class=\"badge outcome-dead\">dead</span>"));
    assert!(html.contains("<td>automatic</td>"));
    assert!(html.contains("500 ms"));
    assert!(html.contains("handler failed: upstream 502"));
    // Dead: Replay, not Mark dead.
    assert!(html.contains("id=\"replay\""));
    assert!(!html.contains("id=\"mark-dead\""));
    let pending = f.get("/inbox/events/1", "").await;
    assert!(pending.contains("id=\"mark-dead\""));
    assert!(pending.contains("None yet."));
}

#[tokio::test]
async fn script_in_a_body_header_type_or_error_is_shown_as_text() {
    let f = seeded(50).await;
    for (path, query) in [
        ("/inbox/events/5", ""),
        ("/inbox/events", ""),
        ("/inbox/dead", ""),
        ("/inbox/events", "type=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    ] {
        let html = f.get(path, query).await;
        assert!(!html.contains("<script"), "{path}?{query}: {html}");
        assert!(html.contains("&#60;script&#62;"), "{path}?{query}");
    }
    let html = f.get("/inbox/events/5", "").await;
    assert!(
        html.contains("&#60;script&#62;alert(&#39;body&#39;)&#60;/script&#62;"),
        "{html}"
    );
    assert!(html.contains("&#60;script&#62;alert(&#39;header&#39;)&#60;/script&#62;"));
    assert!(html.contains("&#60;script&#62;alert(&#39;type&#39;)&#60;/script&#62;"));
    assert!(html.contains("&#60;script&#62;alert(&#39;error&#39;)&#60;/script&#62;"));
}

#[tokio::test]
async fn secrets_never_reach_a_page() {
    let f = seeded(50).await;
    let html = f.get("/inbox/events/5", "").await;
    assert!(!html.contains("leaked-secret-value"), "{html}");
    assert!(html.contains("<tr><th>authorization</th><td class=\"mono\">[redacted]</td></tr>"));
    for (path, query) in [
        ("/inbox/", ""),
        ("/inbox/events", ""),
        ("/inbox/events/5", ""),
    ] {
        assert!(!f.get(path, query).await.contains(TOKEN), "{path}");
    }
}

#[tokio::test]
async fn every_page_needs_the_token() {
    let f = seeded(50).await;
    for path in [
        "/inbox",
        "/inbox/",
        "/inbox/events",
        "/inbox/events/1",
        "/inbox/dead",
        "/inbox/dead/replay",
    ] {
        for request in [
            Request::new("GET", path),
            Request::new("GET", path).query("token=wrong-token-0123456789abcdef"),
            Request::new("GET", path).header("authorization", "Bearer wrong"),
            Request::new("GET", path).header("cookie", "bookhook_dashboard=forged"),
        ] {
            let response = f.send(request).await;
            assert_eq!(response.status, 401, "{path}");
            assert!(response.header("www-authenticate").is_some());
            assert!(!body(&response).contains("id=\"body\""));
        }
    }
    let post = f
        .send(Request::new("POST", "/inbox/events/3/replay").body(format!("csrf={}", f.csrf)))
        .await;
    assert_eq!(post.status, 401);
    assert_eq!(
        f.state(3).await,
        State::Dead,
        "a refused action changes nothing"
    );

    let bearer = f
        .send(
            Request::new("GET", "/inbox/events").header("authorization", format!("Bearer {TOKEN}")),
        )
        .await;
    assert_eq!(bearer.status, 200);
}

#[tokio::test]
async fn the_token_in_the_url_sets_a_strict_cookie_and_leaves_the_url() {
    let f = seeded(50).await;
    let response = f
        .send(Request::new("GET", "/inbox/events").query(format!("state=dead&token={TOKEN}")))
        .await;
    assert_eq!(response.status, 303);
    assert_eq!(
        response.header("location"),
        Some("/inbox/events?state=dead")
    );
    let cookie = response.header("set-cookie").unwrap();
    assert!(cookie.starts_with("bookhook_dashboard="));
    assert!(
        cookie.ends_with("; Path=/inbox; HttpOnly; SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie is derived, not the token"
    );
    assert_eq!(cookie.split(';').next().unwrap(), f.cookie);
}

#[tokio::test]
async fn actions_without_the_form_token_or_from_another_site_are_refused() {
    let f = seeded(50).await;
    assert_eq!(f.csrf.len(), 64);
    let refusals = [
        f.post_request("/inbox/events/3/replay", ""),
        f.post_request("/inbox/events/3/replay", "csrf=0000"),
        f.post_request("/inbox/events/3/replay", &format!("csrf={TOKEN}")),
        f.post_request("/inbox/events/1/dead", "csrf="),
        f.post_request("/inbox/dead/replay", "csrf=x"),
        Request::new("POST", "/inbox/events/3/replay")
            .header("cookie", f.cookie.clone())
            .header("sec-fetch-site", "cross-site")
            .body(format!("csrf={}", f.csrf)),
        Request::new("POST", "/inbox/events/3/replay")
            .header("cookie", f.cookie.clone())
            .header("host", "127.0.0.1:5050")
            .header("origin", "http://attacker.example")
            .body(format!("csrf={}", f.csrf)),
        // `Origin: null` (a same-origin form under no-referrer) still needs the token.
        Request::new("POST", "/inbox/events/3/replay")
            .header("cookie", f.cookie.clone())
            .header("origin", "null")
            .body("csrf=guess"),
    ];
    for request in refusals {
        let response = f.send(request).await;
        assert_eq!(response.status, 403);
    }
    assert_eq!(f.state(3).await, State::Dead);
    assert_eq!(f.state(1).await, State::Pending);
}

#[tokio::test]
async fn wrong_methods_are_refused_with_allow() {
    let f = seeded(50).await;
    for (method, path, allow) in [
        ("POST", "/inbox/events", "GET, HEAD"),
        ("DELETE", "/inbox/events/1", "GET, HEAD"),
        ("GET", "/inbox/events/1/replay", "POST"),
        ("GET", "/inbox/events/1/dead", "POST"),
        ("PUT", "/inbox/dead/replay", "GET, HEAD, POST"),
    ] {
        let response = f
            .send(
                Request::new(method, path)
                    .header("cookie", f.cookie.clone())
                    .body(format!("csrf={}", f.csrf)),
            )
            .await;
        assert_eq!(response.status, 405, "{method} {path}");
        assert_eq!(response.header("allow"), Some(allow));
    }
    assert_eq!(f.state(1).await, State::Pending);
}

#[tokio::test]
async fn unknown_events_and_paths_are_404() {
    let f = seeded(50).await;
    for path in [
        "/inbox/events/999",
        "/inbox/events/abc",
        "/inbox/nothing",
        "/inbox/events/1/x",
    ] {
        assert_eq!(f.get_response(path, "").await.status, 404, "{path}");
    }
    let form = format!("csrf={}", f.csrf);
    assert_eq!(f.post("/inbox/events/999/replay", &form).await.status, 404);
    assert_eq!(f.post("/inbox/events/999/dead", &form).await.status, 404);
    // Outside the prefix, and a path that only starts like it.
    let outside = f
        .send(Request::new("GET", "/events").header("cookie", f.cookie.clone()))
        .await;
    assert_eq!(outside.status, 404);
    let lookalike = f
        .send(Request::new("GET", "/inboxes").header("cookie", f.cookie.clone()))
        .await;
    assert_eq!(lookalike.status, 404);
}

#[tokio::test]
async fn replay_puts_a_dead_event_back_to_pending() {
    let f = seeded(50).await;
    let response = f
        .post("/inbox/events/3/replay", &format!("csrf={}", f.csrf))
        .await;
    assert_eq!(response.status, 303);
    assert_eq!(
        response.header("location"),
        Some("/inbox/events/3?done=replayed")
    );
    assert_eq!(f.state(3).await, State::Pending);
    let html = f.get("/inbox/events/3", "done=replayed").await;
    assert!(html.contains("Put back to pending"));
    assert!(html.contains("<span class=\"badge state-pending\" id=\"state\">pending</span>"));
}

#[tokio::test]
async fn mark_dead_kills_a_pending_event_with_the_reason_given() {
    let f = seeded(50).await;
    let form = format!("csrf={}&reason=customer+asked", f.csrf);
    let response = f.post("/inbox/events/1/dead", &form).await;
    assert_eq!(response.status, 303);
    assert_eq!(
        response.header("location"),
        Some("/inbox/events/1?done=dead")
    );
    let detail = f.inbox.get(InboxId::new(1)).await.unwrap().unwrap();
    assert_eq!(detail.record.state, State::Dead);
    assert_eq!(detail.record.last_error.as_deref(), Some("customer asked"));
    // Dead already: not again.
    let again = f
        .post("/inbox/events/1/dead", &format!("csrf={}", f.csrf))
        .await;
    assert_eq!(
        again.header("location"),
        Some("/inbox/events/1?done=not-dead")
    );
}

#[tokio::test]
async fn dead_letters_list_dead_events_and_replay_all_after_a_count() {
    let f = seeded(50).await;
    let html = f.get("/inbox/dead", "").await;
    assert_eq!(listed_ids(&html), vec![5, 3]);
    assert!(html.contains("href=\"/inbox/dead/replay\">Replay all matching"));
    // Filtered: the bulk link keeps the filter.
    let html = f.get("/inbox/dead", "provider=calendence").await;
    assert_eq!(listed_ids(&html), vec![3]);
    assert!(html.contains("href=\"/inbox/dead/replay?provider=calendence\""));

    let confirm = f.get("/inbox/dead/replay", "provider=calendence").await;
    assert!(
        confirm.contains("<strong id=\"count\">1</strong>"),
        "{confirm}"
    );
    assert!(confirm.contains("<input type=\"hidden\" name=\"provider\" value=\"calendence\">"));
    assert_eq!(f.state(3).await, State::Dead, "confirming changes nothing");

    let form = format!("csrf={}&provider=calendence", f.csrf);
    let response = f.post("/inbox/dead/replay", &form).await;
    assert_eq!(response.status, 303);
    assert_eq!(
        response.header("location"),
        Some("/inbox/dead?provider=calendence&replayed=1")
    );
    assert_eq!(f.state(3).await, State::Pending);
    assert_eq!(f.state(5).await, State::Dead, "outside the filter");
    let after = f.get("/inbox/dead", "provider=calendence&replayed=1").await;
    assert!(after.contains("Put 1 dead events back to pending"));

    let none = f.get("/inbox/dead/replay", "provider=decoda").await;
    assert!(none.contains("No dead event matches"));
    let count = f
        .inbox
        .count(&Filter::default().state(State::Dead))
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let f = seeded(50).await;
    let answers = [
        f.get_response("/inbox/", "").await,
        f.get_response("/inbox/events/5", "").await,
        f.send(Request::new("GET", "/inbox/events")).await,
        f.post("/inbox/events/3/replay", "").await,
        f.get_response("/inbox/events/999", "").await,
    ];
    for response in answers {
        let csp = response.header("content-security-policy").unwrap();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("script-src"), "no script is allowed");
        assert_eq!(response.header("x-frame-options"), Some("DENY"));
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
    }
}

#[tokio::test]
async fn the_stylesheet_is_served_to_anyone() {
    let f = seeded(50).await;
    let response = f.send(Request::new("GET", "/inbox/assets/style.css")).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    assert!(body(&response).contains(".badge"));
}

#[tokio::test]
async fn an_inbox_that_fails_answers_503() {
    let dashboard = Dashboard::builder(Arc::new(bookhook::testing::inbox::DownInbox))
        .token(TOKEN)
        .build()
        .unwrap();
    for path in ["/", "/events", "/events/1", "/dead", "/dead/replay"] {
        let response = dashboard
            .handle(Request::new("GET", path).header("authorization", format!("Bearer {TOKEN}")))
            .await;
        assert_eq!(response.status, 503, "{path}");
        assert_eq!(response.header("retry-after"), Some("5"));
    }
}

#[test]
fn building_needs_a_strong_token_or_an_explicit_opt_out() {
    let inbox = || -> Arc<dyn Inbox> { Arc::new(MemoryInbox::new()) };
    assert_eq!(
        Dashboard::builder(inbox()).build().unwrap_err(),
        BuildError::NoAccess
    );
    assert_eq!(
        Dashboard::builder(inbox())
            .token("short")
            .build()
            .unwrap_err(),
        BuildError::WeakToken
    );
    assert_eq!(
        Dashboard::builder(inbox())
            .token("has a space in it, sixteen+")
            .build()
            .unwrap_err(),
        BuildError::WeakToken
    );
    for prefix in ["admin", "/admin/", "/a b", "/<x>"] {
        assert!(matches!(
            Dashboard::builder(inbox())
                .token(TOKEN)
                .prefix(prefix)
                .build(),
            Err(BuildError::InvalidPrefix { .. })
        ));
    }
    assert!(
        Dashboard::builder(inbox())
            .behind_your_own_authentication()
            .build()
            .is_ok()
    );
    assert_eq!(Dashboard::random_token().unwrap().len(), 64);
    assert_ne!(
        Dashboard::random_token().unwrap(),
        Dashboard::random_token().unwrap()
    );
}

#[tokio::test]
async fn behind_your_own_authentication_opens_pages_but_still_checks_forms() {
    let inbox = Arc::new(MemoryInbox::new());
    enqueue(
        &inbox,
        event(1, Provider::Calendence, "booking.created", "b-1"),
    )
    .await;
    let dashboard = Dashboard::builder(inbox.clone())
        .behind_your_own_authentication()
        .build()
        .unwrap();
    let page = dashboard.handle(Request::new("GET", "/events/1")).await;
    assert_eq!(page.status, 200);
    let refused = dashboard
        .handle(Request::new("POST", "/events/1/dead").body("csrf=guess"))
        .await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn pages_work_over_the_sqlite_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = bookhook_sqlite::SqliteInbox::open(dir.path().join("inbox.db")).unwrap();
    let inbox: Arc<dyn Inbox> = Arc::new(sqlite);
    for n in 1..=3 {
        inbox
            .enqueue(event(n, Provider::Calendence, "booking.created", "b"))
            .await
            .unwrap();
    }
    let clock = ManualClock::at(UNIX_EPOCH + Duration::from_millis((T0 + 60_000) as u64));
    let dashboard = Dashboard::builder(inbox.clone())
        .token(TOKEN)
        .clock(clock)
        .build()
        .unwrap();
    let get = |path: &'static str, query: &'static str| {
        let dashboard = dashboard.clone();
        async move {
            dashboard
                .handle(
                    Request::new("GET", path)
                        .query(query)
                        .header("authorization", format!("Bearer {TOKEN}")),
                )
                .await
        }
    };
    let overview = get("/", "").await;
    assert_eq!(overview.status, 200);
    assert!(body(&overview).contains("14:30 UTC: 3"));
    let events = get("/events", "state=pending").await;
    assert_eq!(events.status, 200);
    assert_eq!(listed(&body(&events)), 3);
    assert_eq!(get("/events/2", "").await.status, 200);
    assert_eq!(get("/events/9", "").await.status, 404);
}
