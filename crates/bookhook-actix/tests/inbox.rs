//! Inbox mode through actix-web: the shared table, and a fast ack while the
//! handler is slow, and a refusal once the front door is shutting down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, test};
use bookhook::testing::inbox::InboxConformance;
use bookhook::testing::slow_handler::SlowHandler;
use bookhook_actix::bookhook::signature::SignRequest;
use bookhook_actix::inbox::{Inbox, InboxId, MemoryInbox, Worker};
use bookhook_actix::{Dispatcher, Endpoint, FrontDoor, Provider};

mod support;

#[actix_web::test]
async fn inbox_mode_answers_the_conformance_table() {
    let table = InboxConformance::new().await;
    let mut app = App::new();
    for mount in &table.mounts {
        app = app.service(bookhook_actix::inbox_resource(
            mount.path,
            mount.ingest.clone(),
        ));
    }
    let app = test::init_service(app).await;
    for case in &table.cases {
        let response = test::call_service(&app, support::request(case)).await;
        table.check_answered(case, &support::answered(response).await);
    }
    table.check_stored().await;
}

#[actix_web::test]
async fn ack_does_not_wait_for_the_handler() {
    let slow = SlowHandler::new();
    let handle = slow.worker().spawn();
    let app = test::init_service(App::new().service(bookhook_actix::inbox_resource(
        "/webhook",
        slow.worker().ingest(),
    )))
    .await;

    let (headers, body) = slow.request();
    let mut request = test::TestRequest::post().uri("/webhook").set_payload(body);
    for header in headers {
        request = request.insert_header(header);
    }
    let sent = Instant::now();
    let response = test::call_service(&app, request.to_request()).await;
    let status = response.status().as_u16();
    let answer = test::read_body(response).await;
    slow.check_ack(status, &answer, sent.elapsed());
    slow.check_handled().await;
    assert_eq!(handle.shutdown().await.cut_off, 0);
}

#[actix_web::test]
async fn a_shutting_down_front_door_refuses_inbox_and_routed_deliveries_with_503() {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret("s3cr3t")
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder(endpoint.clone()).build().unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let worker = Worker::builder(dispatcher.clone(), inbox.clone())
        .build()
        .unwrap();
    let door = FrontDoor::default();
    // Nothing in progress: the shutdown completes at once, and the door
    // refuses from then on.
    tokio::time::timeout(Duration::from_secs(5), door.shutdown())
        .await
        .expect("nothing to drain");
    let app = test::init_service(
        App::new()
            .app_data(door.clone())
            .service(bookhook_actix::inbox_resource("/inbox", worker.ingest()))
            .service(actix_web::web::resource("/routed").route(bookhook_actix::route(dispatcher))),
    )
    .await;

    let body = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"late-1"}}"#;
    for path in ["/inbox", "/routed"] {
        let mut request = test::TestRequest::post().uri(path).set_payload(body);
        for header in endpoint.sign(body.as_bytes(), &SignRequest::now()).headers {
            request = request.insert_header(header);
        }
        let response = test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), 503, "{path}");
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|value| value.as_bytes()),
            Some(&b"5"[..]),
            "{path}"
        );
        let answer = test::read_body(response).await;
        assert!(
            String::from_utf8_lossy(&answer).contains(r#""error":"busy""#),
            "{path}"
        );
    }
    assert!(inbox.get(InboxId::new(1)).await.unwrap().is_none());
    assert_eq!(door.in_progress(), 0);
}
