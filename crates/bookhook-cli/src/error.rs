//! How a command fails: a usage error (exit 2, as clap's own) or a runtime
//! failure (exit 1).

use std::fmt;
use std::process::ExitCode;

/// Exit code of a command whose check failed or whose work could not be done.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage error, the same as clap's.
pub(crate) const EXIT_USAGE: u8 = 2;

#[derive(Debug)]
pub(crate) enum CliError {
    /// The arguments make no sense together, or a value is invalid.
    Usage(String),
    /// The command could not do its work (unreadable file, network error, ...).
    Failure(String),
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    pub(crate) fn failure(message: impl Into<String>) -> Self {
        CliError::Failure(message.into())
    }

    /// Prints the error to stderr and gives the exit code.
    pub(crate) fn report(&self) -> ExitCode {
        match self {
            CliError::Usage(message) => {
                eprintln!("error: {message}\n\nFor more information, try '--help'.");
                ExitCode::from(EXIT_USAGE)
            }
            CliError::Failure(message) => {
                eprintln!("error: {message}");
                ExitCode::from(EXIT_FAILURE)
            }
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(message) | CliError::Failure(message) => f.write_str(message),
        }
    }
}
