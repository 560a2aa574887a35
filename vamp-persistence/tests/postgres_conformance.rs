//! The vamp-core conformance suites against a real PostgreSQL server (from the testkit), a fresh server and
//! database per case.
#![cfg(feature = "sql")]

mod sql_support;

use std::sync::Arc;

use sql_support::postgres;
use vamp_persistence::sql::SqlOptions;

vamp_core::artifact_conformance!(
    postgres_artifacts,
    || async { Arc::new(postgres(SqlOptions::default()).await) },
    skip = "postgres"
);

vamp_core::event_conformance!(
    postgres_events,
    || async { Arc::new(postgres(SqlOptions::default()).await) },
    skip = "postgres"
);
