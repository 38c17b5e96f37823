//! `bookhook providers`: what each provider signs with, and how its events
//! are identified.

use std::io::Write;
use std::process::ExitCode;

use bookhook::Provider;
use serde_json::json;

use crate::cli::ProvidersArgs;
use crate::error::CliError;

/// One provider as listed: what the core's description of it says.
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

/// Every provider, in the core's order.
pub(crate) fn all() -> Vec<Info> {
    Provider::ALL.into_iter().map(info).collect()
}

fn info(provider: Provider) -> Info {
    let description = provider.description();
    Info {
        provider,
        scheme: description.scheme_name,
        headers: strings(description.headers),
        query: strings(description.query),
        dedup_key: description.dedup_key,
        event_types: description
            .event_types
            .iter()
            .map(|t| t.name.to_owned())
            .collect(),
    }
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

    /// `send --event TYPE` works for every type `providers` lists, and the
    /// listed spelling is the core's canonical one.
    #[test]
    fn every_listed_event_type_has_a_sample() {
        for info in all() {
            for event_type in &info.event_types {
                let body =
                    crate::fixture::sample(info.provider, event_type).unwrap_or_else(|err| {
                        panic!("{} {event_type}: no sample: {err:?}", info.provider)
                    });
                let delivery = bookhook::Delivery::parse(
                    info.provider,
                    &bookhook::endpoint::NoHeaders,
                    body.into(),
                )
                .unwrap_or_else(|err| panic!("{} {event_type}: {err}", info.provider));
                assert_eq!(delivery.raw_event_type(), event_type, "{}", info.provider);
                assert_eq!(delivery.event_type(), event_type, "{}", info.provider);
            }
        }
    }

    #[test]
    fn every_verified_header_and_parameter_is_listed() {
        let orufy = info(Provider::Orufy);
        assert_eq!(orufy.headers, ["Authorization"]);
        assert_eq!(orufy.query, ["token"]);
        let standard = info(Provider::Standard);
        for name in [
            bookhook::signature::WEBHOOK_ID,
            bookhook::signature::WEBHOOK_TIMESTAMP,
            bookhook::signature::WEBHOOK_SIGNATURE,
            bookhook::signature::SVIX_ID,
            bookhook::signature::SVIX_TIMESTAMP,
            bookhook::signature::SVIX_SIGNATURE,
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
