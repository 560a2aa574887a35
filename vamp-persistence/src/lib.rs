//! Durable artifact and event stores for Vamp: [`vamp_core::store::ArtifactStore`] and
//! [`vamp_core::store::EventStore`] backends chosen by URL — SQLite (the embedded default) and PostgreSQL through
//! one SQL code path, Elasticsearch, and artifacts kept in any key-value store.
//!
//! Each backend sits behind a cargo feature of the same name (all on by default).

pub use vamp_core::store::{ArtifactStore, EventStore};

pub mod url;

#[cfg(feature = "elasticsearch")]
pub mod elasticsearch;
#[cfg(feature = "kv")]
pub mod kv;
#[cfg(feature = "sql")]
pub mod sql;
