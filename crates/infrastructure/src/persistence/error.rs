//! Driver errors turned into the domain's store and write errors.
//!
//! Two rules hold for every error that leaves the adapter:
//! - a failure that retrying later may cure (no connection, pool exhausted,
//!   database busy or shutting down) is [`StoreError::Unavailable`], anything
//!   else [`StoreError::Unknown`];
//! - no SQL value reaches a message: values include tokens, which are secrets,
//!   and drivers echo them (PostgreSQL's unique-violation detail reads
//!   `Key (token_local)=(…) already exists`).

use std::fmt;

use domain::integration_point::{StoreError, UniqueField, WriteError};
use sea_orm::sqlx::{self, error::DatabaseError, postgres::PgDatabaseError, sqlite::SqliteError};
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// A database failure reduced to what may be logged: the operation and the
/// error's own message, without the driver's structured detail.
///
/// `DbErr`'s `Debug` output, and its source chain, include the detail that
/// echoes row values, so neither is kept.
pub(crate) struct DatabaseFailure {
    operation: &'static str,
    message: String,
}

impl DatabaseFailure {
    fn new(operation: &'static str, error: &DbErr) -> Self {
        Self {
            operation,
            message: error.to_string(),
        }
    }
}

impl fmt::Display for DatabaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operation, self.message)
    }
}

impl fmt::Debug for DatabaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseFailure")
            .field("operation", &self.operation)
            .field("message", &self.message)
            .finish()
    }
}

impl std::error::Error for DatabaseFailure {}

/// Classifies a failure of `operation` as unavailable or unknown.
pub(crate) fn store_error(operation: &'static str, error: &DbErr) -> StoreError {
    let failure = Box::new(DatabaseFailure::new(operation, error));
    if is_unavailable(error) {
        StoreError::Unavailable(failure)
    } else {
        StoreError::Unknown(failure)
    }
}

/// Like [`store_error`], but a unique violation on `id`, `code` or
/// `token_local` is the caller's [`WriteError::Duplicate`].
pub(crate) fn write_error(operation: &'static str, error: &DbErr) -> WriteError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => match unique_field(&message) {
            Some(field) => WriteError::Duplicate(field),
            None => store_error(operation, error).into(),
        },
        _ => store_error(operation, error).into(),
    }
}

/// Which unique field a violation message is about.
///
/// PostgreSQL names the constraint (`duplicate key value violates unique
/// constraint "ux_integration_points_code"`); SQLite names the column
/// (`UNIQUE constraint failed: integration_points.code`). The names are matched
/// whole, so no index name can be mistaken for another that shares a word.
///
/// The index names come from the migration that creates them; the repository
/// test `inserting_a_taken_id_code_or_local_token_is_a_duplicate_naming_the_field`
/// checks them against the migrated schema on both backends.
fn unique_field(message: &str) -> Option<UniqueField> {
    let name = message
        .split('"')
        .nth(1)
        .or_else(|| message.strip_prefix("UNIQUE constraint failed: "))?;
    match name {
        "integration_points_pkey" | "integration_points.id" => Some(UniqueField::Id),
        migration::UX_CODE | "integration_points.code" => Some(UniqueField::Code),
        migration::UX_TOKEN_LOCAL | "integration_points.token_local" => {
            Some(UniqueField::TokenLocal)
        }
        _ => None,
    }
}

/// Whether retrying later may succeed: the database could not be reached, or
/// refused to work for now.
pub(crate) fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            is_transient(error)
        }
        _ => false,
    }
}

/// Whether PostgreSQL refused a connection because the database it names
/// does not exist (SQLSTATE 3D000, `invalid_catalog_name`).
pub(crate) fn is_missing_database(error: &DbErr) -> bool {
    let (DbErr::Conn(RuntimeErr::SqlxError(error))
    | DbErr::Exec(RuntimeErr::SqlxError(error))
    | DbErr::Query(RuntimeErr::SqlxError(error))) = error
    else {
        return false;
    };
    matches!(
        error.as_ref(),
        sqlx::Error::Database(error)
            if error
                .try_downcast_ref::<PgDatabaseError>()
                .is_some_and(|error| error.code() == "3D000")
    )
}

fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => is_transient_database_error(error.as_ref()),
        _ => false,
    }
}

fn is_transient_database_error(error: &dyn DatabaseError) -> bool {
    if let Some(error) = error.try_downcast_ref::<PgDatabaseError>() {
        let code = error.code();
        // Class 08 is "connection exception"; 57P01..03 are a server shutting
        // down or starting up; 53300 is too many connections; 57014 is a
        // statement cancelled at the statement timeout, the server's side of
        // the deadline the pool keeps (the two race).
        return code.starts_with("08")
            || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "57014");
    }
    if error.try_downcast_ref::<SqliteError>().is_some() {
        // SQLite reports extended result codes; the low byte is the primary one.
        // BUSY and LOCKED outlasted the busy timeout; IOERR and CANTOPEN mean
        // the database file cannot be reached.
        const BUSY: u32 = 5;
        const LOCKED: u32 = 6;
        const IOERR: u32 = 10;
        const CANTOPEN: u32 = 14;
        return error
            .code()
            .and_then(|code| code.parse::<u32>().ok())
            .is_some_and(|code| matches!(code & 0xff, BUSY | LOCKED | IOERR | CANTOPEN));
    }
    false
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnAcquireErr;

    use super::*;

    #[test]
    fn unique_violations_name_the_field_on_both_backends() {
        let cases = [
            (
                r#"duplicate key value violates unique constraint "integration_points_pkey""#,
                Some(UniqueField::Id),
            ),
            (
                r#"duplicate key value violates unique constraint "ux_integration_points_code""#,
                Some(UniqueField::Code),
            ),
            (
                r#"duplicate key value violates unique constraint "ux_integration_points_token_local""#,
                Some(UniqueField::TokenLocal),
            ),
            (
                "UNIQUE constraint failed: integration_points.id",
                Some(UniqueField::Id),
            ),
            (
                "UNIQUE constraint failed: integration_points.code",
                Some(UniqueField::Code),
            ),
            (
                "UNIQUE constraint failed: integration_points.token_local",
                Some(UniqueField::TokenLocal),
            ),
            (
                r#"duplicate key value violates unique constraint "other""#,
                None,
            ),
            ("UNIQUE constraint failed: other.code", None),
            ("something else", None),
        ];
        for (message, expected) in cases {
            assert_eq!(unique_field(message), expected, "{message}");
        }
    }

    #[test]
    fn pool_exhaustion_and_lost_connections_are_unavailable() {
        let timeout = DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);
        let io = DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()).into(),
        ));
        let closed = DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::PoolClosed.into()));

        for error in [timeout, io, closed] {
            assert!(
                matches!(store_error("test", &error), StoreError::Unavailable(_)),
                "{error}"
            );
        }
    }

    #[test]
    fn other_failures_are_unknown() {
        let error = DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::ColumnNotFound("x".into()).into(),
        ));

        assert!(matches!(
            store_error("test", &error),
            StoreError::Unknown(_)
        ));
    }

    #[test]
    fn failures_keep_the_operation_and_message_only() {
        let error = DbErr::Custom("boom".into());

        let StoreError::Unknown(source) = store_error("insert integration point", &error) else {
            panic!("expected Unknown");
        };

        assert_eq!(
            source.to_string(),
            "insert integration point: Custom Error: boom"
        );
        assert!(source.source().is_none());
    }
}
