//! Gateway validation: stickiness and conditions only on HTTP, condition syntax, and route weights.

use crate::condition::compile;
use crate::dsl::error::{ArtifactId, DslError, ErrorCode};
use crate::model::{Condition, Gateway, Kind, Protocol, Ref, Route};

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

/// Checks what every gateway form shares: sticky and conditions only on HTTP, condition syntax.
pub(crate) fn check_gateway_routing(
    gw: &Gateway,
    protocol: Protocol,
    artifact: &ArtifactId,
    path: &str,
) -> Result<(), DslError> {
    if protocol == Protocol::Tcp && gw.sticky.is_some() {
        return Err(DslError::new(
            ErrorCode::StickyPortTypeError,
            artifact.clone(),
            join(path, "sticky"),
            format!("gateway '{}' is on a TCP port: sticky sessions need HTTP; remove 'sticky' or use an HTTP port", gw.name),
        ));
    }
    for r in &gw.routes {
        let Ref::Inline(route) = &r.route else { continue };
        let rp = join(&join(path, "routes"), &r.path.0);
        if let Some(cond) = &route.condition {
            if protocol == Protocol::Tcp {
                return Err(DslError::new(
                    ErrorCode::ConditionPortTypeError,
                    artifact.clone(),
                    join(&rp, "condition"),
                    format!("route '{}' is on a TCP port: conditions need HTTP; remove the condition or use an HTTP port", r.path),
                ));
            }
            if let Ref::Inline(c) = cond {
                check_condition(c, artifact, &join(&rp, "condition"))?;
            }
        }
    }
    Ok(())
}

/// Whether the weights of a gateway's routes can total 0% or 100%: when every route is inline, routes without a
/// weight share what the others leave, so the given weights must total at most 100% if some route has none, and
/// exactly 0% or 100% if all have one. Routes given by reference are weighed when resolved.
pub(crate) fn weights_can_total_100(routes: &[&Route]) -> Option<u32> {
    let given: u32 = routes
        .iter()
        .filter_map(|r| r.weight)
        .map(|w| u32::from(w.0))
        .sum();
    let unweighted = routes.iter().filter(|r| r.weight.is_none()).count();
    let ok = if unweighted > 0 {
        given <= 100
    } else {
        given == 0 || given == 100
    };
    (!ok).then_some(given)
}

/// Checks the 0%-or-100% rule for a gateway whose routes are all inline.
pub(crate) fn check_gateway_weights(gw: &Gateway, artifact: &ArtifactId, path: &str) -> Result<(), DslError> {
    let inline: Vec<&Route> = gw.routes.iter().filter_map(|r| r.route.inline()).collect();
    if inline.len() != gw.routes.len() {
        return Ok(());
    }
    match weights_can_total_100(&inline) {
        None => Ok(()),
        Some(total) => Err(DslError::new(
            ErrorCode::GatewayRouteWeightError,
            artifact.clone(),
            join(path, "routes"),
            format!(
                "total route weight of gateway '{}' is {total}%; it must be either 0% or 100%",
                gw.name
            ),
        )),
    }
}

/// Validates a standalone gateway.
pub fn validate_gateway(gw: &Gateway) -> Result<(), DslError> {
    let id = ArtifactId {
        kind: Kind::Gateway,
        name: gw.name.clone(),
    };
    check_gateway_routing(gw, gw.port.protocol, &id, "")?;
    check_gateway_weights(gw, &id, "")
}

/// Validates a stored route.
pub fn validate_route_artifact(r: &Route) -> Result<(), DslError> {
    let id = ArtifactId {
        kind: Kind::Route,
        name: r.name.clone(),
    };
    match &r.condition {
        Some(Ref::Inline(c)) => check_condition(c, &id, "condition"),
        _ => Ok(()),
    }
}

/// Validates a stored condition.
pub fn validate_condition_artifact(c: &Condition) -> Result<(), DslError> {
    let id = ArtifactId {
        kind: Kind::Condition,
        name: c.name.clone(),
    };
    check_condition(c, &id, "condition")
}
