//! The shared conformance table, run through `WebhookLayer` in front of a
//! handler of the user's own that reads a `VerifiedEvent`: the checks of
//! `bookhook::testing::layer`, which axum's layer passes too.
//!
//! Each mount's endpoint gets its own `web::resource(path)` wrapped in
//! `WebhookLayer::new(endpoint)`, as the layer's docs show.

use actix_web::http::StatusCode;
use actix_web::test;
use actix_web::{App, HttpResponse, web};
use bookhook_actix::bookhook::endpoint::MissingWebhookLayer;
use bookhook_actix::bookhook::testing::conformance::{Answer, Case, Conformance, Journal};
use bookhook_actix::bookhook::testing::layer::{INNER, LayerRun};
use bookhook_actix::{VerifiedEvent, WebhookLayer};
use bytes::Bytes;

mod support;

/// The inner handler: it does what the table's dispatcher handlers do, as
/// the [`Journal`] decides, answering with a JSON body of its own. It also
/// reads the raw body, which the layer hands on as it was received.
async fn inner(event: VerifiedEvent, received: Bytes, journal: web::Data<Journal>) -> HttpResponse {
    match journal.decide(event.delivery(), received, INNER) {
        Answer::Panicked => panic!("inner handler panics on purpose"),
        Answer::Responded(status, body) => {
            HttpResponse::build(StatusCode::from_u16(status).expect("a valid status"))
                .content_type("application/json")
                .body(body)
        }
    }
}

#[actix_web::test]
async fn layer_gives_every_case_the_answer_and_the_runs_the_shared_layer_checks_require() {
    let conformance = Conformance::new().await;
    let journal = Journal::default();
    let app = test::init_service(conformance.mounts.iter().fold(
        App::new().app_data(web::Data::new(journal.clone())),
        |app, mount| {
            app.service(
                web::resource(mount.path)
                    .wrap(WebhookLayer::new(mount.dispatcher.endpoint().clone()))
                    .route(web::post().to(inner)),
            )
        },
    ))
    .await;
    let send = async |case: &Case| {
        let response = test::call_service(&app, support::request(case)).await;
        support::answered(response).await
    };
    let run = LayerRun::send_table(&conformance, &journal, send).await;
    run.check_all(send).await;
}

#[actix_web::test]
async fn verified_event_outside_a_layer_is_a_500_that_names_the_missing_layer() {
    let app = test::init_service(App::new().route(
        "/hook",
        web::post().to(|_event: VerifiedEvent| async { "unreachable" }),
    ))
    .await;
    let request = test::TestRequest::post()
        .uri("/hook")
        .set_payload("{}")
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 500);
    assert_eq!(
        test::read_body(response).await,
        MissingWebhookLayer::default().body_text()
    );
}

#[actix_web::test]
async fn optional_verified_event_is_none_outside_a_layer() {
    let app = test::init_service(App::new().route(
        "/hook",
        web::post().to(|event: Option<VerifiedEvent>| async move {
            if event.is_none() { "none" } else { "some" }
        }),
    ))
    .await;
    let request = test::TestRequest::post().uri("/hook").to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(test::read_body(response).await, "none");
}
