//! Gateway validation: name and route path forms, the HTTP-only features (sticky sessions, conditions), and
//! [`normalize_gateway`], which checks a gateway and completes its weights and condition strengths.

use crate::dsl::{DslError, ErrorCode};
use crate::model::{Gateway, Kind, Protocol};

use super::weights::{
    check_condition_strengths, check_route_weights, default_condition_strengths, fill_weights, has_condition,
};

/// An error about gateway `gateway` at field `path`.
pub(crate) fn gateway_error(
    code: ErrorCode,
    gateway: &str,
    path: impl Into<String>,
    message: impl Into<String>,
) -> DslError {
    DslError::about(code, Kind::Gateway, gateway, path, message)
}

/// The field path of a route of a gateway, e.g. `routes.shop/web/port.weight`.
pub(crate) fn route_field(route: &str, field: &str) -> String {
    if field.is_empty() {
        format!("routes.{route}")
    } else {
        format!("routes.{route}.{field}")
    }
}

/// Checks a gateway name: 1 to 4 non-empty `/`-separated segments without white space, `[` or `]`.
///
/// One segment is a user gateway, `deployment/port` a deployment gateway, `deployment/cluster/port` an internal
/// gateway; 2 and 4 segments are also accepted for user gateways. Fails with `UnsupportedGatewayNameError`.
pub fn validate_gateway_name(name: &str) -> Result<(), DslError> {
    let segments: Vec<&str> = name.split('/').collect();
    let well_formed = (1..=4).contains(&segments.len())
        && segments.iter().all(|s| !s.is_empty())
        && !name.chars().any(|c| c.is_whitespace() || c == '[' || c == ']');
    if well_formed {
        return Ok(());
    }
    Err(gateway_error(
        ErrorCode::UnsupportedGatewayNameError,
        name,
        "name",
        format!(
            "Unsupported gateway name: '{name}'. Must be either in format '$gateway', '$deployment/$port' or \
             '$deployment/$cluster/$port': 1 to 4 non-empty segments separated by '/', without white space, \
             '[' or ']'."
        ),
    ))
}

/// Checks that every route path is 1 to 4 non-empty segments or an external `[host:port]`.
///
/// Fails with `UnsupportedRoutePathError` naming the first offending route.
pub fn validate_route_paths(gateway: &Gateway) -> Result<(), DslError> {
    match gateway.routes.iter().find(|r| !r.path.is_valid()) {
        None => Ok(()),
        Some(route) => Err(gateway_error(
            ErrorCode::UnsupportedRoutePathError,
            &gateway.name,
            route_field(&route.path.0, ""),
            format!(
                "Unsupported route path: '{}'. A route is 'gateway', 'deployment/port', 'deployment/cluster/port', \
                 'deployment/cluster/service/port' or '[host:port]'.",
                route.path
            ),
        )),
    }
}

/// Checks the HTTP-only features on a TCP gateway: `sticky` fails with `StickyPortTypeError`, a route with a
/// condition with `ConditionPortTypeError`. HTTP gateways always pass.
pub fn validate_port_type(gateway: &Gateway) -> Result<(), DslError> {
    if gateway.port.protocol != Protocol::Tcp {
        return Ok(());
    }
    if gateway.sticky.is_some() {
        return Err(gateway_error(
            ErrorCode::StickyPortTypeError,
            &gateway.name,
            "sticky",
            format!(
                "Sticky sessions are not allowed for TCP port: '{}'. Remove `sticky` or use an HTTP port.",
                gateway.port
            ),
        ));
    }
    let conditional = gateway
        .routes
        .iter()
        .find(|r| r.inline().is_some_and(has_condition));
    match conditional {
        None => Ok(()),
        Some(route) => Err(gateway_error(
            ErrorCode::ConditionPortTypeError,
            &gateway.name,
            route_field(&route.path.0, "condition"),
            format!(
                "Conditions are not allowed for TCP port: '{}'. Remove the condition of route '{}' or use an \
                 HTTP port.",
                gateway.port, route.path
            ),
        )),
    }
}

/// Checks a gateway and returns it completed, as the original's gateway actor stored it.
///
/// In order: the name ([`validate_gateway_name`]), the route paths ([`validate_route_paths`]), the HTTP-only
/// features ([`validate_port_type`]); then routes without a weight share what the given weights leave
/// ([`fill_weights`]), routes without a condition strength get the default ([`default_condition_strengths`]),
/// and the result must total 0% or 100% ([`check_route_weights`]) with strengths in 0..100%
/// ([`check_condition_strengths`]), and a canary policy must fit the gateway
/// ([`crate::dsl::validate::canary`]) — except on an internal gateway, whose policy lives in its deployment and is
/// checked with it (`ops::deployment::validate`), so a cluster's traffic is never held back for its canary. The
/// first failure is returned. Route order and everything else is kept.
pub fn normalize_gateway(gateway: &Gateway) -> Result<Gateway, DslError> {
    validate_gateway_name(&gateway.name)?;
    validate_route_paths(gateway)?;
    validate_port_type(gateway)?;
    let mut out = gateway.clone();
    fill_weights(&mut out.routes);
    default_condition_strengths(&mut out.routes);
    check_route_weights(&out)?;
    check_condition_strengths(&out)?;
    if !out.is_internal() {
        crate::dsl::validate::canary::validate_canary(&out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Condition, GatewayPort, GatewayRoute, Percentage, Ref, Route, Sticky};

    fn tcp(name: &str) -> Gateway {
        Gateway::new(
            name,
            GatewayPort {
                number: 9000,
                protocol: Protocol::Tcp,
            },
        )
    }

    #[test]
    fn gateway_names_have_one_to_four_clean_segments() {
        for ok in ["gw", "shop/9050", "shop/web/port", "a/b/c/d"] {
            assert!(validate_gateway_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b/c/d/e", "a//b", "my gw", "gw[1]", "/gw"] {
            let err = validate_gateway_name(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::UnsupportedGatewayNameError, "{bad}");
        }
    }

    #[test]
    fn invalid_route_path_is_named() {
        let mut g = Gateway::new("gw", GatewayPort::default());
        g.routes.push(GatewayRoute::new("a/b"));
        g.routes.push(GatewayRoute::new("a/b/c/d/e"));
        let err = validate_route_paths(&g).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedRoutePathError);
        assert_eq!(err.path, "routes.a/b/c/d/e");
    }

    #[test]
    fn sticky_is_refused_on_tcp() {
        let mut g = tcp("db");
        g.sticky = Some(Sticky::Route);
        assert_eq!(
            validate_port_type(&g).unwrap_err().code,
            ErrorCode::StickyPortTypeError
        );
        g.port.protocol = Protocol::Http;
        assert!(validate_port_type(&g).is_ok());
    }

    #[test]
    fn conditions_are_refused_on_tcp() {
        let mut g = tcp("db");
        let mut route = GatewayRoute::new("shop/db/port");
        route.route = Ref::Inline(Route {
            condition: Some(Ref::Inline(Condition::inline("user-agent == Chrome"))),
            ..Route::default()
        });
        g.routes.push(route);
        let err = validate_port_type(&g).unwrap_err();
        assert_eq!(err.code, ErrorCode::ConditionPortTypeError);
        assert_eq!(err.path, "routes.shop/db/port.condition");
    }

    #[test]
    fn normalize_fills_weights_and_strengths() {
        let mut g = Gateway::new("gw", GatewayPort::default());
        g.routes = vec![GatewayRoute::new("a"), GatewayRoute::new("b")];
        let n = normalize_gateway(&g).unwrap();
        let weights: Vec<_> = n.routes.iter().map(|r| r.inline().unwrap().weight).collect();
        assert_eq!(weights, vec![Some(Percentage(50)), Some(Percentage(50))]);
        assert!(n
            .routes
            .iter()
            .all(|r| r.inline().unwrap().condition_strength == Some(Percentage(0))));
    }
}
