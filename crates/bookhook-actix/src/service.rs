//! Serving a [`Dispatcher`] from an actix-web route.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Resource, Route, web};
use bookhook::{
    Dispatcher, Endpoint,
    endpoint::{Finished, HeaderLookup, Headers, Rejection, Request, Response},
};
use bytes::Bytes;

use crate::door::FrontDoor;
use futures_util::{Stream, StreamExt};

/// actix-web's request headers, seen through bookhook's [`Headers`] trait.
///
/// The adapter uses it for you; it is public for code that calls
/// [`Endpoint::verify_and_parse`] or [`Dispatcher::dispatch`] by hand.
///
/// ```
/// use bookhook_actix::bookhook::endpoint::{HeaderLookup, Headers};
/// use bookhook_actix::ActixHeaders;
/// use actix_web::test::TestRequest;
///
/// let request = TestRequest::default()
///     .insert_header(("X-Signature", "abc"))
///     .to_http_request();
/// let headers = ActixHeaders(request.headers());
/// assert_eq!(headers.lookup("x-signature"), HeaderLookup::One(b"abc"));
/// assert_eq!(headers.lookup("x-missing"), HeaderLookup::Missing);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ActixHeaders<'a>(pub &'a HeaderMap);

impl Headers for ActixHeaders<'_> {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        let mut values = self.0.get_all(name);
        match (values.next(), values.next()) {
            (None, _) => HeaderLookup::Missing,
            (Some(value), None) => HeaderLookup::One(value.as_bytes()),
            (Some(_), Some(_)) => HeaderLookup::Repeated,
        }
    }
}

/// A route that serves `dispatcher` for every HTTP method.
///
/// Mount it under a [`web::resource`]; the core answers 405 to anything but
/// POST, so the route does not need a method guard.
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use bookhook_actix::{Dispatcher, Endpoint, Provider};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
/// let dispatcher = Dispatcher::builder(endpoint).build()?;
/// HttpServer::new(move || {
///     App::new().service(
///         web::resource("/webhook/calendence").route(bookhook_actix::route(dispatcher.clone())),
///     )
/// })
/// .bind(("127.0.0.1", 8080))?
/// .run()
/// .await?;
/// # Ok(())
/// # }
/// ```
pub fn route<S>(dispatcher: Dispatcher<S>) -> Route
where
    S: Clone + Send + Sync + 'static,
{
    web::route().to(move |request: HttpRequest, payload: web::Payload| {
        let dispatcher = dispatcher.clone();
        async move { handle(&dispatcher, &request, payload.into_inner()).await }
    })
}

/// A resource at `path` that serves `dispatcher` for every HTTP method: the
/// shortest way to mount a webhook endpoint.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use bookhook_actix::{Dispatcher, Endpoint, Provider};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
/// let dispatcher = Dispatcher::builder(endpoint).build()?;
/// HttpServer::new(move || {
///     App::new().service(bookhook_actix::resource("/webhook/calendence", dispatcher.clone()))
/// })
/// .bind(("127.0.0.1", 8080))?
/// .run()
/// .await?;
/// # Ok(())
/// # }
/// ```
pub fn resource<S>(path: &str, dispatcher: Dispatcher<S>) -> Resource
where
    S: Clone + Send + Sync + 'static,
{
    web::resource(path).route(route(dispatcher))
}

/// Runs one request through `dispatcher` and returns the response to send.
///
/// This is what [`route`] does; call it from a handler of your own when you
/// need other extractors around it. The body is read up to
/// [`Endpoint::max_body`] (a larger `Content-Length` is refused before
/// reading), and the delivery runs on a task of its own
/// ([`bookhook::task::spawn_local`]) inside the caller's span, so a client
/// that hangs up does not cut a handler off half-way. The dispatcher's
/// observer ([`Dispatcher::on_finished`]) sees every request, the ones
/// refused while reading the body included.
///
/// The delivery goes through the [`FrontDoor`] in the app's data (or the
/// process-wide one): past its cap the answer is 503 with `Retry-After`, and
/// a delivery still running at the end of its shutdown grace period is cut
/// off with its claim released.
///
/// ```
/// use actix_web::{HttpRequest, HttpResponse, web};
/// use bookhook_actix::Dispatcher;
///
/// async fn webhook(
///     dispatcher: web::Data<Dispatcher>,
///     request: HttpRequest,
///     payload: web::Payload,
/// ) -> HttpResponse {
///     bookhook_actix::handle(&dispatcher, &request, payload.into_inner()).await
/// }
/// ```
pub async fn handle<S>(
    dispatcher: &Dispatcher<S>,
    request: &HttpRequest,
    payload: Payload,
) -> HttpResponse
where
    S: Clone + Send + Sync + 'static,
{
    let refused = |refused: Finished| {
        dispatcher.observe(&refused);
        to_http_response(&refused.response())
    };
    let body = match read_body(dispatcher.endpoint(), request, payload).await {
        Ok(body) => body,
        Err(finished) => return refused(finished),
    };
    let pass = match FrontDoor::of(request).enter() {
        Ok(pass) => pass,
        Err(busy) => return refused(dispatcher.endpoint().reject(busy)),
    };
    let cutoff = pass.cutoff();
    let task_dispatcher = dispatcher.clone();
    let method = request.method().as_str().to_owned();
    let headers = request.headers().clone();
    let query = request.uri().query().map(str::to_owned);
    let delivery = async move {
        let headers = ActixHeaders(&headers);
        let request = Request::new(&method, &headers, query.as_deref(), body);
        let finished = task_dispatcher.dispatch_until(request, cutoff).await;
        drop(pass);
        finished.response()
    };
    let response = bookhook::task::spawn_local(delivery)
        .await
        .unwrap_or_else(|lost| lost.response());
    to_http_response(&response)
}

/// Reads the body within the endpoint's limits. A refusal has been logged by
/// the core, which also decided its status.
///
/// In order: a declared `Content-Length` above the limit gets 413; what the
/// headers alone can refuse ([`Endpoint::precheck`]) is refused before a
/// byte of the body is read; then the body is read within the endpoint's
/// body timeout (408) and its share of the unverified budget (503), and cut
/// off at the limit (413). Nothing is allocated from the declared length.
pub(crate) async fn read_body<P>(
    endpoint: &Endpoint,
    request: &HttpRequest,
    mut payload: P,
) -> Result<Bytes, Finished>
where
    P: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let limit = endpoint.max_body();
    let too_large = || endpoint.reject(Rejection::PayloadTooLarge { limit });
    if declared_length(request.headers()).is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let headers = ActixHeaders(request.headers());
    endpoint.precheck(&Request::new(
        request.method().as_str(),
        &headers,
        request.uri().query(),
        Bytes::new(),
    ))?;

    let timeout = endpoint.body_timeout();
    let deadline = actix_web::rt::time::Instant::now() + timeout;
    let mut hold = endpoint.unverified_budget().hold();
    let mut body: Vec<u8> = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(actix_web::rt::time::Instant::now());
        let chunk = match actix_web::rt::time::timeout(left, payload.next()).await {
            Err(_elapsed) => {
                return Err(endpoint.reject(Rejection::BodyTimeout { after: timeout }));
            }
            Ok(None) => break,
            Ok(Some(chunk)) => chunk.map_err(|err| {
                tracing::debug!(error = %err, "webhook body could not be read");
                endpoint.reject(Rejection::IncompleteBody)
            })?,
        };
        let needed = body.len().saturating_add(chunk.len());
        if needed > limit {
            return Err(too_large());
        }
        if needed > body.capacity() {
            // Grow by doubling (bounded by the limit), and count what is
            // allocated, not what was declared.
            let target = needed.max(body.capacity().saturating_mul(2)).min(limit);
            if hold.grow(target - body.capacity()).is_err() {
                return Err(endpoint.reject(Rejection::Busy {
                    limit: "unverified_bytes",
                    retry_after: bookhook::front_door::BUSY_RETRY_AFTER,
                }));
            }
            body.reserve_exact(target - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// The `Content-Length`, when it is present once and is a number.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    let headers = ActixHeaders(headers);
    let value = headers.lookup("content-length").one()?;
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// Copies the core's response into an actix-web response.
pub(crate) fn to_http_response(response: &Response) -> HttpResponse {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    builder.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static(Response::CONTENT_TYPE),
    ));
    if let Some(seconds) = response.retry_after {
        builder.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
    }
    builder.body(response.body.clone())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::test::TestRequest;

    use super::*;
    use bookhook::Outcome;

    #[test]
    fn repeated_header_is_reported() {
        let request = TestRequest::default()
            .append_header(("X-Sig", "a"))
            .append_header(("x-sig", "b"))
            .to_http_request();
        let headers = ActixHeaders(request.headers());
        assert_eq!(headers.lookup("x-sig"), HeaderLookup::Repeated);
        assert_eq!(headers.get_one("x-sig"), None);
    }

    #[test]
    fn invalid_header_name_is_missing() {
        let request = TestRequest::default().to_http_request();
        let headers = ActixHeaders(request.headers());
        assert_eq!(headers.lookup("not a header name"), HeaderLookup::Missing);
    }

    #[test]
    fn declared_length_needs_one_numeric_value() {
        let one = TestRequest::default()
            .insert_header(("content-length", "42"))
            .to_http_request();
        assert_eq!(declared_length(one.headers()), Some(42));
        let junk = TestRequest::default()
            .insert_header(("content-length", "lots"))
            .to_http_request();
        assert_eq!(declared_length(junk.headers()), None);
    }

    #[test]
    fn response_copies_status_body_and_retry_after() {
        let response = to_http_response(
            &Outcome::InFlight {
                retry_after: Duration::from_secs(7),
            }
            .response(),
        );
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let headers = response.headers();
        assert_eq!(
            headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes),
            Some(&b"application/json"[..])
        );
        assert_eq!(
            headers.get(header::RETRY_AFTER).map(HeaderValue::as_bytes),
            Some(&b"7"[..])
        );

        let ok = to_http_response(&Outcome::Handled.response());
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(ok.headers().get(header::RETRY_AFTER).is_none());
    }
}
