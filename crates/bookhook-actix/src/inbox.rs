//! Inbox mode: acknowledge once stored, handle in the background.
//!
//! Everything of [`bookhook::inbox`] (the [`Inbox`] trait, [`Worker`],
//! [`Ingest`], [`MemoryInbox`], ...) is re-exported here, next to
//! [`inbox_resource`], [`inbox_route`] and [`handle_inbox`], which serve an
//! [`Ingest`] from actix-web.

pub use bookhook::inbox::*;

use actix_web::dev::Payload;
use actix_web::{HttpRequest, HttpResponse, Resource, Route, web};
use bookhook::{Outcome, endpoint::Rejection};

use crate::door::FrontDoor;
use crate::service::{ActixHeaders, read_body, to_http_response};

/// A resource at `path` that serves `ingest` in inbox mode for every HTTP
/// method: each verified event is stored with one write and answered
/// `200 {"status":"queued","id":…}` (or `duplicate`, or the endpoint's
/// refusal, or 503 when the inbox cannot be written). No handler runs on the
/// request; a [`Worker`] handles stored events in the background.
///
/// Take the ingest from the worker ([`Worker::ingest`]) so that each new
/// event wakes it, and run the worker beside the server with
/// [`Worker::alongside`], which stops it when the server stops:
///
/// Storing counts against the [`FrontDoor`] in the app's data (or the
/// process-wide one), like a delivery: past its cap, or once it is shutting
/// down, the answer is 503 with `Retry-After`.
///
/// ```no_run
/// use std::sync::Arc;
/// use actix_web::{App, HttpServer};
/// use bookhook_actix::inbox::{MemoryInbox, Worker};
/// use bookhook_actix::{Context, Dispatcher, Endpoint, Kind, Provider};
///
/// #[actix_web::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
///     let dispatcher = Dispatcher::builder(endpoint)
///         .on_kind(Kind::Cancelled, |ctx: Context| async move {
///             println!("cancelled: {:?}", ctx.appointment().map(|a| &a.id));
///             Ok::<_, std::convert::Infallible>(())
///         })
///         .build()?;
///     // Use a durable inbox (bookhook-sqlite, bookhook-redis) in production.
///     let worker = Worker::builder(dispatcher, Arc::new(MemoryInbox::new())).build()?;
///     let ingest = worker.ingest();
///     let server = HttpServer::new(move || {
///         App::new().service(bookhook_actix::inbox_resource("/webhook/calendence", ingest.clone()))
///     })
///     .bind(("127.0.0.1", 8080))?
///     .run();
///     let (served, _report) = worker.alongside(server).await;
///     served?;
///     Ok(())
/// }
/// ```
pub fn inbox_resource(path: &str, ingest: Ingest) -> Resource {
    web::resource(path).route(inbox_route(ingest))
}

/// A route that serves `ingest` in inbox mode for every HTTP method, to
/// mount under a [`web::resource`] of your own. See [`inbox_resource`].
pub fn inbox_route(ingest: Ingest) -> Route {
    web::route().to(move |request: HttpRequest, payload: web::Payload| {
        let ingest = ingest.clone();
        async move { handle_inbox(&ingest, &request, payload.into_inner()).await }
    })
}

/// Runs one request through `ingest` and returns the response to send: what
/// [`inbox_route`] does, for a handler of your own.
///
/// ```
/// use actix_web::{HttpRequest, HttpResponse, web};
/// use bookhook_actix::inbox::Ingest;
///
/// async fn webhook(
///     ingest: web::Data<Ingest>,
///     request: HttpRequest,
///     payload: web::Payload,
/// ) -> HttpResponse {
///     bookhook_actix::handle_inbox(&ingest, &request, payload.into_inner()).await
/// }
/// ```
pub async fn handle_inbox(
    ingest: &Ingest,
    request: &HttpRequest,
    payload: Payload,
) -> HttpResponse {
    let report = match read_body(ingest.endpoint(), request, payload).await {
        // The endpoint logged the refusal and decided its status.
        Err(refused) => match refused.outcome() {
            Outcome::Rejected(rejection) => ingest.reject(rejection.clone()),
            _ => ingest.reject(Rejection::IncompleteBody),
        },
        Ok(body) => match FrontDoor::of(request).enter() {
            Err(busy) => ingest.reject(busy),
            Ok(_pass) => {
                let headers = ActixHeaders(request.headers());
                ingest
                    .receive(
                        request.method().as_str(),
                        &headers,
                        request.uri().query(),
                        body,
                    )
                    .await
            }
        },
    };
    to_http_response(&report.response())
}
