//! `as_blueprint`: a deployment written back as the blueprint that would create it (`?as_blueprint=true`).

use crate::model::{Blueprint, Cluster, Deployment, EnvironmentVariable, Gateway, Ref, RoutePath, Service};
use crate::resolve::environment::cluster_scoped;

/// The blueprint that, attached and merged into an empty deployment of the same name, gives back `deployment`'s
/// clusters, breeds and scales.
///
/// * Services being undeployed are left out, and clusters left with no service.
/// * Breeds and scales are written inline (scales anonymous), so the blueprint needs no stored artifacts.
/// * A service's variables are written only where they differ from what the breed and the deployment's
///   `cluster.VAR` variables would give; cluster-scoped variables are written as `cluster.VAR` when the cluster
///   is exported and one of its breeds declares the variable. Interpolated values are not written.
/// * Arguments are written as the service has them (defaults and breed arguments included); attaching drops the
///   exact duplicates this repeats.
/// * Deployment gateways are included, renamed back to their port and with the deployment prefix taken off their
///   routes. The original left them out; keeping them makes the export a complete description. To copy a
///   deployment under another name, drop `gateways` from the blueprint first, or its ports will conflict.
/// * Read-only gateway fields (targets, service address) are not written.
pub fn as_blueprint(deployment: &Deployment) -> Blueprint {
    let mut clusters = Vec::new();
    for cluster in &deployment.clusters {
        let mut services = Vec::new();
        for service in cluster.services.iter().filter(|s| !s.status.is_undeploying()) {
            let environment_variables = service
                .environment_variables
                .iter()
                .filter(|v| v.value.is_some())
                .filter(|v| {
                    let inherited = inherited_value(
                        deployment,
                        &cluster.name,
                        service.breed.environment_variable(&v.name),
                    );
                    v.value != inherited
                })
                .map(|v| EnvironmentVariable {
                    interpolated: None,
                    ..v.clone()
                })
                .collect();
            let scale = service.scale.clone().map(|mut s| {
                s.name.clear();
                s.metadata.clear();
                Ref::Inline(s)
            });
            services.push(Service {
                breed: Ref::Inline(service.breed.clone()),
                environment_variables,
                scale,
                arguments: service.arguments.clone(),
                health_checks: service.health_checks.clone(),
                network: service.network.clone(),
                dialects: service.dialects.clone(),
            });
        }
        if services.is_empty() {
            continue;
        }
        clusters.push(Cluster {
            name: cluster.name.clone(),
            metadata: cluster.metadata.clone(),
            services,
            gateways: cluster.gateways.iter().map(without_runtime).collect(),
            health_checks: cluster.health_checks.clone(),
            network: cluster.network.clone(),
            sla: cluster.sla.clone(),
            dialects: cluster.dialects.clone(),
        });
    }
    let environment_variables = deployment
        .environment_variables
        .iter()
        .filter_map(|v| {
            let (cluster, var) = cluster_scoped(&v.name)?;
            let exported = clusters.iter().find(|c| c.name == cluster)?;
            let declared = exported.services.iter().any(|s| match &s.breed {
                Ref::Inline(b) => b.environment_variable(var).is_some(),
                Ref::Named(_) => false,
            });
            declared.then(|| EnvironmentVariable {
                name: format!("{cluster}.{var}"),
                alias: v.alias.clone(),
                value: v.value.clone(),
                interpolated: None,
            })
        })
        .collect();
    let prefix = format!("{}/", deployment.name);
    let gateways = deployment
        .gateways
        .iter()
        .map(|g| {
            let mut g = without_runtime(g);
            g.name = g.port.number.to_string();
            for route in &mut g.routes {
                if let Some(rest) = route.path.0.strip_prefix(&prefix) {
                    route.path = RoutePath(rest.to_string());
                }
            }
            g
        })
        .collect();
    Blueprint {
        name: deployment.name.clone(),
        metadata: deployment.metadata.clone(),
        gateways,
        clusters,
        environment_variables,
        dialects: deployment.dialects.clone(),
    }
}

/// The value a service variable would have without the service setting it: the deployment's `cluster.VAR`, else
/// the breed's value.
fn inherited_value(
    deployment: &Deployment,
    cluster: &str,
    declared: Option<&EnvironmentVariable>,
) -> Option<String> {
    let declared = declared?;
    deployment
        .environment_variables
        .iter()
        .find(|d| d.value.is_some() && cluster_scoped(&d.name) == Some((cluster, declared.name.as_str())))
        .and_then(|d| d.value.clone())
        .or_else(|| declared.value.clone())
}

fn without_runtime(gateway: &Gateway) -> Gateway {
    let mut g = gateway.clone();
    g.service = None;
    for route in &mut g.routes {
        route.targets.clear();
    }
    g
}
