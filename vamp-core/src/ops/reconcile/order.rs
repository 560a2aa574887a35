//! The order services of a deployment are planned in: dependencies before the services that need them.

use crate::model::{Deployment, DeploymentService};
use crate::resolve::environment::{dependency_name, matches_dependency};

/// `(cluster index, service index)` of every service of `deployment`, each after the services it depends on,
/// otherwise in declaration order. A cycle (refused by validation) falls back to declaration order.
pub(crate) fn dependency_order(deployment: &Deployment) -> Vec<(usize, usize)> {
    let nodes: Vec<(usize, usize)> = deployment
        .clusters
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| (0..c.services.len()).map(move |si| (ci, si)))
        .collect();
    let service = |(ci, si): (usize, usize)| deployment.clusters.get(ci).and_then(|c| c.services.get(si));
    let depends_on = |a: &DeploymentService, b: (usize, usize)| {
        let Some(target) = service(b) else { return false };
        let cluster = deployment
            .clusters
            .get(b.0)
            .map(|c| c.name.as_str())
            .unwrap_or_default();
        a.breed.dependencies.iter().any(|(alias, dep)| {
            let mapped = a.dependencies.get(alias).is_none_or(|c| c == cluster);
            mapped && matches_dependency(dependency_name(dep), &target.breed.name)
        })
    };
    let mut done: Vec<(usize, usize)> = Vec::with_capacity(nodes.len());
    let mut pending = nodes.clone();
    while !pending.is_empty() {
        let ready = pending.iter().position(|&n| {
            service(n).is_none_or(|s| {
                nodes
                    .iter()
                    .all(|&m| m == n || done.contains(&m) || !depends_on(s, m))
            })
        });
        let next = pending.remove(ready.unwrap_or(0));
        done.push(next);
    }
    done
}
