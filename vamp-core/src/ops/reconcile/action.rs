//! What the planner asks the deployment loop to do.

use std::fmt;

use indexmap::IndexMap;

use crate::model::{Argument, Breed, Dialects, Health, HealthCheck, Instance, Phase, Scale};

/// Which service: deployment, cluster and breed name. Orders by deployment, then cluster, then service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    /// The deployment's name.
    pub deployment: String,
    /// The cluster's name.
    pub cluster: String,
    /// The service's breed name.
    pub service: String,
}

impl ServiceKey {
    /// The key of `deployment`/`cluster`/`service`.
    pub fn new(
        deployment: impl Into<String>,
        cluster: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        ServiceKey {
            deployment: deployment.into(),
            cluster: cluster.into(),
            service: service.into(),
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.deployment, self.cluster, self.service)
    }
}

/// Everything a driver needs to run a service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// Which service.
    pub key: ServiceKey,
    /// The breed: deployable, ports, dependencies.
    pub breed: Breed,
    /// The scale (the service's, else the configured default).
    pub scale: Scale,
    /// The environment by the name the container sees, with interpolated values.
    pub environment: IndexMap<String, String>,
    /// Container arguments.
    pub arguments: Vec<Argument>,
    /// Health checks after precedence ([`crate::ops::deployment::effective_health_checks`]).
    pub health_checks: Vec<HealthCheck>,
    /// Container network: the service's, else the cluster's.
    pub network: Option<String>,
    /// Driver settings: deployment, then cluster, then service dialects, merged by key, later winning.
    pub dialects: Dialects,
}

/// How a running service differs from its desired state.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    /// The number of instances differs from the scale.
    Instances {
        /// Desired.
        desired: u32,
        /// Running.
        running: usize,
    },
    /// CPU differs.
    Cpu {
        /// Desired.
        desired: f64,
        /// Running.
        running: f64,
    },
    /// Memory (MB) differs.
    Memory {
        /// Desired.
        desired: f64,
        /// Running.
        running: f64,
    },
    /// These variables (container names) are missing or have another value.
    Environment {
        /// The variables.
        names: Vec<String>,
    },
    /// The health checks differ.
    HealthChecks,
}

/// What a synchronization event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncEventKind {
    /// The service reached `Deployment/Done` (`synchronization:deployed`).
    Deployed,
    /// A running service is being brought to a new desired state (`synchronization:redeploy`).
    Redeploy,
    /// The service is gone (`synchronization:undeployed`).
    Undeployed,
}

impl SyncEventKind {
    /// The event's characteristic tag.
    pub fn tag(self) -> &'static str {
        match self {
            SyncEventKind::Deployed => "synchronization:deployed",
            SyncEventKind::Redeploy => "synchronization:redeploy",
            SyncEventKind::Undeployed => "synchronization:undeployed",
        }
    }
}

/// An event the loop publishes after carrying out the action that carries it (event type `deployment`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncEvent {
    /// What happened.
    pub kind: SyncEventKind,
    /// To which service.
    pub service: ServiceKey,
}

impl SyncEvent {
    /// The original's tags: `deployments:<d>`, `clusters:<c>`, `services:<breed>` and the kind's tag.
    pub fn tags(&self) -> Vec<String> {
        vec![
            format!("deployments:{}", self.service.deployment),
            format!("clusters:{}", self.service.cluster),
            format!("services:{}", self.service.service),
            self.kind.tag().to_string(),
        ]
    }
}

/// One step towards the desired state. Carry them out in the order given.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Not running: create it (`driver.deploy`).
    Deploy {
        /// What to run.
        spec: ServiceSpec,
    },
    /// Running but different: bring it to `spec` (`driver.deploy`, which updates in place).
    Update {
        /// What to run.
        spec: ServiceSpec,
        /// Why.
        mismatches: Vec<Mismatch>,
    },
    /// Running but should not be (`driver.undeploy`).
    Undeploy {
        /// Which service.
        service: ServiceKey,
        /// True when no desired deployment has the service at all.
        orphan: bool,
    },
    /// Resolve the service's variables (`crate::resolve`) and store the complete list: every breed variable,
    /// each with its `interpolated` value. The service is deployed on a later pass.
    ResolveEnvironment {
        /// Which service.
        service: ServiceKey,
    },
    /// Not deployed yet because a dependency is not `Deployment/Done`.
    WaitForDependency {
        /// The waiting service.
        service: ServiceKey,
        /// The dependency alias in its breed.
        dependency: String,
        /// The cluster mapped to it, if any.
        cluster: Option<String>,
    },
    /// Store the service's new phase, entered now (`ServiceStatus::with_phase`).
    SetPhase {
        /// Which service.
        service: ServiceKey,
        /// The phase.
        phase: Phase,
        /// The event to publish once stored.
        event: Option<SyncEvent>,
    },
    /// Store the instances the driver reports.
    RecordInstances {
        /// Which service.
        service: ServiceKey,
        /// The instances.
        instances: Vec<Instance>,
    },
    /// Store the container health the driver reports.
    RecordHealth {
        /// Which service.
        service: ServiceKey,
        /// The health.
        health: Health,
    },
    /// The service is undeployed: store it as `Undeployment/Done` and drop it from its deployment
    /// ([`crate::ops::deployment::remove_undeployed`]), then publish the event if any.
    Remove {
        /// Which service.
        service: ServiceKey,
        /// The event to publish.
        event: Option<SyncEvent>,
    },
}

impl Action {
    /// The service the action is about.
    pub fn service(&self) -> &ServiceKey {
        match self {
            Action::Deploy { spec } | Action::Update { spec, .. } => &spec.key,
            Action::Undeploy { service, .. }
            | Action::ResolveEnvironment { service }
            | Action::WaitForDependency { service, .. }
            | Action::SetPhase { service, .. }
            | Action::RecordInstances { service, .. }
            | Action::RecordHealth { service, .. }
            | Action::Remove { service, .. } => service,
        }
    }

    /// The event to publish after carrying the action out.
    pub fn event(&self) -> Option<&SyncEvent> {
        match self {
            Action::SetPhase { event, .. } | Action::Remove { event, .. } => event.as_ref(),
            _ => None,
        }
    }
}
