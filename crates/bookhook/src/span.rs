//! The one `tracing` span of a delivery: its name, its fields, and when each is recorded.
//!
//! Every delivery, in direct mode (a [`Dispatcher`](crate::Dispatcher) or a
//! web adapter's `WebhookLayer`) and in inbox mode ([`Ingest`](crate::inbox::Ingest)),
//! runs inside one span named [`DELIVERY_SPAN`], a child of the caller's
//! span (the adapters carry that onto the delivery's task). It is entered
//! around verification, the store or inbox calls and the handler, so the
//! handler's own logs and bookhook's line for the delivery are inside it.
//!
//! Its fields: `provider` from the start; `event_type` and `key` once the
//! body is verified and parsed; `outcome`, `status` and `latency_us` once the
//! delivery is finished. A request refused before its body was read (too
//! large, too slow) gets a span of its own with what is known.

use std::time::Duration;

use tracing::Span;
use tracing::field::Empty;

use crate::event::Delivery;
use crate::outcome::Outcome;
use crate::provider::Provider;

/// The name of the span around each delivery.
pub const DELIVERY_SPAN: &str = "bookhook.delivery";

/// A new delivery span for `provider`, a child of the current span.
pub(crate) fn delivery(provider: Provider) -> Span {
    tracing::info_span!(
        "bookhook.delivery",
        provider = provider.as_str(),
        event_type = Empty,
        key = Empty,
        outcome = Empty,
        status = Empty,
        latency_us = Empty,
    )
}

/// Records what verification and parsing found.
pub(crate) fn record_delivery(span: &Span, delivery: &Delivery) {
    span.record("event_type", delivery.event_type());
    span.record("key", delivery.idempotency_key());
}

/// Records how the delivery ended.
pub(crate) fn record_outcome(span: &Span, outcome: &Outcome, latency: Duration) {
    span.record("outcome", outcome.as_str());
    span.record("status", outcome.status());
    span.record(
        "latency_us",
        u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_is_named_as_documented() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = delivery(Provider::Calendence);
            assert_eq!(span.metadata().map(|m| m.name()), Some(DELIVERY_SPAN));
        });
    }
}
