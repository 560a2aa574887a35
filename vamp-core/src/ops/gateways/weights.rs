//! Route weights, condition strengths and balance defaults of a gateway.
//!
//! A route's `weight` is its share of the traffic no condition took; the weights of a gateway total 0% (no
//! weighted traffic) or 100%. `condition_strength` is the share of the requests matching the route's condition
//! that the condition sends to the route: 100% by default with a condition, 0% without.

use crate::dsl::{DslError, ErrorCode};
use crate::model::{Gateway, GatewayRoute, Percentage, Protocol, Ref, Route};

use super::validate::{gateway_error, route_field};

/// HAProxy's balance algorithm for HTTP gateways when a route gives none.
pub const HTTP_BALANCE: &str = "roundrobin";
/// HAProxy's balance algorithm for TCP gateways when a route gives none.
pub const TCP_BALANCE: &str = "leastconn";
/// The balance value that means "the gateway's default".
pub const DEFAULT_BALANCE: &str = "default";

/// Whether a route has a condition: a stored one by name, or an inline one with a non-blank definition.
pub fn has_condition(route: &Route) -> bool {
    match &route.condition {
        None => false,
        Some(Ref::Named(_)) => true,
        Some(Ref::Inline(c)) => !c.definition.trim().is_empty(),
    }
}

/// Gives the routes without a weight equal shares of what the given weights leave of 100%.
///
/// Applies only when every route is inline (a stored route's weight is not known here) and the given weights
/// total at most 100%; otherwise the routes are left as they are and [`check_route_weights`] reports the total.
/// With `r` percent remaining and `n` routes without a weight, each gets `round(r / n)` (half up) and the last of
/// them the rest, so 100% over 3 routes is 33/33/34 and 50% over 2 is 25/25. When rounding up would leave the
/// last route a negative share (e.g. 11% over 7 routes) every share but the last rounds down instead. Route
/// order is kept (the original moved the filled routes to the front).
pub fn fill_weights(routes: &mut [GatewayRoute]) {
    if !routes.iter().all(|r| r.inline().is_some()) {
        return;
    }
    let given: u32 = routes
        .iter()
        .filter_map(|r| r.inline().and_then(|i| i.weight))
        .map(|w| u32::from(w.0))
        .sum();
    if given > 100 {
        return;
    }
    let missing = routes
        .iter()
        .filter(|r| r.inline().is_some_and(|i| i.weight.is_none()))
        .count() as u32;
    if missing == 0 {
        return;
    }
    let remaining = 100 - given;
    let mut share = (2 * remaining + missing) / (2 * missing);
    if share * (missing - 1) > remaining {
        share = remaining / missing;
    }
    let last = remaining - share * (missing - 1);
    let mut seen = 0;
    for route in routes.iter_mut() {
        if let Some(inline) = route.route.inline_mut() {
            if inline.weight.is_none() {
                seen += 1;
                let value = if seen == missing { last } else { share };
                inline.weight = Some(Percentage(u8::try_from(value).unwrap_or(100)));
            }
        }
    }
}

/// Sets the condition strength of every inline route that has none: 100% with a condition, 0% without.
pub fn default_condition_strengths(routes: &mut [GatewayRoute]) {
    for route in routes.iter_mut() {
        if let Some(inline) = route.route.inline_mut() {
            if inline.condition_strength.is_none() {
                let default = if has_condition(inline) { 100 } else { 0 };
                inline.condition_strength = Some(Percentage(default));
            }
        }
    }
}

/// Checks that the route weights of a gateway total 0% or 100%, counting a missing weight as 0%.
///
/// Skipped when a route is a stored reference, whose weight is not known here. Fails with
/// `GatewayRouteWeightError` naming the gateway and the total.
pub fn check_route_weights(gateway: &Gateway) -> Result<(), DslError> {
    let inline: Vec<&Route> = gateway.routes.iter().filter_map(GatewayRoute::inline).collect();
    if inline.len() != gateway.routes.len() {
        return Ok(());
    }
    let total: u32 = inline
        .iter()
        .filter_map(|r| r.weight)
        .map(|w| u32::from(w.0))
        .sum();
    if total == 0 || total == 100 {
        return Ok(());
    }
    Err(gateway_error(
        ErrorCode::GatewayRouteWeightError,
        &gateway.name,
        "routes",
        format!(
            "Total route weight must be either 0% or 100%: {}. The routes total {total}%; give them weights that \
             add up to 100%, or leave some without a weight to share what the others leave.",
            gateway.name
        ),
    ))
}

/// Checks that every inline route's condition strength is within 0..100%.
///
/// Fails with `GatewayRouteConditionStrengthError` naming the gateway and the route.
pub fn check_condition_strengths(gateway: &Gateway) -> Result<(), DslError> {
    let out_of_range = gateway.routes.iter().find(|r| {
        r.inline()
            .and_then(|i| i.condition_strength)
            .is_some_and(|s| s.0 > 100)
    });
    match out_of_range {
        None => Ok(()),
        Some(route) => Err(gateway_error(
            ErrorCode::GatewayRouteConditionStrengthError,
            &gateway.name,
            route_field(&route.path.0, "condition_strength"),
            format!(
                "Condition strength of route '{}' of gateway '{}' must be between 0% and 100%.",
                route.path, gateway.name
            ),
        )),
    }
}

/// The balance algorithm a gateway uses when a route gives none: `roundrobin` for HTTP, `leastconn` for TCP.
pub fn default_balance(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => HTTP_BALANCE,
        Protocol::Tcp => TCP_BALANCE,
    }
}

/// The balance algorithm of a route on a gateway of `protocol`: the route's own, unless it is absent, blank or
/// `default`, in which case the gateway's default ([`default_balance`]).
pub fn balance_for(route: &Route, protocol: Protocol) -> &str {
    match route.balance.as_deref().map(str::trim) {
        Some(b) if !b.is_empty() && !b.eq_ignore_ascii_case(DEFAULT_BALANCE) => b,
        _ => default_balance(protocol),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Condition, GatewayPort};

    fn route(path: &str, weight: Option<u8>) -> GatewayRoute {
        let mut r = GatewayRoute::new(path);
        r.route = Ref::Inline(Route {
            weight: weight.map(Percentage),
            ..Route::default()
        });
        r
    }

    fn weights(routes: &[GatewayRoute]) -> Vec<Option<u8>> {
        routes
            .iter()
            .map(|r| r.inline().and_then(|i| i.weight).map(|w| w.0))
            .collect()
    }

    fn gateway(routes: Vec<GatewayRoute>) -> Gateway {
        let mut g = Gateway::new("gw", GatewayPort::default());
        g.routes = routes;
        g
    }

    #[test]
    fn three_routes_without_weights_share_33_33_34() {
        let mut routes = vec![route("a", None), route("b", None), route("c", None)];
        fill_weights(&mut routes);
        assert_eq!(weights(&routes), vec![Some(33), Some(33), Some(34)]);
    }

    #[test]
    fn two_unweighted_routes_share_what_two_weighted_leave() {
        let mut routes = vec![
            route("a", Some(30)),
            route("b", None),
            route("c", Some(20)),
            route("d", None),
        ];
        fill_weights(&mut routes);
        assert_eq!(weights(&routes), vec![Some(30), Some(25), Some(20), Some(25)]);
    }

    #[test]
    fn shares_round_half_up() {
        let mut routes: Vec<_> = (0..6).map(|i| route(&format!("r{i}"), None)).collect();
        fill_weights(&mut routes);
        assert_eq!(
            weights(&routes),
            vec![Some(17), Some(17), Some(17), Some(17), Some(17), Some(15)]
        );
    }

    #[test]
    fn rounding_never_leaves_the_last_route_negative() {
        let mut routes = vec![route("big", Some(89))];
        routes.extend((0..7).map(|i| route(&format!("r{i}"), None)));
        fill_weights(&mut routes);
        let w: Vec<u8> = weights(&routes).into_iter().map(|w| w.unwrap()).collect();
        assert_eq!(w.iter().map(|&v| u32::from(v)).sum::<u32>(), 100);
        assert_eq!(&w[1..], &[1, 1, 1, 1, 1, 1, 5]);
    }

    #[test]
    fn routes_get_zero_when_the_given_weights_take_everything() {
        let mut routes = vec![route("a", Some(100)), route("b", None)];
        fill_weights(&mut routes);
        assert_eq!(weights(&routes), vec![Some(100), Some(0)]);
    }

    #[test]
    fn weights_over_100_are_not_filled_and_fail_the_check() {
        let mut routes = vec![route("a", Some(80)), route("b", Some(30)), route("c", None)];
        fill_weights(&mut routes);
        assert_eq!(weights(&routes)[2], None);
        let err = check_route_weights(&gateway(routes)).unwrap_err();
        assert_eq!(err.code, ErrorCode::GatewayRouteWeightError);
        assert!(err
            .message
            .contains("Total route weight must be either 0% or 100%: gw"));
        assert_eq!(err.artifact.name, "gw");
    }

    #[test]
    fn weights_must_total_0_or_100() {
        assert!(check_route_weights(&gateway(vec![route("a", Some(0)), route("b", Some(0))])).is_ok());
        assert!(check_route_weights(&gateway(vec![route("a", Some(60)), route("b", Some(40))])).is_ok());
        let err =
            check_route_weights(&gateway(vec![route("a", Some(60)), route("b", Some(30))])).unwrap_err();
        assert!(err.message.contains("90%"));
    }

    #[test]
    fn stored_route_references_suspend_filling_and_the_total_check() {
        let mut named = GatewayRoute::new("b");
        named.route = Ref::Named("stored".into());
        let mut routes = vec![route("a", Some(30)), named, route("c", None)];
        fill_weights(&mut routes);
        assert_eq!(weights(&routes)[2], None);
        assert!(check_route_weights(&gateway(routes)).is_ok());
    }

    #[test]
    fn condition_strength_defaults_to_100_with_a_condition_and_0_without() {
        let mut with = route("a", Some(50));
        with.route.inline_mut().unwrap().condition = Some(Ref::Inline(Condition::inline("has cookie beta")));
        let mut blank = route("b", Some(50));
        blank.route.inline_mut().unwrap().condition = Some(Ref::Inline(Condition::inline("  ")));
        let mut given = route("c", Some(0));
        given.route.inline_mut().unwrap().condition = Some(Ref::Named("beta".into()));
        given.route.inline_mut().unwrap().condition_strength = Some(Percentage(25));
        let mut routes = vec![with, blank, given];
        default_condition_strengths(&mut routes);
        let s: Vec<_> = routes
            .iter()
            .map(|r| r.inline().unwrap().condition_strength.unwrap().0)
            .collect();
        assert_eq!(s, vec![100, 0, 25]);
    }

    #[test]
    fn condition_strength_above_100_is_refused() {
        let mut r = route("a", Some(100));
        r.route.inline_mut().unwrap().condition_strength = Some(Percentage(120));
        let err = check_condition_strengths(&gateway(vec![r])).unwrap_err();
        assert_eq!(err.code, ErrorCode::GatewayRouteConditionStrengthError);
        assert_eq!(err.path, "routes.a.condition_strength");
    }

    #[test]
    fn balance_defaults_by_protocol() {
        let mut r = Route::default();
        assert_eq!(balance_for(&r, Protocol::Http), "roundrobin");
        assert_eq!(balance_for(&r, Protocol::Tcp), "leastconn");
        r.balance = Some("default".into());
        assert_eq!(balance_for(&r, Protocol::Tcp), "leastconn");
        r.balance = Some("first".into());
        assert_eq!(balance_for(&r, Protocol::Http), "first");
    }
}
