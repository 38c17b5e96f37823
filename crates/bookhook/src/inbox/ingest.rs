//! The request path in inbox mode: verify, parse, store, answer.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;
use tracing::{Instrument, Span};

use crate::endpoint::{Endpoint, Request};
use crate::event::Delivery;
use crate::headers::Headers;
use crate::outcome::{Outcome, Rejection, Response};

use super::redact::{Recording, is_secret_header, kept};
use super::{Enqueued, Inbox, InboxId, NewEvent};

/// A signal from the receiving side to a [`Worker`](super::Worker) of the
/// same process: "an event was just stored", so the worker claims it now
/// instead of at its next poll. Clones share one signal.
///
/// Workers in other processes do not hear it; they find new rows by polling.
#[derive(Debug, Clone, Default)]
pub struct Wakeup(Arc<Notify>);

impl Wakeup {
    /// A new signal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes the worker (or, if it is busy, makes its next wait return at once).
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Waits for the next [`notify`](Self::notify).
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

/// Receives deliveries in inbox mode: size limit, verification and parsing
/// by the [`Endpoint`], then **one durable write** to the [`Inbox`] that both
/// deduplicates and enqueues, then the answer. No handler runs here; a
/// [`Worker`](super::Worker) handles stored events in the background.
///
/// | what happened | outcome | answer |
/// |---|---|---|
/// | refused by the endpoint | [`Outcome::Rejected`] | 400, 401, 405 or 413, as a dispatcher answers |
/// | stored now | [`Outcome::Queued`] | 200 `{"status":"queued","id":…}` |
/// | stored before (same key) | [`Outcome::Duplicate`] | 200 `{"status":"duplicate"}` |
/// | the inbox failed | [`Outcome::InboxUnavailable`] | 503 with `Retry-After` |
///
/// A 200 is only ever answered once [`Inbox::enqueue`] returned `Ok`, that
/// is once the row is durable in the backend.
///
/// The row keeps the raw body and the headers that verification and parsing
/// read (so the worker can parse the body again). Values that carry secrets
/// are replaced by [`REDACTED`](super::REDACTED): a token scheme's header,
/// `Authorization`, cookies, API keys ([`is_secret_header`]). The query
/// string is never stored, so a token passed in it is not either. Other
/// headers are kept only when asked for with [`keep_header`](Self::keep_header).
///
/// ```
/// use std::sync::Arc;
/// use bookhook::inbox::{Inbox, Ingest, MemoryInbox};
/// use bookhook::{Endpoint, Provider, signature::SignRequest};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build()?;
/// let inbox = Arc::new(MemoryInbox::new());
/// let ingest = Ingest::new(endpoint.clone(), inbox.clone()).keep_header("user-agent");
///
/// let body = br#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
/// let mut headers = endpoint.sign(body, &SignRequest::now()).headers;
/// headers.push(("User-Agent".into(), "Calendence-Webhooks/1.0".into()));
///
/// let first = ingest.receive("POST", &headers, None, body.as_slice().into()).await;
/// assert_eq!(first.status(), 200);
/// assert_eq!(first.response().body, r#"{"status":"queued","id":1}"#);
///
/// let again = ingest.receive("POST", &headers, None, body.as_slice().into()).await;
/// assert_eq!(again.response().body, r#"{"status":"duplicate"}"#);
/// // Nothing new was stored; the row of the first copy is named.
/// assert_eq!((again.id(), again.existing_id()), (None, first.id()));
///
/// let stored = inbox.get(first.id().unwrap()).await?.unwrap();
/// assert_eq!(stored.record.ordering_key.as_deref(), Some("b-1"));
/// assert_eq!(stored.headers[0].0, "x-calendence-signature");
/// assert_eq!(stored.headers[1], ("user-agent".to_owned(), "Calendence-Webhooks/1.0".to_owned()));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Ingest {
    endpoint: Endpoint,
    inbox: Arc<dyn Inbox>,
    keep: Arc<[String]>,
    wakeup: Option<Wakeup>,
}

impl fmt::Debug for Ingest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ingest")
            .field("endpoint", &self.endpoint)
            .field("keep", &self.keep)
            .field("wakeup", &self.wakeup.is_some())
            .finish_non_exhaustive()
    }
}

impl Ingest {
    /// Receives for `endpoint` into `inbox`. The endpoint's idempotency store
    /// is not used: the inbox deduplicates.
    pub fn new(endpoint: Endpoint, inbox: Arc<dyn Inbox>) -> Self {
        Self {
            endpoint,
            inbox,
            keep: Arc::from(Vec::new()),
            wakeup: None,
        }
    }

    /// Also stores the request header `name` (when present once), for
    /// example `user-agent` for debugging. A header that carries a secret
    /// ([`is_secret_header`]) is still stored redacted.
    #[must_use]
    pub fn keep_header(mut self, name: impl Into<String>) -> Self {
        let mut keep = self.keep.to_vec();
        keep.push(name.into().to_ascii_lowercase());
        self.keep = Arc::from(keep);
        self
    }

    /// Signals `wakeup` after each new row, so that a worker of this process
    /// handles it at once. The adapters' inbox helpers set this for you.
    #[must_use]
    pub fn wakeup(mut self, wakeup: Wakeup) -> Self {
        self.wakeup = Some(wakeup);
        self
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The inbox.
    pub fn inbox(&self) -> &Arc<dyn Inbox> {
        &self.inbox
    }

    /// Receives one request: `method`, its headers, its raw query string
    /// (without `?`) and its raw body. The answer is in the returned report,
    /// which has been logged.
    ///
    /// It runs inside the delivery's span ([`DELIVERY_SPAN`](crate::span::DELIVERY_SPAN)),
    /// a child of the current span, around verification and the inbox write.
    pub async fn receive(
        &self,
        method: &str,
        headers: &(dyn Headers + Sync),
        query: Option<&str>,
        body: Bytes,
    ) -> Ingested {
        let span = crate::span::delivery(self.endpoint.provider());
        self.receive_in(method, headers, query, body, &span)
            .instrument(span.clone())
            .await
    }

    async fn receive_in(
        &self,
        method: &str,
        headers: &(dyn Headers + Sync),
        query: Option<&str>,
        body: Bytes,
        span: &Span,
    ) -> Ingested {
        let started = Instant::now();
        let recording = Recording::new(headers);
        let request = Request::new(method, &recording, query, body.clone());
        // With a token scheme, every header that verification reads carries
        // the token: find them by verifying once on their own (a constant-time
        // comparison, cheap next to the write).
        let token_headers = if self.endpoint.verifier().scheme_name() == "token" {
            let _ = self
                .endpoint
                .verifier()
                .verify_at(&request, self.endpoint.clock().now());
            recording.names()
        } else {
            Vec::new()
        };
        let delivery = match self.endpoint.verify_and_parse(&request) {
            Ok(delivery) => Arc::new(delivery),
            Err(rejection) => {
                return self.finish(None, Outcome::Rejected(rejection), started, span);
            }
        };
        crate::span::record_delivery(span, &delivery);
        let secret = |name: &str| is_secret_header(name) || token_headers.iter().any(|t| t == name);
        let mut stored = kept(headers, recording.names(), secret);
        let extra: Vec<String> = self
            .keep
            .iter()
            .filter(|name| !stored.iter().any(|(seen, _)| seen == *name))
            .cloned()
            .collect();
        stored.extend(kept(headers, extra, secret));
        let now_ms = i64::try_from(self.endpoint.clock().now_unix_ms()).unwrap_or(i64::MAX);
        let event = NewEvent::new(
            self.endpoint.namespace(),
            delivery.idempotency_key(),
            delivery.appointment_id().map(str::to_owned),
            delivery.provider(),
            delivery.event_type(),
            delivery.kind(),
            now_ms,
            delivery.occurred_at().map(|at| at.unix_ms()),
            body,
            stored,
        );
        let (outcome, existing) = match self.inbox.enqueue(event).await {
            Ok(Enqueued::Queued(id)) => {
                if let Some(wakeup) = &self.wakeup {
                    wakeup.notify();
                }
                (Outcome::Queued { id }, None)
            }
            Ok(Enqueued::Duplicate(id)) => (Outcome::Duplicate, Some(id)),
            Err(err) => (Outcome::InboxUnavailable(err), None),
        };
        let mut ingested = self.finish(Some(delivery), outcome, started, span);
        ingested.existing = existing;
        ingested
    }

    /// The report for a request refused before [`receive`](Self::receive)
    /// could run (an adapter that stopped reading an oversized body). It is
    /// not logged: adapters refuse such bodies through
    /// [`Endpoint::reject`], which logs them.
    pub fn reject(&self, rejection: Rejection) -> Ingested {
        Ingested {
            delivery: None,
            outcome: Outcome::Rejected(rejection),
            latency: Duration::ZERO,
            existing: None,
        }
    }

    fn finish(
        &self,
        delivery: Option<Arc<Delivery>>,
        outcome: Outcome,
        started: Instant,
        span: &Span,
    ) -> Ingested {
        let ingested = Ingested {
            delivery,
            outcome,
            latency: started.elapsed(),
            existing: None,
        };
        crate::span::record_outcome(span, &ingested.outcome, ingested.latency);
        ingested.log(&self.endpoint);
        ingested
    }
}

/// What happened to one request in inbox mode: the outcome, the delivery
/// when it was verified, and how long the request took. It has been logged.
#[derive(Debug)]
pub struct Ingested {
    delivery: Option<Arc<Delivery>>,
    outcome: Outcome,
    latency: Duration,
    /// For a duplicate: the row that holds the first copy.
    existing: Option<InboxId>,
}

impl Ingested {
    /// The outcome: [`Outcome::Queued`], [`Outcome::Duplicate`],
    /// [`Outcome::Rejected`] or [`Outcome::InboxUnavailable`].
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// The delivery, if the request got past verification and parsing.
    pub fn delivery(&self) -> Option<&Arc<Delivery>> {
        self.delivery.as_ref()
    }

    /// The inbox row of a newly stored event.
    pub fn id(&self) -> Option<InboxId> {
        match self.outcome {
            Outcome::Queued { id } => Some(id),
            _ => None,
        }
    }

    /// The inbox row that already held this event, for an
    /// [`Outcome::Duplicate`]: where to look for the first copy's state.
    pub fn existing_id(&self) -> Option<InboxId> {
        self.existing
    }

    /// Time from the start of the request to the outcome (the write included).
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

    fn log(&self, endpoint: &Endpoint) {
        crate::metrics::record_request(
            endpoint.provider(),
            &self.outcome,
            self.latency,
            self.delivery.as_ref().map(|d| d.body().len()),
        );
        let provider = endpoint.provider().as_str();
        let event_type = self.delivery.as_ref().map(|d| d.event_type());
        let key = self.delivery.as_ref().map(|d| d.idempotency_key());
        let status = self.outcome.status();
        let outcome = self.outcome.as_str();
        let latency_us = u64::try_from(self.latency.as_micros()).unwrap_or(u64::MAX);
        let id = self.id().map(InboxId::get);
        match &self.outcome {
            Outcome::Rejected(rejection) => tracing::info!(
                provider,
                event_type,
                key,
                outcome,
                status,
                latency_us,
                reason = %rejection,
                "webhook delivery rejected"
            ),
            Outcome::InboxUnavailable(err) => tracing::error!(
                provider,
                event_type,
                key,
                outcome,
                status,
                latency_us,
                error = %err,
                "webhook delivery refused: the inbox could not store it"
            ),
            _ => tracing::info!(
                provider,
                event_type,
                key,
                outcome,
                status,
                latency_us,
                id,
                "webhook delivery stored"
            ),
        }
    }
}
