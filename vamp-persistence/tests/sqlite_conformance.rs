//! The vamp-core conformance suites against SQLite, with a fresh database file per case.
#![cfg(feature = "sql")]

mod sql_support;

use std::sync::Arc;

use sql_support::sqlite;
use vamp_persistence::sql::SqlOptions;

vamp_core::artifact_conformance!(
    sqlite_artifacts,
    || async { Arc::new(sqlite(SqlOptions::default()).await) },
    skip = "sqlite"
);

vamp_core::event_conformance!(
    sqlite_events,
    || async { Arc::new(sqlite(SqlOptions::default()).await) },
    skip = "sqlite"
);
