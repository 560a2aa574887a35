//! The Vamp reference server.
//!
//! This crate will assemble the other crates into the `vamp` binary: the REST API, the synchronisation loops,
//! workflows, metrics, the web UI and the CLI. It is also a library, so a platform can embed Vamp.
