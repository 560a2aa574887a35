//! Service status timeouts: a service that does not reach its intention in time is marked `Failed`.
//!
//! The clock starts when the service entered its current phase (`phase_since`), as in the original. Because the
//! reconcile planner moves a service to `Updating` once and does not re-enter it on every tick, the timeout bounds
//! how long a deploy or undeploy may take; the original re-entered `Updating` on every redeploy and so could
//! never time out while the driver kept failing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::model::{Intention, Phase, ServiceStatus};

/// How long a service may take to reach its intention; zero means "wait forever".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Timeouts {
    /// Allowed time for `Deployment` (`vamp.operation.synchronization.timeout.ready-for-deployment`).
    pub deploy: Duration,
    /// Allowed time for `Undeployment` (`…ready-for-undeployment`).
    pub undeploy: Duration,
}

impl Default for Timeouts {
    /// The original's 600 s for both.
    fn default() -> Self {
        Timeouts {
            deploy: Duration::from_secs(600),
            undeploy: Duration::from_secs(600),
        }
    }
}

impl Timeouts {
    /// The timeout for `intention`.
    pub fn for_intention(&self, intention: Intention) -> Duration {
        match intention {
            Intention::Deployment => self.deploy,
            Intention::Undeployment => self.undeploy,
        }
    }
}

/// Whether `status` has been in its phase longer than its intention's timeout at `now`.
///
/// Never true for a `Done` or `Failed` service, for a zero timeout, or when `now` is before the phase started.
pub fn timed_out(status: &ServiceStatus, now: DateTime<Utc>, timeouts: Timeouts) -> bool {
    if matches!(status.phase, Phase::Done | Phase::Failed(_)) {
        return false;
    }
    let limit = timeouts.for_intention(status.intention);
    if limit.is_zero() {
        return false;
    }
    (now - status.phase_since)
        .to_std()
        .is_ok_and(|elapsed| elapsed > limit)
}

/// The original's `DeploymentServiceError` sentence followed by `reason`.
pub fn service_error(deployment: &str, service: &str, reason: &str) -> String {
    format!("Deployment service error for deployment '{deployment}' and service '{service}'. {reason}")
}

/// `status` moved to `Failed` at `now` if it [`timed_out`], with a message naming the deployment, the service
/// (breed name) and how long it waited; `None` if it has not timed out.
pub fn fail_on_timeout(
    status: &ServiceStatus,
    deployment: &str,
    service: &str,
    now: DateTime<Utc>,
    timeouts: Timeouts,
) -> Option<ServiceStatus> {
    if !timed_out(status, now, timeouts) {
        return None;
    }
    let what = match status.intention {
        Intention::Deployment => "deployed",
        Intention::Undeployment => "undeployed",
    };
    let reason = format!(
        "Timed out after {} s in phase {} waiting to be {what}; check the container driver, then PUT the \
         deployment again to retry.",
        timeouts.for_intention(status.intention).as_secs(),
        status.phase.name()
    );
    Some(status.with_phase(Phase::Failed(service_error(deployment, service, &reason)), now))
}
