//! The inbox dashboard ([`bookhook_dashboard`]) as an axum [`Router`].
//!
//! Nest it at the prefix the dashboard was built with, behind your own
//! authentication (a layer of yours) or with its access token:
//!
//! ```
//! use std::sync::Arc;
//! use axum::Router;
//! use bookhook_axum::dashboard::{self, Dashboard};
//! use bookhook_axum::inbox::MemoryInbox;
//!
//! let inbox = Arc::new(MemoryInbox::new());
//! let dashboard = Dashboard::builder(inbox)
//!     .token(std::env::var("DASHBOARD_TOKEN").unwrap_or_else(|_| Dashboard::random_token().unwrap()))
//!     .prefix("/admin/inbox")
//!     .build()
//!     .expect("a valid dashboard");
//! let app: Router = Router::new()
//!     // .route_service("/webhook", ...) and the rest of your app
//!     .nest(dashboard.prefix(), dashboard::router(dashboard.clone()));
//! # drop(app);
//! ```
//!
//! A dashboard at the root (an empty prefix) is merged instead:
//! `Router::new().merge(dashboard::router(dashboard))`.

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::response::Response;
use http::{HeaderName, HeaderValue, StatusCode};

use bookhook_dashboard::MAX_FORM_BYTES;
#[doc(inline)]
pub use bookhook_dashboard::{BuildError, Dashboard, DashboardBuilder};

/// A router that answers every path with `dashboard`: nest it at
/// [`Dashboard::prefix`] (or merge it when the prefix is empty).
pub fn router(dashboard: Dashboard) -> Router {
    Router::new().fallback(answer).with_state(dashboard)
}

async fn answer(State(dashboard): State<Dashboard>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // Under `nest`, the URI has lost the prefix; the dashboard wants it whole.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    let mut incoming = bookhook_dashboard::Request::new(parts.method.as_str(), uri.path())
        .query(uri.query().unwrap_or_default());
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            incoming = incoming.header(name.as_str(), value);
        }
    }
    let body = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let mut response = Response::new(Body::from("form too large"));
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return response;
        }
    };
    let answer = dashboard.handle(incoming.body(body)).await;
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .append(HeaderName::from_static(name), value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::to_bytes;
    use bookhook::inbox::{Inbox, MemoryInbox, NewEvent};
    use bookhook::{Kind, Provider};
    use tower::ServiceExt;

    use super::*;

    const TOKEN: &str = "axum-test-token-0123456789";

    async fn app() -> Router {
        let inbox = Arc::new(MemoryInbox::new());
        let event = NewEvent::new(
            "main",
            "k",
            None,
            Provider::Calendence,
            "booking.created",
            Kind::Created,
            1_774_362_600_000,
            None,
            r#"{"event":"booking.created"}"#.into(),
            vec![],
        );
        inbox.enqueue(event).await.unwrap();
        let dashboard = Dashboard::builder(inbox)
            .token(TOKEN)
            .prefix("/admin/inbox")
            .build()
            .unwrap();
        Router::new()
            .route("/", axum::routing::get(|| async { "the app" }))
            .nest(dashboard.prefix(), router(dashboard.clone()))
    }

    async fn get(app: &Router, uri: &str, token: bool) -> (StatusCode, String) {
        let mut request = http::Request::get(uri);
        if token {
            request = request.header("authorization", format!("Bearer {TOKEN}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_dashboard_answers_under_its_prefix() {
        let app = app().await;
        let (status, html) = get(&app, "/admin/inbox/events", true).await;
        assert_eq!(status, 200);
        assert!(html.contains("href=\"/admin/inbox/events/1\""), "{html}");
        assert_eq!(get(&app, "/admin/inbox/events/1", true).await.0, 200);
        assert_eq!(get(&app, "/admin/inbox", true).await.0, 200);
        assert_eq!(get(&app, "/admin/inbox/events", false).await.0, 401);
        assert_eq!(get(&app, "/", false).await.1, "the app");
    }

    #[tokio::test]
    async fn the_token_redirects_to_the_prefixed_clean_url() {
        let app = app().await;
        let response = app
            .oneshot(
                http::Request::get(format!("/admin/inbox/events?token={TOKEN}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/admin/inbox/events");
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.contains("Path=/admin/inbox; HttpOnly; SameSite=Strict"));
        assert_eq!(response.headers()["x-frame-options"], "DENY");
    }

    #[tokio::test]
    async fn oversized_forms_are_refused() {
        let app = app().await;
        let response = app
            .oneshot(
                http::Request::post("/admin/inbox/events/1/replay")
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .body(Body::from(vec![b'a'; MAX_FORM_BYTES + 1]))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
    }
}
