//! Pure orchestration logic: state in, decision out. The loops that call these functions live in `vamp-server`.

pub mod canary;
pub mod deployment;
pub mod gateways;
pub mod reconcile;
pub mod workflows;
