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
    /// Compare the CPU the driver reports with the scale.
    pub cpu: bool,
    /// Compare the memory the driver reports with the scale.
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
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileConfig {
    /// The Vamp namespace the desired deployments live in: every [`ServiceId`](crate::driver::ServiceId) the
    /// planner produces carries it, and running services of other namespaces are ignored. `default` by default.
    pub namespace: String,
    /// What to compare.
    pub checks: ReconcileChecks,
    /// How long deploys and undeploys may take.
    pub timeouts: Timeouts,
    /// The scale of a service that has none (normally set by `attach` already).
    pub default_scale: Scale,
}

impl Default for ReconcileConfig {
    /// Namespace `default`, the default checks and timeouts, and the original's default scale.
    fn default() -> Self {
        ReconcileConfig {
            namespace: "default".to_string(),
            checks: ReconcileChecks::default(),
            timeouts: Timeouts::default(),
            default_scale: Scale::default(),
        }
    }
}
