//! Two axum receivers in one process, on two ports, sharing one Redis:
//! exactly-once handling across replicas, over real sockets.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bookhook::testing::{signed_request, wire};
use bookhook::{Context, DispatcherBuilder, Endpoint, HandlerError, Provider};
use bookhook_axum::WebhookService;
use bookhook_redis::RedisStore;
use tokio::net::{TcpListener, TcpStream};

const SECRET: &str = "replica-secret";
const PATH: &str = "/webhook/calendence";

/// A Redis to test against: `BOOKHOOK_REDIS_URL`, or a private `redis-server`.
struct Redis {
    url: String,
    child: Option<Child>,
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn redis() -> Option<Redis> {
    if let Ok(url) = std::env::var("BOOKHOOK_REDIS_URL") {
        return Some(Redis { url, child: None });
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port");
    let spawned = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(child) => {
            let redis = Redis {
                url: format!("redis://127.0.0.1:{port}"),
                child: Some(child),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "redis-server did not start on port {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(redis)
        }
        Err(err) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI needs redis-server for the replica tests: {err}"
            );
            eprintln!(
                "NOT RUN: the replica tests need redis-server on the PATH (apt-get install redis-server) \
                 or BOOKHOOK_REDIS_URL=redis://127.0.0.1:6379"
            );
            None
        }
    }
}

async fn replica(url: &str, runs: Arc<AtomicUsize>) -> SocketAddr {
    let store = RedisStore::connect(url).await.expect("connect to redis");
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .namespace("replicas-e2e")
        .store(store)
        .build()
        .unwrap();
    let dispatcher = DispatcherBuilder::new(endpoint, runs)
        .on(
            "booking.created",
            |ctx: Context<Arc<AtomicUsize>>| async move {
                ctx.state().fetch_add(1, Ordering::SeqCst);
                // Long enough for copies on the other replica to find the claim in flight.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, HandlerError>(())
            },
        )
        .build()
        .unwrap();
    let app = axum::Router::new().route_service(PATH, WebhookService::new(dispatcher));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// POSTs over HTTP/1.1 and returns the status code.
async fn post(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    wire::status_of(&mut stream, &wire::post_bytes(PATH, headers, body))
        .await
        .unwrap_or_else(|| panic!("no status line from {addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_copies_across_two_replicas_run_the_handler_once() {
    let Some(redis) = redis() else {
        return;
    };
    let runs = Arc::new(AtomicUsize::new(0));
    let a = replica(&redis.url, runs.clone()).await;
    let b = replica(&redis.url, runs.clone()).await;

    let id = format!(
        "replica-{}",
        bookhook::idempotency::ClaimToken::random().as_u128()
    );
    let body = format!(
        r#"{{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"{id}"}}}}"#
    )
    .into_bytes();
    let signer = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .build()
        .unwrap();
    let (headers, _) = signed_request(&signer, &body);

    let mut tasks = Vec::new();
    for copy in 0..100 {
        let target = if copy % 2 == 0 { a } else { b };
        let (headers, body) = (headers.clone(), body.clone());
        tasks.push(tokio::spawn(
            async move { post(target, &headers, &body).await },
        ));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "handler ran exactly once across replicas"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    // After the handler finished, every replica reports the duplicate.
    assert_eq!(post(a, &headers, &body).await, 200);
    assert_eq!(post(b, &headers, &body).await, 200);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
