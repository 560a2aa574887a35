//! Breed validation: dependency cycles, health-check ports, and `$` references in port, variable and constant
//! values, which must name a declared dependency and, when it is inline, one of its traits.

use crate::dsl::error::{ArtifactId, DslError, ErrorCode};
use crate::model::{Breed, Kind, Ref};
use crate::resolve::{breed_cycle, parse_value, Part, Reference, TraitGroup};

/// The id of a breed in errors.
pub(crate) fn id(b: &Breed) -> ArtifactId {
    ArtifactId::new(Kind::Breed, &b.name)
}

/// Every `(field path, value)` of a breed that may hold references.
pub(crate) fn trait_values(b: &Breed) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    for p in &b.ports {
        out.push((format!("ports.{}", p.name), p.value.as_str()));
    }
    for v in &b.environment_variables {
        if let Some(value) = &v.value {
            out.push((format!("environment_variables.{}", v.name), value.as_str()));
        }
    }
    for c in &b.constants {
        out.push((format!("constants.{}", c.name), c.value.as_str()));
    }
    out
}

/// The references of a value, as `ParserError` when malformed.
pub(crate) fn value_references(
    artifact: &ArtifactId,
    path: &str,
    value: &str,
) -> Result<Vec<Reference>, DslError> {
    let parts = parse_value(value).map_err(|e| {
        DslError::new(
            ErrorCode::ParserError,
            artifact.clone(),
            path,
            format!(
                "cannot parse the value '{value}': {} (position {}); write '$$' for a literal '$'",
                e.message, e.position
            ),
        )
    })?;
    Ok(parts
        .into_iter()
        .filter_map(|p| match p {
            Part::Reference(r) => Some(r),
            Part::Text(_) => None,
        })
        .collect())
}

/// Whether a breed declares the trait `group.name`.
pub(crate) fn has_trait(b: &Breed, group: TraitGroup, name: &str) -> bool {
    match group {
        TraitGroup::Ports => b.port(name).is_some(),
        TraitGroup::EnvironmentVariables => b.environment_variable(name).is_some(),
        TraitGroup::Constants => b.constants.iter().any(|c| c.name == name),
        TraitGroup::Hosts => true,
    }
}

/// Validates a breed and, recursively, its inline dependencies. `artifact` is the artifact errors name (the breed
/// itself, or the blueprint it is inline in).
pub fn validate_breed(b: &Breed, artifact: &ArtifactId) -> Result<(), DslError> {
    if let Some(cycle) = breed_cycle(b) {
        return Err(DslError::new(
            ErrorCode::RecursiveDependenciesError,
            artifact.clone(),
            "dependencies",
            format!(
                "breed dependencies form a cycle: {}; remove one of them",
                cycle.join(" -> ")
            ),
        ));
    }
    for (i, hc) in b.health_checks.iter().flatten().enumerate() {
        if b.port(&hc.port).is_none() {
            return Err(DslError::new(
                ErrorCode::UnresolvedPortReferenceError,
                artifact.clone(),
                format!("health_checks[{i}].port"),
                format!(
                    "breed '{}' has no port '{}'; name one of its ports",
                    b.name, hc.port
                ),
            ));
        }
    }
    for (path, value) in trait_values(b) {
        for r in value_references(artifact, &path, value)? {
            let (alias, wanted) = match &r {
                Reference::Trait { cluster, group, name } => (cluster, Some((*group, name))),
                Reference::Host(cluster) => (cluster, None),
                Reference::Local(_) | Reference::Global { .. } => continue,
            };
            let Some(dep) = b.dependencies.get(alias) else {
                return Err(DslError::new(
                    ErrorCode::UnresolvedDependencyInTraitValueError,
                    artifact.clone(),
                    path,
                    format!(
                        "'${}' refers to '{alias}', which breed '{}' does not declare as a dependency; add it under 'dependencies'",
                        r.name(),
                        b.name
                    ),
                ));
            };
            if let (Ref::Inline(dep_breed), Some((group, name))) = (dep, wanted) {
                if !has_trait(dep_breed, group, name) {
                    return Err(DslError::new(
                        ErrorCode::UnresolvedDependencyInTraitValueError,
                        artifact.clone(),
                        path,
                        format!(
                            "'${}': dependency '{alias}' (breed '{}') has no {group} '{name}'",
                            r.name(),
                            dep_breed.name
                        ),
                    ));
                }
            }
        }
    }
    for dep in b.dependencies.values() {
        if let Ref::Inline(d) = dep {
            validate_breed(d, artifact)?;
        }
    }
    Ok(())
}
