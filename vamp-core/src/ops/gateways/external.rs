//! Deployment gateways: the external gateways a blueprint declares, named after the deployment and the port.

use crate::model::{Gateway, RoutePath};

/// The name of a blueprint gateway once deployed as part of `deployment`: `deployment/port`, where `port` is the
/// gateway's port number, or — for a gateway without one — the first segment of the name it had in the
/// blueprint (its key there).
pub fn deployment_gateway_name(deployment: &str, gateway: &Gateway) -> String {
    if gateway.port.number != 0 {
        return format!("{deployment}/{}", gateway.port.number);
    }
    let key = gateway.name.split('/').next().unwrap_or_default();
    format!("{deployment}/{key}")
}

/// Whether `name` is already a deployment gateway name of `deployment` (`deployment/port`).
fn is_deployment_gateway_of(deployment: &str, name: &str) -> bool {
    name.strip_prefix(deployment)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|port| !port.is_empty() && !port.contains('/'))
}

/// A blueprint gateway as deployed in `deployment`: named by [`deployment_gateway_name`], with every route path
/// except an external `[host:port]` prefixed with the deployment name, so `cluster/port` becomes
/// `deployment/cluster/port`. Everything else is kept.
///
/// A gateway already named `deployment/port` is returned unchanged, so applying this to a merged deployment's
/// gateways again is harmless.
pub fn deployment_gateway(deployment: &str, gateway: &Gateway) -> Gateway {
    if is_deployment_gateway_of(deployment, &gateway.name) {
        return gateway.clone();
    }
    let mut out = gateway.clone();
    out.name = deployment_gateway_name(deployment, gateway);
    for route in &mut out.routes {
        if route.path.external().is_none() {
            route.path = RoutePath(format!("{deployment}/{}", route.path.0));
        }
    }
    out
}
