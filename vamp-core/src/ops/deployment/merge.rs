//! Merge (PUT, and POST of a blueprint): apply an attachment to the existing deployment (§1.4 steps 3–6).

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use crate::dsl::DslError;
use crate::model::{
    Deployment, DeploymentCluster, DeploymentService, EnvironmentVariable, Intention, Phase, ServiceStatus,
};

use crate::resolve::environment::merged_environment;

use super::dependencies::map_dependencies;
use super::validate::validate;

/// The deployment that results from applying `request` (an attachment, see [`super::attach()`]) to `existing`
/// (`None` creates it), validated with [`validate`].
///
/// * The result keeps `existing`'s name (else the request's). Clusters keep their order; new ones are appended.
/// * A cluster only in `existing` is kept untouched.
/// * A cluster in both is merged: services with the same breed name keep their identity and are merged (below);
///   new services are appended; `gateways` are replaced if the request gives any, else kept; `sla`,
///   `health_checks` and `network` are replaced if given; `metadata` and `dialects` merged by key, request wins.
/// * A merged service takes the request's scale if it gives one, the request's health checks, environment and
///   arguments; dialects are merged by key. Its status is reset to `Deployment/Initiated` at `now` when the
///   requested scale differs from the current one (an omitted scale counts as different), the cluster's gateways
///   differ, the arguments or health checks changed, or the service was being undeployed or had failed;
///   otherwise it is kept.
/// * Any service whose effective environment ([`merged_environment`]: breed, then `cluster.VAR`, then service
///   variables) changed is reset to `Deployment/Initiated` too. Interpolated variable values are always cleared (the next reconcile resolves
///   them again); instances and container health are kept so that gateway targets never go empty on a merge.
/// * Deployment gateways are merged by port number (request wins; others kept); deployment variables by name,
///   `metadata` and `dialects` by key, request winning.
/// * Dependency aliases are mapped over the whole result ([`map_dependencies`]).
pub fn merge(
    existing: Option<&Deployment>,
    request: &Deployment,
    now: DateTime<Utc>,
) -> Result<Deployment, DslError> {
    let mut result = existing
        .cloned()
        .unwrap_or_else(|| Deployment::new(request.name.clone()));
    for requested in &request.clusters {
        match result.cluster_mut(&requested.name) {
            Some(current) => *current = merge_cluster(current, requested, now),
            None => result.clusters.push(new_cluster(requested, now)),
        }
    }
    result.gateways = merge_by_key(&result.gateways, &request.gateways, |g| g.port.number);
    result.environment_variables = merge_by_key(
        &result.environment_variables,
        &request.environment_variables,
        |v| v.name.clone(),
    );
    merge_map(&mut result.metadata, &request.metadata);
    merge_map(&mut result.dialects, &request.dialects);
    reset_changed_environments(existing, &mut result, now);
    map_dependencies(&mut result);
    validate(&result)?;
    Ok(result)
}

/// Resets to `Deployment/Initiated` (and clears interpolated values of) every service whose
/// [`environment_of`] differs from what it was in `existing`: a changed service variable or a changed
/// deployment variable `cluster.VAR` both mean the container must be recreated.
fn reset_changed_environments(existing: Option<&Deployment>, result: &mut Deployment, now: DateTime<Utc>) {
    let Some(existing) = existing else { return };
    let mut changed: Vec<(usize, usize)> = Vec::new();
    for (ci, cluster) in result.clusters.iter().enumerate() {
        for (si, service) in cluster.services.iter().enumerate() {
            let before = existing
                .cluster(&cluster.name)
                .and_then(|c| c.service(&service.breed.name).map(|s| (c, s)));
            let differs = before.is_some_and(|(c, b)| {
                !service.status.is_undeploying()
                    && environment_of(existing, c, b) != environment_of(result, cluster, service)
            });
            if differs {
                changed.push((ci, si));
            }
        }
    }
    for (ci, si) in changed {
        if let Some(s) = result.clusters.get_mut(ci).and_then(|c| c.services.get_mut(si)) {
            s.status = ServiceStatus::initiated(Intention::Deployment, now);
            clear_interpolation(&mut s.environment_variables);
        }
    }
}

/// The variables `service` of `cluster` runs with ([`merged_environment`]), keyed by name and without interpolated
/// values: a merge clears those, and the order variables are written in does not change what the container gets.
fn environment_of(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
) -> IndexMap<String, EnvironmentVariable> {
    merged_environment(deployment, cluster, service)
        .into_iter()
        .map(|v| {
            let v = EnvironmentVariable {
                interpolated: None,
                ..v
            };
            (v.name.clone(), v)
        })
        .collect()
}

/// `existing` with each item replaced by the request's item of the same key, then the request's other items
/// appended, in the request's order.
fn merge_by_key<T: Clone, K: PartialEq>(existing: &[T], request: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut out: Vec<T> = existing
        .iter()
        .map(|e| request.iter().find(|r| key(r) == key(e)).unwrap_or(e).clone())
        .collect();
    out.extend(
        request
            .iter()
            .filter(|r| !existing.iter().any(|e| key(e) == key(r)))
            .cloned(),
    );
    out
}

fn merge_map<V: Clone>(into: &mut IndexMap<String, V>, from: &IndexMap<String, V>) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}

fn fresh_service(service: &DeploymentService, now: DateTime<Utc>) -> DeploymentService {
    let mut s = service.clone();
    s.status = ServiceStatus::initiated(Intention::Deployment, now);
    s.instances.clear();
    s.health = None;
    clear_interpolation(&mut s.environment_variables);
    s
}

fn clear_interpolation(vars: &mut [EnvironmentVariable]) {
    for v in vars {
        v.interpolated = None;
    }
}

fn new_cluster(requested: &DeploymentCluster, now: DateTime<Utc>) -> DeploymentCluster {
    let mut c = requested.clone();
    c.services = requested.services.iter().map(|s| fresh_service(s, now)).collect();
    c
}

fn merge_cluster(
    current: &DeploymentCluster,
    requested: &DeploymentCluster,
    now: DateTime<Utc>,
) -> DeploymentCluster {
    let gateways_given = !requested.gateways.is_empty();
    let gateways_differ = gateways_given && requested.gateways != current.gateways;
    let mut services: Vec<DeploymentService> = current
        .services
        .iter()
        .map(|s| match requested.service(&s.breed.name) {
            Some(r) => merge_service(s, r, gateways_differ, now),
            None => s.clone(),
        })
        .collect();
    services.extend(
        requested
            .services
            .iter()
            .filter(|r| current.service(&r.breed.name).is_none())
            .map(|r| fresh_service(r, now)),
    );
    let mut merged = DeploymentCluster {
        name: current.name.clone(),
        metadata: current.metadata.clone(),
        services,
        gateways: if gateways_given {
            requested.gateways.clone()
        } else {
            current.gateways.clone()
        },
        health_checks: requested
            .health_checks
            .clone()
            .or_else(|| current.health_checks.clone()),
        network: requested.network.clone().or_else(|| current.network.clone()),
        sla: requested.sla.clone().or_else(|| current.sla.clone()),
        dialects: current.dialects.clone(),
    };
    merge_map(&mut merged.metadata, &requested.metadata);
    merge_map(&mut merged.dialects, &requested.dialects);
    merged
}

fn merge_service(
    current: &DeploymentService,
    requested: &DeploymentService,
    gateways_differ: bool,
    now: DateTime<Utc>,
) -> DeploymentService {
    let scale_differs = match (&requested.scale, &current.scale) {
        (Some(r), Some(c)) => !r.same_resources(c),
        _ => true,
    };
    let changed = scale_differs
        || gateways_differ
        || requested.arguments != current.arguments
        || requested.health_checks != current.health_checks
        || current.status.is_undeploying()
        || matches!(current.status.phase, Phase::Failed(_));
    let mut merged = current.clone();
    if requested.scale.is_some() {
        merged.scale = requested.scale.clone();
    }
    merged.environment_variables = requested.environment_variables.clone();
    clear_interpolation(&mut merged.environment_variables);
    merged.arguments = requested.arguments.clone();
    merged.health_checks = requested.health_checks.clone();
    merge_map(&mut merged.dialects, &requested.dialects);
    if changed {
        merged.status = ServiceStatus::initiated(Intention::Deployment, now);
    }
    merged
}
