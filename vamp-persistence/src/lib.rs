//! Artifact and event stores for Vamp.
//!
//! This crate will hold the `ArtifactStore` and `EventStore` backends of `vamp_core::store`: SQLite (the embedded
//! default), PostgreSQL, Elasticsearch and key-value backed artifacts. Until they land, use the memory stores of
//! `vamp_core::memory`.

pub use vamp_core::store::{ArtifactStore, EventStore};
