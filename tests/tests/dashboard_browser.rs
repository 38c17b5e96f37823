//! The inbox dashboard in a real browser: headless Chromium driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`), against a dashboard
//! served on 127.0.0.1 over a SQLite inbox that a worker filled.
//!
//! The browser opens the dashboard with its token, filters the events to
//! the dead ones, opens one, clicks Replay, and sees it pending, then done
//! once the worker ran again. An event whose body holds a `<script>` shows
//! it as text and runs nothing. Screenshots of the events page and of an
//! event's page go to `target/tmp/dashboard-screenshots/`, and to
//! `docs/dashboard-events.png` and `docs/dashboard-event.png` with
//! `BOOKHOOK_UPDATE_SCREENSHOTS=1`.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (`BOOKHOOK_CHROMIUM`
//! and `BOOKHOOK_CHROMEDRIVER` name others) the test fails under `CI=true`,
//! and otherwise says why and passes.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use bookhook::inbox::{Inbox, NewEvent, Worker};
use bookhook::testing::samples::sample;
use bookhook::{Context, Dispatcher, Endpoint, HandlerError, Kind, Provider};
use bookhook_axum::dashboard::{self, Dashboard};
use bookhook_sqlite::SqliteInbox;
use fantoccini::{Client, ClientBuilder, Locator};

const TOKEN: &str = "browser-test-token-0123456789";
const STEP: Duration = Duration::from_secs(20);

/// Chromium and its driver, or why they cannot be used.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = PathBuf::from(
        std::env::var("BOOKHOOK_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    let driver = PathBuf::from(
        std::env::var("BOOKHOOK_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
    );
    for tool in [&chromium, &driver] {
        if !tool.exists() {
            return Err(format!(
                "{} is missing (apt-get install chromium chromium-driver)",
                tool.display()
            ));
        }
    }
    Ok((chromium, driver))
}

/// The chromedriver this test started; killed (by its own id) when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    socket.local_addr().expect("a bound address").port()
}

/// Starts chromedriver on a free loopback port and waits until it accepts.
fn start_driver(driver: &Path) -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let deadline = Instant::now() + STEP;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (driver, port)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

const PEOPLE: [(&str, &str); 6] = [
    ("Jane", "Doe"),
    ("Amadou", "Diallo"),
    ("Léa", "Martin"),
    ("Sven", "Olsen"),
    ("Priya", "Natarajan"),
    ("Tomás", "García"),
];

/// A Calendence booking body for appointment `id`.
fn booking(event_type: &str, id: &str, person: (&str, &str)) -> String {
    let status = event_type.trim_start_matches("booking.");
    sample(Provider::Calendence, "booking.cancelled")
        .expect("the calendence sample")
        .replace("booking.cancelled", event_type)
        .replace(
            "\"status\": \"cancelled\"",
            &format!("\"status\": \"{status}\""),
        )
        .replace("booking-uuid", id)
        .replace("Jane", person.0)
        .replace("Doe", person.1)
}

/// Appointments whose handler fails for good, or for now, while `broken`.
const FAILS_FOR_GOOD: [&str; 3] = ["b-1003", "b-1007", "b-1011"];
const FAILS_FOR_NOW: [&str; 2] = ["b-1005", "b-1009"];

/// Fills `inbox` with an hour of deliveries and runs a worker over them once.
async fn seed(
    inbox: &Arc<dyn Inbox>,
    endpoint: &Endpoint,
    worker: &Worker<()>,
) -> (Vec<String>, u64) {
    let now = now_ms();
    let types = [
        "booking.created",
        "booking.updated",
        "booking.cancelled",
        "booking.completed",
    ];
    let mut ids = Vec::new();
    for n in 0..14_i64 {
        let id = format!("b-{}", 1000 + n);
        let event_type = types[n as usize % types.len()];
        let body = booking(event_type, &id, PEOPLE[n as usize % PEOPLE.len()]);
        let received = now - (56 - n * 4) * 60_000 - n * 7_000;
        let kind = match event_type {
            "booking.created" => Kind::Created,
            "booking.updated" => Kind::Updated,
            "booking.cancelled" => Kind::Cancelled,
            _ => Kind::Completed,
        };
        let event = NewEvent::new(
            endpoint.namespace(),
            format!("evt_{:08x}", 0x5eed_0000_u32 + n as u32),
            Some(id.clone()),
            Provider::Calendence,
            event_type,
            kind,
            received,
            Some(received - 1_500),
            body.into(),
            vec![
                ("content-type".into(), "application/json".into()),
                ("x-calendence-signature".into(), "[redacted]".into()),
            ],
        );
        ids.push(
            inbox
                .enqueue(event)
                .await
                .expect("enqueue")
                .id()
                .to_string(),
        );
    }
    // A body that tries to run a script, and a pending delivery of another
    // platform that no worker here handles.
    let hostile = NewEvent::new(
        "elsewhere",
        "evt_hostile",
        Some("x-1".into()),
        Provider::Hmac,
        "note.created",
        Kind::Other,
        now - 90_000,
        None,
        r#"{"note":"<script>document.title='pwned'</script><img src=x onerror=alert(1)>"}"#.into(),
        vec![("content-type".into(), "application/json".into())],
    );
    let hostile_id = inbox.enqueue(hostile).await.expect("enqueue").id().get();
    if let Some(body) = sample(Provider::Eagenda, "appointment.created") {
        let event = NewEvent::new(
            "eagenda",
            "evt_eagenda_1",
            Some("e-77".into()),
            Provider::Eagenda,
            "appointment.created",
            Kind::Created,
            now - 30_000,
            None,
            body.to_owned().into(),
            vec![("content-type".into(), "application/json".into())],
        );
        inbox.enqueue(event).await.expect("enqueue");
    }
    worker.drain().await;
    (ids, hostile_id)
}

async fn serve(dashboard: Dashboard) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("bound");
    let app = Router::new().merge(dashboard::router(dashboard));
    tokio::spawn(async move {
        let _ = bookhook_axum::serve(listener, app).await;
    });
    addr
}

async fn connect(chromium: &Path, port: u16) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium.display().to_string(),
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--window-size=1440,1000",
                "--force-device-scale-factor=1",
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session")
}

/// Where screenshots go: the target directory always, `docs/` when asked.
fn save(name: &str, png: &[u8]) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    std::fs::write(dir.join(name), png).expect("the screenshot is written");
    if std::env::var("BOOKHOOK_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).expect("docs/");
        std::fs::write(docs.join(name), png).expect("the screenshot is written to docs/");
    }
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
}

/// The text of the first `css` element. A click's page load can replace the
/// element between finding it and reading it; that element is then stale, and
/// the new page's is read instead.
async fn text(client: &Client, css: &str) -> String {
    let deadline = Instant::now() + STEP;
    loop {
        let element = match client
            .wait()
            .at_most(STEP)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(err) => {
                let url = client.current_url().await.map(|u| u.to_string());
                let page = client.source().await.unwrap_or_default();
                panic!("no `{css}` on {url:?}: {err}\n{page}")
            }
        };
        match element.text().await {
            Ok(text) => return text,
            Err(err) if is_stale(&err) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("the text of `{css}`: {err}"),
        }
    }
}

fn is_stale(err: &fantoccini::error::CmdError) -> bool {
    matches!(
        err,
        fantoccini::error::CmdError::Standard(e)
            if e.error == fantoccini::error::ErrorStatus::StaleElementReference
    )
}

/// Waits until `css`'s text is `expected` (a click's page load may still run).
async fn until_text(client: &Client, css: &str, expected: &str) {
    let deadline = Instant::now() + STEP;
    loop {
        let now = text(client, css).await;
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{css}` stays {now:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_event_is_replayed_from_the_browser_and_processed() {
    let (chromium, driver) = match browser_tools() {
        Ok(tools) => tools,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the browser test needs chromium under CI: {why}")
        }
        Err(why) => {
            eprintln!("skipping the browser test: {why}");
            return;
        }
    };

    let dir = tempfile::tempdir().expect("a temporary folder");
    let inbox: Arc<dyn Inbox> =
        Arc::new(SqliteInbox::open(dir.path().join("inbox.db")).expect("the inbox opens"));
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("browser-test-secret")
        .build()
        .expect("an endpoint");
    let broken = Arc::new(AtomicBool::new(true));
    let handler_broken = broken.clone();
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .fallback(move |ctx: Context| {
            let broken = handler_broken.load(Ordering::SeqCst);
            async move {
                let id = ctx.appointment().map(|a| a.id.clone()).unwrap_or_default();
                if broken && FAILS_FOR_GOOD.contains(&id.as_str()) {
                    return Err(HandlerError::permanent(format!(
                        "CRM refused booking {id}: 422 unknown service"
                    )));
                }
                if broken && FAILS_FOR_NOW.contains(&id.as_str()) {
                    return Err(HandlerError::new(
                        "CRM timed out after 10 s (502 Bad Gateway)",
                    ));
                }
                Ok(())
            }
        })
        .build()
        .expect("a dispatcher");
    let worker = Worker::builder(dispatcher, inbox.clone())
        .build()
        .expect("a worker");
    let (_ids, hostile_id) = seed(&inbox, &endpoint, &worker).await;

    let dashboard = Dashboard::builder(inbox.clone())
        .token(TOKEN)
        .build()
        .expect("a dashboard");
    let addr = serve(dashboard).await;
    let base = format!("http://{addr}");

    let (_driver, driver_port) = start_driver(&driver);
    let client = connect(&chromium, driver_port).await;
    let outcome = async {
        // The token opens a session and leaves the address bar.
        client
            .goto(&format!("{base}/?token={TOKEN}"))
            .await
            .expect("goto");
        assert_eq!(
            client.current_url().await.expect("url").as_str(),
            format!("{base}/")
        );
        assert_eq!(text(&client, ".card.state-dead .value").await, "3");

        // The events page, whole, then filtered to the dead ones with the form.
        client
            .find(Locator::Css("nav a[href='/events']"))
            .await
            .expect("the Events link")
            .click()
            .await
            .expect("click");
        text(&client, "table.events").await;
        save(
            "dashboard-events.png",
            &client.screenshot().await.expect("screenshot"),
        );

        client
            .find(Locator::Css("select[name=state] option[value=dead]"))
            .await
            .expect("the dead option")
            .click()
            .await
            .expect("select dead");
        client
            .find(Locator::Css("form.filters button[type=submit]"))
            .await
            .expect("the Filter button")
            .click()
            .await
            .expect("filter");
        // The form's blank fields leave the URL (a redirect): wait for it.
        let deadline = Instant::now() + STEP;
        loop {
            let url = client.current_url().await.expect("url");
            if url.as_str().ends_with("/events?state=dead") {
                break;
            }
            assert!(Instant::now() < deadline, "still at {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        text(&client, "table.events").await;
        let states = client
            .find_all(Locator::Css("table.events .badge"))
            .await
            .expect("the rows");
        assert_eq!(states.len(), 3, "three dead events");
        for state in states {
            assert_eq!(state.text().await.expect("text"), "dead");
        }

        // Open the newest dead event: its error, its attempts, its appointment.
        client
            .find(Locator::Css("table.events tbody tr td a"))
            .await
            .expect("a row link")
            .click()
            .await
            .expect("open the event");
        assert_eq!(text(&client, "#state").await, "dead");
        let page = client.source().await.expect("source");
        assert!(page.contains("CRM refused booking b-1011"), "{page}");
        assert!(page.contains("Express Wash"));
        save(
            "dashboard-event.png",
            &client.screenshot().await.expect("screenshot"),
        );

        // Replay: pending at once, done once a worker ran.
        client
            .find(Locator::Css("#replay"))
            .await
            .expect("the Replay button")
            .click()
            .await
            .expect("replay");
        until_text(&client, "#state", "pending").await;
        assert!(
            text(&client, ".notice")
                .await
                .contains("Put back to pending")
        );
        broken.store(false, Ordering::SeqCst);
        assert_eq!(
            worker.drain().await,
            1,
            "the worker runs the replayed event"
        );
        client.refresh().await.expect("reload");
        until_text(&client, "#state", "done").await;
        assert!(
            client
                .source()
                .await
                .expect("source")
                .contains("<td>manual</td>")
        );

        // A body with a script shows as text and runs nothing.
        client
            .goto(&format!("{base}/events/{hostile_id}"))
            .await
            .expect("goto");
        let body = text(&client, "#body").await;
        assert!(
            body.contains("<script>document.title='pwned'</script>"),
            "{body}"
        );
        assert_eq!(
            client.title().await.expect("title"),
            format!("Event {hostile_id} · bookhook inbox")
        );
    }
    .await;
    client.close().await.expect("the session closes");
    outcome
}
