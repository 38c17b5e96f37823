//! The shared conformance table, run through an axum `Router`.

use axum::Router;
use bookhook::testing::conformance::Conformance;
use bookhook_axum::WebhookService;

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_table() {
    let conformance = Conformance::new().await;
    let mut app = Router::new();
    for mount in &conformance.mounts {
        app = app.route_service(mount.path, WebhookService::new(mount.dispatcher.clone()));
    }
    assert!(!conformance.cases.is_empty());
    for case in &conformance.cases {
        conformance.check_answered(case, &support::send(&app, case).await);
    }
    conformance.check_handler_runs();
}
