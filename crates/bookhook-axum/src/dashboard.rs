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
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()));
    let incoming = bookhook_dashboard::Request::new(parts.method.as_str(), uri.path())
        .query(uri.query().unwrap_or_default())
        .headers(headers);
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
    use axum::body::to_bytes;
    use bookhook_dashboard::testing::{self, APP_BODY, Answered, Sent};
    use tower::ServiceExt;

    use super::*;

    async fn app() -> Router {
        let dashboard = testing::dashboard().await;
        Router::new()
            .route("/", axum::routing::get(|| async { APP_BODY }))
            .nest(dashboard.prefix(), router(dashboard.clone()))
    }

    async fn send(app: &Router, sent: Sent) -> Answered {
        let mut request = http::Request::builder().method(sent.method).uri(sent.uri);
        for (name, value) in sent.headers {
            request = request.header(name, value);
        }
        let request = request.body(Body::from(sent.body)).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let (head, body) = response.into_parts();
        let body = to_bytes(body, usize::MAX).await.unwrap();
        let headers = head.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
        Answered::new(head.status.as_u16(), headers, body)
    }

    #[tokio::test]
    async fn the_mounted_dashboard_answers_as_every_adapter_must() {
        let app = app().await;
        testing::check_mount(async |sent| send(&app, sent).await).await;
    }
}
