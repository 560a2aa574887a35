//! Pure orchestration logic: state in, decision out. The loops that call these functions live in `vamp-server`.

pub mod canary;
pub mod deployment;
pub mod escalation;
pub mod gateways;
pub mod health;
pub mod reconcile;
pub mod sla;
pub mod workflow_schedule;
pub mod workflows;
