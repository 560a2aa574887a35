//! What the planner compares and how long it waits (`vamp.operation.synchronization`).

use serde::Deserialize;

use crate::model::Scale;
use crate::ops::deployment::Timeouts;

/// Which differences between the desired and the running service make the planner update it
/// (`vamp.operation.synchronization.check.*`). Instance counts and environments are always worth acting on;
/// CPU, memory and health checks are off by default because several drivers report them inexactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ReconcileChecks {
    /// Compare the number of instances with the scale.
    pub instances: bool,
    /// Compare CPU with the scale (only when the driver reports a scale).
    pub cpu: bool,
    /// Compare memory with the scale (only when the driver reports a scale).
    pub memory: bool,
    /// Compare health checks (only when the driver reports them).
    pub health_checks: bool,
    /// Compare the environment: every desired variable must run with its interpolated value; variables the
    /// driver adds are ignored. Not in the original 0.9.5, which therefore never rolled out a changed variable.
    pub environment: bool,
}

impl Default for ReconcileChecks {
    fn default() -> Self {
        ReconcileChecks {
            instances: true,
            cpu: false,
            memory: false,
            health_checks: false,
            environment: true,
        }
    }
}

/// Everything the planner needs besides the state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReconcileConfig {
    /// What to compare.
    pub checks: ReconcileChecks,
    /// How long deploys and undeploys may take.
    pub timeouts: Timeouts,
    /// The scale of a service that has none (normally set by `attach` already).
    pub default_scale: Scale,
}
