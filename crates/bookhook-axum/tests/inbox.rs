//! Inbox mode through axum: the shared table, a fast ack while the handler
//! is slow, and no acknowledgement for what the inbox did not store.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use bookhook::testing::inbox::{Breakable, InboxConformance};
use bookhook::testing::slow_handler::SlowHandler;
use bookhook_axum::bookhook::signature::SignRequest;
use bookhook_axum::inbox::{Filter, Inbox, InboxService, MemoryInbox, Worker};
use bookhook_axum::{Context, Dispatcher, Endpoint, HandlerError, Provider};
use http_body_util::BodyExt;
use tower::ServiceExt;

mod support;

fn booking(id: &str) -> String {
    format!(
        r#"{{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"{id}"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_mode_answers_the_conformance_table() {
    let table = InboxConformance::new().await;
    let mut app = Router::new();
    for mount in &table.mounts {
        app = app.route_service(mount.path, InboxService::new(mount.ingest.clone()));
    }
    for case in &table.cases {
        table.check_answered(case, &support::send(&app, case).await);
    }
    table.check_stored().await;
}

/// Sends one POST over a fresh connection and returns the status and body.
fn post_blocking(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_does_not_wait_for_the_handler() {
    let slow = SlowHandler::new();
    let app = Router::new().route_service("/webhook", InboxService::new(slow.worker().ingest()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async {
        let _ = stopped.await;
    });
    let running = tokio::spawn({
        let worker = slow.worker().clone();
        async move { worker.alongside(server).await }
    });

    let (headers, body) = slow.request();
    let sent = Instant::now();
    let (status, answer) =
        tokio::task::spawn_blocking(move || post_blocking(addr, "/webhook", &headers, &body))
            .await
            .unwrap();
    slow.check_ack(status, answer.as_bytes(), sent.elapsed());
    slow.check_handled().await;
    let _ = stop.send(());
    let (served, report) = running.await.unwrap();
    served.unwrap();
    assert_eq!(report.cut_off, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acknowledged_that_the_inbox_did_not_store() {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("s3cr3t")
        .build()
        .unwrap();
    let handled: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .fallback({
            let handled = handled.clone();
            move |ctx: Context| {
                let id = ctx.appointment().map(|a| a.id.clone()).unwrap_or_default();
                handled.lock().unwrap().insert(id);
                async { Ok::<_, HandlerError>(()) }
            }
        })
        .build()
        .unwrap();
    let inbox = Arc::new(Breakable::new(MemoryInbox::new()));
    let worker = Worker::builder(dispatcher, inbox.clone()).build().unwrap();
    let app = Router::new().route_service("/webhook", InboxService::new(worker.ingest()));

    let send = |id: String| {
        let app = app.clone();
        let endpoint = endpoint.clone();
        async move {
            let body = booking(&id);
            let signed = endpoint.sign(body.as_bytes(), &SignRequest::now());
            let mut request = http::Request::post("/webhook");
            for (name, value) in &signed.headers {
                request = request.header(name, value);
            }
            let response = app
                .oneshot(request.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").cloned();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                retry_after,
                String::from_utf8(body.to_vec()).unwrap(),
            )
        }
    };

    let ids: Vec<String> = (0..20).map(|n| format!("b-{n}")).collect();
    let mut refused = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        inbox.set_down(n % 3 == 1);
        let (status, retry_after, body) = send(id.clone()).await;
        let stored = inbox
            .inner()
            .count(&Filter::default().ordering_key(id.as_str()))
            .await
            .unwrap();
        match status {
            200 => {
                assert!(body.contains("queued"), "{body}");
                assert_eq!(stored, 1, "{id} was acknowledged, so it is stored");
            }
            503 => {
                assert!(body.contains("inbox_unavailable"), "{body}");
                assert!(retry_after.is_some(), "a 503 says when to retry");
                assert_eq!(stored, 0, "{id} was refused and not stored");
                refused.push(id.clone());
            }
            other => panic!("{id}: unexpected status {other}: {body}"),
        }
    }
    assert_eq!(refused.len(), 7);

    // The sender retries what was refused, once the inbox is back.
    inbox.set_down(false);
    for id in &refused {
        let (status, _, body) = send(id.clone()).await;
        assert_eq!(status, 200, "{body}");
    }
    worker.drain().await;
    let expected: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(*handled.lock().unwrap(), expected, "every event handled");
}
