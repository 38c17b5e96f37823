//! The inbox dashboard ([`bookhook_dashboard`]) as an actix-web [`Scope`].
//!
//! Mount it at the prefix the dashboard was built with, behind your own
//! authentication (a middleware of yours on the scope) or with its access
//! token:
//!
//! ```no_run
//! use std::sync::Arc;
//! use actix_web::{App, HttpServer};
//! use bookhook_actix::dashboard::{self, Dashboard};
//! use bookhook_actix::inbox::MemoryInbox;
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let token = std::env::var("DASHBOARD_TOKEN").expect("DASHBOARD_TOKEN is set");
//!     let dashboard = Dashboard::builder(Arc::new(MemoryInbox::new()))
//!         .token(token)
//!         .prefix("/admin/inbox")
//!         .build()
//!         .expect("a valid dashboard");
//!     HttpServer::new(move || App::new().service(dashboard::scope(dashboard.clone())))
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, Scope};

use bookhook_dashboard::MAX_FORM_BYTES;
#[doc(inline)]
pub use bookhook_dashboard::{BuildError, Dashboard, DashboardBuilder};

/// A scope at [`Dashboard::prefix`] that answers every path under it with
/// `dashboard`; form bodies over [`MAX_FORM_BYTES`] are refused with 413.
pub fn scope(dashboard: Dashboard) -> Scope {
    web::scope(dashboard.prefix())
        .app_data(web::PayloadConfig::new(MAX_FORM_BYTES))
        .app_data(web::Data::new(dashboard))
        .default_service(web::to(answer))
}

async fn answer(request: HttpRequest, body: Bytes) -> HttpResponse {
    let Some(dashboard) = request.app_data::<web::Data<Dashboard>>() else {
        return HttpResponse::InternalServerError().finish();
    };
    let headers = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()));
    let incoming = bookhook_dashboard::Request::new(request.method().as_str(), request.path())
        .query(request.query_string())
        .headers(headers);
    let answer = dashboard.handle(incoming.body(body)).await;
    let mut response = HttpResponse::build(
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    for (name, value) in answer.headers {
        response.append_header((name, value));
    }
    response.body(answer.body)
}

#[cfg(test)]
mod tests {
    use actix_web::dev::{Service, ServiceResponse};
    use actix_web::{App, test};
    use bookhook_dashboard::testing::{self, APP_BODY, Answered, Sent};

    use super::*;

    async fn app()
    -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
        let dashboard = testing::dashboard().await;
        let app = App::new()
            .service(scope(dashboard))
            .route("/", web::get().to(|| async { APP_BODY }));
        test::init_service(app).await
    }

    async fn send(
        app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
        sent: Sent,
    ) -> Answered {
        let method = sent.method.parse().unwrap();
        let mut request = test::TestRequest::default().method(method).uri(&sent.uri);
        for header in sent.headers {
            request = request.insert_header(header);
        }
        let request = request.set_payload(sent.body).to_request();
        let (_, response) = test::call_service(app, request).await.into_parts();
        let (head, body) = response.into_parts();
        let body = actix_web::body::to_bytes(body).await.unwrap();
        let headers = head
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()));
        Answered::new(head.status().as_u16(), headers, body)
    }

    #[actix_web::test]
    async fn the_mounted_dashboard_answers_as_every_adapter_must() {
        let app = app().await;
        testing::check_mount(async |sent| send(&app, sent).await).await;
    }
}
