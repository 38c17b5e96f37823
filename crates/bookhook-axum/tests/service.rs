//! `WebhookService` beyond the conformance table: thread safety and concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use bookhook::testing::signed_request;
use bookhook_axum::{
    Context, Dispatcher, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider, WebhookLayer,
    WebhookMiddleware, WebhookService,
};
use tower::ServiceExt;

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = assert_send_sync::<WebhookService<()>>();
const _: () = assert_send_sync::<WebhookLayer>();
const _: () = assert_send_sync::<WebhookMiddleware<axum::routing::Route>>();
const _: () = assert_send_sync::<bookhook_axum::VerifiedEvent>();

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_copies_run_the_handler_once() {
    let runs = Arc::new(AtomicUsize::new(0));
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("concurrency-secret")
        .build()
        .unwrap();
    async fn slow(ctx: Context<Arc<AtomicUsize>>) -> Result<(), HandlerError> {
        ctx.state().fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok(())
    }
    let dispatcher: Dispatcher<Arc<AtomicUsize>> =
        DispatcherBuilder::new(endpoint.clone(), runs.clone())
            .on_kind(Kind::Created, slow)
            .build()
            .unwrap();
    let app = Router::new().route_service("/hook", WebhookService::new(dispatcher));
    let body = br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-64"}}"#;
    let (headers, _) = signed_request(&endpoint, body);

    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let mut builder = http::Request::post("/hook");
            for (name, value) in &headers {
                builder = builder.header(name, value);
            }
            let request = builder.body(Body::from(body.to_vec())).unwrap();
            let app = app.clone();
            tokio::spawn(async move { app.oneshot(request).await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the handler ran exactly once"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200));
}

#[tokio::test]
async fn every_method_reaches_the_core() {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("s3cr3t")
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder(endpoint).build().unwrap();
    let app = Router::new().route_service("/hook", WebhookService::new(dispatcher));
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let request = http::Request::builder()
            .method(method)
            .uri("/hook")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 405, "{method}");
    }
}

#[derive(Clone, Default)]
struct Signals {
    started: Arc<tokio::sync::Notify>,
    finished: Arc<tokio::sync::Notify>,
    runs: Arc<AtomicUsize>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_that_hangs_up_does_not_cut_the_handler_off() {
    async fn slow(ctx: Context<Signals>) -> Result<(), HandlerError> {
        ctx.state().runs.fetch_add(1, Ordering::SeqCst);
        ctx.state().started.notify_one();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        ctx.state().finished.notify_one();
        Ok(())
    }
    let signals = Signals::default();
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("hang-up-secret")
        .build()
        .unwrap();
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), signals.clone())
        .on_kind(Kind::Created, slow)
        .build()
        .unwrap();
    let app = Router::new().route_service("/hook", WebhookService::new(dispatcher));
    let body = br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-hang"}}"#;
    let request = || {
        let (headers, _) = signed_request(&endpoint, body);
        let mut builder = http::Request::post("/hook");
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        builder.body(Body::from(body.to_vec())).unwrap()
    };

    // The sender hangs up as soon as the handler has started.
    tokio::select! {
        _ = app.clone().oneshot(request()) => panic!("answered before the handler started"),
        () = signals.started.notified() => {}
    }
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        signals.finished.notified(),
    )
    .await
    .expect("the handler ran to its end");

    // Once its claim is completed, the retry is a duplicate.
    let mut status = 0;
    for _ in 0..100 {
        status = app
            .clone()
            .oneshot(request())
            .await
            .unwrap()
            .status()
            .as_u16();
        if status != 409 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(status, 200);
    assert_eq!(signals.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn observer_sees_every_request_including_refused_ones() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("observer-secret")
        .max_body(256)
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .fallback(|_ctx: Context| async { Ok::<_, HandlerError>(()) })
        .build()
        .unwrap();
    let log = seen.clone();
    let app = Router::new().route_service(
        "/hook",
        WebhookService::new(dispatcher).on_finished(move |finished| {
            log.lock()
                .unwrap()
                .push((finished.status(), finished.outcome().as_str()));
        }),
    );
    let body = br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"o-1"}}"#;
    let (headers, _) = signed_request(&endpoint, body);
    let signed = |body: Vec<u8>| {
        let mut request = http::Request::post("/hook");
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        request.body(Body::from(body)).unwrap()
    };
    for request in [
        signed(body.to_vec()),
        signed(body.to_vec()),
        signed(vec![b' '; 300]),
    ] {
        app.clone().oneshot(request).await.unwrap();
    }
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(200, "handled"), (200, "duplicate"), (413, "rejected")]
    );
}
