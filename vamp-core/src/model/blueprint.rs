//! Blueprint: clusters of services, the gateways that expose them, and environment overrides.

use serde::Serialize;

use super::breed::Breed;
use super::gateway::Gateway;
use super::health_check::HealthCheck;
use super::scale::Scale;
use super::sla::Sla;
use super::traits::{arguments_as_list, env_as_map, Argument, EnvironmentVariable};
use super::{gateways_as_map, is_empty_map, Dialects, Metadata, Ref};

/// One service of a cluster: a breed with its scale, environment and arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    /// The breed, by reference or inline.
    pub breed: Ref<Breed>,
    /// Service-scope environment overrides; each must exist in the breed.
    #[serde(serialize_with = "env_as_map", skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Scale, by reference or inline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<Ref<Scale>>,
    /// Container arguments.
    #[serde(serialize_with = "arguments_as_list", skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<Argument>,
    /// Health checks; `Some(empty)` disables all checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_checks: Option<Vec<HealthCheck>>,
    /// Container network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Driver-specific settings merged into what the driver generates.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub dialects: Dialects,
}

impl Service {
    /// A service of `breed` with nothing else set.
    pub fn new(breed: Ref<Breed>) -> Self {
        Service {
            breed,
            environment_variables: Vec::new(),
            scale: None,
            arguments: Vec::new(),
            health_checks: None,
            network: None,
            dialects: Dialects::new(),
        }
    }

    /// The breed's name, whether referenced or inline.
    pub fn breed_name(&self) -> &str {
        match &self.breed {
            Ref::Named(n) => n,
            Ref::Inline(b) => &b.name,
        }
    }
}

/// A cluster: services that share internal gateways, an SLA and health checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// The cluster's name.
    #[serde(skip)]
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// The services.
    pub services: Vec<Service>,
    /// Internal gateway settings, keyed by breed port name (a gateway's `name` is the port name).
    #[serde(serialize_with = "gateways_as_map", skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<Gateway>,
    /// Health checks for the cluster's services.
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

impl Cluster {
    /// A cluster with the given services and nothing else.
    pub fn new(name: impl Into<String>, services: Vec<Service>) -> Self {
        Cluster {
            name: name.into(),
            metadata: Metadata::new(),
            services,
            gateways: Vec::new(),
            health_checks: None,
            network: None,
            sla: None,
            dialects: Dialects::new(),
        }
    }
}

/// A blueprint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blueprint {
    /// The blueprint's name.
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// External gateways, each with its port; routes are keyed `cluster/port`.
    #[serde(serialize_with = "gateways_as_map", skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<Gateway>,
    /// The clusters, in the order written.
    #[serde(serialize_with = "clusters_as_map")]
    pub clusters: Vec<Cluster>,
    /// Cluster-scope environment overrides, keyed `cluster.VAR`.
    #[serde(serialize_with = "env_as_map", skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Deployment-level driver settings.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub dialects: Dialects,
}

impl Blueprint {
    /// The cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
}

fn clusters_as_map<S: serde::Serializer>(clusters: &[Cluster], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(clusters.len()))?;
    for c in clusters {
        m.serialize_entry(&c.name, c)?;
    }
    m.end()
}
