//! One webhook endpoint: verification, parsing, replay window and deduplication.
//!
//! Also here, re-exported, the types a delivery meets on its way through an
//! endpoint: the request view ([`Request`], [`Headers`], [`HeaderLookup`]),
//! the [`UnverifiedBudget`], the [`Clock`], the claimed event
//! a layer hands its handler ([`ClaimedEvent`]), and what it ends as
//! ([`Outcome`], [`Rejection`], [`Response`]).

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt;
use futures_util::future::Either;
use tracing::{Instrument, Span};

use crate::MemoryStore;
use crate::error::{HandlerError, StoreError, VerifyError};
use crate::event::Delivery;
use crate::idempotency::{Claim, ClaimToken, Freshness, IdempotencyStore, Observation};
use crate::provider::Provider;
use crate::provider::hmac::HmacEnvelope;
use crate::secret::Secret;
use crate::signature::{Scheme, SignRequest, Signed, Verifier};

pub use crate::budget::{BudgetHold, BudgetSpent, DEFAULT_UNVERIFIED_BUDGET, UnverifiedBudget};
pub use crate::claimed::{ClaimedEvent, MissingWebhookLayer};
pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::error::ConfigError;
pub use crate::headers::{HeaderLookup, Headers, NoHeaders};
pub use crate::outcome::{Outcome, Rejection, Response};
pub use crate::request::Request;

/// The default body size limit: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// The default time a handled key is remembered: 72 hours.
pub const DEFAULT_TTL: Duration = Duration::from_secs(72 * 3600);
/// The default lease of a claim: 60 seconds.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// The default time a client has to send its whole body: 15 seconds.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(15);

/// One webhook endpoint: a provider, its secrets and an idempotency store.
///
/// An `Endpoint` runs steps 1 to 5 of a delivery (size, verify, parse, replay
/// window, claim). A [`Dispatcher`](crate::Dispatcher) adds routing to
/// handlers; the web adapters' layers use an `Endpoint` directly around a
/// handler of the user's own. Clones share everything.
///
/// ```
/// use bookhook::{Endpoint, Provider};
///
/// let endpoint = Endpoint::builder(Provider::Calendence)
///     .secret("calendence-webhook-secret")
///     .build()
///     .unwrap();
/// assert_eq!(endpoint.provider(), Provider::Calendence);
///
/// // Configuration mistakes fail at start-up, not per request.
/// assert!(Endpoint::builder(Provider::Calendence).build().is_err());
/// ```
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

struct Inner {
    provider: Provider,
    namespace: String,
    verifier: Verifier,
    envelope: Option<HmacEnvelope>,
    store: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
    max_body: usize,
    body_timeout: Duration,
    budget: UnverifiedBudget,
    max_age: Option<Duration>,
    lease: Duration,
    ttl: Duration,
    retry_after: Duration,
    fail_open: bool,
    track_freshness: bool,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("provider", &self.inner.provider)
            .field("namespace", &self.inner.namespace)
            .field("verifier", &self.inner.verifier)
            .field("max_body", &self.inner.max_body)
            .field("body_timeout", &self.inner.body_timeout)
            .field("unverified_budget", &self.inner.budget)
            .field("fail_open", &self.inner.fail_open)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Starts configuring an endpoint for `provider`, with its preset scheme.
    pub fn builder(provider: Provider) -> EndpointBuilder {
        EndpointBuilder::new(provider)
    }

    /// The provider this endpoint receives from.
    pub fn provider(&self) -> Provider {
        self.inner.provider
    }

    /// The namespace that prefixes this endpoint's idempotency keys.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The largest body accepted, in bytes. Adapters stop reading beyond it.
    pub fn max_body(&self) -> usize {
        self.inner.max_body
    }

    /// How long a client has to send its whole body. Adapters answer 408
    /// ([`Rejection::BodyTimeout`]) when it runs out.
    pub fn body_timeout(&self) -> Duration {
        self.inner.body_timeout
    }

    /// The budget that bounds the body bytes read before verification.
    /// Adapters hold a share of it while they read a body.
    pub fn unverified_budget(&self) -> &UnverifiedBudget {
        &self.inner.budget
    }

    /// The checks that need no body, for adapters to run before reading it:
    /// the method, then [`Verifier::precheck`] (a token scheme is verified
    /// completely; an HMAC scheme needs a well-formed signature header and a
    /// timestamp within its tolerance). A refusal is logged, like any other.
    ///
    /// ```
    /// use bookhook::{Endpoint, Provider, endpoint::Request};
    ///
    /// let endpoint = Endpoint::builder(Provider::Orufy).secret("t0ken").build()?;
    /// let wrong = [("Authorization", "Bearer nope")];
    /// let refused = endpoint.precheck(&Request::post(&wrong, Default::default())).unwrap_err();
    /// assert_eq!(refused.status(), 401);
    /// let right = [("Authorization", "Bearer t0ken")];
    /// assert!(endpoint.precheck(&Request::post(&right, Default::default())).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn precheck(&self, request: &Request<'_>) -> Result<(), Finished> {
        if request.method() != "POST" {
            return Err(self.reject(Rejection::MethodNotAllowed));
        }
        self.inner
            .verifier
            .precheck_at(request, self.inner.clock.now())
            .map_err(|err| self.reject(Rejection::Unauthorized(err)))
    }

    /// The hand-configured envelope of a [`Provider::Hmac`] endpoint (where
    /// its bodies keep the event type, key and time), if it has one.
    pub fn envelope(&self) -> Option<&HmacEnvelope> {
        self.inner.envelope.as_ref()
    }

    /// The verifier, for signing test requests or verifying by hand.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The endpoint's clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    /// Signs `body` as the provider would, with the first secret.
    pub fn sign(&self, body: &[u8], request: &SignRequest) -> Signed {
        self.inner.verifier.sign(body, request)
    }

    /// Verifies and parses a request without claiming it (no deduplication).
    pub fn verify_and_parse(&self, request: &Request<'_>) -> Result<Delivery, Rejection> {
        // Methods are case-sensitive (RFC 9110, section 9.1): `post` is not POST.
        if request.method() != "POST" {
            return Err(Rejection::MethodNotAllowed);
        }
        if request.body().len() > self.inner.max_body {
            return Err(Rejection::PayloadTooLarge {
                limit: self.inner.max_body,
            });
        }
        let now = self.inner.clock.now();
        self.inner.verifier.verify_at(request, now)?;
        let delivery = match &self.inner.envelope {
            Some(envelope) => {
                Delivery::parse_hmac(envelope, request.headers(), request.body().clone())?
            }
            None => Delivery::parse(
                self.inner.provider,
                request.headers(),
                request.body().clone(),
            )?,
        };
        if let (Some(max_age), Some(at)) = (self.inner.max_age, delivery.occurred_at()) {
            check_max_age(now, at.unix_ms(), max_age)?;
        }
        Ok(delivery)
    }

    /// Runs steps 1 to 5 of a delivery: size, verify, parse, replay window and
    /// claim. On success the caller owns the claim and must finish it with
    /// [`Accepted::complete`] or [`Accepted::release`]; otherwise the
    /// [`Finished`] report says what to answer.
    ///
    /// The delivery's span ([`span::DELIVERY_SPAN`](crate::span::DELIVERY_SPAN))
    /// starts here, as a child of the current span; the [`Accepted`] claim
    /// enters it again for the handler and the store calls that finish it.
    pub async fn begin(&self, request: &Request<'_>) -> Result<Accepted, Finished> {
        let span = crate::span::delivery(self.inner.provider);
        self.begin_in(request, span.clone()).instrument(span).await
    }

    async fn begin_in(&self, request: &Request<'_>, span: Span) -> Result<Accepted, Finished> {
        let started = Instant::now();
        let delivery = match self.verify_and_parse(request) {
            Ok(delivery) => Arc::new(delivery),
            Err(rejection) => {
                return Err(self.finish(None, Outcome::Rejected(rejection), started, &span));
            }
        };
        crate::span::record_delivery(&span, &delivery);
        let key = self.namespaced("k", delivery.idempotency_key());
        let appointment_key = delivery
            .appointment_id()
            .filter(|_| self.inner.track_freshness)
            .map(|id| self.namespaced("a", id));
        let observation = match (&appointment_key, delivery.occurred_at()) {
            (Some(appointment), Some(at)) => Some(Observation {
                appointment,
                occurred_at_ms: at.unix_ms(),
                ttl: self.inner.ttl,
            }),
            _ => None,
        };
        let claimed = self
            .inner
            .store
            .claim_and_observe(&key, self.inner.lease, observation);
        let claimed = crate::metrics::time_store(crate::metrics::StoreCall::Claim, claimed).await;
        match claimed {
            Ok((Claim::Claimed(token), freshness)) => Ok(Accepted {
                endpoint: self.clone(),
                delivery,
                key,
                token: Some(token),
                freshness,
                started,
                span,
            }),
            Ok((Claim::Done, _)) => {
                Err(self.finish(Some(delivery), Outcome::Duplicate, started, &span))
            }
            Ok((Claim::InFlight, _)) => Err(self.finish(
                Some(delivery),
                Outcome::InFlight {
                    retry_after: self.inner.retry_after,
                },
                started,
                &span,
            )),
            Err(err) if self.inner.fail_open => {
                tracing::warn!(
                    provider = self.inner.provider.as_str(),
                    key = delivery.idempotency_key(),
                    error = %err,
                    "idempotency store unavailable; failing open, the handler runs without deduplication"
                );
                Ok(Accepted {
                    endpoint: self.clone(),
                    delivery,
                    key,
                    token: None,
                    freshness: Freshness::Latest,
                    started,
                    span,
                })
            }
            Err(err) => Err(self.finish(
                Some(delivery),
                Outcome::StoreUnavailable(err),
                started,
                &span,
            )),
        }
    }

    /// Builds the report for a request refused before [`begin`](Self::begin)
    /// could run (an adapter that stopped reading an oversized body), and logs it.
    ///
    /// It gets a delivery span of its own, a child of the current span.
    pub fn reject(&self, rejection: Rejection) -> Finished {
        let span = crate::span::delivery(self.inner.provider);
        self.finish(None, Outcome::Rejected(rejection), Instant::now(), &span)
    }

    fn namespaced(&self, class: &str, key: &str) -> String {
        let mut out =
            String::with_capacity(self.inner.namespace.len() + key.len() + class.len() + 2);
        out.push_str(&self.inner.namespace);
        out.push(':');
        out.push_str(class);
        out.push(':');
        out.push_str(key);
        out
    }

    /// The report, recorded on the delivery's span and logged inside it.
    fn finish(
        &self,
        delivery: Option<Arc<Delivery>>,
        outcome: Outcome,
        started: Instant,
        span: &Span,
    ) -> Finished {
        let finished = Finished {
            delivery,
            outcome,
            latency: started.elapsed(),
        };
        crate::span::record_outcome(span, &finished.outcome, finished.latency);
        span.in_scope(|| finished.log(self.inner.provider));
        finished
    }
}

fn check_max_age(
    now: SystemTime,
    occurred_at_ms: i64,
    max_age: Duration,
) -> Result<(), VerifyError> {
    let now_ms = i64::try_from(crate::clock::unix_ms(now)).unwrap_or(i64::MAX);
    let age_ms = now_ms.saturating_sub(occurred_at_ms);
    if age_ms > 0 && u128::from(age_ms.unsigned_abs()) > max_age.as_millis() {
        return Err(VerifyError::TimestampTooOld {
            age: Duration::from_millis(age_ms.unsigned_abs()),
            tolerance: max_age,
        });
    }
    Ok(())
}

/// A verified, parsed delivery whose idempotency key this process now owns.
///
/// Finish it with [`complete`](Self::complete) after the work succeeded, or
/// [`release`](Self::release) when it failed so that the sender's retry is
/// processed. Dropping it without either leaves the claim until its lease expires.
#[must_use = "finish the claim with complete() or release()"]
pub struct Accepted {
    endpoint: Endpoint,
    delivery: Arc<Delivery>,
    key: String,
    token: Option<ClaimToken>,
    freshness: Freshness,
    started: Instant,
    /// The delivery's span, entered again for the handler and the store calls.
    span: Span,
}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field("delivery", &self.delivery)
            .field("freshness", &self.freshness)
            .finish_non_exhaustive()
    }
}

impl Accepted {
    /// The verified delivery.
    pub fn delivery(&self) -> &Arc<Delivery> {
        &self.delivery
    }

    /// Whether this is the newest event seen for its appointment.
    pub fn freshness(&self) -> Freshness {
        self.freshness
    }

    /// Marks the key done and reports [`Outcome::Handled`] (or `outcome`, when
    /// given, such as [`Outcome::Unrouted`]).
    pub async fn complete(self) -> Finished {
        self.complete_as(Outcome::Handled).await
    }

    pub(crate) async fn complete_as(self, outcome: Outcome) -> Finished {
        let span = self.span.clone();
        self.complete_in_span(outcome).instrument(span).await
    }

    async fn complete_in_span(self, outcome: Outcome) -> Finished {
        if let Some(token) = self.token {
            let done =
                self.endpoint
                    .inner
                    .store
                    .complete(&self.key, token, self.endpoint.inner.ttl);
            let done = crate::metrics::time_store(crate::metrics::StoreCall::Complete, done).await;
            if let Err(err) = done {
                // The work is done; the claim will expire and a retry may run it again.
                tracing::warn!(
                    provider = self.endpoint.inner.provider.as_str(),
                    key = self.delivery.idempotency_key(),
                    error = %err,
                    "could not mark the delivery done"
                );
            }
        }
        self.endpoint
            .finish(Some(self.delivery), outcome, self.started, &self.span)
    }

    /// Runs `handler` (the work done under this claim) and finishes the claim
    /// by what it did, the way a layer in front of a handler of the user's
    /// own and the [`Dispatcher`](crate::Dispatcher) both do:
    ///
    /// - `judge` turns the handler's output into its verdict and what to pass
    ///   on to the sender: `Ok(())` completes the claim
    ///   ([`Outcome::Handled`]), an error releases it ([`Outcome::Failed`]) so
    ///   that the sender's retry runs again;
    /// - a panic in `handler` is caught and releases the claim;
    /// - when `cutoff` completes first, the handler's future is dropped and
    ///   the claim released (a server at the end of its shutdown grace period).
    ///
    /// Returns the report, and what `judge` passed on: `None` when the
    /// handler panicked or was cut off, in which case the answer is the
    /// report's [`response`](Finished::response).
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// use bookhook::{Endpoint, HandlerError, Provider, task, endpoint::Request};
    ///
    /// let endpoint = Endpoint::builder(Provider::Calendence).unverified().build().unwrap();
    /// let body = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
    /// let headers: [(&str, &str); 0] = [];
    /// let accepted = endpoint.begin(&Request::post(&headers, body.into())).await.unwrap();
    /// // A handler of the user's own that answers with an HTTP status.
    /// let answered = async { Ok::<u16, HandlerError>(503) };
    /// let (finished, passed) = accepted
    ///     .settle(answered, |out| task::judge_answer(out, |status| *status), std::future::pending())
    ///     .await;
    /// assert_eq!(finished.outcome().as_str(), "failed"); // released: the retry runs again
    /// assert_eq!(passed.unwrap().unwrap(), 503); // the handler's answer goes back unchanged
    /// # }).unwrap();
    /// ```
    pub async fn settle<T, P>(
        self,
        handler: impl Future<Output = T>,
        judge: impl FnOnce(T) -> (Result<(), HandlerError>, P),
        cutoff: impl Future<Output = ()>,
    ) -> (Finished, Option<P>) {
        // The handler runs inside the delivery's span.
        let handler = handler.instrument(self.span.clone());
        let ran = std::pin::pin!(AssertUnwindSafe(handler).catch_unwind());
        let cutoff = std::pin::pin!(cutoff);
        let (verdict, passed) = match futures_util::future::select(ran, cutoff).await {
            Either::Left((Ok(output), _)) => {
                let (verdict, passed) = judge(output);
                (verdict, Some(passed))
            }
            // Released now rather than left to the lease.
            Either::Left((Err(panic), _)) => (Err(crate::task::panicked(&*panic)), None),
            Either::Right(((), _)) => (
                Err(HandlerError::new(
                    "cut off: the server shut down before the handler finished",
                )),
                None,
            ),
        };
        let finished = match verdict {
            Ok(()) => self.complete().await,
            Err(err) => self.release(Outcome::Failed(err)).await,
        };
        (finished, passed)
    }

    /// Releases the claim so that the sender's retry runs again, and reports
    /// `outcome` (normally [`Outcome::Failed`]).
    pub async fn release(self, outcome: Outcome) -> Finished {
        let span = self.span.clone();
        self.release_in_span(outcome).instrument(span).await
    }

    async fn release_in_span(self, outcome: Outcome) -> Finished {
        if let Some(token) = self.token {
            let released = self.endpoint.inner.store.release(&self.key, token);
            if let Err(err) =
                crate::metrics::time_store(crate::metrics::StoreCall::Release, released).await
            {
                tracing::warn!(
                    provider = self.endpoint.inner.provider.as_str(),
                    key = self.delivery.idempotency_key(),
                    error = %err,
                    "could not release the claim; it expires with its lease"
                );
            }
        }
        self.endpoint
            .finish(Some(self.delivery), outcome, self.started, &self.span)
    }
}

/// What happened to one request: the outcome, the delivery when it was
/// verified, and how long it took. It has been logged already.
#[derive(Debug)]
pub struct Finished {
    delivery: Option<Arc<Delivery>>,
    outcome: Outcome,
    latency: Duration,
}

impl Finished {
    /// The outcome.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// The delivery, if the request got past verification and parsing.
    pub fn delivery(&self) -> Option<&Arc<Delivery>> {
        self.delivery.as_ref()
    }

    /// Time from the start of processing to the outcome.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.outcome.status()
    }

    /// The HTTP response to send.
    pub fn response(&self) -> Response {
        self.outcome.response()
    }

    fn log(&self, provider: Provider) {
        let event_type = self.delivery.as_ref().map(|d| d.event_type());
        let key = self.delivery.as_ref().map(|d| d.idempotency_key());
        let status = self.outcome.status();
        let latency_us = u64::try_from(self.latency.as_micros()).unwrap_or(u64::MAX);
        match &self.outcome {
            Outcome::Rejected(rejection) => tracing::info!(
                provider = provider.as_str(),
                event_type,
                key,
                outcome = self.outcome.as_str(),
                status,
                latency_us,
                reason = %rejection,
                "webhook delivery rejected"
            ),
            Outcome::Failed(err) => tracing::error!(
                provider = provider.as_str(),
                event_type,
                key,
                outcome = self.outcome.as_str(),
                status,
                latency_us,
                error = %err,
                "webhook handler failed"
            ),
            Outcome::StoreUnavailable(err) => tracing::error!(
                provider = provider.as_str(),
                event_type,
                key,
                outcome = self.outcome.as_str(),
                status,
                latency_us,
                error = %err,
                "webhook delivery refused: store unavailable"
            ),
            _ => tracing::info!(
                provider = provider.as_str(),
                event_type,
                key,
                outcome = self.outcome.as_str(),
                status,
                latency_us,
                "webhook delivery"
            ),
        }
        crate::metrics::record_finished(provider, self);
    }
}

/// Configures an [`Endpoint`]. Mistakes are reported by [`build`](Self::build).
#[must_use = "call build() to get an Endpoint"]
pub struct EndpointBuilder {
    provider: Provider,
    scheme: Option<Scheme>,
    unverified: bool,
    secrets: Vec<Secret>,
    namespace: Option<String>,
    envelope: Option<HmacEnvelope>,
    type_headers: Vec<String>,
    store: Option<Arc<dyn IdempotencyStore>>,
    clock: Arc<dyn Clock>,
    max_body: usize,
    body_timeout: Duration,
    budget: Option<UnverifiedBudget>,
    max_age: Option<Duration>,
    lease: Duration,
    ttl: Duration,
    retry_after: Option<Duration>,
    fail_open: bool,
    track_freshness: bool,
}

impl fmt::Debug for EndpointBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointBuilder")
            .field("provider", &self.provider)
            .field("scheme", &self.scheme)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl EndpointBuilder {
    fn new(provider: Provider) -> Self {
        Self {
            provider,
            scheme: None,
            unverified: false,
            secrets: Vec::new(),
            namespace: None,
            envelope: None,
            type_headers: Vec::new(),
            store: None,
            clock: Arc::new(SystemClock),
            max_body: DEFAULT_MAX_BODY,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            budget: None,
            max_age: None,
            lease: DEFAULT_LEASE,
            ttl: DEFAULT_TTL,
            retry_after: None,
            fail_open: false,
            track_freshness: true,
        }
    }

    /// Adds a secret. Give several during a rotation: any one verifies, and
    /// signing uses the first.
    pub fn secret(mut self, secret: impl Into<Secret>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Adds several secrets.
    pub fn secrets<S: Into<Secret>>(mut self, secrets: impl IntoIterator<Item = S>) -> Self {
        self.secrets.extend(secrets.into_iter().map(Into::into));
        self
    }

    /// Replaces the provider's preset scheme, for example eAgenda's
    /// HMAC-with-timestamp option or a token in a query parameter.
    pub fn scheme(mut self, scheme: impl Into<Scheme>) -> Self {
        self.scheme = Some(scheme.into());
        self
    }

    /// Accepts requests without any verification, logging a warning on each.
    /// For local development only.
    pub fn unverified(mut self) -> Self {
        self.unverified = true;
        self
    }

    /// The namespace of this endpoint's keys in the store. Defaults to the
    /// provider's name; give each endpoint of one provider its own.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Where the event type, id and time are read for [`Provider::Hmac`].
    pub fn envelope(mut self, envelope: HmacEnvelope) -> Self {
        self.envelope = Some(envelope);
        self
    }

    /// [`Provider::Hmac`] only: a header that carries the event type, read
    /// before the envelope's type pointers. GitHub sends it in
    /// `X-GitHub-Event`, Shopify in `X-Shopify-Topic`. Repeatable: the first
    /// header present with a non-empty value wins. A body whose type is found
    /// nowhere is still delivered, with an empty type and [`Kind::Other`](crate::Kind::Other).
    ///
    /// [`build`](Self::build) refuses it for any other provider, and refuses
    /// a name that is not a valid header name.
    ///
    /// ```
    /// use bookhook::{Endpoint, Provider, endpoint::Request, signature::HmacScheme};
    ///
    /// let endpoint = Endpoint::builder(Provider::Hmac)
    ///     .scheme(HmacScheme::new("X-Hub-Signature-256").prefix("sha256="))
    ///     .type_header("X-GitHub-Event")
    ///     .secret("github-webhook-secret")
    ///     .build()?;
    /// let body = br#"{"zen":"Half measures are as bad as nothing at all.","hook_id":1}"#;
    /// let signed = endpoint.sign(body, &bookhook::signature::SignRequest::now());
    /// let mut headers = signed.headers.clone();
    /// headers.push(("X-GitHub-Event".into(), "ping".into()));
    /// let delivery = endpoint.verify_and_parse(&Request::post(&headers, body.to_vec().into()))?;
    /// assert_eq!(delivery.event_type(), "ping");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn type_header(mut self, name: impl Into<String>) -> Self {
        self.type_headers.push(name.into());
        self
    }

    /// The idempotency store. Defaults to a fresh [`MemoryStore`].
    pub fn store(mut self, store: impl IdempotencyStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// A store shared with other endpoints.
    pub fn shared_store(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock for timestamp checks. Defaults to the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The largest body accepted (default 1 MiB). Larger bodies get 413.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How long a client has to send its whole body, from the moment the
    /// adapter starts reading it (default 15 s). Past it the adapters answer
    /// 408 and the connection is closed.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The budget for body bytes read before verification (default:
    /// [`UnverifiedBudget::shared`], 64 MiB for the whole process). Give
    /// several endpoints the same budget by cloning it.
    pub fn unverified_budget(mut self, budget: UnverifiedBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Refuses events whose body timestamp is older than `age`, for
    /// platforms that sign no timestamp. Off by default.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// How long a claim lasts if its worker dies (default 60 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a handled key is remembered (default 72 h).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The `Retry-After` sent with 409 (default 5 s, or the lease if shorter;
    /// at least 1 s).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// When the store is unavailable, run the handler anyway instead of
    /// answering 503. Off by default: a handler never runs without
    /// deduplication unless you choose it here.
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    /// Whether each delivery records its appointment's newest event time in
    /// the store, which is what [`freshness`](crate::ClaimedEvent::freshness)
    /// reports (on by default). Turn it off when no handler reads
    /// `freshness()`: each new delivery then makes one store write fewer,
    /// and `freshness()` is always [`Freshness::Latest`].
    ///
    /// ```
    /// use bookhook::{Endpoint, Provider};
    ///
    /// let endpoint = Endpoint::builder(Provider::Calendence)
    ///     .secret("calendence-webhook-secret")
    ///     .track_freshness(false)
    ///     .build()?;
    /// # Ok::<(), bookhook::ConfigError>(())
    /// ```
    pub fn track_freshness(mut self, track: bool) -> Self {
        self.track_freshness = track;
        self
    }

    /// Validates the configuration.
    pub fn build(self) -> Result<Endpoint, ConfigError> {
        let verifier = if self.unverified {
            Verifier::unverified()
        } else {
            let scheme = match self.scheme {
                Some(scheme) => scheme,
                None => self
                    .provider
                    .preset_scheme()
                    .ok_or(ConfigError::InvalidSetting {
                        setting: "scheme",
                        reason: format!("provider `{}` has no preset; set a scheme", self.provider),
                    })?,
            };
            Verifier::new(scheme, self.secrets)?
        };
        if self.max_body == 0 {
            return Err(invalid("max_body", "must be at least 1 byte"));
        }
        if self.body_timeout.is_zero() {
            return Err(invalid("body_timeout", "must be longer than zero"));
        }
        if self.lease.is_zero() {
            return Err(invalid("lease", "must be longer than zero"));
        }
        if self.ttl.is_zero() {
            return Err(invalid("ttl", "must be longer than zero"));
        }
        let namespace = self
            .namespace
            .unwrap_or_else(|| self.provider.as_str().to_owned());
        if namespace.is_empty() {
            return Err(invalid("namespace", "must not be empty"));
        }
        let envelope = match (self.type_headers.is_empty(), self.provider) {
            (true, _) => self.envelope,
            (false, Provider::Hmac) => Some(
                self.envelope
                    .unwrap_or_default()
                    .with_type_headers(&self.type_headers)?,
            ),
            (false, provider) => {
                return Err(ConfigError::InvalidSetting {
                    setting: "type_header",
                    reason: format!(
                        "provider `{provider}` reads its event type itself; a type header is for `hmac`"
                    ),
                });
            }
        };
        let retry_after = self
            .retry_after
            .unwrap_or(self.lease.min(Duration::from_secs(5)))
            .max(Duration::from_secs(1));
        Ok(Endpoint {
            inner: Arc::new(Inner {
                provider: self.provider,
                namespace,
                verifier,
                envelope,
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                clock: self.clock,
                max_body: self.max_body,
                body_timeout: self.body_timeout,
                budget: self.budget.unwrap_or_else(UnverifiedBudget::shared),
                max_age: self.max_age,
                lease: self.lease,
                ttl: self.ttl,
                retry_after,
                fail_open: self.fail_open,
                track_freshness: self.track_freshness,
            }),
        })
    }
}

fn invalid(setting: &'static str, reason: &str) -> ConfigError {
    ConfigError::InvalidSetting {
        setting,
        reason: reason.to_owned(),
    }
}

/// Lets code that holds a [`StoreError`] explain it without the key.
impl From<StoreError> for Outcome {
    fn from(err: StoreError) -> Self {
        Outcome::StoreUnavailable(err)
    }
}
