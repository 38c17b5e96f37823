//! `bookhook`: list the supported providers, sign and verify webhook requests,
//! send signed test deliveries, run a local receiver and look at its inbox.
//!
//! Every signature and every parse goes through the `bookhook` core; this
//! binary only reads arguments, moves bytes and prints results.

mod cli;
mod client;
mod endpoint;
mod error;
mod fixture;
mod inbox;
mod inbox_url;
mod input;
mod listen;
mod metrics;
mod output;
mod providers;
mod send;
mod sign;
mod table;
mod ui;
mod verify;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(code) => code,
        Err(err) => err.report(),
    }
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Providers(args) => providers::run(&args),
        Command::Sign(args) => sign::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Send(args) => runtime()?.block_on(send::run(args)),
        Command::Listen(args) => runtime()?.block_on(listen::run(*args)),
        Command::Inbox(args) => runtime()?.block_on(inbox::run(args)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| CliError::failure(format!("cannot start the async runtime: {err}")))
}

/// Logs of the core (warnings by default) go to stderr; `RUST_LOG` changes the level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Another subscriber can only be set by this function, which runs once.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
