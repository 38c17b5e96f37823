//! `bookhook providers`: what each provider signs with, and how its events
//! are identified.

use std::io::Write;
use std::process::ExitCode;

use bookhook::Provider;
use bookhook::provider::{calendence, decoda, eagenda, moncreneau, orufy, standard};
use serde_json::json;

use crate::cli::ProvidersArgs;
use crate::error::CliError;

/// One provider as listed.
pub(crate) struct Info {
    pub(crate) provider: Provider,
    pub(crate) scheme: &'static str,
    pub(crate) headers: Vec<String>,
    /// Query parameters the scheme reads (a token in the URL), if any.
    pub(crate) query: Vec<String>,
    pub(crate) dedup_key: &'static str,
    /// Known (typed) event types; empty when any type is accepted as it is.
    pub(crate) event_types: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn scheme_name(scheme: impl Into<bookhook::Scheme>) -> &'static str {
    scheme.into().name()
}

/// Every provider, in the core's order.
pub(crate) fn all() -> Vec<Info> {
    Provider::ALL.into_iter().filter_map(info).collect()
}

fn info(provider: Provider) -> Option<Info> {
    Some(match provider {
        Provider::Eagenda => Info {
            provider,
            scheme: scheme_name(eagenda::scheme()),
            headers: strings(&["Authorization"]),
            query: Vec::new(),
            dedup_key: "event + data.appointment_key + timestamp (else the body's sha-256)",
            event_types: strings(&[
                "appointment.created",
                "appointment.updated",
                "appointment.canceled",
            ]),
        },
        Provider::Moncreneau => Info {
            provider,
            scheme: scheme_name(moncreneau::scheme()),
            headers: strings(&[
                moncreneau::SIGNATURE_HEADER,
                moncreneau::SDK_SIGNATURE_HEADER,
            ]),
            query: Vec::new(),
            dedup_key: "id",
            event_types: strings(&[
                "appointment.created",
                "appointment.updated",
                "appointment.cancelled",
                "appointment.confirmed",
                "appointment.validated",
                "appointment.completed",
            ]),
        },
        Provider::Orufy => Info {
            provider,
            scheme: scheme_name(orufy::scheme()),
            headers: strings(&["Authorization"]),
            query: strings(&["token"]),
            dedup_key: "eventType + meetData._id + cancellation/reschedule timestamp or updatedAt (else the body's sha-256)",
            event_types: strings(&["BOOK", "CANCEL", "RESCHEDULE", "NO_SHOW"]),
        },
        Provider::Calendence => Info {
            provider,
            scheme: scheme_name(calendence::scheme()),
            headers: strings(&[calendence::SIGNATURE_HEADER]),
            query: Vec::new(),
            dedup_key: "event + data.id + timestamp (else the body's sha-256)",
            event_types: strings(&[
                "booking.created",
                "booking.updated",
                "booking.cancelled",
                "booking.completed",
            ]),
        },
        Provider::Decoda => Info {
            provider,
            scheme: scheme_name(decoda::scheme()),
            headers: strings(&[decoda::SIGNATURE_HEADER]),
            query: Vec::new(),
            dedup_key: "alertId (else id)",
            event_types: decoda::EventType::ALL
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
        },
        Provider::Standard => Info {
            provider,
            scheme: scheme_name(standard::scheme()),
            headers: strings(&[
                bookhook::WEBHOOK_ID,
                bookhook::WEBHOOK_TIMESTAMP,
                bookhook::WEBHOOK_SIGNATURE,
                bookhook::SVIX_ID,
                bookhook::SVIX_TIMESTAMP,
                bookhook::SVIX_SIGNATURE,
            ]),
            query: Vec::new(),
            dedup_key: "webhook-id header (or svix-id)",
            event_types: Vec::new(),
        },
        Provider::Hmac => Info {
            provider,
            scheme: "hmac-sha256",
            headers: strings(&["--header NAME"]),
            query: Vec::new(),
            dedup_key: "id (else the body's sha-256)",
            event_types: Vec::new(),
        },
        // A provider this version of the command does not describe yet.
        _ => return None,
    })
}

pub(crate) fn run(args: &ProvidersArgs) -> Result<ExitCode, CliError> {
    let infos = all();
    let text = if args.json {
        let rows: Vec<_> = infos
            .iter()
            .map(|info| {
                json!({
                    "name": info.provider.as_str(),
                    "scheme": info.scheme,
                    "headers": info.headers,
                    "query": info.query,
                    "dedup_key": info.dedup_key,
                    "event_types": info.event_types,
                })
            })
            .collect();
        format!("{}\n", serde_json::Value::Array(rows))
    } else {
        table(&infos)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|err| CliError::failure(format!("cannot write the list: {err}")))?;
    Ok(ExitCode::SUCCESS)
}

fn table(infos: &[Info]) -> String {
    let rows: Vec<[String; 5]> = infos
        .iter()
        .map(|info| {
            let types = if info.event_types.is_empty() {
                "any".to_owned()
            } else {
                info.event_types.join(",")
            };
            // A token read from the URL shows as `?name=` beside the headers.
            let sources: Vec<String> = info
                .headers
                .iter()
                .cloned()
                .chain(info.query.iter().map(|name| format!("?{name}=")))
                .collect();
            [
                info.provider.as_str().to_owned(),
                info.scheme.to_owned(),
                sources.join(","),
                info.dedup_key.to_owned(),
                types,
            ]
        })
        .collect();
    let header = [
        "PROVIDER".to_owned(),
        "SCHEME".to_owned(),
        "HEADERS".to_owned(),
        "DEDUP KEY".to_owned(),
        "EVENT TYPES".to_owned(),
    ];
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_is_described() {
        let infos = all();
        assert_eq!(infos.len(), Provider::ALL.len());
        for info in &infos {
            assert!(!info.headers.is_empty(), "{}", info.provider);
            assert!(!info.dedup_key.is_empty(), "{}", info.provider);
        }
    }

    fn minimal_body(provider: Provider, event_type: &str) -> String {
        let t = serde_json::Value::from(event_type);
        match provider {
            Provider::Eagenda => format!(
                r#"{{"event":{t},"timestamp":"2026-01-01T00:00:00Z","data":{{"appointment_key":"a"}}}}"#
            ),
            Provider::Moncreneau => {
                format!(r#"{{"id":"e","type":{t},"data":{{"object":{{"id":1}}}}}}"#)
            }
            Provider::Orufy => format!(r#"{{"eventType":{t},"meetData":{{"_id":"m"}}}}"#),
            Provider::Calendence => format!(r#"{{"event":{t},"data":{{"id":"b"}}}}"#),
            _ => format!(r#"{{"id":"e","alertId":"a","type":{t},"data":{{"id":"x"}}}}"#),
        }
    }

    #[test]
    fn listed_event_types_are_the_core_spellings() {
        for info in all() {
            for event_type in &info.event_types {
                let body = minimal_body(info.provider, event_type);
                let delivery =
                    bookhook::Delivery::parse(info.provider, &bookhook::NoHeaders, body.into())
                        .unwrap();
                assert_eq!(delivery.event_type(), event_type, "{}", info.provider);
            }
        }
    }

    /// `send --event TYPE` works for every type `providers` lists.
    #[test]
    fn every_listed_event_type_has_a_sample() {
        for info in all() {
            for event_type in &info.event_types {
                let body =
                    crate::fixture::sample(info.provider, event_type).unwrap_or_else(|err| {
                        panic!("{} {event_type}: no sample: {err:?}", info.provider)
                    });
                let delivery =
                    bookhook::Delivery::parse(info.provider, &bookhook::NoHeaders, body.into())
                        .unwrap_or_else(|err| panic!("{} {event_type}: {err}", info.provider));
                assert_eq!(delivery.raw_event_type(), event_type, "{}", info.provider);
            }
        }
    }

    #[test]
    fn every_verified_header_and_parameter_is_listed() {
        let orufy = info(Provider::Orufy).unwrap();
        assert_eq!(orufy.headers, ["Authorization"]);
        assert_eq!(orufy.query, ["token"]);
        let standard = info(Provider::Standard).unwrap();
        for name in [
            bookhook::WEBHOOK_ID,
            bookhook::WEBHOOK_TIMESTAMP,
            bookhook::WEBHOOK_SIGNATURE,
            bookhook::SVIX_ID,
            bookhook::SVIX_TIMESTAMP,
            bookhook::SVIX_SIGNATURE,
        ] {
            assert!(standard.headers.iter().any(|h| h == name), "{name}");
        }
        let text = table(&all());
        let row = text.lines().find(|l| l.starts_with("orufy ")).unwrap();
        assert!(row.contains("Authorization,?token="), "{row}");
    }

    #[test]
    fn table_has_one_row_per_provider() {
        let text = table(&all());
        assert_eq!(text.lines().count(), Provider::ALL.len() + 1);
        for provider in Provider::ALL {
            assert!(
                text.lines()
                    .any(|line| line.starts_with(&format!("{provider} "))),
                "{provider}"
            );
        }
    }
}
