//! Reconcile planning: from the desired deployments and what a driver reports running to the list of actions
//! that converge them (§4.3).
//!
//! [`plan()`] is pure and speaks the [`ContainerDriver`](crate::driver::ContainerDriver) trait's types: the
//! deployment loop in `vamp-server` passes it what `driver.list(namespace)` returned, and carries out the
//! [`Action`]s in order (`driver.deploy(&spec)` for `Deploy` and `Update`, `driver.undeploy(&id)` for
//! `Undeploy`, status and runtime updates, events).

pub mod action;
pub mod config;
pub mod plan;

mod order;

pub use action::{Action, Mismatch, SyncEvent, SyncEventKind};
pub use config::{ReconcileChecks, ReconcileConfig};
pub use plan::{environment_resolved, plan, service_spec};
