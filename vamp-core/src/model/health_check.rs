//! Health checks of a breed, cluster, service or workflow.

use serde::Serialize;

use super::units::Seconds;

/// One health check: probe `path` on the named port every `interval`; `failures` consecutive failures make the
/// instance unhealthy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthCheck {
    /// The HTTP path probed.
    pub path: String,
    /// The name of the breed port probed.
    pub port: String,
    /// Grace period after start.
    pub initial_delay: Seconds,
    /// Time allowed for one probe.
    pub timeout: Seconds,
    /// Time between probes.
    pub interval: Seconds,
    /// Consecutive failures tolerated.
    pub failures: u32,
    /// `HTTP` or `TCP`.
    pub protocol: String,
}
