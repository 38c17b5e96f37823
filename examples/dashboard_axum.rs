//! The inbox dashboard inside an axum application: webhooks at
//! `/webhook/calendence`, stored in SQLite and handled in the background,
//! and the dashboard nested at `/admin/inbox`.
//!
//! Run it with `cargo run --example dashboard_axum`. It listens on
//! `127.0.0.1:5004` (`BOOKHOOK_ADDR` changes it) and prints the dashboard's
//! link with its access token (`DASHBOARD_TOKEN`, else a random one). In an
//! application that already authenticates its staff, put the nested router
//! behind that authentication instead and build the dashboard with
//! `behind_your_own_authentication()`.

use std::sync::Arc;

use axum::Router;
use bookhook_axum::dashboard::{self, Dashboard};
use bookhook_axum::inbox::{Inbox, Worker};
use bookhook_axum::{Context, Dispatcher, Endpoint, HandlerError, InboxService, Kind, Provider};
use bookhook_examples::{listen_addr, print_curl, samples, secret_from_env, serve};
use bookhook_sqlite::SqliteInbox;

const PATH: &str = "/webhook/calendence";
const DASHBOARD_AT: &str = "/admin/inbox";

async fn on_created(ctx: Context) -> Result<(), HandlerError> {
    match ctx.appointment() {
        Some(booking) if booking.id.is_empty() => {
            Err(HandlerError::permanent("a booking without an id"))
        }
        _ => Ok(()),
    }
}

/// The application: the webhook route, its worker, and the dashboard.
fn app(
    secret: &str,
    inbox: Arc<dyn Inbox>,
    token: &str,
) -> Result<(Router, Worker<()>, Endpoint), Box<dyn std::error::Error>> {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(secret)
        .build()?;
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .on_kind(Kind::Created, on_created)
        .build()?;
    let worker = Worker::builder(dispatcher, inbox.clone()).build()?;
    let dashboard = Dashboard::builder(inbox)
        .token(token)
        .prefix(DASHBOARD_AT)
        .build()?;
    let app = Router::new()
        .route_service(PATH, InboxService::new(worker.ingest()))
        .nest(dashboard.prefix(), dashboard::router(dashboard.clone()));
    Ok((app, worker, endpoint))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = secret_from_env("CALENDENCE_SECRET", "calendence-development-secret");
    let addr = listen_addr("127.0.0.1:5004")?;
    let token = match std::env::var("DASHBOARD_TOKEN") {
        Ok(token) => token,
        Err(_) => Dashboard::random_token()?,
    };
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open("bookhook-inbox.db")?);
    let (app, worker, endpoint) = app(&secret, inbox, &token)?;
    print_curl(&endpoint, addr, PATH, samples::CALENDENCE_CREATED);
    println!("Dashboard: http://{addr}{DASHBOARD_AT}/?token={token}");
    let (served, _report) = worker.alongside(serve(app, addr)).await;
    served?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_axum::inbox::MemoryInbox;
    use bookhook_examples::send_signed;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const TOKEN: &str = "example-token-0123456789";

    #[tokio::test]
    async fn a_received_event_shows_in_the_dashboard() {
        let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
        let (app, worker, endpoint) = app("test-secret", inbox, TOKEN).unwrap();
        let queued = send_signed(&app, &endpoint, PATH, samples::CALENDENCE_CREATED).await;
        assert_eq!(queued.0, 200);
        assert_eq!(worker.drain().await, 1);

        let request = http::Request::get("/admin/inbox/events?state=done")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("href=\"/admin/inbox/events/1\""), "{html}");
        assert!(html.contains("booking.created"));
    }
}
