//! `bookhook verify`: is this request authentic, and does its body parse?

use std::io::Write;
use std::process::ExitCode;

use bookhook::endpoint::{ManualClock, Request};

use crate::cli::VerifyArgs;
use crate::endpoint;
use crate::error::{CliError, EXIT_FAILURE};
use crate::input::read_body;

pub(crate) fn run(args: &VerifyArgs) -> Result<ExitCode, CliError> {
    let headers = args
        .headers
        .iter()
        .map(|header| parse_header(header))
        .collect::<Result<Vec<_>, _>>()?;
    let mut builder = args.provider.builder()?;
    if let Some(now) = args.now {
        builder = builder.clock(ManualClock::at_unix(now));
    }
    let endpoint = endpoint::build(builder)?;
    let body = read_body(args.file.as_deref())?;
    // A leading `?` pasted with the query string is not part of it.
    let query = args
        .query
        .as_deref()
        .map(|q| q.strip_prefix('?').unwrap_or(q));
    let request = Request::post(&headers, body).with_query(query);
    let (line, code) = match endpoint.verify_and_parse(&request) {
        Ok(_) => ("valid".to_owned(), ExitCode::SUCCESS),
        Err(rejection) => (
            format!("invalid: {rejection}"),
            ExitCode::from(EXIT_FAILURE),
        ),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|err| CliError::failure(format!("cannot write the result: {err}")))?;
    Ok(code)
}

/// Splits `Name: value` at the first colon; the value is trimmed as HTTP does.
pub(crate) fn parse_header(text: &str) -> Result<(String, String), CliError> {
    let bad = |why: &str| CliError::usage(format!("invalid header `{text}`: {why}"));
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| bad("expected `Name: value`"))?;
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(bad("the name must be a non-empty http token"));
    }
    let value = value.trim_matches([' ', '\t']);
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(bad("the value holds a line break or a nul byte"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_at_the_first_colon() {
        assert_eq!(
            parse_header("webhook-signature: v1,abc:def ").unwrap(),
            ("webhook-signature".into(), "v1,abc:def".into())
        );
        assert_eq!(
            parse_header("X-Empty:").unwrap(),
            ("X-Empty".into(), String::new())
        );
    }

    #[test]
    fn malformed_headers_are_usage_errors() {
        for text in ["no colon", ": value", "bad name: v", "X-A: one\ntwo"] {
            assert!(
                matches!(parse_header(text), Err(CliError::Usage(_))),
                "{text}"
            );
        }
    }
}
