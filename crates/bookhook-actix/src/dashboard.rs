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
    let mut incoming = bookhook_dashboard::Request::new(request.method().as_str(), request.path())
        .query(request.query_string());
    for (name, value) in request.headers() {
        if let Ok(value) = value.to_str() {
            incoming = incoming.header(name.as_str(), value);
        }
    }
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
    use std::sync::Arc;

    use actix_web::{App, test};
    use bookhook::inbox::{Inbox, MemoryInbox, NewEvent};
    use bookhook::{Kind, Provider};

    use super::*;

    const TOKEN: &str = "actix-test-token-0123456789";

    async fn dashboard() -> Dashboard {
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
        Dashboard::builder(inbox)
            .token(TOKEN)
            .prefix("/admin/inbox")
            .build()
            .unwrap()
    }

    #[actix_web::test]
    async fn the_dashboard_answers_under_its_prefix() {
        let app = test::init_service(
            App::new()
                .service(scope(dashboard().await))
                .route("/", web::get().to(|| async { "the app" })),
        )
        .await;
        let bearer = ("authorization", format!("Bearer {TOKEN}"));
        let request = test::TestRequest::get()
            .uri("/admin/inbox/events")
            .insert_header(bearer.clone())
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers().get("x-frame-options").unwrap(), "DENY");
        let html = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
        assert!(html.contains("href=\"/admin/inbox/events/1\""), "{html}");

        for (uri, status) in [
            ("/admin/inbox/events/1", 200),
            ("/admin/inbox", 200),
            ("/admin/inbox/events/9", 404),
        ] {
            let request = test::TestRequest::get()
                .uri(uri)
                .insert_header(bearer.clone())
                .to_request();
            assert_eq!(
                test::call_service(&app, request).await.status(),
                status,
                "{uri}"
            );
        }
        let request = test::TestRequest::get()
            .uri("/admin/inbox/events")
            .to_request();
        assert_eq!(test::call_service(&app, request).await.status(), 401);
        let request = test::TestRequest::get().uri("/").to_request();
        assert_eq!(test::call_and_read_body(&app, request).await, "the app");
    }

    #[actix_web::test]
    async fn the_token_redirects_to_the_prefixed_clean_url() {
        let app = test::init_service(App::new().service(scope(dashboard().await))).await;
        let request = test::TestRequest::get()
            .uri(&format!("/admin/inbox/dead?token={TOKEN}"))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 303);
        assert_eq!(
            response.headers().get("location").unwrap(),
            "/admin/inbox/dead"
        );
        let cookie = response
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(cookie.contains("Path=/admin/inbox; HttpOnly; SameSite=Strict"));
    }

    #[actix_web::test]
    async fn oversized_forms_are_refused() {
        let app = test::init_service(App::new().service(scope(dashboard().await))).await;
        let request = test::TestRequest::post()
            .uri("/admin/inbox/events/1/replay")
            .insert_header(("authorization", format!("Bearer {TOKEN}")))
            .set_payload(vec![b'a'; MAX_FORM_BYTES + 1])
            .to_request();
        assert_eq!(test::call_service(&app, request).await.status(), 413);
    }
}
