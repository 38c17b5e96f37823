//! `bookhook send`: sign a body (or a built-in sample) and POST it.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bookhook::{Delivery, signature::SignRequest};
use tokio::task::JoinSet;

use crate::cli::SendArgs;
use crate::client::{Client, Target};
use crate::error::{CliError, EXIT_FAILURE};
use crate::fixture;
use crate::input::read_body;

/// How long one request may take, connection to last byte. A receiver that
/// runs a slow handler before answering needs this much.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest part of an error response echoed to stderr.
const MAX_ECHO: usize = 512;

pub(crate) async fn run(args: SendArgs) -> Result<ExitCode, CliError> {
    let target = Target::parse(&args.url).map_err(CliError::usage)?;
    let client = Client::new(&target, REQUEST_TIMEOUT).map_err(CliError::failure)?;
    let endpoint = args.provider.endpoint()?;
    let provider = endpoint.provider();
    let body = match &args.event {
        Some(event_type) => bytes::Bytes::from(fixture::sample(provider, event_type)?),
        None => read_body(args.file.as_deref())?,
    };
    let signed = endpoint.sign(&body, &SignRequest::now());
    let target = target.with_query(signed.query.as_deref());

    // The line printed for each request names the event as the receiver will see it.
    let (event_type, key) = match Delivery::parse(provider, &signed.headers, body.clone()) {
        Ok(delivery) => (
            delivery.event_type().to_owned(),
            delivery.idempotency_key().to_owned(),
        ),
        Err(err) => {
            eprintln!("warning: the body does not parse as a {provider} event: {err}");
            ("-".to_owned(), "-".to_owned())
        }
    };

    let request = Arc::new(Prepared {
        client,
        target,
        headers: signed.headers,
        body,
        label: format!("{event_type} {key}"),
    });
    // At most `concurrency` requests in flight, and no more tasks than that at once.
    let concurrency = usize::try_from(args.concurrency).unwrap_or(usize::MAX);
    let mut remaining = args.repeat;
    let mut tasks = JoinSet::new();
    let mut failed = 0u64;
    while remaining > 0 || !tasks.is_empty() {
        while remaining > 0 && tasks.len() < concurrency {
            let request = Arc::clone(&request);
            tasks.spawn(async move { request.send().await });
            remaining -= 1;
        }
        match tasks.join_next().await {
            Some(Ok(true)) | None => {}
            Some(Ok(false)) => failed += 1,
            Some(Err(err)) => {
                eprintln!("error: a request task stopped: {err}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} requests did not get a 2xx response",
            args.repeat
        );
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}

/// One signed request, sent as many times as asked.
struct Prepared {
    client: Client,
    target: Target,
    headers: Vec<(String, String)>,
    body: bytes::Bytes,
    /// `<event type> <idempotency key>`.
    label: String,
}

impl Prepared {
    /// Sends once and prints the line; `true` for a 2xx response.
    async fn send(&self) -> bool {
        match self
            .client
            .post(&self.target, &self.headers, &self.body)
            .await
        {
            Ok(reply) => {
                let mut out = std::io::stdout().lock();
                let written =
                    writeln!(out, "{} {}", reply.status, self.label).and_then(|()| out.flush());
                drop(out);
                if let Err(err) = written {
                    eprintln!("error: cannot write the result: {err}");
                }
                let ok = (200..300).contains(&reply.status);
                if !ok {
                    let echo: String = reply.body.trim().chars().take(MAX_ECHO).collect();
                    if !echo.is_empty() {
                        eprintln!("response {}: {echo}", reply.status);
                    }
                }
                ok
            }
            Err(err) => {
                eprintln!("error: {}: {err}", self.label);
                false
            }
        }
    }
}
