//! The filters of a listing as they travel in the URL (and in the bulk
//! replay's form), read back into an inbox [`Filter`].

use std::collections::HashMap;

use bookhook::Provider;
use bookhook::inbox::{Filter, InboxId, State};

use crate::format;

/// The decoded pairs of a query string or form body (the last value of a
/// name wins).
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Whether some field was sent empty (a filter form left blank).
    pub(crate) fn has_empty(&self) -> bool {
        self.0.values().any(|v| v.trim().is_empty())
    }

    /// The value of `name`, trimmed, when it is not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// A listing's filters, as typed in the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListQuery {
    pub(crate) state: Option<State>,
    pub(crate) provider: Option<Provider>,
    pub(crate) event_type: String,
    pub(crate) appointment: String,
    pub(crate) since: String,
    pub(crate) before: String,
    since_ms: Option<i64>,
    before_ms: Option<i64>,
    /// The page cursor: rows older than this id.
    pub(crate) cursor: Option<InboxId>,
}

impl ListQuery {
    /// Reads the filters; a value that is not a state, a provider, a time or
    /// an id is an error that names the field.
    pub(crate) fn read(params: &Params) -> Result<Self, String> {
        let state = params
            .get("state")
            .map(|s| {
                s.parse::<State>()
                    .map_err(|_| format!("unknown state `{s}`"))
            })
            .transpose()?;
        let provider = params
            .get("provider")
            .map(|p| {
                p.parse::<Provider>()
                    .map_err(|_| format!("unknown provider `{p}`"))
            })
            .transpose()?;
        let time = |name: &str| {
            params
                .get(name)
                .map(|t| {
                    format::parse_time(t).ok_or_else(|| {
                        format!("`{name}` is not a time: give 2026-03-24T14:30 (UTC) or RFC 3339")
                    })
                })
                .transpose()
        };
        let cursor = params
            .get("cursor")
            .map(|c| {
                c.parse::<InboxId>()
                    .map_err(|_| "the page cursor is not an event id".to_owned())
            })
            .transpose()?;
        Ok(Self {
            state,
            provider,
            event_type: params.get("type").unwrap_or_default().to_owned(),
            appointment: params.get("appointment").unwrap_or_default().to_owned(),
            since: params.get("since").unwrap_or_default().to_owned(),
            before: params.get("before").unwrap_or_default().to_owned(),
            since_ms: time("since")?,
            before_ms: time("before")?,
            cursor,
        })
    }

    /// The inbox filter these fields select.
    pub(crate) fn filter(&self) -> Filter {
        let mut filter = Filter::default();
        if let Some(state) = self.state {
            filter = filter.state(state);
        }
        if let Some(provider) = self.provider {
            filter = filter.provider(provider);
        }
        if !self.event_type.is_empty() {
            filter = filter.event_type(self.event_type.clone());
        }
        if !self.appointment.is_empty() {
            filter = filter.ordering_key(self.appointment.clone());
        }
        if let Some(since) = self.since_ms {
            filter = filter.since_ms(since);
        }
        if let Some(before) = self.before_ms {
            filter = filter.before_ms(before);
        }
        filter
    }

    /// Whether any filter is set (the cursor aside).
    pub(crate) fn is_filtered(&self) -> bool {
        self.filter() != Filter::default()
    }

    /// The pairs that carry these filters, with `cursor` for a page; `state`
    /// left out when `with_state` is false (the dead letters' own state).
    pub(crate) fn pairs(&self, with_state: bool, cursor: Option<InboxId>) -> Vec<(&str, String)> {
        let mut pairs = Vec::new();
        if let Some(state) = self.state.filter(|_| with_state) {
            pairs.push(("state", state.as_str().to_owned()));
        }
        if let Some(provider) = self.provider {
            pairs.push(("provider", provider.as_str().to_owned()));
        }
        for (name, value) in [
            ("type", &self.event_type),
            ("appointment", &self.appointment),
            ("since", &self.since),
            ("before", &self.before),
        ] {
            if !value.is_empty() {
                pairs.push((name, value.clone()));
            }
        }
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor.to_string()));
        }
        pairs
    }

    /// [`pairs`](Self::pairs) as a query string, with its `?` (or empty).
    pub(crate) fn to_query(&self, with_state: bool, cursor: Option<InboxId>) -> String {
        encode(&self.pairs(with_state, cursor))
    }
}

/// `?a=1&b=2`, or an empty string for no pairs.
pub(crate) fn encode(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut serializer = form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_the_query_string() {
        let params = Params::parse(
            b"state=dead&provider=calendence&type=booking.created&appointment=a+1&since=2026-03-24T14%3A30&cursor=40",
        );
        let query = ListQuery::read(&params).unwrap();
        assert_eq!(query.state, Some(State::Dead));
        assert_eq!(query.appointment, "a 1");
        assert_eq!(query.cursor, Some(InboxId::new(40)));
        assert_eq!(query.filter().since_ms, Some(1_774_362_600_000));
        let again = ListQuery::read(&Params::parse(
            &query.to_query(true, query.cursor).as_bytes()[1..],
        ))
        .unwrap();
        assert_eq!(again, query);
    }

    #[test]
    fn bad_values_name_their_field() {
        let err = ListQuery::read(&Params::parse(b"state=lost")).unwrap_err();
        assert_eq!(err, "unknown state `lost`");
        let err = ListQuery::read(&Params::parse(b"since=soon")).unwrap_err();
        assert!(err.starts_with("`since` is not a time"), "{err}");
        assert!(ListQuery::read(&Params::parse(b"cursor=x")).is_err());
    }

    #[test]
    fn empty_fields_are_no_filter() {
        let query = ListQuery::read(&Params::parse(b"state=&type=&provider=")).unwrap();
        assert!(!query.is_filtered());
        assert_eq!(query.to_query(true, None), "");
    }
}
