//! How SQLite's errors become [`InboxError`]s.

use bookhook::inbox::InboxError;
use rusqlite::ErrorCode;

/// Maps an error of SQLite to the inbox's: a damaged or foreign file is
/// [`InboxError::Incompatible`], anything else that stops a read or a write
/// (disk full, read-only, locked, I/O) is [`InboxError::Unavailable`].
pub(crate) fn from_sqlite(err: rusqlite::Error) -> InboxError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => InboxError::Incompatible {
                reason: format!("sqlite: {err}"),
            },
            _ => InboxError::Unavailable {
                reason: format!("sqlite: {err}"),
            },
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => InboxError::Incompatible {
            reason: format!("unexpected value in the inbox file: {err}"),
        },
        _ => InboxError::Unavailable {
            reason: format!("sqlite: {err}"),
        },
    }
}

/// The error of a call made after the inbox's threads stopped.
pub(crate) fn stopped() -> InboxError {
    InboxError::Unavailable {
        reason: "the sqlite inbox is shut down".to_owned(),
    }
}

/// Wraps a decoding error as the conversion failure of column `column`.
pub(crate) fn bad_column(
    column: usize,
    err: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(err))
}
