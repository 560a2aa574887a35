//! Which health checks a service runs with: service, cluster and breed checks by precedence (§1.13).

use crate::model::{DeploymentCluster, DeploymentService, HealthCheck};

/// The health checks a driver should run for `service` of `cluster`.
///
/// * Service checks given: an empty list disables every check; otherwise the service's checks plus the
///   cluster's checks for paths the service does not check, on ports the breed declares.
/// * Else cluster checks given: those on ports the breed declares.
/// * Else the breed's checks, or none.
///
/// The original meant the same rule but wrote the path filter as "some service check has another path"; here a
/// cluster check is added only when no service check has its path.
pub fn effective_health_checks(cluster: &DeploymentCluster, service: &DeploymentService) -> Vec<HealthCheck> {
    let on_breed_port = |hc: &&HealthCheck| service.breed.port(&hc.port).is_some();
    match (&service.health_checks, &cluster.health_checks) {
        (Some(own), _) if own.is_empty() => Vec::new(),
        (Some(own), cluster_checks) => {
            let mut checks = own.clone();
            let extra = cluster_checks
                .iter()
                .flatten()
                .filter(on_breed_port)
                .filter(|hc| !own.iter().any(|o| o.path == hc.path));
            checks.extend(extra.cloned());
            checks
        }
        (None, Some(cluster_checks)) => cluster_checks.iter().filter(on_breed_port).cloned().collect(),
        (None, None) => service.breed.health_checks.clone().unwrap_or_default(),
    }
}
