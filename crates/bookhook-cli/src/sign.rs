//! `bookhook sign`: the headers a sender adds to a body.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use bookhook::signature::SignRequest;

use crate::cli::SignArgs;
use crate::error::CliError;
use crate::input::read_body;

pub(crate) fn run(args: &SignArgs) -> Result<ExitCode, CliError> {
    let endpoint = args.provider.endpoint()?;
    let body = read_body(args.file.as_deref())?;
    let mut request = match args.timestamp {
        Some(secs) => SignRequest::at(
            UNIX_EPOCH
                .checked_add(Duration::from_secs(secs))
                .ok_or_else(|| CliError::usage("--timestamp is out of range"))?,
        ),
        None => SignRequest::now(),
    };
    if let Some(id) = &args.id {
        request = request.with_id(id.as_str());
    }
    let signed = endpoint.sign(&body, &request);
    let mut out = std::io::stdout().lock();
    for (name, value) in &signed.headers {
        writeln!(out, "{name}: {value}")
            .map_err(|err| CliError::failure(format!("cannot write the headers: {err}")))?;
    }
    out.flush()
        .map_err(|err| CliError::failure(format!("cannot write the headers: {err}")))?;
    Ok(ExitCode::SUCCESS)
}
