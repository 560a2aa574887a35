//! Deployment: what runs — clusters of services with their resolved breeds, scale, status and instances.
//!
//! A service's status is an intention (deploy or undeploy) times a phase (initiated, updating, done, failed),
//! each with the time it was entered; the deployment loop moves the phase, users move the intention.

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::breed::Breed;
use super::gateway::Gateway;
use super::health_check::HealthCheck;
use super::scale::Scale;
use super::sla::Sla;
use super::traits::{arguments_as_list, env_as_map, Argument, EnvironmentVariable};
use super::{gateways_as_map, is_empty_map, Dialects, Metadata, Ref};

/// What the user wants of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Intention {
    /// It should run.
    Deployment,
    /// It should be removed.
    Undeployment,
}

/// How far the service is towards its intention.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Asked for, not yet acted on.
    Initiated,
    /// The driver is working on it.
    Updating,
    /// The intention is met.
    Done,
    /// It did not converge; the message says why.
    Failed(String),
}

impl Phase {
    /// The phase's name as serialized.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Initiated => "Initiated",
            Phase::Updating => "Updating",
            Phase::Done => "Done",
            Phase::Failed(_) => "Failed",
        }
    }
}

/// Intention × phase, each with the time it was entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// What the user wants.
    pub intention: Intention,
    /// When the intention was set.
    pub since: DateTime<Utc>,
    /// How far it is.
    pub phase: Phase,
    /// When the phase was entered.
    pub phase_since: DateTime<Utc>,
}

impl ServiceStatus {
    /// A fresh status: `intention`, phase `Initiated`, both since `now`.
    pub fn initiated(intention: Intention, now: DateTime<Utc>) -> Self {
        ServiceStatus {
            intention,
            since: now,
            phase: Phase::Initiated,
            phase_since: now,
        }
    }

    /// The same intention in another phase, entered `now`.
    pub fn with_phase(&self, phase: Phase, now: DateTime<Utc>) -> Self {
        ServiceStatus {
            intention: self.intention,
            since: self.since,
            phase,
            phase_since: now,
        }
    }

    /// Whether the service is being or has been undeployed.
    pub fn is_undeploying(&self) -> bool {
        self.intention == Intention::Undeployment
    }

    /// Whether the intention is met.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}

impl Serialize for ServiceStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut phase = serde_json::Map::new();
        phase.insert("name".into(), self.phase.name().into());
        phase.insert("since".into(), self.phase_since.to_rfc3339().into());
        if let Phase::Failed(msg) = &self.phase {
            phase.insert("notification".into(), msg.clone().into());
        }
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("intention", &self.intention)?;
        m.serialize_entry("since", &self.since.to_rfc3339())?;
        m.serialize_entry("phase", &phase)?;
        m.end()
    }
}

/// One running instance of a service, as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Instance {
    /// The driver's id for it.
    pub name: String,
    /// Where it runs.
    pub host: String,
    /// Breed port name → the port it is reachable on at `host`.
    pub ports: IndexMap<String, u16>,
    /// Whether it is up.
    pub deployed: bool,
}

/// Container health counts of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, serde::Deserialize)]
pub struct Health {
    /// Instances being started.
    pub staged: u32,
    /// Instances running.
    pub running: u32,
    /// Instances passing health checks.
    pub healthy: u32,
    /// Instances failing them.
    pub unhealthy: u32,
}

/// A service of a deployment: the breed always expanded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentService {
    /// Intention and phase.
    pub status: ServiceStatus,
    /// The breed in full.
    pub breed: Breed,
    /// Service environment, with interpolated values once resolved.
    #[serde(
        serialize_with = "interpolated_env_as_map",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Scale in full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// Running instances.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instance>,
    /// Container arguments.
    #[serde(serialize_with = "arguments_as_list", skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<Argument>,
    /// Health checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_checks: Option<Vec<HealthCheck>>,
    /// Container network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Dependency alias → the cluster that satisfies it.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub dependencies: IndexMap<String, String>,
    /// Driver-specific settings.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub dialects: Dialects,
    /// Container health.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// A cluster of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentCluster {
    /// The cluster's name.
    #[serde(skip)]
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// The services.
    pub services: Vec<DeploymentService>,
    /// Internal gateway settings keyed by breed port name; routes keyed by service (breed) name.
    #[serde(serialize_with = "gateways_as_map", skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<Gateway>,
    /// Health checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_checks: Option<Vec<HealthCheck>>,
    /// Container network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The SLA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla: Option<Ref<Sla>>,
    /// Driver-specific settings.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub dialects: Dialects,
}

impl DeploymentCluster {
    /// The service running breed `name`.
    pub fn service(&self, breed: &str) -> Option<&DeploymentService> {
        self.services.iter().find(|s| s.breed.name == breed)
    }
}

/// A deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// The deployment's name.
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// The clusters.
    #[serde(serialize_with = "clusters_as_map")]
    pub clusters: Vec<DeploymentCluster>,
    /// External deployment gateways (`deployment/port`).
    #[serde(serialize_with = "gateways_as_map", skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<Gateway>,
    /// Deployment-scope environment (`cluster.VAR`).
    #[serde(serialize_with = "env_as_map", skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Deployment-level driver settings.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub dialects: Dialects,
}

impl Deployment {
    /// An empty deployment.
    pub fn new(name: impl Into<String>) -> Self {
        Deployment {
            name: name.into(),
            metadata: Metadata::new(),
            clusters: Vec::new(),
            gateways: Vec::new(),
            environment_variables: Vec::new(),
            dialects: Dialects::new(),
        }
    }

    /// The cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&DeploymentCluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The cluster called `name`, mutably.
    pub fn cluster_mut(&mut self, name: &str) -> Option<&mut DeploymentCluster> {
        self.clusters.iter_mut().find(|c| c.name == name)
    }
}

/// Writes variables as `NAME[ALIAS]: value`, or `NAME: {value, interpolated}` once interpolated.
fn interpolated_env_as_map<S: Serializer>(vars: &[EnvironmentVariable], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(vars.len()))?;
    for v in vars {
        match &v.interpolated {
            None => m.serialize_entry(&v.key(), &v.value)?,
            Some(i) => m.serialize_entry(
                &v.key(),
                &serde_json::json!({ "value": v.value, "interpolated": i }),
            )?,
        }
    }
    m.end()
}

fn clusters_as_map<S: Serializer>(clusters: &[DeploymentCluster], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(clusters.len()))?;
    for c in clusters {
        m.serialize_entry(&c.name, c)?;
    }
    m.end()
}
