//! Reconcile planning: from the desired deployments and what a driver reports running to the list of actions
//! that converge them (§4.3).
//!
//! [`plan()`] is pure: the deployment loop in `vamp-server` lists what runs, converts it to [`Observed`], calls
//! [`plan()`], and carries out the [`Action`]s in order (driver calls, status and runtime updates, events).

pub mod action;
pub mod config;
pub mod observed;
pub mod plan;

mod order;

pub use action::{Action, Mismatch, ServiceKey, ServiceSpec, SyncEvent, SyncEventKind};
pub use config::{ReconcileChecks, ReconcileConfig};
pub use observed::Observed;
pub use plan::{environment_resolved, plan, service_spec};
