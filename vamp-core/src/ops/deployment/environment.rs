//! The environment of a deployment service before interpolation, and cluster-scoped variable names.
//!
//! A blueprint writes a cluster-scoped variable as `cluster.VAR`; the original stored it as
//! `cluster.environment_variables.VAR`. Both spellings mean the same variable here.

use indexmap::IndexMap;

use crate::model::{Deployment, DeploymentService, EnvironmentVariable};

/// Splits a deployment-level variable name into `(cluster, variable)`.
///
/// Accepts `cluster.VAR` and `cluster.environment_variables.VAR`; anything else (no dot, empty parts, another
/// group) is `None`.
pub fn cluster_scope(name: &str) -> Option<(&str, &str)> {
    let mut parts = name.split('.');
    let cluster = parts.next()?;
    let second = parts.next()?;
    let (var, rest) = match parts.next() {
        None => (second, None),
        Some(var) if second == "environment_variables" => (var, parts.next()),
        Some(_) => return None,
    };
    (rest.is_none() && !cluster.is_empty() && !var.is_empty()).then_some((cluster, var))
}

/// The variables `service` of `cluster` runs with, keyed by name, before `$` references are interpolated.
///
/// Later wins (§2.2): the breed's variables that have a value, then the deployment's `cluster.VAR` variables
/// for variables the breed declares, then the service's own that have a value (the DSL refuses a service
/// variable without one, so a valueless entry is bookkeeping, not an override). A variable keeps the breed's
/// alias unless a later scope gives one. `interpolated` is always `None`.
pub fn effective_environment(
    deployment: &Deployment,
    cluster: &str,
    service: &DeploymentService,
) -> IndexMap<String, EnvironmentVariable> {
    let mut env: IndexMap<String, EnvironmentVariable> = IndexMap::new();
    let mut set = |name: &str, alias: Option<&String>, value: &Option<String>| {
        let entry = env
            .entry(name.to_string())
            .or_insert_with(|| EnvironmentVariable::new(name, None));
        if alias.is_some() {
            entry.alias = alias.cloned();
        }
        entry.value = value.clone();
    };
    for v in service
        .breed
        .environment_variables
        .iter()
        .filter(|v| v.value.is_some())
    {
        set(&v.name, v.alias.as_ref(), &v.value);
    }
    for v in deployment
        .environment_variables
        .iter()
        .filter(|v| v.value.is_some())
    {
        if let Some((c, var)) = cluster_scope(&v.name) {
            if c == cluster {
                if let Some(declared) = service.breed.environment_variable(var) {
                    set(var, declared.alias.as_ref(), &v.value);
                }
            }
        }
    }
    for v in service.environment_variables.iter().filter(|v| v.value.is_some()) {
        set(&v.name, v.alias.as_ref(), &v.value);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_name_the_same_variable() {
        assert_eq!(cluster_scope("frontend.API_KEY"), Some(("frontend", "API_KEY")));
        assert_eq!(
            cluster_scope("frontend.environment_variables.API_KEY"),
            Some(("frontend", "API_KEY"))
        );
    }

    #[test]
    fn other_shapes_are_not_cluster_scoped() {
        assert_eq!(cluster_scope("API_KEY"), None);
        assert_eq!(cluster_scope("frontend.ports.web"), None);
        assert_eq!(cluster_scope(".X"), None);
        assert_eq!(cluster_scope("a.environment_variables.X.Y"), None);
    }
}
