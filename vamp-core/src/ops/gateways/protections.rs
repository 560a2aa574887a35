//! The protections of internal gateways against the gateway API: deployments create, shape and remove them.
//! Through the API only the routing of their existing routes (weights, conditions, strengths, rewrites,
//! balance) may change.

use std::collections::HashSet;

use crate::dsl::{DslError, ErrorCode};
use crate::model::Gateway;

use super::validate::gateway_error;

/// The deployment an internal gateway name belongs to: its first segment.
fn deployment_of(name: &str) -> &str {
    name.split('/').next().unwrap_or_default()
}

fn is_internal_name(name: &str) -> bool {
    name.split('/').count() == 3
}

fn create_error(name: &str) -> DslError {
    gateway_error(
        ErrorCode::InternalGatewayCreateError,
        name,
        "name",
        format!(
            "Gateway '{name}' is named like an internal gateway ('deployment/cluster/port'); internal gateways are \
             created by deploying a cluster. Use a name with 1, 2 or 4 segments for a gateway of your own."
        ),
    )
}

/// Checks a `POST /gateways`: an internal gateway (a 3-segment name) fails with `InternalGatewayCreateError`.
pub fn check_gateway_create(requested: &Gateway) -> Result<(), DslError> {
    if requested.is_internal() {
        return Err(create_error(&requested.name));
    }
    Ok(())
}

/// Checks a `PUT /gateways/{name}` of `requested` against the stored gateway `existing`.
///
/// Gateways that are not internal always pass. For an internal gateway: if it does not exist yet or its
/// deployment does not exist (`deployment_exists` is asked about the name's first segment), the update would
/// create it → `InternalGatewayCreateError`; if its set of route paths differs from the existing one →
/// `InternalGatewayUpdateError`. Changing the routing of existing routes passes.
pub fn check_gateway_update(
    existing: Option<&Gateway>,
    requested: &Gateway,
    deployment_exists: impl Fn(&str) -> bool,
) -> Result<(), DslError> {
    if !requested.is_internal() {
        return Ok(());
    }
    let Some(existing) = existing.filter(|_| deployment_exists(deployment_of(&requested.name))) else {
        return Err(create_error(&requested.name));
    };
    let before: HashSet<&str> = existing.routes.iter().map(|r| r.path.0.as_str()).collect();
    let after: HashSet<&str> = requested.routes.iter().map(|r| r.path.0.as_str()).collect();
    if before == after {
        return Ok(());
    }
    let mut added: Vec<&str> = after.difference(&before).copied().collect();
    let mut removed: Vec<&str> = before.difference(&after).copied().collect();
    added.sort_unstable();
    removed.sort_unstable();
    Err(gateway_error(
        ErrorCode::InternalGatewayUpdateError,
        &requested.name,
        "routes",
        format!(
            "The routes of internal gateway '{}' are set by its deployment (added: [{}], removed: [{}]). Change \
             the deployment to add or remove services; through this gateway only the weights, conditions and \
             rewrites of its existing routes can change.",
            requested.name,
            added.join(", "),
            removed.join(", ")
        ),
    ))
}

/// Checks a `DELETE /gateways/{name}`: an internal gateway whose deployment exists fails with
/// `InternalGatewayRemoveError`; it goes with its deployment (or cluster). Every other gateway passes.
pub fn check_gateway_remove(name: &str, deployment_exists: impl Fn(&str) -> bool) -> Result<(), DslError> {
    if is_internal_name(name) && deployment_exists(deployment_of(name)) {
        return Err(gateway_error(
            ErrorCode::InternalGatewayRemoveError,
            name,
            "",
            format!(
                "Internal gateway '{name}' is removed with its deployment '{}'. Undeploy the cluster's services \
                 instead.",
                deployment_of(name)
            ),
        ));
    }
    Ok(())
}
