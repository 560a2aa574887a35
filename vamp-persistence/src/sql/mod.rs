//! [`SqlStore`]: the [`ArtifactStore`](vamp_core::store::ArtifactStore) and
//! [`EventStore`](vamp_core::store::EventStore) on SQLite (an embedded file, the default) and PostgreSQL, through
//! one code path.
//!
//! Every operation is written once: its statements use `$N` placeholders, which both drivers bind by number, and
//! its Rust body runs on whichever pool the store holds (`on_pool!` expands it for each, so both are
//! type-checked with their driver's own types). What differs between the two databases, a handful of fragments,
//! is in [`Dialect`]. The schema is versioned and embedded ([`migrate`]); see docs/persistence.md for the
//! tables, the durability each database gives and how event queries use the indexes.

mod artifacts;
mod detached;
mod dialect;
mod error;
mod events;
mod location;
pub mod migrate;
mod prune;
mod query;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::broadcast;
use vamp_core::model::Event;
use vamp_core::{Error, Result};

pub use artifacts::MAX_NAME_BYTES;
pub use dialect::Dialect;
pub use location::SQL_SCHEMES;

use location::Location;

/// The largest document or event value a store accepts by default, serialized as JSON: 16 MiB.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 16 << 20;
/// How many events a prune deletes per transaction by default.
pub const DEFAULT_PRUNE_BATCH: usize = 10_000;
/// How many events a subscriber may fall behind before it loses the oldest undelivered ones.
pub const SUBSCRIBER_BUFFER: usize = 4096;

/// When SQLite makes a commit durable (its `synchronous` setting; the journal is always a write-ahead log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Synchronous {
    /// Every commit is synced to disk before it is acknowledged: an acknowledged write survives the process being
    /// killed and the machine losing power (as far as the disk honours `fsync`). The default.
    #[default]
    Full,
    /// Commits reach the operating system before they are acknowledged and are synced at checkpoints: an
    /// acknowledged write survives the process being killed, but the last commits before a power loss or an
    /// operating-system crash may be lost (the file stays consistent). Several times faster for small writes.
    Normal,
}

/// How a [`SqlStore`] is set up beyond its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlOptions {
    /// The largest document (or event value) accepted, serialized as JSON; larger ones are `Invalid`.
    pub max_document_bytes: usize,
    /// The most connections the store opens.
    pub max_connections: u32,
    /// SQLite's durability; a `synchronous=` parameter in the URL overrides it. Ignored for PostgreSQL, whose
    /// server decides (`synchronous_commit`).
    pub synchronous: Synchronous,
    /// How long a call waits for a connection, and SQLite for the write lock, before failing as `Unavailable`.
    pub timeout: Duration,
    /// How many events a prune deletes per transaction (at least 1): small enough that publishers waiting for
    /// SQLite's write lock wait briefly and the write-ahead log stays small, large enough that a prune of
    /// millions of events takes few transactions.
    pub prune_batch: usize,
}

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions {
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            max_connections: 8,
            synchronous: Synchronous::Full,
            timeout: Duration::from_secs(10),
            prune_batch: DEFAULT_PRUNE_BATCH,
        }
    }
}

/// The connection pool of one of the two databases.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$db` bound to the concrete pool of `$pool` (a [`Pool`]): the one code path, compiled for
/// each driver.
macro_rules! on_pool {
    ($pool:expr, |$db:ident| $body:expr) => {
        match $pool {
            $crate::sql::Pool::Sqlite($db) => $body,
            $crate::sql::Pool::Postgres($db) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Artifacts and events in a SQL database. Cheap to clone: clones share the pool and the subscribers.
///
/// Subscriptions ([`vamp_core::store::EventStore::subscribe`]) see the events published through this store and
/// its clones, that is, through this process; events other processes write to the same database are found by
/// queries but not pushed to subscribers here.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: Pool,
    dialect: Dialect,
    options: SqlOptions,
    live: broadcast::Sender<Event>,
}

impl SqlStore {
    /// Opens the store at `url` with [`SqlOptions::default`]; see [`SqlStore::connect_with`].
    pub async fn connect(url: &str) -> Result<SqlStore> {
        Self::connect_with(url, SqlOptions::default()).await
    }

    /// Opens the store at `url` and brings its schema to the latest version.
    ///
    /// `sqlite://<path>` creates the file (and its directory) if missing and opens it in write-ahead-log mode with
    /// the [`Synchronous`] asked for; `postgres://…` connects to an existing database. Fails with `Invalid` for a
    /// malformed URL, `Unavailable` when the database cannot be reached or opened, and `Backend` when its schema
    /// was written by a newer build.
    pub async fn connect_with(url: &str, options: SqlOptions) -> Result<SqlStore> {
        let location = location::parse(url)?;
        let (pool, dialect) = match location {
            Location::Sqlite { path, synchronous } => {
                let synchronous = synchronous.unwrap_or(options.synchronous);
                (open_sqlite(&path, synchronous, &options).await?, Dialect::Sqlite)
            }
            Location::Postgres(url) => (open_postgres(&url, &options).await?, Dialect::Postgres),
        };
        migrate::run(&pool, dialect).await?;
        Ok(SqlStore {
            pool,
            dialect,
            options,
            live: broadcast::channel(SUBSCRIBER_BUFFER).0,
        })
    }

    /// Which database this store writes to.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &SqlOptions {
        &self.options
    }

    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<i64> {
        let fail = |e| self.fail("reading the schema version", e);
        on_pool!(&self.pool, |db| {
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM vamp_schema_migrations")
                .fetch_one(db)
                .await
                .map_err(fail)
        })
    }

    /// Closes every connection, waiting for calls in flight; later calls fail as `Unavailable`.
    pub async fn close(&self) {
        on_pool!(&self.pool, |db| db.close().await)
    }

    fn fail(&self, doing: &str, e: sqlx::Error) -> Error {
        error::map(self.dialect, doing, e)
    }
}

async fn open_sqlite(path: &Path, synchronous: Synchronous, options: &SqlOptions) -> Result<Pool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(
                vamp_core::ErrorKind::Unavailable { retryable: false },
                format!(
                    "SQLite: cannot create the directory {} for the database: {e}.",
                    dir.display()
                ),
            )
        })?;
    }
    let connect = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match synchronous {
            Synchronous::Full => SqliteSynchronous::Full,
            Synchronous::Normal => SqliteSynchronous::Normal,
        })
        .busy_timeout(options.timeout)
        .foreign_keys(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.timeout)
        .connect_with(connect)
        .await
        .map_err(|e| error::map(Dialect::Sqlite, &format!("opening {}", path.display()), e))?;
    Ok(Pool::Sqlite(pool))
}

async fn open_postgres(url: &str, options: &SqlOptions) -> Result<Pool> {
    let connect: PgConnectOptions = url
        .parse()
        .map_err(|e| error::map(Dialect::Postgres, "reading the URL", e))?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.timeout)
        .connect_with(connect)
        .await
        .map_err(|e| error::map(Dialect::Postgres, "connecting", e))?;
    Ok(Pool::Postgres(pool))
}

/// A timestamp as stored: Unix nanoseconds. Fails with `Invalid` outside 1677-09-21 to 2262-04-11, the range
/// that fits.
pub(crate) fn to_nanos(t: DateTime<Utc>, what: &str) -> Result<i64> {
    t.timestamp_nanos_opt().ok_or_else(|| {
        Error::invalid(format!(
            "{what} has the timestamp {t}, outside what the store keeps (1677-09-21 to 2262-04-11)."
        ))
    })
}

/// A stored timestamp back as a time.
pub(crate) fn from_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

/// Now, as stored.
pub(crate) fn now_nanos() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_their_nanoseconds() {
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(from_nanos(to_nanos(t, "x").unwrap()), t);
    }

    #[test]
    fn timestamps_outside_the_stored_range_are_invalid() {
        let t = DateTime::from_timestamp(32_503_680_000, 0).unwrap();
        assert_eq!(
            to_nanos(t, "the event").unwrap_err().kind(),
            vamp_core::ErrorKind::Invalid
        );
    }
}
