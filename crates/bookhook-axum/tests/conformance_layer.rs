//! The shared conformance table, run through `WebhookLayer` in front of a
//! handler of the user's own that reads a `VerifiedEvent`: the checks of
//! `bookhook::testing::layer`, which actix-web's layer passes too.
//!
//! Each mount's endpoint gets its own `Router::route(path, post(handler))`
//! under `WebhookLayer::new(endpoint)`, as the layer's docs show.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bookhook::testing::conformance::{Answer, Case, Conformance, Journal};
use bookhook::testing::layer::{INNER, LayerRun};
use bookhook_axum::{VerifiedEvent, WebhookLayer};
use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_TYPE;

mod support;

/// The inner handler: it does what the table's dispatcher handlers do, as
/// the [`Journal`] decides, answering with a JSON body of its own. It also
/// reads the raw body, which the layer hands on as it was received.
async fn inner(journal: Journal, event: VerifiedEvent, received: Bytes) -> Response {
    match journal.decide(event.delivery(), received, INNER) {
        Answer::Panicked => panic!("inner handler panics on purpose"),
        Answer::Responded(status, body) => {
            let status = StatusCode::from_u16(status).expect("a valid status");
            (status, [(CONTENT_TYPE, "application/json")], body).into_response()
        }
    }
}

fn app(conformance: &Conformance, journal: &Journal) -> Router {
    conformance.mounts.iter().fold(Router::new(), |app, mount| {
        let journal = journal.clone();
        let handler = move |event: VerifiedEvent, body: Bytes| inner(journal.clone(), event, body);
        app.merge(
            Router::new()
                .route(mount.path, post(handler))
                .layer(WebhookLayer::new(mount.dispatcher.endpoint().clone())),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_gives_every_case_the_answer_and_the_runs_the_shared_layer_checks_require() {
    let conformance = Conformance::new().await;
    let journal = Journal::default();
    let app = app(&conformance, &journal);
    let send = async |case: &Case| support::send(&app, case).await;
    let run = LayerRun::send_table(&conformance, &journal, send).await;
    run.check_all(send).await;
}
