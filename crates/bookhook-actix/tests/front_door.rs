//! An actix-web server with [`ServerLimits`], a [`FrontDoor`] and the
//! adapter's body limits, against slow and stalled clients, too many
//! deliveries and a shutdown on 127.0.0.1.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer};
use bookhook::testing::wire::{
    PARTIAL_HEADERS, check_delivery_answered, read_to_close, signed_post,
};
use bookhook_actix::bookhook::endpoint::UnverifiedBudget;
use bookhook_actix::{
    Context, Dispatcher, Endpoint, FrontDoor, HandlerError, Provider, ServerLimits,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SECRET: &str = "front-door-secret";
const BODY: &str =
    r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
/// A well-formed Calendence signature that matches no body: it passes the
/// check made on the headers, so the body is read.
const WELL_FORMED: &str = "sha256=0000000000000000000000000000000000000000000000000000000000000000";

fn endpoint(body_timeout: Duration, budget: &UnverifiedBudget) -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .body_timeout(body_timeout)
        .unverified_budget(budget.clone())
        .build()
        .expect("a valid endpoint")
}

/// Starts a one-worker server with `limits` serving `endpoint` at `/webhook`.
fn start(endpoint: Endpoint, limits: ServerLimits) -> (SocketAddr, actix_web::dev::ServerHandle) {
    let dispatcher = Dispatcher::builder(endpoint)
        .build()
        .expect("a valid dispatcher");
    let server = HttpServer::new(move || {
        App::new().service(bookhook_actix::resource("/webhook", dispatcher.clone()))
    })
    .workers(1);
    let server = limits
        .apply(server)
        .bind(("127.0.0.1", 0))
        .expect("a loopback port");
    let addr = server.addrs()[0];
    let server = server.disable_signals().run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle)
}

fn limits(header_timeout: Duration) -> ServerLimits {
    let mut limits = ServerLimits::default();
    limits.header_timeout = header_timeout;
    limits.idle_timeout = header_timeout;
    limits.max_connections_per_worker = 1000;
    limits
}

fn stalled_body_head(length: usize) -> Vec<u8> {
    format!(
        "POST /webhook HTTP/1.1\r\nHost: test\r\nContent-Length: {length}\r\nX-Calendence-Signature: {WELL_FORMED}\r\n\r\n"
    )
    .into_bytes()
}

fn event(id: &str) -> String {
    format!(
        r#"{{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"{id}"}}}}"#
    )
}

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("linux /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

#[actix_web::test]
async fn partial_headers_are_cut_at_the_header_timeout() {
    let budget = UnverifiedBudget::new(1 << 20);
    let (addr, handle) = start(
        endpoint(Duration::from_secs(30), &budget),
        limits(Duration::from_millis(800)),
    );
    let mut stalled = TcpStream::connect(addr).await.expect("connects");
    stalled.write_all(PARTIAL_HEADERS).await.expect("writes");
    let (reply, after) = read_to_close(&mut stalled).await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 408"),
        "{reply}"
    );
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_secs(5),
        "closed after {after:?}"
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn stalled_body_gets_408_at_the_body_timeout() {
    let budget = UnverifiedBudget::new(1 << 20);
    let (addr, handle) = start(
        endpoint(Duration::from_millis(800), &budget),
        limits(Duration::from_secs(30)),
    );
    let mut stalled = TcpStream::connect(addr).await.expect("connects");
    let mut head = stalled_body_head(1000);
    head.extend_from_slice(b"{\"event\":");
    stalled.write_all(&head).await.expect("writes");
    let (reply, after) = read_to_close(&mut stalled).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("body_timeout"), "{reply}");
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_secs(5),
        "answered after {after:?}"
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn declared_lengths_allocate_nothing_and_a_delivery_still_gets_200() {
    let budget = UnverifiedBudget::new(64 << 20);
    let endpoint = endpoint(Duration::from_secs(20), &budget);
    let (addr, handle) = start(endpoint.clone(), limits(Duration::from_secs(20)));
    let before = rss_kib();
    // 300 connections that each declare 1 MiB and send nothing more, and
    // 200 stalled in their headers.
    let mut stalled = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream
            .write_all(&stalled_body_head(1 << 20))
            .await
            .expect("writes");
        stalled.push(stream);
    }
    for _ in 0..200 {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream.write_all(PARTIAL_HEADERS).await.expect("writes");
        stalled.push(stream);
    }
    let mut client = TcpStream::connect(addr).await.expect("connects");
    check_delivery_answered(&mut client, &endpoint, BODY).await;
    // Nothing was reserved or allocated for the declared lengths.
    assert_eq!(budget.in_use(), 0);
    let grown_kib = rss_kib().saturating_sub(before);
    eprintln!("actix test process: rss grew by {grown_kib} KiB with 500 stalled connections");
    // Before the fix each of the 300 took about 1 MiB (300 MiB in all). The
    // bound leaves room for the other tests of this file, which run at the
    // same time in the same process (8 MiB alone, 68 MiB seen beside them).
    assert!(grown_kib < 160 * 1024, "rss grew by {grown_kib} KiB");
    for stream in &mut stalled {
        let mut buf = [0u8; 1];
        assert!(
            stream.try_read(&mut buf).is_err(),
            "a stalled connection was answered"
        );
    }
    handle.stop(false).await;
}

/// Starts a one-worker server hardened by `door`, serving `dispatcher` at
/// `/webhook`, that begins its shutdown when `stop` completes.
fn start_with_door(
    dispatcher: Dispatcher,
    door: &FrontDoor,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (
    SocketAddr,
    actix_web::dev::ServerHandle,
    actix_web::rt::task::JoinHandle<std::io::Result<()>>,
) {
    let server = HttpServer::new({
        let door = door.clone();
        move || {
            App::new()
                .app_data(door.clone())
                .service(bookhook_actix::resource("/webhook", dispatcher.clone()))
        }
    })
    .workers(1);
    let server = door
        .harden(server)
        .shutdown_signal(door.shutdown_after(stop))
        .bind(("127.0.0.1", 0))
        .expect("a loopback port");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    (addr, handle, actix_web::rt::spawn(server))
}

fn door(max_deliveries: usize, grace: Duration) -> FrontDoor {
    let mut limits = ServerLimits::default();
    limits.max_deliveries = max_deliveries;
    limits.grace = grace;
    FrontDoor::new(limits)
}

async fn send(addr: SocketAddr, endpoint: &Endpoint, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream
        .write_all(&signed_post(endpoint, body))
        .await
        .expect("writes");
    stream
}

async fn until(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(5), "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn deliveries_past_the_cap_get_503_with_retry_after() {
    let endpoint = endpoint(Duration::from_secs(10), &UnverifiedBudget::new(1 << 20));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .fallback({
            let gate = Arc::clone(&gate);
            let started = Arc::clone(&started);
            move |_ctx: Context| {
                let gate = Arc::clone(&gate);
                started.fetch_add(1, Ordering::SeqCst);
                async move {
                    let _open = gate.acquire().await;
                    Ok::<_, HandlerError>(())
                }
            }
        })
        .build()
        .expect("a valid dispatcher");
    let door = door(2, Duration::from_secs(5));
    let (addr, handle, _server) = start_with_door(dispatcher, &door, std::future::pending());

    let mut first = send(addr, &endpoint, &event("cap-1")).await;
    let mut second = send(addr, &endpoint, &event("cap-2")).await;
    until("both deliveries started", || {
        started.load(Ordering::SeqCst) == 2
    })
    .await;
    assert_eq!(door.in_progress(), 2);

    let mut third = send(addr, &endpoint, &event("cap-3")).await;
    let (reply, _) = read_to_close(&mut third).await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("retry-after: 5"),
        "{reply}"
    );
    assert!(reply.contains(r#""error":"busy""#), "{reply}");
    assert_eq!(
        started.load(Ordering::SeqCst),
        2,
        "the refused delivery ran"
    );

    gate.add_permits(2);
    for stream in [&mut first, &mut second] {
        let (reply, _) = read_to_close(stream).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    }
    until("the deliveries ended", || door.in_progress() == 0).await;
    // Room again: the refused event is delivered now.
    gate.add_permits(1);
    let mut retried = send(addr, &endpoint, &event("cap-3")).await;
    let (reply, _) = read_to_close(&mut retried).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#"{"status":"ok"}"#), "{reply}");
    handle.stop(false).await;
}

#[actix_web::test]
async fn deliveries_running_at_the_end_of_the_grace_period_release_their_claims() {
    let endpoint = endpoint(Duration::from_secs(10), &UnverifiedBudget::new(1 << 20));
    // Each event's first run hangs; a second run succeeds.
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let runs = Arc::new(AtomicUsize::new(0));
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .fallback({
            let seen = Arc::clone(&seen);
            let runs = Arc::clone(&runs);
            move |ctx: Context| {
                runs.fetch_add(1, Ordering::SeqCst);
                let id = ctx.appointment().map(|a| a.id.clone()).unwrap_or_default();
                let first = seen.lock().expect("not poisoned").insert(id);
                async move {
                    if first {
                        std::future::pending::<()>().await;
                    }
                    Ok::<_, HandlerError>(())
                }
            }
        })
        .build()
        .expect("a valid dispatcher");

    let door = door(16, Duration::from_secs(1));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, _handle, server) = start_with_door(dispatcher.clone(), &door, async move {
        let _ = stop_rx.await;
    });
    // One sender waits for its answer, the other hangs up.
    let mut waiting = send(addr, &endpoint, &event("cut-1")).await;
    let hung_up = send(addr, &endpoint, &event("cut-2")).await;
    until("both deliveries started", || {
        runs.load(Ordering::SeqCst) == 2
    })
    .await;
    drop(hung_up);

    let shutdown_began = Instant::now();
    stop_tx.send(()).expect("the server listens");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(door.is_shutting_down());
    let (reply, _) = read_to_close(&mut waiting).await;
    let cut_after = shutdown_began.elapsed();
    assert!(reply.starts_with("HTTP/1.1 500"), "{reply}");
    assert!(reply.contains("handler_failed"), "{reply}");
    assert!(
        cut_after >= Duration::from_millis(800) && cut_after < Duration::from_secs(5),
        "cut off after {cut_after:?}"
    );
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops after the grace period")
        .expect("the server task")
        .expect("the server ran");
    assert_eq!(door.in_progress(), 0);

    // The sender's retry reaches the next server: both claims were released,
    // so the events run again (not 409 in flight, not a duplicate).
    let next = FrontDoor::default();
    let (addr, handle, _server) = start_with_door(dispatcher, &next, std::future::pending());
    for id in ["cut-1", "cut-2"] {
        let mut retry = send(addr, &endpoint, &event(id)).await;
        let (reply, _) = read_to_close(&mut retry).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{id}: {reply}");
        assert!(reply.contains(r#"{"status":"ok"}"#), "{id}: {reply}");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    handle.stop(false).await;
}
