//! The environment of a deployment service (§2.2 of the behaviour reference): which value each variable gets,
//! which cluster each dependency alias means, and what the container finally receives.
//!
//! Precedence, later wins: the breed's variables that have a value → the deployment-scope variables written
//! `cluster.VAR` (or `cluster.environment_variables.VAR`) for this cluster and a variable the breed declares →
//! the service's own variables. A breed placeholder (`~`) that no scope fills is an `UnresolvedVariableValueError`.
//!
//! Differences from the original, on purpose: an override keeps the breed's `NAME[ALIAS]` alias unless it gives
//! its own (the original dropped it, so the container got `NAME`); an override without a value does not erase a
//! breed value; a local reference (`$OTHER`) resolves to the other variable's resolved value (the original
//! inserted its raw text), and a local cycle is unresolved rather than looping.

use indexmap::IndexMap;

use super::interpolate::{interpolate, Aliased, Strictness, ValueSource};
use crate::dsl::{ArtifactId, DslError, ErrorCode};
use crate::model::{Breed, Deployment, DeploymentCluster, DeploymentService, EnvironmentVariable, Kind, Ref};

/// Where a variable's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Breed,
    Cluster,
    Service,
}

/// A merged variable and the scope that set its value.
struct Scoped {
    var: EnvironmentVariable,
    scope: Scope,
}

/// Reads a deployment-scope variable name: `cluster.VAR` or `cluster.environment_variables.VAR` → `(cluster, VAR)`.
pub fn cluster_scoped(name: &str) -> Option<(&str, &str)> {
    let mut parts = name.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(cluster), Some(var), None, None) => Some((cluster, var)),
        (Some(cluster), Some("environment_variables"), Some(var), None) => Some((cluster, var)),
        _ => None,
    }
    .filter(|(cluster, var)| !cluster.is_empty() && !var.is_empty())
}

/// Merges the three scopes, later winning, keeping the breed's order and appending variables the breed does not
/// declare (validation reports those). Placeholders no scope fills are simply absent.
fn merge(deployment: &Deployment, cluster: &DeploymentCluster, service: &DeploymentService) -> Vec<Scoped> {
    let breed = &service.breed;
    let mut out: Vec<Scoped> = breed
        .environment_variables
        .iter()
        .filter(|v| v.value.is_some())
        .map(|v| Scoped {
            var: v.clone(),
            scope: Scope::Breed,
        })
        .collect();
    let mut set = |var: EnvironmentVariable, scope: Scope| {
        let alias = var.alias.clone().or_else(|| {
            breed
                .environment_variable(&var.name)
                .and_then(|b| b.alias.clone())
        });
        let var = EnvironmentVariable { alias, ..var };
        match out.iter_mut().find(|s| s.var.name == var.name) {
            Some(existing) => *existing = Scoped { var, scope },
            None => out.push(Scoped { var, scope }),
        }
    };
    for var in &deployment.environment_variables {
        let Some((scope_cluster, name)) = cluster_scoped(&var.name) else {
            continue;
        };
        if scope_cluster == cluster.name && var.value.is_some() && breed.environment_variable(name).is_some()
        {
            let scoped = EnvironmentVariable {
                name: name.to_string(),
                alias: None,
                value: var.value.clone(),
                interpolated: var.interpolated.clone(),
            };
            set(scoped, Scope::Cluster);
        }
    }
    for var in &service.environment_variables {
        if var.value.is_some() {
            set(var.clone(), Scope::Service);
        }
    }
    out
}

/// The variables `service` of `cluster` runs with, by precedence (see the module doc), without the placeholder
/// check of [`effective_environment`]: a breed placeholder no scope fills is simply absent. Never fails, so it
/// serves value lookups across services and comparing a service's environment before and after a merge. Values are
/// not interpolated (an `interpolated` value already present in the winning scope is kept).
pub fn merged_environment(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
) -> Vec<EnvironmentVariable> {
    merge(deployment, cluster, service)
        .into_iter()
        .map(|s| s.var)
        .collect()
}

/// The field path of `service` inside the deployment: `clusters.<cluster>.services[<i>]`.
fn service_path(cluster: &DeploymentCluster, service: &DeploymentService) -> String {
    match cluster
        .services
        .iter()
        .position(|s| s.breed.name == service.breed.name)
    {
        Some(i) => format!("clusters.{}.services[{i}]", cluster.name),
        None => format!("clusters.{}.services", cluster.name),
    }
}

/// The environment `service` of `cluster` gets, by precedence (see the module doc), values not yet interpolated
/// (an `interpolated` value already present in the winning scope is kept). Fails with
/// `UnresolvedVariableValueError` on the first breed placeholder no scope fills.
pub fn effective_environment(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
) -> Result<Vec<EnvironmentVariable>, DslError> {
    Ok(checked_merge(deployment, cluster, service)?
        .into_iter()
        .map(|s| s.var)
        .collect())
}

fn checked_merge(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
) -> Result<Vec<Scoped>, DslError> {
    let merged = merge(deployment, cluster, service);
    let breed = &service.breed;
    let missing = breed
        .environment_variables
        .iter()
        .find(|v| v.value.is_none() && !merged.iter().any(|s| s.var.name == v.name));
    if let Some(placeholder) = missing {
        return Err(DslError::about(
            ErrorCode::UnresolvedVariableValueError,
            Kind::Deployment,
            &deployment.name,
            format!("{}.environment_variables.{}", service_path(cluster, service), placeholder.name),
            format!(
                "Unresolved value of variable '{name}' for breed '{breed}'. The breed leaves it open (`~`): give it a \
                 value in the service's environment_variables or as '{cluster}.{name}' in the blueprint's \
                 environment_variables.",
                name = placeholder.name,
                breed = breed.name,
                cluster = cluster.name,
            ),
        ));
    }
    Ok(merged)
}

/// Whether a deployed breed called `breed` satisfies a dependency on `dependency`: the same name, or, when
/// `dependency` ends with `*`, a name starting with what precedes the `*`.
pub fn matches_dependency(dependency: &str, breed: &str) -> bool {
    match dependency.strip_suffix('*') {
        _ if dependency == breed => true,
        Some(prefix) => breed.starts_with(prefix),
        None => false,
    }
}

/// The name a dependency is matched by: the referenced name, or the inline breed's name.
pub(crate) fn dependency_name(dependency: &Ref<Breed>) -> &str {
    match dependency {
        Ref::Named(name) => name,
        Ref::Inline(breed) => &breed.name,
    }
}

/// The cluster of `deployment` that satisfies each dependency of `breed`, by alias. A cluster with a matching
/// service that is not being undeployed is preferred; among equals the first cluster wins. A dependency no
/// cluster satisfies is an `UnresolvedDependencyError` about the breed, at `dependencies.<alias>`.
pub fn dependency_clusters(
    deployment: &Deployment,
    breed: &Breed,
) -> Result<IndexMap<String, String>, DslError> {
    let mut out = IndexMap::with_capacity(breed.dependencies.len());
    for (alias, dependency) in &breed.dependencies {
        let wanted = dependency_name(dependency);
        let provides = |c: &&DeploymentCluster, live_only: bool| {
            c.services.iter().any(|s| {
                (!live_only || !s.status.is_undeploying()) && matches_dependency(wanted, &s.breed.name)
            })
        };
        let found = deployment
            .clusters
            .iter()
            .find(|c| provides(c, true))
            .or_else(|| deployment.clusters.iter().find(|c| provides(c, false)));
        let Some(cluster) = found else {
            return Err(DslError::about(ErrorCode::UnresolvedDependencyError, Kind::Breed, &breed.name,
                format!("dependencies.{alias}"),
                format!(
                    "Unresolved dependency '{wanted}' for breed '{}'. No cluster of deployment '{}' runs a breed \
                     matching it; deploy one or change the dependency.",
                    breed.name, deployment.name
                ),
            ));
        };
        out.insert(alias.clone(), cluster.name.clone());
    }
    Ok(out)
}

/// Reads `$NAME` from the service's own variables and constants, resolving their references in turn; a variable
/// that refers back to one being resolved is unresolved. Everything else goes to `inner`.
struct Locals<'a> {
    inner: &'a dyn ValueSource,
    scope: &'a IndexMap<String, String>,
    strictness: Strictness,
    visiting: Vec<String>,
}

impl ValueSource for Locals<'_> {
    fn host(&self, cluster: &str) -> Option<String> {
        self.inner.host(cluster)
    }

    fn port(&self, cluster: &str, port: &str) -> Option<u16> {
        self.inner.port(cluster, port)
    }

    fn environment(&self, cluster: &str, name: &str) -> Option<String> {
        self.inner.environment(cluster, name)
    }

    fn constant(&self, cluster: &str, name: &str) -> Option<String> {
        self.inner.constant(cluster, name)
    }

    fn local(&self, name: &str) -> Option<String> {
        let Some(raw) = self.scope.get(name) else {
            return self.inner.local(name);
        };
        if self.visiting.iter().any(|v| v == name) {
            return None;
        }
        let mut visiting = self.visiting.clone();
        visiting.push(name.to_string());
        let nested = Locals {
            inner: self.inner,
            scope: self.scope,
            strictness: self.strictness,
            visiting,
        };
        interpolate(raw, &nested, self.strictness).ok()
    }

    fn global(&self, scheme: &str, path: &str) -> Option<String> {
        self.inner.global(scheme, path)
    }

    fn host_port(&self, cluster: &str, port: &str) -> Option<String> {
        self.inner.host_port(cluster, port)
    }
}

/// The effective environment of `service` with every variable's `interpolated` value set, as the deployment loop
/// persists it and the container driver uses it.
///
/// Breed and service values are read through the breed's dependency aliases ([`dependency_clusters`]) with
/// `$NAME` meaning the service's own variables and breed constants; deployment-scope values are written with
/// cluster names and resolved against `source` directly, as in the original. A variable that already has an
/// `interpolated` value keeps it. Errors: those of [`effective_environment`] and [`dependency_clusters`], a
/// malformed value (`ParserError`), and under [`Strictness::Strict`] an unresolved reference
/// (`UnresolvedEnvironmentValueError`), each naming the variable's field path.
pub fn resolve_environment(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
    source: &dyn ValueSource,
    strictness: Strictness,
) -> Result<Vec<EnvironmentVariable>, DslError> {
    let merged = checked_merge(deployment, cluster, service)?;
    let aliases = dependency_clusters(deployment, &service.breed)?;
    let aliased = Aliased::new(source, &aliases);
    let mut scope: IndexMap<String, String> = IndexMap::new();
    for s in &merged {
        if let Some(value) = s.var.interpolated.as_ref().or(s.var.value.as_ref()) {
            scope.insert(s.var.name.clone(), value.clone());
        }
    }
    for constant in &service.breed.constants {
        scope
            .entry(constant.name.clone())
            .or_insert_with(|| constant.value.clone());
    }
    let mut out = Vec::with_capacity(merged.len());
    for Scoped {
        mut var,
        scope: origin,
    } in merged
    {
        if var.interpolated.is_none() {
            let raw = var.value.as_deref().unwrap_or_default();
            let result = match origin {
                Scope::Cluster => interpolate(raw, source, strictness),
                Scope::Breed | Scope::Service => {
                    let locals = Locals {
                        inner: &aliased,
                        scope: &scope,
                        strictness,
                        visiting: vec![var.name.clone()],
                    };
                    interpolate(raw, &locals, strictness)
                }
            };
            let path = match origin {
                Scope::Cluster => format!("environment_variables.{}.{}", cluster.name, var.name),
                Scope::Breed | Scope::Service => {
                    format!(
                        "{}.environment_variables.{}",
                        service_path(cluster, service),
                        var.name
                    )
                }
            };
            var.interpolated = Some(
                result.map_err(|e| e.into_dsl(ArtifactId::new(Kind::Deployment, &deployment.name), path))?,
            );
        }
        out.push(var);
    }
    Ok(out)
}

/// What the container receives: `alias-or-name → value`, using each variable's interpolated value (its raw value
/// when it has none; call this on [`resolve_environment`]'s result so every variable has one). Variables with
/// neither are left out; a later variable with the same container name wins.
pub fn container_environment(vars: &[EnvironmentVariable]) -> IndexMap<String, String> {
    vars.iter()
        .filter_map(|v| {
            let value = v.interpolated.as_ref().or(v.value.as_ref())?;
            Some((v.container_name().to_string(), value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_scoped_names_have_two_or_three_parts() {
        assert_eq!(cluster_scoped("web.API_KEY"), Some(("web", "API_KEY")));
        assert_eq!(
            cluster_scoped("web.environment_variables.API_KEY"),
            Some(("web", "API_KEY"))
        );
        assert_eq!(cluster_scoped("web.ports.API_KEY"), None);
        assert_eq!(cluster_scoped("API_KEY"), None);
        assert_eq!(cluster_scoped(".API_KEY"), None);
    }

    #[test]
    fn cluster_scoped_names_have_nothing_after_the_variable() {
        assert_eq!(cluster_scoped("web.environment_variables.API_KEY.X"), None);
        assert_eq!(cluster_scoped("web.environment_variables."), None);
        assert_eq!(cluster_scoped("web."), None);
    }

    #[test]
    fn dependency_wildcard_matches_by_prefix_only_with_a_star() {
        assert!(matches_dependency("mysql:5.7", "mysql:5.7"));
        assert!(!matches_dependency("mysql", "mysql:5.7"));
        assert!(matches_dependency("mysql*", "mysql:5.7"));
        assert!(matches_dependency("mysql:*", "mysql:8.0"));
        assert!(!matches_dependency("mysql:*", "mariadb:10"));
        assert!(matches_dependency("*", "anything"));
    }

    #[test]
    fn dependency_without_a_star_needs_the_exact_version() {
        assert!(matches_dependency("db:9.6", "db:9.6"));
        assert!(!matches_dependency("db:9.6", "db:9.7"));
        assert!(!matches_dependency("db:9.6", "db:9.6.1"));
    }
}
