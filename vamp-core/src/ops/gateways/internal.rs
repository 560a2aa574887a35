//! Internal gateways: one per cluster of a deployment and breed port name, routing to every service of the
//! cluster that exposes that port. They give services a stable address (`$cluster.host:$cluster.ports.port`)
//! and carry the cluster's canary weights and conditions — and, when the cluster's gateway settings have one, its
//! automated canary policy.

use crate::model::{
    CanaryPolicy, Deployment, DeploymentCluster, Gateway, GatewayPort, GatewayRoute, Protocol, Ref, Route,
    RoutePath,
};

/// The name of the internal gateway of `cluster`'s port `port` in `deployment`: `deployment/cluster/port`.
pub fn internal_gateway_name(deployment: &str, cluster: &str, port: &str) -> String {
    format!("{deployment}/{cluster}/{port}")
}

/// The route path of a service on a port: `deployment/cluster/service/port`, the service named by its breed.
pub fn service_route_path(deployment: &str, cluster: &str, service: &str, port: &str) -> String {
    format!("{deployment}/{cluster}/{service}/{port}")
}

/// The breed (service) name a route of a cluster's gateway settings names: the third segment of a full path
/// `deployment/cluster/breed/port`, otherwise the path itself (the settings key routes by breed name).
pub fn breed_of_route(path: &str) -> &str {
    let mut segments = path.split('/');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some(_), Some(_), Some(breed), Some(_), None) => breed,
        _ => path,
    }
}

/// `policy` as it runs on the internal gateway `deployment/cluster/port`: its two routes as full route paths
/// `deployment/cluster/breed/port` (the settings name them by breed).
pub fn expand_canary_policy(
    policy: &CanaryPolicy,
    deployment: &str,
    cluster: &str,
    port: &str,
) -> CanaryPolicy {
    let full = |p: &RoutePath| {
        RoutePath(service_route_path(
            deployment,
            cluster,
            breed_of_route(&p.0),
            port,
        ))
    };
    let mut out = policy.clone();
    out.baseline = full(&policy.baseline);
    out.canary = full(&policy.canary);
    out
}

/// `policy` as a cluster's gateway settings keep it: its two routes by breed name.
pub fn contract_canary_policy(policy: &CanaryPolicy) -> CanaryPolicy {
    let short = |p: &RoutePath| RoutePath(breed_of_route(&p.0).to_string());
    let mut out = policy.clone();
    out.baseline = short(&policy.baseline);
    out.canary = short(&policy.canary);
    out
}

/// The distinct breed port names of the cluster's services that are not being undeployed, in the order they
/// first appear, each with the protocol of the first service that declares it.
fn cluster_ports(cluster: &DeploymentCluster) -> Vec<(&str, Protocol)> {
    let mut ports: Vec<(&str, Protocol)> = Vec::new();
    for service in cluster.services.iter().filter(|s| !s.status.is_undeploying()) {
        for port in &service.breed.ports {
            if !ports.iter().any(|(name, _)| *name == port.name) {
                ports.push((&port.name, port.protocol));
            }
        }
    }
    ports
}

/// The internal gateways of `deployment`, one per cluster and distinct breed port name among the services that
/// are not being undeployed (a cluster with none has no internal gateway).
///
/// Each is named `deployment/cluster/port`, listens on the port `assigned_port` gives for that name (0 = to be
/// assigned) with the breed port's protocol, and has one route `deployment/cluster/service/port` per such
/// service exposing the port, in service order. The cluster's gateway settings (`DeploymentCluster::gateways`,
/// keyed by port name or by the full gateway name) give `sticky`, `virtual_hosts` and metadata; their routes,
/// keyed by service (breed) name or by the full route path, give each route's weight, condition, strength,
/// rewrites and balance. Settings for services that are not in the cluster are dropped; routes without settings
/// have no weight yet (see [`super::weights::fill_weights`]). A canary policy of the settings is carried over with
/// its routes as full paths ([`expand_canary_policy`]). Targets are left empty.
pub fn internal_gateways(
    deployment: &Deployment,
    assigned_port: impl Fn(&str) -> Option<u16>,
) -> Vec<Gateway> {
    let mut out = Vec::new();
    for cluster in &deployment.clusters {
        for (port, protocol) in cluster_ports(cluster) {
            let name = internal_gateway_name(&deployment.name, &cluster.name, port);
            let settings = cluster.gateways.iter().find(|g| g.name == port || g.name == name);
            let mut gateway = Gateway::new(
                name.as_str(),
                GatewayPort {
                    number: assigned_port(&name).unwrap_or(0),
                    protocol,
                },
            );
            if let Some(s) = settings {
                gateway.metadata = s.metadata.clone();
                gateway.sticky = s.sticky;
                gateway.virtual_hosts = s.virtual_hosts.clone();
                gateway.canary = s
                    .canary
                    .as_ref()
                    .map(|p| expand_canary_policy(p, &deployment.name, &cluster.name, port));
            }
            for service in cluster.services.iter().filter(|s| !s.status.is_undeploying()) {
                if service.breed.port(port).is_none() {
                    continue;
                }
                let breed = service.breed.name.as_str();
                let path = service_route_path(&deployment.name, &cluster.name, breed, port);
                let routing = settings
                    .and_then(|s| s.routes.iter().find(|r| r.path.0 == breed || r.path.0 == path))
                    .map(|r| r.route.clone())
                    .unwrap_or_else(|| Ref::Inline(Route::default()));
                let mut route = GatewayRoute::new(path);
                route.route = routing;
                gateway.routes.push(route);
            }
            out.push(gateway);
        }
    }
    out
}
