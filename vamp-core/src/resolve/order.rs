//! Dependency order: in which layers clusters can start (each layer in parallel, layers one after another), and
//! the cycles that make an order impossible — between clusters of a deployment, or among a breed's inline
//! dependencies (`RecursiveDependenciesError`).
//!
//! The original had no explicit order: a service was deployed once its dependencies were done and their gateways
//! had an address, so a cycle simply never deployed. Here a cycle is an error that names it, `a -> b -> a`.

use std::collections::BTreeSet;
use std::fmt;

use indexmap::IndexMap;

use super::environment::{dependency_name, matches_dependency};
use crate::dsl::{DslError, ErrorCode};
use crate::model::{Breed, Deployment, Kind, Ref};

/// A dependency cycle. `path` starts and ends with the same name: `[a, b, c, a]` means a depends on b, b on c and
/// c on a; a node that depends on itself is `[a, a]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The nodes along the cycle, the first repeated at the end.
    pub path: Vec<String>,
}

impl fmt::Display for Cycle {
    /// `a -> b -> c -> a`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path.join(" -> "))
    }
}

impl std::error::Error for Cycle {}

/// Topological layers of `nodes` (node → the nodes it depends on): the first layer depends on nothing, every
/// later layer only on earlier ones, so each layer can start in parallel once the previous ones run. Names inside
/// a layer are sorted, so the answer depends only on the graph, not on insertion order. Dependencies that are not
/// keys of `nodes` are taken as already satisfied. Fails with the cycle that blocks the rest (rotated to start at
/// its smallest name, following the smallest blocked dependency).
pub fn deployment_order(nodes: &IndexMap<String, Vec<String>>) -> Result<Vec<Vec<String>>, Cycle> {
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut remaining: BTreeSet<&str> = nodes.keys().map(String::as_str).collect();
    let mut layers = Vec::new();
    let blocked_by = |node: &str, placed: &BTreeSet<&str>| -> BTreeSet<String> {
        nodes
            .get(node)
            .into_iter()
            .flatten()
            .filter(|d| nodes.contains_key(d.as_str()) && !placed.contains(d.as_str()))
            .cloned()
            .collect()
    };
    while !remaining.is_empty() {
        let layer: Vec<&str> = remaining
            .iter()
            .copied()
            .filter(|n| blocked_by(n, &placed).is_empty())
            .collect();
        if layer.is_empty() {
            return Err(find_cycle(&remaining, |n| blocked_by(n, &placed)));
        }
        for n in &layer {
            remaining.remove(n);
            placed.insert(n);
        }
        layers.push(layer.into_iter().map(str::to_string).collect());
    }
    Ok(layers)
}

/// Walks from the smallest blocked node along its smallest blocked dependency until a node repeats. Every blocked
/// node has a blocked dependency, so the walk always closes a cycle.
fn find_cycle(blocked: &BTreeSet<&str>, deps: impl Fn(&str) -> BTreeSet<String>) -> Cycle {
    let mut walk: Vec<String> = Vec::new();
    let mut current = blocked.iter().next().map(|s| s.to_string());
    while let Some(node) = current {
        if let Some(start) = walk.iter().position(|n| *n == node) {
            return canonical_cycle(walk.split_off(start));
        }
        current = deps(&node).into_iter().next();
        walk.push(node);
    }
    Cycle { path: walk }
}

/// Closes `ring` (a cycle without its repeated end) after rotating it to start at its smallest name.
fn canonical_cycle(mut ring: Vec<String>) -> Cycle {
    let smallest = ring
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.cmp(b.1))
        .map_or(0, |(i, _)| i);
    ring.rotate_left(smallest);
    if let Some(first) = ring.first().cloned() {
        ring.push(first);
    }
    Cycle { path: ring }
}

/// The first cycle among `breed`'s dependencies, following inline dependencies recursively; a dependency by
/// reference is a name only and is not followed, but naming a breed on the current path closes a cycle (`a`
/// depending on `a`, or `a` → inline `b` → `a`). The path runs from `breed` to the repeated name, e.g.
/// `[a, b, a]`. Wildcard dependencies (`name*`) are patterns, not names, and never close a cycle.
pub fn breed_cycle(breed: &Breed) -> Option<Vec<String>> {
    fn walk(breed: &Breed, path: &mut Vec<String>) -> Option<Vec<String>> {
        for dependency in breed.dependencies.values() {
            let name = dependency_name(dependency);
            if path.iter().any(|p| p == name) {
                let mut cycle = path.clone();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            if let Ref::Inline(inner) = dependency {
                path.push(inner.name.clone());
                let found = walk(inner, path);
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
        }
        None
    }
    walk(breed, &mut vec![breed.name.clone()])
}

/// `RecursiveDependenciesError` naming the cycle when `breed`'s dependencies form one ([`breed_cycle`]).
pub fn check_breed_cycles(breed: &Breed) -> Result<(), DslError> {
    match breed_cycle(breed) {
        None => Ok(()),
        Some(path) => Err(DslError::about(
            ErrorCode::RecursiveDependenciesError,
            Kind::Breed,
            &breed.name,
            "dependencies",
            format!(
                "Breed '{}' depends on itself through {}. Remove one of these dependencies.",
                breed.name,
                Cycle { path }
            ),
        )),
    }
}

/// Cluster → the other clusters it depends on: cluster A depends on B when a service of A has a dependency that a
/// service of B satisfies ([`matches_dependency`]). Dependencies satisfied inside the cluster itself add no edge
/// (the cluster starts its own services together); unsatisfied ones add none either ([`super::dependency_clusters`]
/// reports them). Every cluster is a key, in deployment order; its dependencies are listed once each.
pub fn cluster_dependencies(deployment: &Deployment) -> IndexMap<String, Vec<String>> {
    deployment
        .clusters
        .iter()
        .map(|cluster| {
            let mut deps: Vec<String> = Vec::new();
            let wanted = cluster
                .services
                .iter()
                .flat_map(|s| s.breed.dependencies.values().map(dependency_name));
            for dependency in wanted {
                let providers = deployment.clusters.iter().filter(|other| {
                    other.name != cluster.name
                        && other
                            .services
                            .iter()
                            .any(|s| matches_dependency(dependency, &s.breed.name))
                });
                for provider in providers {
                    if !deps.contains(&provider.name) {
                        deps.push(provider.name.clone());
                    }
                }
            }
            (cluster.name.clone(), deps)
        })
        .collect()
}

/// The layers in which `deployment`'s clusters can start ([`deployment_order`] over [`cluster_dependencies`]).
pub fn cluster_order(deployment: &Deployment) -> Result<Vec<Vec<String>>, Cycle> {
    deployment_order(&cluster_dependencies(deployment))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> IndexMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(n, ds)| (n.to_string(), ds.iter().map(|d| d.to_string()).collect()))
            .collect()
    }

    #[test]
    fn cycle_display_joins_with_arrows() {
        let c = Cycle {
            path: vec!["a".into(), "b".into(), "a".into()],
        };
        assert_eq!(c.to_string(), "a -> b -> a");
    }

    #[test]
    fn smallest_name_starts_a_cycle() {
        assert_eq!(
            canonical_cycle(vec!["c".into(), "a".into(), "b".into()]).to_string(),
            "a -> b -> c -> a"
        );
    }

    #[test]
    fn unknown_dependencies_do_not_block() {
        let layers = deployment_order(&graph(&[("a", &["external"])])).unwrap();
        assert_eq!(layers, vec![vec!["a".to_string()]]);
    }
}
