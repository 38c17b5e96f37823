//! The caller's tracing span goes with the delivery onto its task: a request
//! span set by the user's middleware is around the handler's logs and
//! bookhook's own line.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use bookhook::testing::signed_request;
use bookhook_axum::{Context, Dispatcher, Endpoint, HandlerError, Provider, WebhookService};
use tower::ServiceExt;
use tracing::Instrument;
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One event: its target, and the names of the spans around it.
type Scope = (String, Vec<String>);

/// Records, for every event, its target and the names of the spans around it.
#[derive(Clone, Default)]
struct Scopes(Arc<Mutex<Vec<Scope>>>);

impl<S> tracing_subscriber::Layer<S> for Scopes
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: LayerContext<'_, S>) {
        let spans = ctx
            .event_scope(event)
            .map(|scope| scope.map(|span| span.name().to_owned()).collect())
            .unwrap_or_default();
        let target = event.metadata().target().to_owned();
        self.0.lock().unwrap().push((target, spans));
    }
}

#[test]
fn the_callers_span_is_around_the_handler_and_the_delivery_line() {
    let scopes = Scopes::default();
    let subscriber = tracing_subscriber::registry().with(scopes.clone());
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let endpoint = Endpoint::builder(Provider::Calendence)
                .secret("span-secret")
                .build()
                .unwrap();
            let dispatcher = Dispatcher::builder(endpoint.clone())
                .fallback(|_ctx: Context| async {
                    tracing::info!(target: "users_handler", "handled");
                    Ok::<_, HandlerError>(())
                })
                .build()
                .unwrap();
            let app = Router::new().route_service("/hook", WebhookService::new(dispatcher));
            let body = br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-span"}}"#;
            let (headers, _) = signed_request(&endpoint, body);
            let mut request = http::Request::post("/hook");
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let request = request.body(Body::from(body.as_slice())).unwrap();
            let response = app
                .oneshot(request)
                .instrument(tracing::info_span!("users_request_span"))
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        });
    });
    let recorded = scopes.0.lock().unwrap().clone();
    let handler = recorded
        .iter()
        .find(|(target, _)| target == "users_handler")
        .expect("the handler logged");
    assert!(
        handler.1.contains(&"users_request_span".to_owned()),
        "{recorded:?}"
    );
    let own = recorded
        .iter()
        .find(|(target, _)| target.starts_with("bookhook"))
        .expect("bookhook logged the delivery");
    assert!(
        own.1.contains(&"users_request_span".to_owned()),
        "{recorded:?}"
    );
}
