//! What the container driver reports for one running service, in the planner's own terms.
//!
//! The planner does not depend on the driver trait's types: the deployment loop converts each
//! `driver::RunningService` into an [`Observed`] (same namespace only).

use indexmap::IndexMap;

use crate::model::{Health, HealthCheck, Instance, Scale};

use super::action::ServiceKey;

/// One service as the driver sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The deployment's name.
    pub deployment: String,
    /// The cluster's name.
    pub cluster: String,
    /// The service's breed name.
    pub service: String,
    /// The scale it runs with, when the driver knows it.
    pub scale: Option<Scale>,
    /// Its instances; their `ports` keyed by breed port name.
    pub instances: Vec<Instance>,
    /// The environment the containers run with, by the name the container sees. Drivers must report it: with
    /// the environment check on, a desired variable missing here means an update.
    pub environment: IndexMap<String, String>,
    /// Container health counts, when the driver reports them.
    pub health: Option<Health>,
    /// The health checks it runs with; `None` when the driver cannot tell (the health-check check is skipped).
    pub health_checks: Option<Vec<HealthCheck>>,
}

impl Observed {
    /// A service of `deployment`/`cluster` running breed `service`, with nothing else known.
    pub fn new(
        deployment: impl Into<String>,
        cluster: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Observed {
            deployment: deployment.into(),
            cluster: cluster.into(),
            service: service.into(),
            scale: None,
            instances: Vec::new(),
            environment: IndexMap::new(),
            health: None,
            health_checks: None,
        }
    }

    /// Which service this is.
    pub fn key(&self) -> ServiceKey {
        ServiceKey::new(&self.deployment, &self.cluster, &self.service)
    }
}
