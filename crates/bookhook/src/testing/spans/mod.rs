//! A `tracing` layer that records spans (name, parent, fields) and the spans around each event.
//!
//! For tests that check the delivery span ([`DELIVERY_SPAN`]): install a
//! [`SpanRecorder`] in a subscriber, send a request, then read
//! [`SpanRecorder::delivery`]. A web adapter runs [`check_dispatcher`],
//! [`check_layer`] and [`check_inbox`] instead, which do that through each
//! of its entry points.
//!
//! ```
//! use bookhook::testing::spans::SpanRecorder;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let recorder = SpanRecorder::default();
//! let subscriber = tracing_subscriber::registry().with(recorder.clone());
//! tracing::subscriber::with_default(subscriber, || {
//!     let outer = tracing::info_span!("request");
//!     let _outer = outer.enter();
//!     let span = tracing::info_span!("bookhook.delivery", status = tracing::field::Empty);
//!     span.record("status", 200_u16);
//!     span.in_scope(|| tracing::info!(target: "handler", "handled"));
//! });
//! let delivery = recorder.delivery();
//! assert_eq!(delivery.parent.as_deref(), Some("request"));
//! assert_eq!(delivery.field("status"), Some("200"));
//! assert_eq!(recorder.scope_of("handler"), ["bookhook.delivery", "request"]);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

mod adapter;

pub use self::adapter::{
    PATH, SpanRequest, USERS_HANDLER, USERS_SPAN, check_dispatcher, check_inbox, check_layer,
};
pub use crate::span::DELIVERY_SPAN;

/// One span as recorded: its name, its parent's name and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedSpan {
    /// The span's name.
    pub name: String,
    /// The name of its parent, if it had one.
    pub parent: Option<String>,
    /// Its fields with a value, as text (strings without quotes).
    pub fields: BTreeMap<String, String>,
}

impl RecordedSpan {
    /// The value of field `name`, if it was recorded.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// One event as recorded: its target and the names of the spans around it,
/// innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The event's target.
    pub target: String,
    /// The spans around it, innermost first.
    pub scope: Vec<String>,
}

#[derive(Debug, Default)]
struct Recorded {
    spans: Vec<RecordedSpan>,
    events: Vec<RecordedEvent>,
}

/// A `tracing_subscriber` layer that records every span and event. Clones
/// share what they recorded.
#[derive(Debug, Clone, Default)]
pub struct SpanRecorder(Arc<Mutex<Recorded>>);

/// Where a span's record is kept, in the span's extensions.
struct Index(usize);

impl SpanRecorder {
    fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every span recorded, in the order they were created.
    pub fn spans(&self) -> Vec<RecordedSpan> {
        self.lock().spans.clone()
    }

    /// Every event recorded, in order.
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.lock().events.clone()
    }

    /// The one delivery span ([`DELIVERY_SPAN`]) recorded.
    ///
    /// # Panics
    ///
    /// If there is not exactly one.
    pub fn delivery(&self) -> RecordedSpan {
        let spans = self.spans();
        let deliveries: Vec<_> = spans.iter().filter(|s| s.name == DELIVERY_SPAN).collect();
        match deliveries.as_slice() {
            [one] => (*one).clone(),
            _ => panic!("{} delivery spans, not one: {spans:?}", deliveries.len()),
        }
    }

    /// Checks the one delivery span: a child of the span named `parent`,
    /// with `provider`, `outcome`, `status` and `latency_us` recorded,
    /// `outcome` and `status` as given, `event_type` as given (`None` for a
    /// delivery refused before it was parsed, with no `key` either), and the
    /// first event of each target in `inside` (a prefix, as in
    /// [`scope_of`](Self::scope_of)) logged right inside it. Returns it.
    ///
    /// # Panics
    ///
    /// If there is not exactly one delivery span, or it is not so.
    pub fn check_delivery(
        &self,
        parent: &str,
        (outcome, status): (&str, u16),
        event_type: Option<&str>,
        inside: &[&str],
    ) -> RecordedSpan {
        let span = self.delivery();
        assert_eq!(span.parent.as_deref(), Some(parent), "{span:?}");
        assert!(span.field("provider").is_some(), "{span:?}");
        assert_eq!(span.field("outcome"), Some(outcome), "{span:?}");
        assert_eq!(
            span.field("status"),
            Some(status.to_string().as_str()),
            "{span:?}"
        );
        let latency = span.field("latency_us").map(str::parse::<u64>);
        assert!(matches!(latency, Some(Ok(_))), "{span:?}");
        assert_eq!(span.field("event_type"), event_type, "{span:?}");
        assert_eq!(
            span.field("key").is_some(),
            event_type.is_some(),
            "{span:?}"
        );
        for target in inside {
            assert_eq!(self.scope_of(target), [DELIVERY_SPAN, parent], "`{target}`");
        }
        span
    }

    /// The spans around the first event whose target starts with `target`
    /// (`bookhook` finds the core's own lines), innermost first.
    ///
    /// # Panics
    ///
    /// If no event had such a target.
    pub fn scope_of(&self, target: &str) -> Vec<String> {
        let events = self.events();
        events
            .iter()
            .find(|e| e.target.starts_with(target))
            .map(|e| e.scope.clone())
            .unwrap_or_else(|| panic!("no event with a target `{target}…`: {events:?}"))
    }
}

impl<S> tracing_subscriber::Layer<S> for SpanRecorder
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let mut recorded = self.lock();
        recorded.spans.push(RecordedSpan {
            name: span.name().to_owned(),
            parent: span.parent().map(|p| p.name().to_owned()),
            fields: fields.0,
        });
        span.extensions_mut()
            .insert(Index(recorded.spans.len() - 1));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(index) = span.extensions().get::<Index>().map(|i| i.0) else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(recorded) = self.lock().spans.get_mut(index) {
            recorded.fields.extend(fields.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let scope = ctx
            .event_scope(event)
            .map(|scope| scope.map(|span| span.name().to_owned()).collect())
            .unwrap_or_default();
        self.lock().events.push(RecordedEvent {
            target: event.metadata().target().to_owned(),
            scope,
        });
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}
