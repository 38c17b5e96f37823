//! The actix-web adapter: the shared conformance table, a real socket, the
//! extractor and concurrent copies of one delivery.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, HttpServer, web};
use bookhook_actix::bookhook::provider::calendence;
use bookhook_actix::bookhook::testing::conformance::{Conformance, MAX_BODY};
use bookhook_actix::bookhook::testing::signed_request;
use bookhook_actix::bookhook::{Event, Outcome, endpoint::Rejection, signature::VerifyError};
use bookhook_actix::{
    Context, Dispatcher, DispatcherBuilder, Endpoint, HandlerError, Provider, UnclaimedEvent,
};
use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

const SECRET: &str = "adapter-test-secret";
const PATH: &str = "/webhook/calendence";

fn body(event: &str, id: &str) -> Vec<u8> {
    serde_json::json!({
        "event": event,
        "timestamp": "2026-03-24T14:30:00+00:00",
        "data": {"id": id, "status": "confirmed"}
    })
    .to_string()
    .into_bytes()
}

fn calendence_endpoint() -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .build()
        .expect("valid endpoint")
}

#[actix_web::test]
async fn conformance_table() {
    let conformance = Conformance::new().await;
    let app = test::init_service(conformance.mounts.iter().fold(App::new(), |app, mount| {
        app.service(bookhook_actix::resource(
            mount.path,
            mount.dispatcher.clone(),
        ))
    }))
    .await;
    assert!(!conformance.cases.is_empty());
    for case in &conformance.cases {
        let response = test::call_service(&app, support::request(case)).await;
        conformance.check_answered(case, &support::answered(response).await);
    }
    conformance.check_handler_runs();
}

/// Sends one HTTP/1.1 request over a plain TCP connection and returns the
/// status and body of the answer.
async fn http_post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the test server");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await.expect("send the request");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("read the response");
    let answer = String::from_utf8(answer).expect("a UTF-8 response");
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .expect("a response head and body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (status, body.to_owned())
}

#[actix_web::test]
async fn signed_request_over_a_socket_is_handled_then_duplicate() {
    let endpoint = calendence_endpoint();
    let runs = Arc::new(AtomicUsize::new(0));
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), Arc::clone(&runs))
        .on(
            "booking.created",
            |ctx: Context<Arc<AtomicUsize>>| async move {
                ctx.state().fetch_add(1, Ordering::SeqCst);
                Ok::<_, HandlerError>(())
            },
        )
        .build()
        .expect("valid dispatcher");
    let server = HttpServer::new(move || {
        App::new().service(bookhook_actix::resource(PATH, dispatcher.clone()))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind a local port");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let body = body("booking.created", "socket-1");
    let (headers, _) = signed_request(&endpoint, &body);
    let first = http_post(addr, PATH, &headers, &body).await;
    assert_eq!(first, (200, r#"{"status":"ok"}"#.to_owned()));
    let second = http_post(addr, PATH, &headers, &body).await;
    assert_eq!(second, (200, r#"{"status":"duplicate"}"#.to_owned()));
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let mut tampered = body.clone();
    tampered.push(b' ');
    let third = http_post(addr, PATH, &headers, &tampered).await;
    assert_eq!(third.0, 401);
    assert_eq!(
        third.1,
        Outcome::Rejected(VerifyError::InvalidSignature.into())
            .response()
            .body
    );
    handle.stop(true).await;
}

#[actix_web::test]
async fn sixty_four_concurrent_copies_run_the_handler_once() {
    const COPIES: usize = 64;
    let endpoint = calendence_endpoint();
    let runs = Arc::new(AtomicUsize::new(0));
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), Arc::clone(&runs))
        .on(
            "booking.created",
            |ctx: Context<Arc<AtomicUsize>>| async move {
                ctx.state().fetch_add(1, Ordering::SeqCst);
                // Hold the claim while the other copies arrive.
                for _ in 0..COPIES {
                    tokio::task::yield_now().await;
                }
                Ok::<_, HandlerError>(())
            },
        )
        .build()
        .expect("valid dispatcher");
    let app =
        test::init_service(App::new().service(bookhook_actix::resource(PATH, dispatcher))).await;

    let body = body("booking.created", "concurrent-1");
    let (headers, _) = signed_request(&endpoint, &body);
    let requests = (0..COPIES).map(|_| {
        let mut request = TestRequest::post().uri(PATH).set_payload(body.clone());
        for header in &headers {
            request = request.insert_header(header.clone());
        }
        test::call_service(&app, request.to_request())
    });
    let responses = join_all(requests).await;
    let mut statuses = Vec::with_capacity(COPIES);
    let mut handled = 0;
    for response in responses {
        let status = response.status().as_u16();
        let body = test::read_body(response).await;
        if body == r#"{"status":"ok"}"# {
            handled += 1;
        }
        statuses.push(status);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler ran once");
    assert_eq!(handled, 1, "one response reports the handling");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "statuses: {statuses:?}"
    );
    assert!(statuses.contains(&409), "copies overlapped the claim");
}

type Seen = web::Data<Mutex<Vec<(String, String)>>>;

async fn record_event(event: UnclaimedEvent, seen: Seen) -> HttpResponse {
    let id = match event.event() {
        Event::Calendence(calendence::Event::BookingCreated(booking)) => booking.id.clone(),
        other => format!("unexpected: {other:?}"),
    };
    seen.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((event.event_type().to_owned(), id));
    HttpResponse::Ok().body("seen")
}

#[actix_web::test]
async fn extractor_gives_the_handler_the_typed_event() {
    let endpoint = calendence_endpoint();
    let seen: Seen = web::Data::new(Mutex::new(Vec::new()));
    let app = test::init_service(
        App::new().app_data(seen.clone()).service(
            web::resource(PATH)
                .app_data(endpoint.clone())
                .route(web::post().to(record_event)),
        ),
    )
    .await;
    let body = body("booking.created", "x-1");
    let (headers, _) = signed_request(&endpoint, &body);
    let mut request = TestRequest::post().uri(PATH).set_payload(body.clone());
    for header in &headers {
        request = request.insert_header(header.clone());
    }
    let response = test::call_service(&app, request.to_request()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(test::read_body(response).await, "seen");
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(seen, [("booking.created".to_owned(), "x-1".to_owned())]);
}

#[actix_web::test]
async fn extractor_refuses_a_bad_signature_with_the_core_response() {
    let endpoint = calendence_endpoint();
    let seen: Seen = web::Data::new(Mutex::new(Vec::new()));
    let app = test::init_service(
        App::new()
            .app_data(seen.clone())
            .app_data(web::Data::new(endpoint.clone()))
            .route(PATH, web::post().to(record_event)),
    )
    .await;
    let body = body("booking.created", "x-2");
    let (headers, _) = signed_request(&endpoint, b"another body");
    let mut request = TestRequest::post().uri(PATH).set_payload(body);
    for header in &headers {
        request = request.insert_header(header.clone());
    }
    let response = test::call_service(&app, request.to_request()).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let expected = Outcome::Rejected(VerifyError::InvalidSignature.into()).response();
    assert_eq!(test::read_body(response).await, expected.body);
    assert!(seen.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
}

#[actix_web::test]
async fn extractor_refuses_an_oversized_stream_with_413() {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .max_body(MAX_BODY)
        .build()
        .expect("valid endpoint");
    let seen: Seen = web::Data::new(Mutex::new(Vec::new()));
    let app = test::init_service(
        App::new()
            .app_data(seen.clone())
            .app_data(endpoint)
            .route(PATH, web::post().to(record_event)),
    )
    .await;
    // A well-formed signature header gets the request past the header check,
    // so that the body is read and its size decides.
    let (request, _) = TestRequest::post()
        .uri(PATH)
        .insert_header(WELL_FORMED_SIGNATURE)
        .to_request()
        .replace_payload(support::streamed(&vec![b' '; MAX_BODY + 1]));
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 413);
    let expected = Outcome::Rejected(Rejection::PayloadTooLarge { limit: MAX_BODY }).response();
    assert_eq!(test::read_body(response).await, expected.body);
    assert!(seen.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
}

#[actix_web::test]
async fn extractor_without_an_endpoint_answers_500() {
    let seen: Seen = web::Data::new(Mutex::new(Vec::new()));
    let app = test::init_service(
        App::new()
            .app_data(seen.clone())
            .route(PATH, web::post().to(record_event)),
    )
    .await;
    let request = TestRequest::post().uri(PATH).set_payload("{}").to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 500);
    let body = test::read_body(response).await;
    assert!(
        std::str::from_utf8(&body)
            .unwrap_or_default()
            .contains("handler_failed")
    );
}

#[actix_web::test]
async fn repeated_signature_header_is_refused() {
    let endpoint = calendence_endpoint();
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .build()
        .expect("valid dispatcher");
    let app =
        test::init_service(App::new().service(bookhook_actix::resource(PATH, dispatcher))).await;
    let body = body("booking.created", "r-1");
    let (headers, _) = signed_request(&endpoint, &body);
    let mut request = TestRequest::post().uri(PATH).set_payload(body);
    for header in &headers {
        request = request.append_header(header.clone());
        if header.0.eq_ignore_ascii_case("x-calendence-signature") {
            request = request.append_header(header.clone());
        }
    }
    let response = test::call_service(&app, request.to_request()).await;
    assert_eq!(response.status(), 401);
    let body = test::read_body(response).await;
    assert!(
        std::str::from_utf8(&body)
            .unwrap_or_default()
            .contains("more than once"),
        "{body:?}"
    );
}

/// A Calendence signature header that is well formed (so the check made
/// before the body is read passes) but matches no body.
const WELL_FORMED_SIGNATURE: (&str, &str) = (
    "X-Calendence-Signature",
    "sha256=0000000000000000000000000000000000000000000000000000000000000000",
);

/// A body stream that fails: the client hung up half-way.
fn broken_stream(first: &'static [u8]) -> Payload {
    let chunks: Vec<Result<Bytes, PayloadError>> = vec![
        Ok(Bytes::from_static(first)),
        Err(PayloadError::Incomplete(None)),
    ];
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(futures_util::stream::iter(chunks));
    Payload::from(stream)
}

#[actix_web::test]
async fn body_cut_off_half_way_is_refused_as_incomplete() {
    let dispatcher = Dispatcher::builder(calendence_endpoint())
        .build()
        .expect("valid dispatcher");
    let app =
        test::init_service(App::new().service(bookhook_actix::resource(PATH, dispatcher))).await;
    let (request, _) = TestRequest::post()
        .uri(PATH)
        .insert_header(WELL_FORMED_SIGNATURE)
        .to_request()
        .replace_payload(broken_stream(b"{\"event\":"));
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 400);
    let expected = Outcome::Rejected(Rejection::IncompleteBody).response();
    assert_eq!(test::read_body(response).await, expected.body);
}

#[actix_web::test]
async fn declared_length_over_the_limit_is_refused_before_reading() {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .max_body(MAX_BODY)
        .build()
        .expect("valid endpoint");
    let dispatcher = Dispatcher::builder(endpoint)
        .build()
        .expect("valid dispatcher");
    let app =
        test::init_service(App::new().service(bookhook_actix::resource(PATH, dispatcher))).await;
    // Reading this body would fail; a 413 shows that it was never read.
    let (request, _) = TestRequest::post()
        .uri(PATH)
        .insert_header(("content-length", (MAX_BODY + 1).to_string()))
        .to_request()
        .replace_payload(broken_stream(b" "));
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 413);
    let expected = Outcome::Rejected(Rejection::PayloadTooLarge { limit: MAX_BODY }).response();
    assert_eq!(test::read_body(response).await, expected.body);
}

#[actix_web::test]
async fn a_panic_outside_the_handler_answers_the_cores_500() {
    let endpoint = calendence_endpoint();
    // An observer with a bug: it panics on the delivery's task, after the
    // handler, so the task is lost rather than the handler failed.
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .build()
        .expect("valid dispatcher")
        .on_finished(|_finished| panic!("this observer panics on purpose"));
    let app =
        test::init_service(App::new().service(bookhook_actix::resource(PATH, dispatcher))).await;
    let body = body("booking.created", "p-1");
    let (headers, _) = signed_request(&endpoint, &body);
    let mut request = TestRequest::post().uri(PATH).set_payload(body);
    for header in headers {
        request = request.insert_header(header);
    }
    let response = test::call_service(&app, request.to_request()).await;
    assert_eq!(response.status(), 500);
    let expected = Outcome::Failed(HandlerError::Panicked {
        message: String::new(),
    })
    .response();
    assert_eq!(test::read_body(response).await, expected.body);
}
