//! Gateway validation for the DSL: the gateway planner's own checks (`ops::gateways`) — stickiness and
//! conditions only on HTTP, weights that can total 0% or 100% — reported against the artifact being read, plus
//! strict condition syntax.

use crate::condition::compile;
use crate::dsl::error::{ArtifactId, DslError};
use crate::model::{Condition, Gateway, Kind, Protocol, Ref, Route};
use crate::ops::gateways::internal::expand_canary_policy;
use crate::ops::gateways::validate::validate_port_type;
use crate::ops::gateways::weights::{check_route_weights, fill_weights};

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Checks a condition's syntax strictly.
pub(crate) fn check_condition(c: &Condition, artifact: &ArtifactId, path: &str) -> Result<(), DslError> {
    compile(&c.definition)
        .map(|_| ())
        .map_err(|e| e.into_dsl(artifact.clone(), path))
}

/// Checks what every gateway form shares: sticky and conditions only on HTTP (`protocol` is the gateway's, or
/// for a cluster gateway its breed port's), and condition syntax. Errors name `artifact` at `path`.
pub(crate) fn check_gateway_routing(
    gw: &Gateway,
    protocol: Protocol,
    artifact: &ArtifactId,
    path: &str,
) -> Result<(), DslError> {
    let mut as_declared = gw.clone();
    as_declared.port.protocol = protocol;
    validate_port_type(&as_declared).map_err(|e| e.within(artifact, path))?;
    for r in &gw.routes {
        if let Ref::Inline(Route {
            condition: Some(Ref::Inline(c)),
            ..
        }) = &r.route
        {
            check_condition(
                c,
                artifact,
                &join(&join(&join(path, "routes"), &r.path.0), "condition"),
            )?;
        }
    }
    Ok(())
}

/// Checks that a gateway's weights can total 0% or 100% once the routes without a weight share what the others
/// leave (`GatewayRouteWeightError`). Routes given by reference are weighed when resolved.
pub(crate) fn check_gateway_weights(gw: &Gateway, artifact: &ArtifactId, path: &str) -> Result<(), DslError> {
    let mut filled = gw.clone();
    fill_weights(&mut filled.routes);
    check_route_weights(&filled).map_err(|e| e.within(artifact, path))
}

/// Validates a standalone gateway, its canary policy included. On a cluster's gateway
/// (`deployment/cluster/port`) the policy may name its routes by service (`sava:1.1`) or by full path.
pub fn validate_gateway(gw: &Gateway) -> Result<(), DslError> {
    let id = ArtifactId::new(Kind::Gateway, gw.name.clone());
    check_gateway_routing(gw, gw.port.protocol, &id, "")?;
    check_gateway_weights(gw, &id, "")?;
    let segments: Vec<&str> = gw.name.split('/').collect();
    match (&gw.canary, segments.as_slice()) {
        (Some(policy), [deployment, cluster, port]) => {
            let mut expanded = gw.clone();
            expanded.canary = Some(expand_canary_policy(policy, deployment, cluster, port));
            super::canary::check_canary(&expanded, &id, "")
        }
        _ => super::canary::check_canary(gw, &id, ""),
    }
}

/// Validates a stored route.
pub fn validate_route_artifact(r: &Route) -> Result<(), DslError> {
    let id = ArtifactId::new(Kind::Route, r.name.clone());
    match &r.condition {
        Some(Ref::Inline(c)) => check_condition(c, &id, "condition"),
        _ => Ok(()),
    }
}

/// Validates a stored condition.
pub fn validate_condition_artifact(c: &Condition) -> Result<(), DslError> {
    let id = ArtifactId::new(Kind::Condition, c.name.clone());
    check_condition(c, &id, "condition")
}
