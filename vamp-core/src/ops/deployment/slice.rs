//! Slice (DELETE with a body): mark services for undeployment; and the removal of undeployed services.

use chrono::{DateTime, Utc};

use crate::dsl::{DslError, ErrorCode};
use crate::model::{
    Blueprint, Breed, Deployable, Deployment, DeploymentCluster, DeploymentService, Intention, Phase,
    ServiceStatus,
};

use super::dependencies::check_dependencies;
use super::deployment_error;
use super::weights::port_weights;
use crate::ops::gateways::breed_of_route;

/// `existing` with the services `request` names marked for undeployment.
///
/// For each cluster of `request` that `existing` has, every service whose breed the request's cluster names gets
/// intention `Undeployment`, phase `Initiated` at `now` (unless it is already being undeployed and has not
/// failed), and its runtime state (instances, health, interpolated values) cleared; its routes are removed from
/// the cluster's gateways, a canary policy comparing one of them is dropped (the release is over), and a cluster
/// left without active services loses its gateways. Names the deployment
/// does not have are ignored, so an empty request changes nothing.
///
/// Before anything changes, each affected cluster's remaining services must still carry the traffic: on every
/// port, their explicit route weights must total 0% or 100%, or less than 100% with a weightless service left to
/// take the rest; otherwise `InvalidRouteWeight` (re-weight with a PUT first). After the change, every remaining
/// service's dependencies must still be satisfied (`UnresolvedDependencyError`).
pub fn slice(
    existing: &Deployment,
    request: &Deployment,
    now: DateTime<Utc>,
) -> Result<Deployment, DslError> {
    let mut result = existing.clone();
    for requested in &request.clusters {
        let Some(cluster) = result.cluster_mut(&requested.name) else {
            continue;
        };
        let removed: Vec<String> = requested
            .services
            .iter()
            .map(|s| s.breed.name.clone())
            .filter(|name| cluster.service(name).is_some())
            .collect();
        if removed.is_empty() {
            continue;
        }
        check_remaining_weights(&existing.name, cluster, &removed)?;
        undeploy_services(cluster, &removed, now);
    }
    check_dependencies(&result)?;
    Ok(result)
}

fn check_remaining_weights(
    deployment: &str,
    cluster: &DeploymentCluster,
    removed: &[String],
) -> Result<(), DslError> {
    let remaining =
        |s: &crate::model::DeploymentService| !s.status.is_undeploying() && !removed.contains(&s.breed.name);
    match port_weights(cluster, remaining).into_iter().find(|w| !w.is_valid()) {
        None => Ok(()),
        Some(w) => Err(deployment_error(
            ErrorCode::InvalidRouteWeight,
            deployment,
            format!("clusters.{}.gateways.{}", cluster.name, w.port),
            format!(
                "Invalid route weight for deployment '{deployment}' and cluster '{}': after updating the services \
                 and routes, weight {}% of port '{}' is invalid; re-weight the remaining routes to 100% first.",
                cluster.name, w.explicit, w.port
            ),
        )),
    }
}

fn undeploy_services(cluster: &mut DeploymentCluster, removed: &[String], now: DateTime<Utc>) {
    for service in cluster
        .services
        .iter_mut()
        .filter(|s| removed.contains(&s.breed.name))
    {
        let in_progress =
            service.status.is_undeploying() && !matches!(service.status.phase, Phase::Failed(_));
        if !in_progress {
            service.status = ServiceStatus::initiated(Intention::Undeployment, now);
        }
        service.instances.clear();
        service.health = None;
        for v in &mut service.environment_variables {
            v.interpolated = None;
        }
    }
    if cluster.services.iter().all(|s| s.status.is_undeploying()) {
        cluster.gateways.clear();
    } else {
        for gateway in &mut cluster.gateways {
            gateway.routes.retain(|r| {
                let last = r.path.segments().pop().unwrap_or_default();
                !removed.contains(&last)
            });
            let compares_removed = gateway.canary.as_ref().is_some_and(|p| {
                [&p.baseline, &p.canary]
                    .iter()
                    .any(|r| removed.iter().any(|b| b == breed_of_route(&r.0)))
            });
            if compares_removed {
                gateway.canary = None;
            }
        }
    }
}

/// The slice request for a DELETE body, without looking anything up: [`slice()`] reads only cluster names and
/// breed names, so a body may name breeds that are no longer stored.
pub fn slice_request(blueprint: &Blueprint) -> Deployment {
    let mut request = Deployment::new(blueprint.name.clone());
    request.clusters = blueprint
        .clusters
        .iter()
        .map(|c| DeploymentCluster {
            name: c.name.clone(),
            metadata: Default::default(),
            services: c
                .services
                .iter()
                .map(|s| DeploymentService {
                    status: ServiceStatus::initiated(Intention::Undeployment, chrono::DateTime::UNIX_EPOCH),
                    breed: Breed::new(s.breed_name(), Deployable::docker("")),
                    environment_variables: Vec::new(),
                    scale: None,
                    instances: Vec::new(),
                    arguments: Vec::new(),
                    health_checks: None,
                    network: None,
                    dependencies: Default::default(),
                    dialects: Default::default(),
                    health: None,
                })
                .collect(),
            gateways: Vec::new(),
            health_checks: None,
            network: None,
            sla: None,
            dialects: Default::default(),
        })
        .collect();
    request
}

/// `deployment` without the services whose undeployment is done (`Undeployment/Done`) and without clusters
/// left empty; `None` when no cluster is left, i.e. the deployment no longer exists.
pub fn remove_undeployed(mut deployment: Deployment) -> Option<Deployment> {
    for cluster in &mut deployment.clusters {
        cluster
            .services
            .retain(|s| !(s.status.is_undeploying() && s.status.is_done()));
    }
    deployment.clusters.retain(|c| !c.services.is_empty());
    (!deployment.clusters.is_empty()).then_some(deployment)
}
