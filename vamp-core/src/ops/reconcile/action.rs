//! What the planner asks the deployment loop to do.

use std::fmt;

use crate::driver::{ServiceId, ServiceSpec};
use crate::model::{Cpu, Health, Instance, Memory, Phase};

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
    pub service: ServiceId,
}

impl SyncEvent {
    /// The original's tags: `deployments:<d>`, `clusters:<c>`, `services:<breed>` and the kind's tag; like the
    /// original's, none names the namespace.
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
        service: ServiceId,
        /// True when no desired deployment has the service at all.
        orphan: bool,
    },
    /// Resolve the service's variables (`crate::resolve`) and store the complete list: every breed variable,
    /// each with its `interpolated` value. The service is deployed on a later pass.
    ResolveEnvironment {
        /// Which service.
        service: ServiceId,
    },
    /// Not deployed yet because a dependency is not `Deployment/Done`.
    WaitForDependency {
        /// The waiting service.
        service: ServiceId,
        /// The dependency alias in its breed.
        dependency: String,
        /// The cluster mapped to it, if any.
        cluster: Option<String>,
    },
    /// Store the service's new phase, entered now (`ServiceStatus::with_phase`).
    SetPhase {
        /// Which service.
        service: ServiceId,
        /// The phase.
        phase: Phase,
        /// The event to publish once stored.
        event: Option<SyncEvent>,
    },
    /// Store the instances the driver reports.
    RecordInstances {
        /// Which service.
        service: ServiceId,
        /// The instances.
        instances: Vec<Instance>,
    },
    /// Store the container health the driver reports.
    RecordHealth {
        /// Which service.
        service: ServiceId,
        /// The health.
        health: Health,
    },
    /// The service is undeployed: store it as `Undeployment/Done` and drop it from its deployment
    /// ([`crate::ops::deployment::remove_undeployed`]), then publish the event if any.
    Remove {
        /// Which service.
        service: ServiceId,
        /// The event to publish.
        event: Option<SyncEvent>,
    },
}

impl Action {
    /// The service the action is about.
    pub fn service(&self) -> &ServiceId {
        match self {
            Action::Deploy { spec } | Action::Update { spec, .. } => &spec.id,
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

impl fmt::Display for Mismatch {
    /// What differs, running value first: `instances 2 -> 3`, `cpu 2.0 -> 0.5`, `mem 256MB -> 512MB`,
    /// `environment COLOR, MODE`, `health checks`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Instances { desired, running } => write!(f, "instances {running} -> {desired}"),
            Mismatch::Cpu { desired, running } => write!(f, "cpu {} -> {}", Cpu(*running), Cpu(*desired)),
            Mismatch::Memory { desired, running } => {
                write!(f, "mem {} -> {}", Memory(*running), Memory(*desired))
            }
            Mismatch::Environment { names } => write!(f, "environment {}", names.join(", ")),
            Mismatch::HealthChecks => f.write_str("health checks"),
        }
    }
}

impl fmt::Display for Action {
    /// One line naming what to do and the service (`namespace/deployment/cluster/service`), e.g.
    /// `deploy default/shop/db/db:9.6 (1 x cpu 1.0, mem 1024MB)` or
    /// `set default/shop/db/db:9.6 to Updating (publish synchronization:redeploy)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Deploy { spec } => write!(f, "deploy {} ({})", spec.id, spec.scale),
            Action::Update { spec, mismatches } => {
                write!(f, "update {} ({})", spec.id, spec.scale)?;
                let mut separator = ": ";
                for mismatch in mismatches {
                    write!(f, "{separator}{mismatch}")?;
                    separator = ", ";
                }
                Ok(())
            }
            Action::Undeploy { service, orphan } => {
                write!(f, "undeploy {service}")?;
                if *orphan {
                    f.write_str(" (orphan)")?;
                }
                Ok(())
            }
            Action::ResolveEnvironment { service } => write!(f, "resolve the environment of {service}"),
            Action::WaitForDependency {
                service,
                dependency,
                cluster,
            } => match cluster {
                Some(cluster) => write!(f, "wait {service} for {dependency} (cluster {cluster})"),
                None => write!(f, "wait {service} for {dependency} (no cluster runs it)"),
            },
            Action::SetPhase {
                service,
                phase,
                event,
            } => {
                write!(f, "set {service} to {}", phase.name())?;
                if let Phase::Failed(message) = phase {
                    write!(f, ": {message}")?;
                }
                publish(f, event.as_ref())
            }
            Action::RecordInstances { service, instances } => {
                let deployed = instances.iter().filter(|i| i.deployed).count();
                write!(
                    f,
                    "record instances of {service}: {} ({deployed} deployed)",
                    instances.len()
                )
            }
            Action::RecordHealth { service, health } => write!(
                f,
                "record health of {service}: {} staged, {} running, {} healthy, {} unhealthy",
                health.staged, health.running, health.healthy, health.unhealthy
            ),
            Action::Remove { service, event } => {
                write!(f, "remove {service}")?;
                publish(f, event.as_ref())
            }
        }
    }
}

/// ` (publish <tag>)` when there is an event.
fn publish(f: &mut fmt::Formatter<'_>, event: Option<&SyncEvent>) -> fmt::Result {
    match event {
        Some(event) => write!(f, " (publish {})", event.kind.tag()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Deployable, Scale};

    fn id() -> ServiceId {
        ServiceId::new("default", "shop", "db", "shop-db:9.6")
    }

    fn spec() -> ServiceSpec {
        ServiceSpec::new(id(), Deployable::docker("postgres:9.6"), Scale::default())
    }

    fn event(kind: SyncEventKind) -> Option<SyncEvent> {
        Some(SyncEvent { kind, service: id() })
    }

    fn line(action: Action) -> String {
        action.to_string()
    }

    #[test]
    fn deploy_and_update_name_the_service_and_its_scale() {
        assert_eq!(
            line(Action::Deploy { spec: spec() }),
            "deploy default/shop/db/shop-db:9.6 (1 x cpu 1.0, mem 1024MB)"
        );
        assert_eq!(
            line(Action::Update {
                spec: spec(),
                mismatches: vec![
                    Mismatch::Instances { desired: 1, running: 2 },
                    Mismatch::Cpu { desired: 1.0, running: 0.5 },
                    Mismatch::Memory { desired: 1024.0, running: 512.0 },
                    Mismatch::Environment { names: vec!["A".into(), "B".into()] },
                    Mismatch::HealthChecks,
                ],
            }),
            "update default/shop/db/shop-db:9.6 (1 x cpu 1.0, mem 1024MB): instances 2 -> 1, cpu 0.5 -> 1.0, \
             mem 512MB -> 1024MB, environment A, B, health checks"
        );
    }

    #[test]
    fn undeploy_marks_orphans() {
        let undeploy = |orphan| {
            line(Action::Undeploy {
                service: id(),
                orphan,
            })
        };
        assert_eq!(undeploy(false), "undeploy default/shop/db/shop-db:9.6");
        assert_eq!(undeploy(true), "undeploy default/shop/db/shop-db:9.6 (orphan)");
    }

    #[test]
    fn waiting_names_the_dependency_and_its_cluster() {
        let wait = |cluster: Option<&str>| {
            line(Action::WaitForDependency {
                service: ServiceId::new("default", "shop", "frontend", "shop-frontend:1.0"),
                dependency: "db".into(),
                cluster: cluster.map(str::to_string),
            })
        };
        assert_eq!(
            wait(Some("db")),
            "wait default/shop/frontend/shop-frontend:1.0 for db (cluster db)"
        );
        assert_eq!(
            wait(None),
            "wait default/shop/frontend/shop-frontend:1.0 for db (no cluster runs it)"
        );
    }

    #[test]
    fn phase_changes_and_removals_name_the_event_they_publish() {
        assert_eq!(
            line(Action::SetPhase {
                service: id(),
                phase: Phase::Updating,
                event: event(SyncEventKind::Redeploy),
            }),
            "set default/shop/db/shop-db:9.6 to Updating (publish synchronization:redeploy)"
        );
        assert_eq!(
            line(Action::SetPhase {
                service: id(),
                phase: Phase::Failed("timed out".into()),
                event: None,
            }),
            "set default/shop/db/shop-db:9.6 to Failed: timed out"
        );
        assert_eq!(
            line(Action::Remove {
                service: id(),
                event: event(SyncEventKind::Undeployed),
            }),
            "remove default/shop/db/shop-db:9.6 (publish synchronization:undeployed)"
        );
        assert_eq!(
            line(Action::Remove {
                service: id(),
                event: None
            }),
            "remove default/shop/db/shop-db:9.6"
        );
    }

    #[test]
    fn records_summarize_instances_and_health() {
        let instance = |name: &str, deployed| Instance {
            name: name.into(),
            host: "h".into(),
            ports: Default::default(),
            deployed,
        };
        assert_eq!(
            line(Action::RecordInstances {
                service: id(),
                instances: vec![instance("a", true), instance("b", false)],
            }),
            "record instances of default/shop/db/shop-db:9.6: 2 (1 deployed)"
        );
        assert_eq!(
            line(Action::RecordHealth {
                service: id(),
                health: Health {
                    staged: 1,
                    running: 2,
                    healthy: 1,
                    unhealthy: 1
                },
            }),
            "record health of default/shop/db/shop-db:9.6: 1 staged, 2 running, 1 healthy, 1 unhealthy"
        );
        assert_eq!(
            line(Action::ResolveEnvironment { service: id() }),
            "resolve the environment of default/shop/db/shop-db:9.6"
        );
    }
}
