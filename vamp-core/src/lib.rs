//! The core of Vamp: the artifact model, the DSL, validation, the condition language, value resolution, the pure
//! orchestration logic (merge, slice, gateway and reconcile planning), and the plugin traits with their contracts,
//! in-memory implementations and conformance suites.
//!
//! `vamp-core` does no I/O of its own: no network, no files, no backend crates. Every decision is a pure function
//! in [`ops`]; the loops that call them live in `vamp-server`.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod condition;
pub mod dsl;
pub mod error;
pub mod model;
pub mod ops;
pub mod redact;
pub mod resolve;

pub mod driver;
pub mod gateway;
pub mod kv;
pub mod memory;
pub mod metrics;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{Error, ErrorKind, Result};
