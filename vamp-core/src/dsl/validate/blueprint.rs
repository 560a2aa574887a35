//! Blueprint validation, as the original's blueprint reader did it: services present, breeds unique, inline
//! breeds valid, dependencies satisfied inside the blueprint, references across breeds resolvable, environment
//! overrides naming real variables, health-check ports, scale-escalation targets, and every gateway's ports,
//! routes, weights, stickiness and conditions. Checks that need a breed's contents are made only when the breeds
//! involved are inline: a referenced breed is resolved when deployed.

use std::collections::HashSet;

use super::breed::{has_trait, trait_values, validate_breed, value_references};
use super::canary::check_cluster_canary;
use super::gateway::{check_gateway_routing, check_gateway_weights};
use crate::dsl::error::{ArtifactId, DslError, ErrorCode};
use crate::model::{Blueprint, Breed, Cluster, Escalation, EscalationKind, Kind, Port, Protocol, Ref, Sla};
use crate::resolve::Reference;

/// Whether a blueprint is validated on its own or as a deployment request, whose dependencies may be satisfied
/// by the deployment it merges into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A blueprint: dependencies must be satisfied inside it.
    Blueprint,
    /// A deployment request: dependencies are checked after the merge.
    Deployment,
}

struct V<'a> {
    bp: &'a Blueprint,
    id: ArtifactId,
}

impl V<'_> {
    fn err(&self, code: ErrorCode, path: impl Into<String>, message: impl Into<String>) -> DslError {
        DslError::new(code, self.id.clone(), path, message)
    }

    fn inline_breeds<'c>(&self, cluster: &'c Cluster) -> Option<Vec<&'c Breed>> {
        cluster.services.iter().map(|s| s.breed.inline()).collect()
    }

    fn find_port(&self, cluster: &Cluster, port: &str) -> PortLookup {
        match self.inline_breeds(cluster) {
            None => PortLookup::Unknown,
            Some(breeds) => breeds
                .iter()
                .find_map(|b| b.port(port))
                .map(|p: &Port| PortLookup::Found(p.protocol))
                .unwrap_or(PortLookup::Missing),
        }
    }

    fn breed_cluster(&self, breed_name: &str) -> Option<(&Cluster, &Ref<Breed>)> {
        self.bp.clusters.iter().find_map(|c| {
            c.services
                .iter()
                .find(|s| crate::resolve::matches_dependency(breed_name, s.breed_name()))
                .map(|s| (c, &s.breed))
        })
    }
}

enum PortLookup {
    Found(Protocol),
    Missing,
    Unknown,
}

/// Resolves anonymous cluster gateways (written without a port name) to the cluster's single port, when the
/// cluster's breeds are inline; several ports are `IllegalAnonymousRoutingPortMappingError`.
pub fn name_anonymous_gateways(bp: &mut Blueprint) -> Result<(), DslError> {
    let id = ArtifactId::new(Kind::Blueprint, &bp.name);
    for cluster in &mut bp.clusters {
        let Some(gw_index) = cluster.gateways.iter().position(|g| g.name.is_empty()) else {
            continue;
        };
        let breeds: Option<Vec<&Breed>> = cluster.services.iter().map(|s| s.breed.inline()).collect();
        let Some(breeds) = breeds else { continue };
        let mut ports: Vec<&str> = breeds
            .iter()
            .flat_map(|b| b.ports.iter().map(|p| p.name.as_str()))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        match ports.as_slice() {
            [one] => {
                let name = one.to_string();
                if let Some(gw) = cluster.gateways.get_mut(gw_index) {
                    gw.name = name;
                }
            }
            [] => {}
            many => {
                return Err(DslError::new(
                    ErrorCode::IllegalAnonymousRoutingPortMappingError,
                    id,
                    format!("clusters.{}.gateways", cluster.name),
                    format!(
                        "the breeds of cluster '{}' have several ports ({}): key the gateway by port name",
                        cluster.name,
                        many.join(", ")
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// Validates a blueprint.
pub fn validate_blueprint(bp: &Blueprint, scope: Scope) -> Result<(), DslError> {
    let v = V {
        bp,
        id: ArtifactId::new(Kind::Blueprint, &bp.name),
    };
    check_services(&v)?;
    check_breeds(&v, scope)?;
    check_environment(&v)?;
    check_health_checks(&v)?;
    check_slas(&v)?;
    check_cluster_gateways(&v)?;
    check_blueprint_gateways(&v)
}

fn check_services(v: &V) -> Result<(), DslError> {
    let mut seen = HashSet::new();
    for c in &v.bp.clusters {
        if c.services.is_empty() {
            return Err(v.err(
                ErrorCode::NoServiceError,
                format!("clusters.{}.services", c.name),
                format!("cluster '{}' has no service; add at least one", c.name),
            ));
        }
        for (i, s) in c.services.iter().enumerate() {
            if !seen.insert(s.breed_name()) {
                return Err(v.err(
                    ErrorCode::NonUniqueBlueprintBreedReferenceError,
                    format!("clusters.{}.services[{i}].breed", c.name),
                    format!(
                        "breed '{}' appears more than once; a breed may run in one place of a blueprint",
                        s.breed_name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_breeds(v: &V, scope: Scope) -> Result<(), DslError> {
    for c in &v.bp.clusters {
        for (i, s) in c.services.iter().enumerate() {
            let Ref::Inline(b) = &s.breed else { continue };
            let path = format!("clusters.{}.services[{i}].breed", c.name);
            validate_breed(b, &v.id).map_err(|mut e| {
                e.path = if e.path.is_empty() {
                    path.clone()
                } else {
                    format!("{path}.{}", e.path)
                };
                e
            })?;
            for (alias, dep) in &b.dependencies {
                let dep_name = match dep {
                    Ref::Named(n) => n.as_str(),
                    Ref::Inline(d) => d.name.as_str(),
                };
                let target = v.breed_cluster(dep_name);
                if target.is_none() && scope == Scope::Blueprint {
                    return Err(v.err(
                        ErrorCode::UnresolvedBreedDependencyError,
                        format!("{path}.dependencies.{alias}"),
                        format!("breed '{}' depends on '{dep_name}', which no cluster of the blueprint runs; add a cluster for it", b.name),
                    ));
                }
                let Some((_, Ref::Inline(dep_breed))) = target else {
                    continue;
                };
                for (trait_path, value) in trait_values(b) {
                    for r in value_references(&v.id, &format!("{path}.{trait_path}"), value)? {
                        let Reference::Trait { cluster, group, name } = &r else {
                            continue;
                        };
                        if cluster == alias && !has_trait(dep_breed, *group, name) {
                            return Err(v.err(
                                ErrorCode::UnresolvedEnvironmentVariableError,
                                format!("{path}.{trait_path}"),
                                format!(
                                    "'${}': breed '{}' has no {group} '{name}'",
                                    r.name(),
                                    dep_breed.name
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_environment(v: &V) -> Result<(), DslError> {
    for var in &v.bp.environment_variables {
        let path = format!("environment_variables.{}", var.name);
        let Some((cluster_name, name)) = var.name.split_once('.') else {
            return Err(v.err(
                ErrorCode::UnresolvedEnvironmentVariableError,
                path,
                format!("'{}' must be written 'cluster.VARIABLE'", var.name),
            ));
        };
        let Some(cluster) = v.bp.cluster(cluster_name) else {
            return Err(v.err(
                ErrorCode::UnresolvedEnvironmentVariableError,
                path,
                format!(
                    "'{}' names cluster '{cluster_name}', which the blueprint does not have",
                    var.name
                ),
            ));
        };
        if let Some(breeds) = v.inline_breeds(cluster) {
            if !breeds.iter().any(|b| b.environment_variable(name).is_some()) {
                return Err(v.err(
                    ErrorCode::UnresolvedEnvironmentVariableError,
                    path,
                    format!("no breed of cluster '{cluster_name}' declares the variable '{name}'"),
                ));
            }
        }
    }
    for c in &v.bp.clusters {
        for (i, s) in c.services.iter().enumerate() {
            for var in &s.environment_variables {
                let path = format!(
                    "clusters.{}.services[{i}].environment_variables.{}",
                    c.name, var.name
                );
                if let Ref::Inline(b) = &s.breed {
                    if b.environment_variable(&var.name).is_none() {
                        return Err(v.err(
                            ErrorCode::UnresolvedDependencyInTraitValueError,
                            path,
                            format!(
                                "breed '{}' has no variable '{}' to override; declare it in the breed",
                                b.name, var.name
                            ),
                        ));
                    }
                }
                if var.value.is_none() {
                    return Err(v.err(
                        ErrorCode::MissingEnvironmentVariableError,
                        path,
                        format!("variable '{}' has no value; give it one", var.name),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_health_checks(v: &V) -> Result<(), DslError> {
    for c in &v.bp.clusters {
        for (i, s) in c.services.iter().enumerate() {
            let Ref::Inline(b) = &s.breed else { continue };
            for (j, hc) in s.health_checks.iter().flatten().enumerate() {
                if b.port(&hc.port).is_none() {
                    return Err(v.err(
                        ErrorCode::UnresolvedPortReferenceError,
                        format!("clusters.{}.services[{i}].health_checks[{j}].port", c.name),
                        format!("breed '{}' has no port '{}'", b.name, hc.port),
                    ));
                }
            }
        }
        if let Some(breeds) = v.inline_breeds(c) {
            for (j, hc) in c.health_checks.iter().flatten().enumerate() {
                if !breeds.iter().any(|b| b.port(&hc.port).is_some()) {
                    return Err(v.err(
                        ErrorCode::UnresolvedPortReferenceError,
                        format!("clusters.{}.health_checks[{j}].port", c.name),
                        format!("no breed of cluster '{}' has a port '{}'", c.name, hc.port),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn escalation_targets<'a>(escalations: &'a [Ref<Escalation>], out: &mut Vec<&'a str>) {
    for e in escalations.iter().filter_map(Ref::inline) {
        match &e.kind {
            EscalationKind::ToAll(children) | EscalationKind::ToOne(children) => {
                escalation_targets(children, out)
            }
            EscalationKind::ScaleInstances { target: Some(t), .. }
            | EscalationKind::ScaleCpu { target: Some(t), .. }
            | EscalationKind::ScaleMemory { target: Some(t), .. } => out.push(t),
            _ => {}
        }
    }
}

fn check_slas(v: &V) -> Result<(), DslError> {
    for c in &v.bp.clusters {
        let Some(Ref::Inline(sla)) = &c.sla else { continue };
        let Sla { escalations, .. } = sla;
        let mut targets = Vec::new();
        escalation_targets(escalations, &mut targets);
        for t in targets {
            if v.bp.cluster(t).is_none() {
                return Err(v.err(
                    ErrorCode::UnresolvedScaleEscalationTargetCluster,
                    format!("clusters.{}.sla.escalations", c.name),
                    format!("a scale escalation targets cluster '{t}', which the blueprint does not have"),
                ));
            }
        }
    }
    Ok(())
}

fn check_cluster_gateways(v: &V) -> Result<(), DslError> {
    for c in &v.bp.clusters {
        for gw in &c.gateways {
            let path = format!("clusters.{}.gateways.{}", c.name, gw.name);
            let declared = if gw.name.is_empty() {
                None
            } else {
                match v.find_port(c, &gw.name) {
                    PortLookup::Found(p) => Some(p),
                    PortLookup::Unknown => None,
                    PortLookup::Missing => {
                        return Err(v.err(
                            ErrorCode::UnresolvedGatewayPortError,
                            path,
                            format!("no breed of cluster '{}' has a port '{}'; key cluster gateways by breed port name", c.name, gw.name),
                        ))
                    }
                }
            };
            for r in &gw.routes {
                if !c.services.iter().any(|s| s.breed_name() == r.path.0) {
                    return Err(v.err(
                        ErrorCode::UnresolvedServiceRouteError,
                        format!("{path}.routes.{}", r.path),
                        format!(
                            "cluster '{}' has no service of breed '{}'; route to one of its services",
                            c.name, r.path
                        ),
                    ));
                }
            }
            let total: u32 = gw
                .routes
                .iter()
                .filter_map(|r| r.route.inline())
                .filter_map(|r| r.weight)
                .map(|w| u32::from(w.0))
                .sum();
            if total > 100 {
                return Err(v.err(
                    ErrorCode::RouteWeightError,
                    format!("{path}.routes"),
                    format!(
                        "total route weight of cluster '{}' is {total}%; it cannot exceed 100%",
                        c.name
                    ),
                ));
            }
            let protocol = declared.unwrap_or(Protocol::Http);
            check_gateway_routing(gw, protocol, &v.id, &path)?;
            let services: Vec<&str> = c.services.iter().map(|s| s.breed_name()).collect();
            check_cluster_canary(&c.name, gw, &services, declared, &v.id, &path)?;
        }
    }
    Ok(())
}

fn check_blueprint_gateways(v: &V) -> Result<(), DslError> {
    let mut ports = HashSet::new();
    for gw in &v.bp.gateways {
        let path = format!("gateways.{}", gw.name);
        if gw.port.number != 0 && !ports.insert(gw.port.number) {
            return Err(v.err(
                ErrorCode::DuplicateGatewayPortError,
                path,
                format!(
                    "port {} is used by another gateway of this blueprint; give each gateway its own port",
                    gw.port.number
                ),
            ));
        }
        for r in &gw.routes {
            let rp = format!("{path}.routes.{}", r.path);
            let unresolved = |why: String| v.err(ErrorCode::UnresolvedGatewayPortError, rp.clone(), why);
            let segments = r.path.segments();
            let [cluster_name, port] = segments.as_slice() else {
                return Err(unresolved(format!("'{}' must be written 'cluster/port'", r.path)));
            };
            let Some(cluster) = v.bp.cluster(cluster_name) else {
                return Err(unresolved(format!(
                    "'{}' names cluster '{cluster_name}', which the blueprint does not have",
                    r.path
                )));
            };
            if let PortLookup::Missing = v.find_port(cluster, port) {
                return Err(unresolved(format!(
                    "no breed of cluster '{cluster_name}' has a port '{port}'"
                )));
            }
        }
        check_gateway_routing(gw, gw.port.protocol, &v.id, &path)?;
        check_gateway_weights(gw, &v.id, &path)?;
    }
    Ok(())
}
