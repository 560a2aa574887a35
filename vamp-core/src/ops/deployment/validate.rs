//! Validation of a merged deployment (§1.4 step 6). Only services not being undeployed are checked.

use crate::dsl::validate::canary::check_cluster_canary;
use crate::dsl::{ArtifactId, DslError, ErrorCode};
use crate::model::{Deployment, DeploymentCluster, DeploymentService, Kind};
use crate::resolve::environment::merged_environment;

use super::dependencies::check_dependencies;
use super::deployment_error;
use super::weights::port_weights;

/// Checks, in this order, and returns the first failure:
///
/// 1. each breed runs in one service only (`NonUniqueBreedReferenceError`);
/// 2. every breed dependency is satisfied by a cluster of the deployment (`UnresolvedDependencyError`);
/// 3. every service variable is declared by its breed (`UnresolvedDependencyInTraitValueError`);
/// 4. every breed variable without a value (`~`) gets one from the service or from a deployment variable
///    `cluster.VAR` (`UnresolvedVariableValueError`);
/// 5. every cluster port's route weights total 0% or 100% once weightless routes share the rest
///    (`UnsupportedRouteWeight`);
/// 6. every canary policy of a cluster's gateway compares two different services of the cluster on that port,
///    routed inline without a condition, with no other service's route carrying weight, and its numbers in
///    bounds (`CanaryPolicyError`, e.g. at `clusters.sava.gateways.web.canary.canary`).
///
/// Checks that need other artifacts (gateway port availability, escalation targets) belong to the callers that
/// have them.
pub fn validate(deployment: &Deployment) -> Result<(), DslError> {
    check_unique_breeds(deployment)?;
    check_dependencies(deployment)?;
    for cluster in &deployment.clusters {
        for (i, service) in cluster.services.iter().enumerate() {
            if !service.status.is_undeploying() {
                check_variables(deployment, cluster, i, service)?;
            }
        }
        check_weights(deployment, cluster)?;
        check_canaries(deployment, cluster)?;
    }
    Ok(())
}

fn check_unique_breeds(deployment: &Deployment) -> Result<(), DslError> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for cluster in &deployment.clusters {
        for (i, service) in cluster.services.iter().enumerate() {
            if service.status.is_undeploying() {
                continue;
            }
            if let Some((_, first)) = seen.iter().find(|(b, _)| *b == service.breed.name) {
                return Err(deployment_error(
                    ErrorCode::NonUniqueBreedReferenceError,
                    &deployment.name,
                    format!("clusters.{}.services[{i}].breed", cluster.name),
                    format!(
                        "Breed '{}' is already deployed in cluster '{first}'; a breed runs in one service of a \
                         deployment only. Use another breed name or remove one of the services.",
                        service.breed.name
                    ),
                ));
            }
            seen.push((&service.breed.name, &cluster.name));
        }
    }
    Ok(())
}

fn check_variables(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    index: usize,
    service: &DeploymentService,
) -> Result<(), DslError> {
    let breed = &service.breed;
    for v in &service.environment_variables {
        if breed.environment_variable(&v.name).is_none() {
            return Err(deployment_error(
                ErrorCode::UnresolvedDependencyInTraitValueError,
                &deployment.name,
                format!("clusters.{}.services[{index}].environment_variables.{}", cluster.name, v.name),
                format!(
                    "Unresolved reference '{}' in breed '{} -> {}': the breed declares no such variable. Declare \
                     it in the breed or remove it from the service.",
                    v.name, breed.name, breed.deployable.definition
                ),
            ));
        }
    }
    let merged = merged_environment(deployment, cluster, service);
    for v in breed.environment_variables.iter().filter(|v| v.value.is_none()) {
        if !merged.iter().any(|m| m.name == v.name) {
            return Err(deployment_error(
                ErrorCode::UnresolvedVariableValueError,
                &deployment.name,
                format!(
                    "clusters.{}.services[{index}].environment_variables.{}",
                    cluster.name, v.name
                ),
                format!(
                    "Unresolved value of variable '{}' for breed '{}'. Give it a value in the service's \
                     environment_variables or as '{}.{}' in the blueprint's environment_variables.",
                    v.name, breed.name, cluster.name, v.name
                ),
            ));
        }
    }
    Ok(())
}

fn check_canaries(deployment: &Deployment, cluster: &DeploymentCluster) -> Result<(), DslError> {
    let artifact = ArtifactId::new(Kind::Deployment, deployment.name.clone());
    for setting in cluster.gateways.iter().filter(|g| g.canary.is_some()) {
        let port = setting.name.rsplit('/').next().unwrap_or_default();
        let on_port: Vec<&DeploymentService> = cluster
            .services
            .iter()
            .filter(|s| !s.status.is_undeploying())
            .filter(|s| s.breed.port(port).is_some())
            .collect();
        let services: Vec<&str> = on_port.iter().map(|s| s.breed.name.as_str()).collect();
        let protocol = on_port
            .iter()
            .find_map(|s| s.breed.port(port))
            .map(|p| p.protocol);
        let path = format!("clusters.{}.gateways.{port}", cluster.name);
        check_cluster_canary(&cluster.name, setting, &services, protocol, &artifact, &path)?;
    }
    Ok(())
}

fn check_weights(deployment: &Deployment, cluster: &DeploymentCluster) -> Result<(), DslError> {
    let weights = port_weights(cluster, |s| !s.status.is_undeploying());
    match weights.into_iter().find(|w| !w.is_valid()) {
        None => Ok(()),
        Some(w) => Err(deployment_error(
            ErrorCode::UnsupportedRouteWeight,
            &deployment.name,
            format!("clusters.{}.gateways.{}", cluster.name, w.port),
            format!(
                "Total route weight for deployment '{}' and cluster '{}' must be either 100% or 0%, not {}%. Make \
                 the weights of port '{}' add up to 100%, or leave a route without a weight to take the rest.",
                deployment.name, cluster.name, w.explicit, w.port
            ),
        )),
    }
}
