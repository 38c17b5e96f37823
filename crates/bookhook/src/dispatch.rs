//! Routing verified events to handlers, with exactly-once bookkeeping.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;

use crate::claimed::ClaimedEvent;
use crate::endpoint::{Endpoint, Finished, Request};
use crate::error::{ConfigError, HandlerError};
use crate::event::Delivery;
use crate::idempotency::{BoxFuture, Freshness};
use crate::kind::Kind;
use crate::outcome::Outcome;

/// What a handler receives: the claimed event and the shared state.
///
/// It dereferences to [`ClaimedEvent`] (`delivery()`, `event()`,
/// `appointment()`, `kind()`, `freshness()`), the event the adapters'
/// `VerifiedEvent` extractors give a handler behind a `WebhookLayer`, so a
/// handler reads the same methods either way.
///
/// ```
/// use bookhook::{Context, HandlerError};
///
/// async fn on_cancelled(ctx: Context<()>) -> Result<(), HandlerError> {
///     if let Some(appointment) = ctx.appointment() {
///         println!("{} cancelled ({:?})", appointment.id, ctx.freshness());
///     }
///     Ok(())
/// }
/// ```
pub struct Context<S = ()> {
    event: ClaimedEvent,
    state: S,
}

impl<S> Context<S> {
    /// A context for a delivery handled outside [`Dispatcher::dispatch`]
    /// (the inbox worker).
    pub(crate) fn new(delivery: Arc<Delivery>, freshness: Freshness, state: S) -> Self {
        Self {
            event: ClaimedEvent::from_parts(delivery, freshness),
            state,
        }
    }

    /// The state given to [`DispatcherBuilder::new`].
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Takes the state out of the context.
    pub fn into_state(self) -> S {
        self.state
    }
}

impl<S> Deref for Context<S> {
    type Target = ClaimedEvent;

    fn deref(&self) -> &ClaimedEvent {
        &self.event
    }
}

impl<S> fmt::Debug for Context<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("delivery", self.event.delivery())
            .field("freshness", &self.event.freshness())
            .finish_non_exhaustive()
    }
}

/// An async function that handles events.
///
/// It is implemented for every `Fn(Context<S>) -> impl Future<Output =
/// Result<(), E>>` where `E` converts into a boxed error (any error type,
/// `String`, `&str`, `anyhow::Error`, [`HandlerError`]).
pub trait Handler<S>: Send + Sync + 'static {
    /// Runs the handler.
    fn call(&self, ctx: Context<S>) -> BoxFuture<'static, Result<(), HandlerError>>;
}

impl<S, F, Fut, E> Handler<S> for F
where
    F: Fn(Context<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    fn call(&self, ctx: Context<S>) -> BoxFuture<'static, Result<(), HandlerError>> {
        let fut = self(ctx);
        Box::pin(async move { fut.await.map_err(HandlerError::new) })
    }
}

pub(crate) type BoxHandler<S> = Arc<dyn Handler<S>>;

struct Routes<S> {
    exact: HashMap<String, BoxHandler<S>>,
    kinds: HashMap<Kind, BoxHandler<S>>,
    prefixes: Vec<(String, BoxHandler<S>)>,
    fallback: Option<BoxHandler<S>>,
}

impl<S> Routes<S> {
    /// The most specific route: exact type, then the longest prefix, then the
    /// normalized kind, then the fallback.
    fn find(&self, event_type: &str, kind: Kind) -> Option<&BoxHandler<S>> {
        if let Some(handler) = self.exact.get(event_type) {
            return Some(handler);
        }
        if let Some((_, handler)) = self
            .prefixes
            .iter()
            .filter(|(prefix, _)| event_type.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
        {
            return Some(handler);
        }
        if let Some(handler) = self.kinds.get(&kind) {
            return Some(handler);
        }
        self.fallback.as_ref()
    }
}

/// Verifies, deduplicates and routes deliveries of one endpoint to handlers.
///
/// Routes, most specific first: an exact event type ([`on`](DispatcherBuilder::on)),
/// a prefix wildcard such as `booking.*` ([`on_prefix`](DispatcherBuilder::on_prefix)),
/// a normalized kind ([`on_kind`](DispatcherBuilder::on_kind)), then the
/// [`fallback`](DispatcherBuilder::fallback). An event with no route is
/// acknowledged with 200 and logged.
///
/// ```
/// use bookhook::{Context, Dispatcher, Endpoint, Kind, Provider, endpoint::Request, signature::SignRequest};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
/// let dispatcher = Dispatcher::builder(endpoint.clone())
///     .on_kind(Kind::Cancelled, |ctx: Context| async move {
///         println!("cancelled: {:?}", ctx.appointment().map(|a| &a.id));
///         Ok::<_, std::convert::Infallible>(())
///     })
///     .build()?;
///
/// let body = br#"{"event":"booking.cancelled","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
/// // Sign as Calendence would (the `testing` feature's `signed_request` does the same).
/// let signed = endpoint.sign(body, &SignRequest::now());
/// let report = dispatcher.dispatch(Request::post(&signed.headers, body.as_slice().into())).await;
/// assert_eq!(report.status(), 200);
/// assert_eq!(report.outcome().as_str(), "handled");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Dispatcher<S = ()> {
    inner: Arc<DispatcherInner<S>>,
    observer: Option<Observer>,
}

/// What [`Dispatcher::on_finished`] calls.
type Observer = Arc<dyn Fn(&Finished) + Send + Sync>;

struct DispatcherInner<S> {
    endpoint: Endpoint,
    routes: Routes<S>,
    state: S,
}

impl<S> Clone for Dispatcher<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            observer: self.observer.clone(),
        }
    }
}

impl<S> fmt::Debug for Dispatcher<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes = &self.inner.routes;
        f.debug_struct("Dispatcher")
            .field("endpoint", &self.inner.endpoint)
            .field("exact_routes", &routes.exact.keys().collect::<Vec<_>>())
            .field("kind_routes", &routes.kinds.keys().collect::<Vec<_>>())
            .field(
                "prefix_routes",
                &routes.prefixes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("fallback", &routes.fallback.is_some())
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Dispatcher<()> {
    /// Starts configuring handlers for `endpoint`, with no state. Use
    /// [`DispatcherBuilder::new`] to give handlers shared state.
    pub fn builder(endpoint: Endpoint) -> DispatcherBuilder<()> {
        DispatcherBuilder::new(endpoint, ())
    }
}

impl<S> Dispatcher<S> {
    /// The handler for this event type and kind (most specific route first),
    /// shared with the inbox worker.
    pub(crate) fn route(&self, event_type: &str, kind: Kind) -> Option<BoxHandler<S>> {
        self.inner.routes.find(event_type, kind).cloned()
    }

    /// The state handlers share.
    pub(crate) fn state(&self) -> &S {
        &self.inner.state
    }
}

impl<S: Clone + Send + Sync + 'static> Dispatcher<S> {
    /// Calls `observer` with the report of every delivery, rejections
    /// included, once it is finished and before it is answered: for metrics,
    /// audit lines or a console. It sees the provider, the delivery (its
    /// type and key, when it got past verification), the outcome, the status
    /// and the latency. It runs on the delivery's task, so keep it quick.
    /// Both web adapters and the `bookhook` CLI's `listen` call it; a second
    /// call replaces the first observer.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use bookhook::{Dispatcher, Endpoint, Provider, endpoint::Request};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let endpoint = Endpoint::builder(Provider::Decoda).secret("s3cr3t").build()?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let dispatcher = Dispatcher::builder(endpoint).build()?.on_finished({
    ///     let seen = Arc::clone(&seen);
    ///     move |finished| seen.lock().unwrap().push((finished.status(), finished.outcome().as_str()))
    /// });
    /// let headers: [(&str, &str); 0] = [];
    /// dispatcher.dispatch(Request::post(&headers, "{}".into())).await;
    /// assert_eq!(*seen.lock().unwrap(), [(401, "rejected")]);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn on_finished(mut self, observer: impl Fn(&Finished) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// Runs one delivery through every step and returns what to answer.
    ///
    /// The returned future holds the claim while the handler runs; web
    /// adapters spawn it so that a client that hangs up does not cut the
    /// handler off half-way.
    pub async fn dispatch(&self, request: Request<'_>) -> Finished {
        self.dispatch_until(request, std::future::pending()).await
    }

    /// [`dispatch`](Self::dispatch), but a handler still running when
    /// `cutoff` completes is stopped (its future dropped) and the claim is
    /// released, so that the sender's retry runs it again: what a server
    /// does to deliveries still in progress when its shutdown grace period ends.
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// use bookhook::{Context, Dispatcher, Endpoint, HandlerError, Outcome, Provider, endpoint::Request};
    ///
    /// let endpoint = Endpoint::builder(Provider::Calendence).unverified().build().unwrap();
    /// let dispatcher = Dispatcher::builder(endpoint)
    ///     .fallback(|_ctx: Context| std::future::pending::<Result<(), HandlerError>>())
    ///     .build()
    ///     .unwrap();
    /// let body = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
    /// let headers: [(&str, &str); 0] = [];
    /// let finished = dispatcher
    ///     .dispatch_until(Request::post(&headers, body.into()), std::future::ready(()))
    ///     .await;
    /// assert!(matches!(finished.outcome(), Outcome::Failed(_)));
    /// assert_eq!(finished.status(), 500);
    /// # }).unwrap();
    /// ```
    pub async fn dispatch_until(
        &self,
        request: Request<'_>,
        cutoff: impl Future<Output = ()> + Send,
    ) -> Finished {
        let finished = self.run(request, cutoff).await;
        self.observe(&finished);
        finished
    }

    async fn run(&self, request: Request<'_>, cutoff: impl Future<Output = ()> + Send) -> Finished {
        let accepted = match self.inner.endpoint.begin(&request).await {
            Ok(accepted) => accepted,
            Err(finished) => return finished,
        };
        let delivery = accepted.delivery();
        let Some(handler) = self
            .inner
            .routes
            .find(delivery.event_type(), delivery.kind())
        else {
            return accepted.complete_as(Outcome::Unrouted).await;
        };
        let ctx = Context {
            event: ClaimedEvent::new(&accepted),
            state: self.inner.state.clone(),
        };
        let provider = self.inner.endpoint.provider();
        let run = crate::metrics::time_handler(provider, run_caught(handler.as_ref(), ctx));
        let (finished, _) = accepted.settle(run, |ran| (ran, ()), cutoff).await;
        finished
    }

    /// Calls the observer given to [`on_finished`](Self::on_finished), if
    /// any, with `finished`. [`dispatch`](Self::dispatch) does it for every
    /// delivery; adapters call it for what they refuse before dispatching
    /// (a body over the limit, one too slow to arrive, a full server), so
    /// that the observer sees every request.
    pub fn observe(&self, finished: &Finished) {
        if let Some(observer) = &self.observer {
            observer(finished);
        }
    }
}

/// Runs a handler, turning a panic (while building or polling its future) into an error.
pub(crate) async fn run_caught<S: 'static>(
    handler: &dyn Handler<S>,
    ctx: Context<S>,
) -> Result<(), HandlerError> {
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(ctx))) {
        Ok(fut) => fut,
        Err(panic) => return Err(crate::task::panicked(&*panic)),
    };
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(crate::task::panicked(&*panic)),
    }
}

enum Route {
    Exact(String),
    Prefix(String),
    Kind(Kind),
    Fallback,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Exact(t) => write!(f, "event type `{t}`"),
            Route::Prefix(p) => write!(f, "prefix `{p}*`"),
            Route::Kind(k) => write!(f, "kind `{k}`"),
            Route::Fallback => f.write_str("the fallback"),
        }
    }
}

/// Registers handlers for a [`Dispatcher`]. [`build`](Self::build) fails on
/// two handlers for one route.
#[must_use = "call build() to get a Dispatcher"]
pub struct DispatcherBuilder<S> {
    endpoint: Endpoint,
    state: S,
    routes: Vec<(Route, BoxHandler<S>)>,
}

impl<S> fmt::Debug for DispatcherBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherBuilder")
            .field("endpoint", &self.endpoint)
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> DispatcherBuilder<S> {
    /// Starts configuring handlers for `endpoint` that share `state`
    /// (cloned into each [`Context`]; wrap large state in an `Arc`).
    pub fn new(endpoint: Endpoint, state: S) -> Self {
        Self {
            endpoint,
            state,
            routes: Vec::new(),
        }
    }

    /// Handles one exact event type, such as `booking.created`.
    pub fn on(mut self, event_type: impl Into<String>, handler: impl Handler<S>) -> Self {
        self.routes
            .push((Route::Exact(event_type.into()), Arc::new(handler)));
        self
    }

    /// Handles every type that starts with `prefix`. A trailing `*` is
    /// allowed and ignored: `booking.*` and `booking.` are the same route.
    pub fn on_prefix(mut self, prefix: impl Into<String>, handler: impl Handler<S>) -> Self {
        let prefix = prefix.into();
        let prefix = prefix.strip_suffix('*').unwrap_or(&prefix).to_owned();
        self.routes.push((Route::Prefix(prefix), Arc::new(handler)));
        self
    }

    /// Handles one normalized kind on every platform.
    pub fn on_kind(mut self, kind: Kind, handler: impl Handler<S>) -> Self {
        self.routes.push((Route::Kind(kind), Arc::new(handler)));
        self
    }

    /// Handles whatever no other route matches.
    pub fn fallback(mut self, handler: impl Handler<S>) -> Self {
        self.routes.push((Route::Fallback, Arc::new(handler)));
        self
    }

    /// Validates the routes.
    pub fn build(self) -> Result<Dispatcher<S>, ConfigError> {
        let mut routes = Routes {
            exact: HashMap::new(),
            kinds: HashMap::new(),
            prefixes: Vec::new(),
            fallback: None,
        };
        for (route, handler) in self.routes {
            let duplicate = match &route {
                Route::Exact(t) => routes.exact.insert(t.clone(), handler).is_some(),
                Route::Kind(k) => routes.kinds.insert(*k, handler).is_some(),
                Route::Prefix(p) => {
                    if p.is_empty() {
                        return Err(ConfigError::InvalidSetting {
                            setting: "on_prefix",
                            reason: "the prefix is empty; use fallback() to catch everything"
                                .into(),
                        });
                    }
                    let exists = routes.prefixes.iter().any(|(q, _)| q == p);
                    routes.prefixes.push((p.clone(), handler));
                    exists
                }
                Route::Fallback => routes.fallback.replace(handler).is_some(),
            };
            if duplicate {
                return Err(ConfigError::DuplicateRoute {
                    route: route.to_string(),
                });
            }
        }
        Ok(Dispatcher {
            inner: Arc::new(DispatcherInner {
                endpoint: self.endpoint,
                routes,
                state: self.state,
            }),
            observer: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn dispatch_future_is_send_so_adapters_can_spawn_it() {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret("s3cr3t")
            .build()
            .unwrap();
        let dispatcher = Dispatcher::builder(endpoint).build().unwrap();
        let headers = [("X-Calendence-Signature", "sha256=00")];
        let future = dispatcher.dispatch(Request::post(&headers, b"{}".as_slice().into()));
        assert_send(&future);
        drop(future);
    }
}
