//! The event a claimed delivery gives the code that handles it, and how a layer hands it over.
//!
//! A [`Dispatcher`](crate::Dispatcher)'s handler reads the event through its
//! [`Context`](crate::Context); a handler of the user's own behind either
//! adapter's `WebhookLayer` (a tower layer in axum, a middleware in
//! actix-web) reads it with the adapter's `VerifiedEvent` extractor. Both
//! dereference to the same [`ClaimedEvent`]; a route that is not behind a
//! layer gets [`MissingWebhookLayer`]. The layer's own steps are
//! [`Endpoint::begin`](crate::Endpoint::begin) and [`Accepted::pass_to`],
//! which both adapters' layers call: what is left to them is the framework's
//! request, response and extensions.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::appointment::Appointment;
use crate::endpoint::{Accepted, Finished};
use crate::event::{Delivery, Event};
use crate::idempotency::Freshness;
use crate::kind::Kind;
use crate::task::judge_answer;

/// A verified delivery whose key is claimed for the code that handles it,
/// and its freshness: what a dispatcher's [`Context`](crate::Context) and the
/// adapters' `VerifiedEvent` extractors (behind a `WebhookLayer`) give a
/// handler; both dereference to it.
///
/// The claim is not the handler's to finish: a dispatcher completes it when
/// the handler succeeds, a layer when the handler answers 2xx, and both
/// release it otherwise, so that the sender's retry runs again.
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// use bookhook::endpoint::ClaimedEvent;
/// use bookhook::{Endpoint, Provider, endpoint::Request, idempotency::Freshness};
///
/// let endpoint = Endpoint::builder(Provider::Calendence).unverified().build().unwrap();
/// let body = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
/// let headers: [(&str, &str); 0] = [];
/// let accepted = endpoint.begin(&Request::post(&headers, body.into())).await.unwrap();
/// let event = ClaimedEvent::new(&accepted);
/// assert_eq!(event.delivery().event_type(), "booking.created");
/// assert_eq!(event.freshness(), Freshness::Latest);
/// let _finished = accepted.complete().await;
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    delivery: Arc<Delivery>,
    freshness: Freshness,
}

impl ClaimedEvent {
    /// The event of the claim `accepted`.
    pub fn new(accepted: &Accepted) -> Self {
        Self::from_parts(Arc::clone(accepted.delivery()), accepted.freshness())
    }

    /// The event of a delivery claimed elsewhere (an inbox row's lease).
    pub(crate) fn from_parts(delivery: Arc<Delivery>, freshness: Freshness) -> Self {
        Self {
            delivery,
            freshness,
        }
    }

    /// The verified delivery.
    pub fn delivery(&self) -> &Arc<Delivery> {
        &self.delivery
    }

    /// The typed event.
    pub fn event(&self) -> &Event {
        self.delivery.event()
    }

    /// The normalized appointment view, for appointment events.
    pub fn appointment(&self) -> Option<&Appointment> {
        self.delivery.appointment()
    }

    /// The normalized kind.
    pub fn kind(&self) -> Kind {
        self.delivery.kind()
    }

    /// Whether a newer event for the same appointment was handled already.
    pub fn freshness(&self) -> Freshness {
        self.freshness
    }
}

impl Accepted {
    /// Hands this claim's event to a service of the user's own and finishes
    /// the claim by the service's answer: what both adapters' `WebhookLayer`
    /// do once [`Endpoint::begin`](crate::Endpoint::begin) accepted a delivery.
    ///
    /// - `call` is given the [`ClaimedEvent`] (for the adapter to put where
    ///   its `VerifiedEvent` extractor finds it) and calls the service. It is
    ///   called inside the delivery's span, and a panic while it calls or
    ///   while the service runs is caught: the claim is released.
    /// - `status` reads the HTTP status of the service's answer: a 2xx
    ///   completes the claim; any other status, or an error from the service,
    ///   releases it so that the sender's retry runs again
    ///   ([`task::judge_answer`](crate::task::judge_answer)).
    /// - `cutoff`, as in [`settle`](Self::settle): when it completes first,
    ///   the service's future is dropped and the claim released.
    ///
    /// Returns the service's answer, unchanged, to pass on; or, when the
    /// service panicked or was cut off, the report whose
    /// [`response`](Finished::response) to answer with.
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// use bookhook::{Endpoint, Kind, Provider, endpoint::Request};
    ///
    /// let endpoint = Endpoint::builder(Provider::Calendence).unverified().build().unwrap();
    /// let body = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
    /// let headers: [(&str, &str); 0] = [];
    /// let accepted = endpoint.begin(&Request::post(&headers, body.into())).await.unwrap();
    /// // A service of the user's own: it reads the event and answers with a status.
    /// let service = |event: bookhook::endpoint::ClaimedEvent| async move {
    ///     Ok::<u16, ()>(if event.kind() == Kind::Created { 204 } else { 422 })
    /// };
    /// let answered = accepted.pass_to(service, |status| *status, std::future::pending()).await;
    /// assert_eq!(answered.unwrap(), Ok(204)); // passed on; the claim is completed
    /// # }).unwrap();
    /// ```
    pub async fn pass_to<R, E, Fut>(
        self,
        call: impl FnOnce(ClaimedEvent) -> Fut,
        status: impl FnOnce(&R) -> u16,
        cutoff: impl Future<Output = ()>,
    ) -> Result<Result<R, E>, Finished>
    where
        Fut: Future<Output = Result<R, E>>,
    {
        let event = ClaimedEvent::new(&self);
        // Called once `settle` polls it, so that a panic while the call is
        // made is caught like one while the service runs.
        let called = async move { call(event).await };
        let judge = |answered| judge_answer(answered, status);
        let (finished, passed) = self.settle(called, judge, cutoff).await;
        passed.ok_or(finished)
    }
}

/// A request reached a `VerifiedEvent` extractor without passing through a
/// `WebhookLayer`: a mistake in the server's set-up, not in the request.
/// Answers 500 with a JSON body.
///
/// ```
/// use bookhook::endpoint::MissingWebhookLayer;
///
/// assert_eq!(MissingWebhookLayer::default().status(), 500);
/// assert!(MissingWebhookLayer::default().body_text().contains("missing_webhook_layer"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingWebhookLayer;

impl MissingWebhookLayer {
    const MESSAGE: &'static str = "no verified event: this route is not behind a WebhookLayer";

    /// 500: the server is set up wrongly.
    pub fn status(&self) -> u16 {
        500
    }

    /// The JSON body.
    pub fn body_text(&self) -> String {
        serde_json::json!({
            "error": "missing_webhook_layer",
            "message": Self::MESSAGE,
        })
        .to_string()
    }
}

impl fmt::Display for MissingWebhookLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

impl std::error::Error for MissingWebhookLayer {}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;
    use crate::endpoint::{Endpoint, Request};
    use crate::provider::Provider;

    const BODY: &str = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;

    fn endpoint() -> Endpoint {
        Endpoint::builder(Provider::Calendence)
            .unverified()
            .build()
            .unwrap()
    }

    async fn begin(endpoint: &Endpoint) -> Result<Accepted, Finished> {
        let headers: [(&str, &str); 0] = [];
        endpoint.begin(&Request::post(&headers, BODY.into())).await
    }

    /// Passes one delivery to a service answering `answer`, then sends it
    /// again and returns what the service gave back and the outcome of the
    /// second sending.
    fn pass_then_resend(answer: Result<u16, &'static str>) -> (Result<u16, &'static str>, String) {
        async {
            let endpoint = endpoint();
            let accepted = begin(&endpoint).await.unwrap();
            let service = |event: ClaimedEvent| async move {
                assert_eq!(event.delivery().event_type(), "booking.created");
                answer
            };
            let passed = accepted
                .pass_to(service, |status| *status, std::future::pending())
                .await
                .unwrap();
            let again = match begin(&endpoint).await {
                Ok(accepted) => accepted.complete().await,
                Err(finished) => finished,
            };
            (passed, again.outcome().as_str().to_owned())
        }
        .now_or_never()
        .unwrap()
    }

    #[test]
    fn a_2xx_answer_is_passed_on_and_completes_the_claim() {
        let (passed, again) = pass_then_resend(Ok(204));
        assert_eq!(passed, Ok(204));
        assert_eq!(again, "duplicate");
    }

    #[test]
    fn another_status_or_an_error_is_passed_on_and_releases_the_claim() {
        for answer in [Ok(503), Err("the service failed")] {
            let (passed, again) = pass_then_resend(answer);
            assert_eq!(passed, answer);
            assert_eq!(again, "handled", "{answer:?}: released, so the retry runs");
        }
    }

    /// Passes one delivery to `call`, which must not answer: the claim is
    /// released and the core answers 500.
    async fn check_released_with_500<Fut>(
        call: impl FnOnce(ClaimedEvent) -> Fut,
        cutoff: impl Future<Output = ()>,
    ) where
        Fut: Future<Output = Result<u16, ()>>,
    {
        let endpoint = endpoint();
        let accepted = begin(&endpoint).await.unwrap();
        let finished = accepted
            .pass_to(call, |status| *status, cutoff)
            .await
            .unwrap_err();
        assert_eq!(finished.status(), 500);
        assert!(begin(&endpoint).await.is_ok(), "released for the retry");
    }

    #[test]
    fn a_panic_while_calling_the_service_releases_the_claim_with_the_cores_500() {
        let call = |_event| -> std::future::Ready<Result<u16, ()>> {
            panic!("the service panics on purpose")
        };
        check_released_with_500(call, std::future::pending())
            .now_or_never()
            .unwrap();
    }

    #[test]
    fn a_cut_off_service_releases_the_claim_with_the_cores_500() {
        let call = |_event| std::future::pending();
        check_released_with_500(call, std::future::ready(()))
            .now_or_never()
            .unwrap();
    }
}
