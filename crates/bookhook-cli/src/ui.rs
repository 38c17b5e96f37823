//! `bookhook inbox ui`: the inbox dashboard, served on a loopback address.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use bookhook_axum::dashboard::{self, Dashboard};
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::UiArgs;
use crate::error::CliError;
use crate::inbox_url::InboxUrl;

pub(crate) async fn run(args: UiArgs) -> Result<ExitCode, CliError> {
    let url = InboxUrl::resolve(args.url.inbox.as_deref())?;
    let inbox = url.open_existing().await?;
    let token = match args.token {
        Some(token) => token,
        None => Dashboard::random_token()
            .map_err(|err| CliError::failure(format!("cannot make an access token: {err}")))?,
    };
    let dashboard = Dashboard::builder(inbox)
        .token(token.clone())
        .build()
        .map_err(|err| CliError::usage(format!("invalid dashboard settings: {err}")))?;
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "warning: the dashboard listens on {}, which is not a loopback address: anyone who \
             can reach it and has the token can replay events; prefer 127.0.0.1 behind an SSH \
             tunnel or your own HTTPS proxy",
            args.addr
        );
    }
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|err| CliError::failure(format!("cannot handle SIGTERM: {err}")))?;
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|err| CliError::failure(format!("cannot handle SIGINT: {err}")))?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|err| CliError::failure(format!("cannot listen on {}: {err}", args.addr)))?;
    let bound = listener
        .local_addr()
        .map_err(|err| CliError::failure(format!("cannot read the bound address: {err}")))?;
    let app = Router::new().merge(dashboard::router(dashboard));
    eprintln!("inbox {}", url.shown());
    println!("dashboard on {}", link(bound, &token));
    bookhook_axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
        .await
        .map_err(|err| CliError::failure(format!("the dashboard server failed: {err}")))?;
    Ok(ExitCode::SUCCESS)
}

/// The link to open: the address (an unspecified one read as loopback) and the token.
fn link(bound: SocketAddr, token: &str) -> String {
    let host = match bound {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => format!("127.0.0.1:{}", v4.port()),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => format!("[::1]:{}", v6.port()),
        other => other.to_string(),
    };
    let token: String = encode_token(token);
    format!("http://{host}/?token={token}")
}

/// The token for a query string: the characters a URL keeps as they are,
/// the others percent-encoded.
fn encode_token(token: &str) -> String {
    token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_names_a_reachable_host_and_encodes_the_token() {
        let any: SocketAddr = "0.0.0.0:5050".parse().unwrap();
        assert_eq!(link(any, "a+b c"), "http://127.0.0.1:5050/?token=a%2Bb%20c");
        let loopback: SocketAddr = "127.0.0.1:6000".parse().unwrap();
        assert_eq!(link(loopback, "abc"), "http://127.0.0.1:6000/?token=abc");
    }
}
