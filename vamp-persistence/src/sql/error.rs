//! How sqlx failures become [`vamp_core::Error`]s: what cannot reach the database (connections, timeouts, a
//! locked SQLite file, a server shutting down) is `Unavailable` and retryable, what the input got wrong is
//! `Invalid`, the rest is `Backend`. Every message names the database and what was being done.

use vamp_core::{Error, ErrorKind};

use super::Dialect;

/// The error of `doing` (a phrase like "put breed 'shop'") failing with `e` on `dialect`.
pub(crate) fn map(dialect: Dialect, doing: &str, e: sqlx::Error) -> Error {
    let kind = classify(dialect, &e);
    let advice = match kind {
        ErrorKind::Unavailable { .. } => " The database cannot be reached or is busy; retry later.",
        ErrorKind::Invalid => " Check the input.",
        _ => "",
    };
    Error::new(kind, format!("{dialect}: {doing} failed: {e}.{advice}")).with_source(e)
}

/// Whether `e` is a unique-key violation: another writer got there first.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn classify(dialect: Dialect, e: &sqlx::Error) -> ErrorKind {
    let unavailable = ErrorKind::Unavailable { retryable: true };
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => unavailable,
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_) => ErrorKind::Invalid,
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            classify_code(dialect, &code)
        }
        _ => ErrorKind::Backend,
    }
}

/// The kind of a database error by its code: PostgreSQL's SQLSTATE, SQLite's extended result code in decimal.
fn classify_code(dialect: Dialect, code: &str) -> ErrorKind {
    let unavailable = ErrorKind::Unavailable { retryable: true };
    match dialect {
        Dialect::Postgres => match code.get(..2) {
            Some("08" | "53" | "57" | "40") => unavailable,
            Some("22") => ErrorKind::Invalid,
            _ => ErrorKind::Backend,
        },
        Dialect::Sqlite => match code.parse::<i64>().map(|c| c & 0xff) {
            Ok(5 | 6) => unavailable,
            Ok(14) => ErrorKind::Unavailable { retryable: false },
            Ok(18) => ErrorKind::Invalid,
            _ => ErrorKind::Backend,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_locked_sqlite_files_are_retryable() {
        assert!(matches!(
            classify_code(Dialect::Sqlite, "5"),
            ErrorKind::Unavailable { retryable: true }
        ));
        assert!(matches!(
            classify_code(Dialect::Sqlite, "517"),
            ErrorKind::Unavailable { retryable: true }
        ));
        assert_eq!(classify_code(Dialect::Sqlite, "11"), ErrorKind::Backend);
    }

    #[test]
    fn postgres_connection_and_shutdown_states_are_retryable_and_data_errors_invalid() {
        assert!(matches!(
            classify_code(Dialect::Postgres, "57P01"),
            ErrorKind::Unavailable { retryable: true }
        ));
        assert!(matches!(
            classify_code(Dialect::Postgres, "08006"),
            ErrorKind::Unavailable { retryable: true }
        ));
        assert_eq!(classify_code(Dialect::Postgres, "22021"), ErrorKind::Invalid);
        assert_eq!(classify_code(Dialect::Postgres, "42P01"), ErrorKind::Backend);
    }

    #[test]
    fn a_timed_out_pool_is_unavailable() {
        let e = map(Dialect::Postgres, "get breed 'x'", sqlx::Error::PoolTimedOut);
        assert!(e.is_retryable());
        assert!(e.message().starts_with("PostgreSQL: get breed 'x' failed"));
    }
}
