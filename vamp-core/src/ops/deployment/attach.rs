//! Blueprint → "attachment" deployment: the request a merge applies (§1.4 step 1–2).
//!
//! Every reference is looked up in an [`ArtifactSource`]: breeds and scales are expanded, routes of cluster and
//! blueprint gateways are expanded, and referenced SLAs, escalations, conditions and rewrites must exist (they
//! stay references, so a later change to the stored artifact applies). Each service starts as
//! `Deployment/Initiated` at `now`.

use chrono::{DateTime, Utc};

use crate::dsl::{DslError, ErrorCode};
use crate::model::{
    Argument, Blueprint, Breed, Cluster, Deployment, DeploymentCluster, DeploymentService, Escalation,
    EscalationKind, Gateway, GatewayRoute, Intention, Kind, Ref, RoutePath, Scale, ServiceStatus, Sla,
};
use crate::resolve::environment::cluster_scoped;
use crate::Result;

use super::dependencies::map_dependencies;
use super::source::{not_found, ArtifactSource};

/// What a deployment gets when the blueprint does not say (`vamp.operation.deployment`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeploymentDefaults {
    /// The scale of a service that gives none (by default the original's: 1 instance, 1 CPU, 1 GB).
    pub scale: Scale,
    /// Arguments every service starts with, before the breed's and the service's own (e.g. `privileged: true`).
    pub arguments: Vec<Argument>,
}

/// The attachment for `blueprint`, to be merged into the deployment called `deployment`.
///
/// * Breeds and scales are expanded through `source`; a service without a scale gets `defaults.scale`.
/// * Arguments are `defaults.arguments ++ breed.arguments ++ service.arguments` (see [`merge_arguments`]).
/// * Cluster gateways keep their settings; an anonymous one (empty name) takes the cluster's only port name.
/// * Blueprint gateways are renamed `deployment/port` and their routes prefixed `deployment/`
///   (`frontend/web` → `shop/frontend/web`); `[host:port]` routes stay as written.
/// * Dependency aliases are mapped to the attachment's clusters where possible; the merge maps them again over
///   the whole deployment.
///
/// Errors: an unknown reference is a `NotFound` error ([`not_found`]); a blueprint variable `cluster.VAR` whose
/// cluster or variable does not exist is `UnresolvedEnvironmentVariableError`; an anonymous cluster gateway in a
/// cluster whose breeds have several ports is `IllegalAnonymousRoutingPortMappingError`.
pub fn attach(
    blueprint: &Blueprint,
    deployment: &str,
    source: &dyn ArtifactSource,
    defaults: &DeploymentDefaults,
    now: DateTime<Utc>,
) -> Result<Deployment> {
    let mut clusters = Vec::with_capacity(blueprint.clusters.len());
    for cluster in &blueprint.clusters {
        clusters.push(attach_cluster(blueprint, cluster, source, defaults, now)?);
    }
    check_blueprint_variables(blueprint, &clusters)?;
    let mut gateways = Vec::with_capacity(blueprint.gateways.len());
    for gateway in &blueprint.gateways {
        let mut g = expand_routes(gateway, source)?;
        g.name = format!("{deployment}/{}", gateway.port.number);
        for route in &mut g.routes {
            if route.path.external().is_none() {
                route.path = RoutePath(format!("{deployment}/{}", route.path.0));
            }
        }
        gateways.push(g);
    }
    let mut environment_variables = blueprint.environment_variables.clone();
    for v in &mut environment_variables {
        v.interpolated = None;
    }
    let mut attachment = Deployment {
        name: deployment.to_string(),
        metadata: blueprint.metadata.clone(),
        clusters,
        gateways,
        environment_variables,
        dialects: blueprint.dialects.clone(),
    };
    map_dependencies(&mut attachment);
    Ok(attachment)
}

/// Concatenates argument lists in order of precedence, keeping only the last `privileged` (at its place) and
/// the first of any exact `key: value` duplicates.
///
/// Dropping exact duplicates makes attaching an exported blueprint ([`super::as_blueprint`]) give back the same
/// arguments even though the export repeats the defaults.
pub fn merge_arguments(layers: &[&[Argument]]) -> Vec<Argument> {
    let all: Vec<&Argument> = layers.iter().flat_map(|l| l.iter()).collect();
    let last_privileged = all.iter().rposition(|a| a.key == "privileged");
    let mut out: Vec<Argument> = Vec::with_capacity(all.len());
    for (i, arg) in all.into_iter().enumerate() {
        let dropped_privileged = arg.key == "privileged" && Some(i) != last_privileged;
        if !dropped_privileged && !out.contains(arg) {
            out.push(arg.clone());
        }
    }
    out
}

fn blueprint_error(blueprint: &Blueprint, code: ErrorCode, path: String, message: String) -> crate::Error {
    DslError::about(code, Kind::Blueprint, &blueprint.name, path, message).into()
}

fn attach_cluster(
    blueprint: &Blueprint,
    cluster: &Cluster,
    source: &dyn ArtifactSource,
    defaults: &DeploymentDefaults,
    now: DateTime<Utc>,
) -> Result<DeploymentCluster> {
    let mut services = Vec::with_capacity(cluster.services.len());
    for service in &cluster.services {
        let breed: Breed = match &service.breed {
            Ref::Named(n) => source.breed(n).ok_or_else(|| not_found(Kind::Breed, n))?,
            Ref::Inline(b) => b.clone(),
        };
        let scale = match &service.scale {
            Some(Ref::Named(n)) => {
                let mut s = source.scale(n).ok_or_else(|| not_found(Kind::Scale, n))?;
                if s.name.is_empty() {
                    s.name = n.clone();
                }
                s
            }
            Some(Ref::Inline(s)) => s.clone(),
            None => defaults.scale.clone(),
        };
        let arguments = merge_arguments(&[&defaults.arguments, &breed.arguments, &service.arguments]);
        let mut environment_variables = service.environment_variables.clone();
        for v in &mut environment_variables {
            v.interpolated = None;
        }
        services.push(DeploymentService {
            status: ServiceStatus::initiated(Intention::Deployment, now),
            breed,
            environment_variables,
            scale: Some(scale),
            instances: Vec::new(),
            arguments,
            health_checks: service.health_checks.clone(),
            network: service.network.clone(),
            dependencies: indexmap::IndexMap::new(),
            dialects: service.dialects.clone(),
            health: None,
        });
    }
    let mut gateways = Vec::with_capacity(cluster.gateways.len());
    for gateway in &cluster.gateways {
        let mut g = expand_routes(gateway, source)?;
        if g.name.is_empty() {
            g.name = only_port(&services).ok_or_else(|| {
                blueprint_error(
                    blueprint,
                    ErrorCode::IllegalAnonymousRoutingPortMappingError,
                    format!("clusters.{}.gateways", cluster.name),
                    format!(
                        "The gateway of cluster '{}' names no port while its breeds declare none or several; key it \
                         by the breed port name.",
                        cluster.name
                    ),
                )
            })?;
        }
        gateways.push(g);
    }
    match &cluster.sla {
        Some(Ref::Named(n)) => {
            source.sla(n).ok_or_else(|| not_found(Kind::Sla, n))?;
        }
        Some(Ref::Inline(Sla { escalations, .. })) => check_escalations(escalations, source)?,
        None => {}
    }
    Ok(DeploymentCluster {
        name: cluster.name.clone(),
        metadata: cluster.metadata.clone(),
        services,
        gateways,
        health_checks: cluster.health_checks.clone(),
        network: cluster.network.clone(),
        sla: cluster.sla.clone(),
        dialects: cluster.dialects.clone(),
    })
}

fn only_port(services: &[DeploymentService]) -> Option<String> {
    let mut names: Vec<&str> = Vec::new();
    for port in services.iter().flat_map(|s| s.breed.ports.iter()) {
        if !names.contains(&port.name.as_str()) {
            names.push(&port.name);
        }
    }
    match names.as_slice() {
        [one] => Some((*one).to_string()),
        _ => None,
    }
}

fn check_escalations(escalations: &[Ref<Escalation>], source: &dyn ArtifactSource) -> Result<()> {
    for e in escalations {
        match e {
            Ref::Named(n) => {
                source
                    .escalation(n)
                    .ok_or_else(|| not_found(Kind::Escalation, n))?;
            }
            Ref::Inline(Escalation {
                kind: EscalationKind::ToAll(children) | EscalationKind::ToOne(children),
                ..
            }) => check_escalations(children, source)?,
            Ref::Inline(_) => {}
        }
    }
    Ok(())
}

/// `gateway` with stored routes expanded, read-only fields (targets, service address) cleared, and every
/// referenced condition and rewrite checked to exist.
fn expand_routes(gateway: &Gateway, source: &dyn ArtifactSource) -> Result<Gateway> {
    let mut routes = Vec::with_capacity(gateway.routes.len());
    for route in &gateway.routes {
        let inline = match &route.route {
            Ref::Named(n) => source.route(n).ok_or_else(|| not_found(Kind::Route, n))?,
            Ref::Inline(r) => r.clone(),
        };
        if let Some(Ref::Named(n)) = &inline.condition {
            source.condition(n).ok_or_else(|| not_found(Kind::Condition, n))?;
        }
        for rewrite in &inline.rewrites {
            if let Ref::Named(n) = rewrite {
                source.rewrite(n).ok_or_else(|| not_found(Kind::Rewrite, n))?;
            }
        }
        routes.push(GatewayRoute {
            path: route.path.clone(),
            route: Ref::Inline(inline),
            targets: Vec::new(),
        });
    }
    Ok(Gateway {
        routes,
        service: None,
        ..gateway.clone()
    })
}

/// Every blueprint variable must be `cluster.VAR` for a cluster of the blueprint whose breeds declare `VAR`.
fn check_blueprint_variables(blueprint: &Blueprint, clusters: &[DeploymentCluster]) -> Result<()> {
    for v in &blueprint.environment_variables {
        let declared = cluster_scoped(&v.name).is_some_and(|(cluster, var)| {
            clusters.iter().find(|c| c.name == cluster).is_some_and(|c| {
                c.services
                    .iter()
                    .any(|s| s.breed.environment_variable(var).is_some())
            })
        });
        if !declared {
            return Err(blueprint_error(
                blueprint,
                ErrorCode::UnresolvedEnvironmentVariableError,
                format!("environment_variables.{}", v.name),
                format!(
                    "Environment variable '{}' cannot be resolved: write it as 'cluster.VARIABLE' for a cluster of \
                     this blueprint whose breed declares that variable.",
                    v.name
                ),
            ));
        }
    }
    Ok(())
}
