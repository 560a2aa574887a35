//! The `ContainerDriver` trait: runs service instances and reports what runs.
//!
//! A driver owns no desired state. It starts, updates and stops the instances of one service at a time and reports
//! what it finds running, identified by four labels that encode namespace, deployment, cluster and service. The
//! deployment loop compares that report with the stored deployments and decides what to ask for next.

use std::fmt;

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::model::{Argument, Deployable, Dialects, Health, HealthCheck, Instance, Port, Scale};
use crate::{Error, Result};

/// Label carrying the Vamp namespace of a service.
pub const LABEL_NAMESPACE: &str = "io.vamp.namespace";
/// Label carrying the deployment name of a service.
pub const LABEL_DEPLOYMENT: &str = "io.vamp.deployment";
/// Label carrying the cluster name of a service.
pub const LABEL_CLUSTER: &str = "io.vamp.cluster";
/// Label carrying the service (breed) name of a service.
pub const LABEL_SERVICE: &str = "io.vamp.service";

/// Which service of which deployment a set of instances belongs to. Drivers write it as labels
/// ([`ServiceId::labels`]) on what they create and read it back ([`ServiceId::from_labels`]) when they list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceId {
    /// The Vamp namespace.
    pub namespace: String,
    /// The deployment name.
    pub deployment: String,
    /// The cluster name inside the deployment.
    pub cluster: String,
    /// The breed name of the service inside the cluster.
    pub service: String,
}

impl ServiceId {
    /// The id of `service` in `cluster` of `deployment` in `namespace`.
    pub fn new(
        namespace: impl Into<String>,
        deployment: impl Into<String>,
        cluster: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        ServiceId {
            namespace: namespace.into(),
            deployment: deployment.into(),
            cluster: cluster.into(),
            service: service.into(),
        }
    }

    /// The four labels a driver puts on everything it creates for this service, in a fixed order.
    pub fn labels(&self) -> IndexMap<String, String> {
        [
            (LABEL_NAMESPACE, &self.namespace),
            (LABEL_DEPLOYMENT, &self.deployment),
            (LABEL_CLUSTER, &self.cluster),
            (LABEL_SERVICE, &self.service),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }

    /// Reads the id back from a label map (any map type; other labels are ignored).
    ///
    /// Fails with [`crate::ErrorKind::Invalid`] naming the first of the four labels that is missing or empty, so
    /// a driver can tell Vamp's containers from others by whether this succeeds.
    pub fn from_labels<K, V>(labels: impl IntoIterator<Item = (K, V)>) -> Result<ServiceId>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut found: [Option<String>; 4] = [None, None, None, None];
        let names = [LABEL_NAMESPACE, LABEL_DEPLOYMENT, LABEL_CLUSTER, LABEL_SERVICE];
        for (k, v) in labels {
            if let Some(slot) = names
                .iter()
                .position(|n| *n == k.as_ref())
                .and_then(|i| found.get_mut(i))
            {
                *slot = Some(v.as_ref().to_string());
            }
        }
        let [namespace, deployment, cluster, service] = found;
        let take = |value: Option<String>, label: &str| {
            value.filter(|v| !v.is_empty()).ok_or_else(|| {
                Error::invalid(format!(
                    "The label '{label}' is missing or empty; a Vamp service carries {LABEL_NAMESPACE}, \
                     {LABEL_DEPLOYMENT}, {LABEL_CLUSTER} and {LABEL_SERVICE}."
                ))
            })
        };
        Ok(ServiceId {
            namespace: take(namespace, LABEL_NAMESPACE)?,
            deployment: take(deployment, LABEL_DEPLOYMENT)?,
            cluster: take(cluster, LABEL_CLUSTER)?,
            service: take(service, LABEL_SERVICE)?,
        })
    }
}

impl fmt::Display for ServiceId {
    /// `namespace/deployment/cluster/service`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.namespace, self.deployment, self.cluster, self.service
        )
    }
}

/// What a driver is and what it can run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverInfo {
    /// The driver's name as used in backend URLs: `memory`, `docker`, `process`, `kubernetes`, ….
    pub kind: String,
    /// The version of the driver or of the system it drives (e.g. the Docker engine version).
    pub version: String,
    /// The normalized deployable types it accepts ([`Deployable::normalized_kind`]), e.g. `container/docker`.
    pub deployable_types: Vec<String>,
}

impl DriverInfo {
    /// Whether the driver accepts `deployable`, comparing normalized types.
    pub fn accepts(&self, deployable: &Deployable) -> bool {
        let kind = deployable.normalized_kind();
        self.deployable_types.iter().any(|t| t == kind)
    }
}

/// Everything a driver needs to run one service: the resolved breed, scale, environment, ports, health checks,
/// arguments, network and dialects. The deployment loop builds it; the driver only executes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// Which service this is; written as labels on everything the driver creates.
    pub id: ServiceId,
    /// What to run.
    pub deployable: Deployable,
    /// CPU, memory and the number of instances.
    pub scale: Scale,
    /// Container variable name (the alias when one is given) → resolved value.
    pub environment: IndexMap<String, String>,
    /// The breed's ports, each exposed by every instance.
    pub ports: Vec<Port>,
    /// Health checks the driver's scheduler runs, where it can.
    pub health_checks: Vec<HealthCheck>,
    /// Container arguments (`privileged: true`, driver parameters).
    pub arguments: Vec<Argument>,
    /// The network to attach to; the driver's default when `None`.
    pub network: Option<String>,
    /// Driver-specific settings, the most specific scope already chosen.
    pub dialects: Dialects,
}

impl ServiceSpec {
    /// A spec with no environment, ports, health checks, arguments, network or dialects.
    pub fn new(id: ServiceId, deployable: Deployable, scale: Scale) -> Self {
        ServiceSpec {
            id,
            deployable,
            scale,
            environment: IndexMap::new(),
            ports: Vec::new(),
            health_checks: Vec::new(),
            arguments: Vec::new(),
            network: None,
            dialects: Dialects::new(),
        }
    }
}

/// A service as the driver finds it running.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningService {
    /// Read back from the labels.
    pub id: ServiceId,
    /// What runs.
    pub deployable: Deployable,
    /// The scale it was deployed with; `instances` is the requested count, not the running one.
    pub scale: Scale,
    /// The instances the driver knows of, running or being started.
    pub instances: Vec<Instance>,
    /// Instance counts by state.
    pub health: Health,
    /// The variables the driver set from the spec, by container name.
    pub environment: IndexMap<String, String>,
    /// The health checks the driver's scheduler runs for the service, as given in the spec; `None` when the
    /// driver cannot tell (its system does not run or does not report them), so callers skip comparing them.
    pub health_checks: Option<Vec<HealthCheck>>,
}

/// Runs service instances and reports what runs. Held as `Arc<dyn ContainerDriver>`.
///
/// Every method may fail with [`crate::ErrorKind::Unavailable`] when the system the driver talks to cannot be
/// reached (`retryable: true` when trying again may help) and with [`crate::ErrorKind::Backend`] when it answers
/// with a failure that is not the caller's fault.
#[async_trait]
pub trait ContainerDriver: Send + Sync {
    /// What the driver is, its version and the deployable types it accepts.
    ///
    /// Cheap enough to call on every API `info` request; a driver may ask its server for the version, so an
    /// unreachable server fails with `Unavailable`.
    async fn info(&self) -> Result<DriverInfo>;

    /// Every service of `namespace` the driver runs, sorted by [`ServiceId`]; an empty list when there is none.
    ///
    /// Services of other namespaces and anything without the four Vamp labels are left out. A service is listed
    /// from the moment `deploy` returned `Ok` until `undeploy` returned `Ok`, even while it has no running
    /// instance (its `health.staged` then counts the instances being started).
    async fn list(&self, namespace: &str) -> Result<Vec<RunningService>>;

    /// Creates the service, or updates it to match `spec`: deployable, scale, environment, ports, health
    /// checks, arguments and labels.
    ///
    /// Idempotent: deploying the same spec again changes nothing. Returns once the driver has accepted the
    /// change, not once instances run; `list` reports the progress. After `Ok`, `list` reports the spec's
    /// deployable, scale and environment for `spec.id`, and its health checks unless the driver cannot tell them
    /// (`health_checks: None`).
    ///
    /// Fails with `Unsupported` when the deployable type is not one of [`DriverInfo::deployable_types`], and with
    /// `Invalid` when the spec cannot be expressed by this driver (an empty image, an unknown argument).
    async fn deploy(&self, spec: &ServiceSpec) -> Result<()>;

    /// Stops and removes every instance of the service.
    ///
    /// Idempotent: undeploying a service that does not run (any more) is `Ok`. After `Ok`, `list` no longer
    /// reports it.
    async fn undeploy(&self, id: &ServiceId) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ErrorKind;

    #[test]
    fn labels_read_back_to_the_same_id() {
        let id = ServiceId::new("default", "shop", "frontend", "sava:1.0");
        let mut labels: HashMap<String, String> = id.labels().into_iter().collect();
        labels.insert("com.example.other".into(), "x".into());
        assert_eq!(ServiceId::from_labels(&labels).unwrap(), id);
    }

    #[test]
    fn labels_name_namespace_deployment_cluster_and_service() {
        let labels = ServiceId::new("ns", "d", "c", "s").labels();
        let keys: Vec<&str> = labels.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [LABEL_NAMESPACE, LABEL_DEPLOYMENT, LABEL_CLUSTER, LABEL_SERVICE]
        );
    }

    #[test]
    fn a_missing_label_is_invalid_and_named() {
        let mut labels = ServiceId::new("ns", "d", "c", "s").labels();
        labels.shift_remove(LABEL_CLUSTER);
        let err = ServiceId::from_labels(&labels).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(err.message().contains(LABEL_CLUSTER), "{}", err.message());
    }

    #[test]
    fn an_empty_label_is_invalid() {
        let mut labels = ServiceId::new("ns", "d", "c", "s").labels();
        labels.insert(LABEL_SERVICE.into(), String::new());
        assert!(ServiceId::from_labels(&labels).is_err());
    }

    #[test]
    fn info_accepts_deployables_by_normalized_type() {
        let info = DriverInfo {
            kind: "x".into(),
            version: "1".into(),
            deployable_types: vec!["container/docker".into()],
        };
        assert!(info.accepts(&Deployable {
            kind: "docker".into(),
            definition: "img".into()
        }));
        assert!(!info.accepts(&Deployable {
            kind: "command".into(),
            definition: "ls".into()
        }));
    }
}
