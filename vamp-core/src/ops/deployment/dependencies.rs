//! Breed dependencies of a deployment: which cluster satisfies each dependency alias.
//!
//! A dependency is satisfied by a cluster that runs a breed of the same name, or, when the dependency's name
//! ends in `*`, a breed whose name starts with the part before the `*` (`db:*` matches `db:9.6`, see
//! [`matches_dependency`]). Only services that are not being undeployed count.

use crate::dsl::{DslError, ErrorCode};
use crate::model::Deployment;
use crate::resolve::environment::{dependency_name, matches_dependency};

use super::deployment_error;

/// Whether `cluster` of `deployment` has a service not being undeployed that satisfies `dependency`.
pub(crate) fn cluster_satisfies(deployment: &Deployment, cluster: &str, dependency: &str) -> bool {
    deployment.cluster(cluster).is_some_and(|c| {
        c.services
            .iter()
            .any(|s| !s.status.is_undeploying() && matches_dependency(dependency, &s.breed.name))
    })
}

/// The first cluster, in deployment order, that satisfies `dependency`.
pub fn satisfying_cluster<'a>(deployment: &'a Deployment, dependency: &str) -> Option<&'a str> {
    deployment
        .clusters
        .iter()
        .find(|c| {
            c.services
                .iter()
                .any(|s| !s.status.is_undeploying() && matches_dependency(dependency, &s.breed.name))
        })
        .map(|c| c.name.as_str())
}

/// Sets every active service's `dependencies` (alias → cluster) from its breed's dependencies.
///
/// A mapping that still points at a satisfying cluster is kept, so clusters a merge leaves alone keep their
/// mapping; other aliases get the first satisfying cluster; an alias nothing satisfies is left out (validation
/// reports it, see [`super::validate()`]). Services being undeployed are not touched.
pub fn map_dependencies(deployment: &mut Deployment) {
    let mut updates: Vec<(usize, usize, indexmap::IndexMap<String, String>)> = Vec::new();
    for (ci, cluster) in deployment.clusters.iter().enumerate() {
        for (si, service) in cluster.services.iter().enumerate() {
            if service.status.is_undeploying() {
                continue;
            }
            let mut mapping = indexmap::IndexMap::new();
            for (alias, dependency) in &service.breed.dependencies {
                let name = dependency_name(dependency);
                let kept = service
                    .dependencies
                    .get(alias)
                    .filter(|c| cluster_satisfies(deployment, c, name));
                if let Some(target) = kept
                    .map(String::as_str)
                    .or_else(|| satisfying_cluster(deployment, name))
                {
                    mapping.insert(alias.clone(), target.to_string());
                }
            }
            updates.push((ci, si, mapping));
        }
    }
    for (ci, si, mapping) in updates {
        if let Some(service) = deployment
            .clusters
            .get_mut(ci)
            .and_then(|c| c.services.get_mut(si))
        {
            service.dependencies = mapping;
        }
    }
}

/// Fails with `UnresolvedDependencyError` for the first active service whose breed depends on something no
/// active service of the deployment runs.
pub(crate) fn check_dependencies(deployment: &Deployment) -> Result<(), DslError> {
    for cluster in &deployment.clusters {
        for (i, service) in cluster.services.iter().enumerate() {
            if service.status.is_undeploying() {
                continue;
            }
            for (alias, dependency) in &service.breed.dependencies {
                let name = dependency_name(dependency);
                if satisfying_cluster(deployment, name).is_none() {
                    return Err(deployment_error(
                        ErrorCode::UnresolvedDependencyError,
                        &deployment.name,
                        format!("clusters.{}.services[{i}].breed.dependencies.{alias}", cluster.name),
                        format!(
                            "Unresolved dependency '{name}' for breed '{}'. Deploy a breed called '{name}' in a \
                             cluster of this deployment, or keep the service that runs it.",
                            service.breed.name
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
