//! `bookhook_axum::serve` against slow and stalled clients, on 127.0.0.1:
//! header and body timeouts, a legitimate delivery among 200 stalled
//! connections, and a shutdown that does not wait for a stalled client.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use bookhook::testing::signed_request;
use bookhook::testing::wire::{
    PARTIAL_HEADERS, check_delivery_answered, read_to_close, signed_post,
};
use bookhook_axum::bookhook::{endpoint::Request, idempotency::MemoryStore};
use bookhook_axum::{Context, Dispatcher, Endpoint, HandlerError, Provider, WebhookService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "front-door-secret";
const BODY: &str =
    r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
/// A well-formed Calendence signature that matches no body: it passes the
/// check made on the headers, so the body is read.
const WELL_FORMED: &str = "sha256=0000000000000000000000000000000000000000000000000000000000000000";

fn endpoint(store: &Arc<MemoryStore>, body_timeout: Duration) -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .body_timeout(body_timeout)
        .shared_store(Arc::clone(store) as Arc<dyn bookhook::idempotency::IdempotencyStore>)
        .build()
        .expect("a valid endpoint")
}

/// Serves one Calendence endpoint at `/webhook`; its handler waits for
/// `handler_wait`.
async fn start(
    endpoint: Endpoint,
    header_timeout: Duration,
    handler_wait: Duration,
    grace: Duration,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let dispatcher = Dispatcher::builder(endpoint)
        .fallback(move |_ctx: Context| async move {
            tokio::time::sleep(handler_wait).await;
            Ok::<_, HandlerError>(())
        })
        .build()
        .expect("a valid dispatcher");
    let app = Router::new().route_service("/webhook", WebhookService::new(dispatcher));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = bookhook_axum::serve(listener, app)
        .header_timeout(header_timeout)
        .idle_timeout(header_timeout)
        .max_connections(1000)
        .grace(grace)
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
    (addr, stop, tokio::spawn(server.into_future()))
}

fn stalled_body_head() -> Vec<u8> {
    format!(
        "POST /webhook HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\nX-Calendence-Signature: {WELL_FORMED}\r\n\r\n{{\"event\":"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_headers_are_cut_at_the_header_timeout() {
    let store = Arc::new(MemoryStore::new());
    let (addr, _stop, _server) = start(
        endpoint(&store, Duration::from_secs(30)),
        Duration::from_millis(800),
        Duration::ZERO,
        Duration::from_secs(1),
    )
    .await;
    let mut stalled = TcpStream::connect(addr).await.expect("connects");
    stalled.write_all(PARTIAL_HEADERS).await.expect("writes");
    let (_reply, after) = read_to_close(&mut stalled).await;
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_secs(5),
        "closed after {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_body_gets_408_at_the_body_timeout() {
    let store = Arc::new(MemoryStore::new());
    let (addr, _stop, _server) = start(
        endpoint(&store, Duration::from_millis(800)),
        Duration::from_secs(30),
        Duration::ZERO,
        Duration::from_secs(1),
    )
    .await;
    let mut stalled = TcpStream::connect(addr).await.expect("connects");
    stalled
        .write_all(&stalled_body_head())
        .await
        .expect("writes");
    let (reply, after) = read_to_close(&mut stalled).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("body_timeout"), "{reply}");
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_secs(5),
        "answered after {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_gets_200_while_200_stalled_connections_are_open() {
    let store = Arc::new(MemoryStore::new());
    let endpoint = endpoint(&store, Duration::from_secs(20));
    let (addr, _stop, _server) = start(
        endpoint.clone(),
        Duration::from_secs(20),
        Duration::ZERO,
        Duration::from_secs(1),
    )
    .await;
    let mut stalled = Vec::new();
    for i in 0..200 {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        let head = if i % 2 == 0 {
            PARTIAL_HEADERS.to_vec()
        } else {
            stalled_body_head()
        };
        stream.write_all(&head).await.expect("writes");
        stalled.push(stream);
    }
    let mut client = TcpStream::connect(addr).await.expect("connects");
    check_delivery_answered(&mut client, &endpoint, BODY).await;
    // The stalled connections were all still open: none got an answer yet.
    for stream in &mut stalled {
        let mut buf = [0u8; 1];
        assert!(
            stream.try_read(&mut buf).is_err(),
            "a stalled connection was answered"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_within_the_grace_period_and_releases_a_cut_off_claim() {
    let store = Arc::new(MemoryStore::new());
    let endpoint = endpoint(&store, Duration::from_secs(30));
    let (addr, stop, server) = start(
        endpoint.clone(),
        Duration::from_secs(30),
        Duration::from_secs(3600),
        Duration::from_millis(700),
    )
    .await;
    // A client stalled half-way through its body, and a delivery whose handler never ends.
    let mut stalled = TcpStream::connect(addr).await.expect("connects");
    stalled
        .write_all(&stalled_body_head())
        .await
        .expect("writes");
    let mut running = TcpStream::connect(addr).await.expect("connects");
    running
        .write_all(&signed_post(&endpoint, BODY))
        .await
        .expect("writes");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    stop.send(()).expect("the server is running");
    let ended = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops within 10 s")
        .expect("the server task ends");
    assert!(ended.is_ok(), "{ended:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(3),
        "shutdown took {took:?}"
    );

    // The cut-off delivery's claim was released: the sender's retry is claimed anew.
    let (headers, _) = signed_request(&endpoint, BODY.as_bytes());
    let retry = endpoint
        .begin(&Request::post(&headers, BODY.as_bytes().to_vec().into()))
        .await;
    match retry {
        Ok(accepted) => {
            let _ = accepted.complete().await;
        }
        Err(finished) => panic!("the claim was still held: {}", finished.status()),
    }
}

/// Serves one endpoint whose handler waits `handler_wait`, with the given caps.
async fn start_capped(
    endpoint: Endpoint,
    handler_wait: Duration,
    max_connections: usize,
    max_deliveries: usize,
) -> SocketAddr {
    let dispatcher = Dispatcher::builder(endpoint)
        .fallback(move |_ctx: Context| async move {
            tokio::time::sleep(handler_wait).await;
            Ok::<_, HandlerError>(())
        })
        .build()
        .expect("a valid dispatcher");
    let app = Router::new().route_service("/webhook", WebhookService::new(dispatcher));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    let server = bookhook_axum::serve(listener, app)
        .header_timeout(Duration::from_millis(800))
        .idle_timeout(Duration::from_millis(800))
        .max_connections(max_connections)
        .max_deliveries(max_deliveries);
    tokio::spawn(server.into_future());
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_delivery_cap_get_503_with_retry_after() {
    let store = Arc::new(MemoryStore::new());
    let endpoint = endpoint(&store, Duration::from_secs(30));
    let addr = start_capped(endpoint.clone(), Duration::from_secs(2), 100, 1).await;
    let mut first = TcpStream::connect(addr).await.expect("connects");
    first
        .write_all(&signed_post(&endpoint, BODY))
        .await
        .expect("writes");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other = BODY.replace("b-1", "b-2");
    let mut second = TcpStream::connect(addr).await.expect("connects");
    second
        .write_all(&signed_post(&endpoint, &other))
        .await
        .expect("writes");
    let (reply, _) = read_to_close(&mut second).await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("retry-after: 5"), "{reply}");
    assert!(reply.contains("\"busy\""), "{reply}");
    let (reply, _) = read_to_close(&mut first).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_until_a_stalled_one_is_cut() {
    let store = Arc::new(MemoryStore::new());
    let endpoint = endpoint(&store, Duration::from_secs(30));
    let addr = start_capped(endpoint.clone(), Duration::ZERO, 2, 100).await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream.write_all(PARTIAL_HEADERS).await.expect("writes");
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let mut waiting = TcpStream::connect(addr)
        .await
        .expect("the backlog takes it");
    waiting
        .write_all(&signed_post(&endpoint, BODY))
        .await
        .expect("writes");
    let (reply, _) = read_to_close(&mut waiting).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // Served only once a stalled connection was closed at its timeout.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
        "served after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_dripped_byte_by_byte_are_cut_at_the_header_timeout() {
    let store = Arc::new(MemoryStore::new());
    let dispatcher = Dispatcher::builder(endpoint(&store, Duration::from_secs(30)))
        .build()
        .expect("a valid dispatcher");
    let app = Router::new().route_service("/webhook", WebhookService::new(dispatcher));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    // A long idle timeout: a byte every 100 ms keeps the connection from
    // being idle, so only the header timeout can end it.
    let server = bookhook_axum::serve(listener, app)
        .header_timeout(Duration::from_millis(800))
        .idle_timeout(Duration::from_secs(30));
    tokio::spawn(server.into_future());

    let stream = TcpStream::connect(addr).await.expect("connects");
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let drip = tokio::spawn(async move {
        let head = b"POST /webhook HTTP/1.1\r\nHost: test\r\nX-Padding: ".to_vec();
        for byte in head.into_iter().chain(std::iter::repeat(b'a')) {
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if started.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
    });
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await;
    let after = started.elapsed();
    drip.abort();
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
    assert!(
        after >= Duration::from_millis(600) && after < Duration::from_secs(4),
        "closed after {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_that_never_ends_gets_408_at_the_body_timeout() {
    let store = Arc::new(MemoryStore::new());
    let (addr, _stop, _server) = start(
        endpoint(&store, Duration::from_millis(800)),
        Duration::from_secs(30),
        Duration::ZERO,
        Duration::from_secs(1),
    )
    .await;
    let stream = TcpStream::connect(addr).await.expect("connects");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nX-Calendence-Signature: {WELL_FORMED}\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.expect("writes");
    let started = Instant::now();
    // One small chunk every 100 ms: the timeout is for the whole body, not per chunk.
    let drip = tokio::spawn(async move {
        while started.elapsed() < Duration::from_secs(10) {
            if writer.write_all(b"1\r\n \r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut reply)).await;
    let after = started.elapsed();
    drip.abort();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(
        after >= Duration::from_millis(600) && after < Duration::from_secs(4),
        "answered after {after:?}"
    );
}
