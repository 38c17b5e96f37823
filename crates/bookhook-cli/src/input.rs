//! Reading a body from a file or from standard input.

use std::io::Read;
use std::path::Path;

use bytes::Bytes;

use crate::error::CliError;

/// The bytes of `file`, or of standard input when it is `-` or absent.
pub(crate) fn read_body(file: Option<&Path>) -> Result<Bytes, CliError> {
    match file {
        Some(path) if path != Path::new("-") => std::fs::read(path)
            .map(Bytes::from)
            .map_err(|err| CliError::failure(format!("cannot read {}: {err}", path.display()))),
        _ => {
            let mut body = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut body)
                .map_err(|err| CliError::failure(format!("cannot read standard input: {err}")))?;
            Ok(Bytes::from(body))
        }
    }
}
