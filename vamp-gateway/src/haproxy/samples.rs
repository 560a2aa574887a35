//! Sample gateways that use every feature the marshaller supports: what [`super::check_template`] renders a
//! replacement template with, and a quick way to see the bundled output.

use vamp_core::model::{
    Condition, Gateway, GatewayPort, GatewayRoute, Percentage, Protocol, Ref, Rewrite, Route, RouteTarget,
    Sticky,
};

/// A route with `weight` over `targets` (`(name, host, port)`; host `None` = the agent host).
pub fn route(path: &str, weight: u8, targets: &[(&str, Option<&str>, u16)]) -> GatewayRoute {
    let mut r = GatewayRoute::new(path);
    r.route = Ref::Inline(Route {
        weight: Some(Percentage(weight)),
        ..Route::default()
    });
    r.targets = targets
        .iter()
        .map(|(name, host, port)| RouteTarget::Internal {
            name: (*name).to_string(),
            host: host.map(str::to_string),
            port: *port,
        })
        .collect();
    r
}

/// `route` with a condition and its strength.
pub fn conditional(mut r: GatewayRoute, condition: &str, strength: u8) -> GatewayRoute {
    if let Some(routing) = r.route.inline_mut() {
        routing.condition = Some(Ref::Inline(Condition::inline(condition)));
        routing.condition_strength = Some(Percentage(strength));
    }
    r
}

/// `route` with path rewrites `(new path, HAProxy condition)`.
pub fn rewritten(mut r: GatewayRoute, rewrites: &[(&str, &str)]) -> GatewayRoute {
    if let Some(routing) = r.route.inline_mut() {
        routing.rewrites = rewrites
            .iter()
            .map(|(path, condition)| {
                Ref::Inline(Rewrite {
                    name: String::new(),
                    metadata: Default::default(),
                    path: (*path).to_string(),
                    condition: (*condition).to_string(),
                })
            })
            .collect();
    }
    r
}

/// `route` with a balance algorithm.
pub fn balanced(mut r: GatewayRoute, balance: &str) -> GatewayRoute {
    if let Some(routing) = r.route.inline_mut() {
        routing.balance = Some(balance.to_string());
    }
    r
}

/// A gateway on `port` with `routes`.
pub fn gateway(name: &str, port: u16, protocol: Protocol, routes: Vec<GatewayRoute>) -> Gateway {
    let mut g = Gateway::new(
        name,
        GatewayPort {
            number: port,
            protocol,
        },
    );
    g.routes = routes;
    g
}

/// Gateways covering every feature: weights (with a 0% route), every condition operand (and/or/not, raw ACL),
/// condition strength, both kinds of stickiness, rewrites, balance, virtual hosts, an external `[host:port]`
/// route, gateway chaining, and a TCP gateway. The raw ACL and the rewrites need `allow_raw_acls`.
pub fn every_feature() -> Vec<Gateway> {
    let mut web = gateway(
        "shop/web",
        9050,
        Protocol::Http,
        vec![
            conditional(
                route("shop/v2/web", 10, &[("shop-v2-web-0", Some("10.0.0.2"), 31002)]),
                "(user-agent == chrome or host == beta.example.com) and has cookie beta and not has header X-Old",
                50,
            ),
            conditional(
                route("shop/v3/web", 0, &[("shop-v3-web-0", Some("10.0.0.3"), 31003)]),
                "cookie group has testers or header X-Group misses stable or < path_beg /v3/ >",
                100,
            ),
            balanced(
                rewritten(
                    route(
                        "shop/v1/web",
                        90,
                        &[("shop-v1-web-0", Some("10.0.0.1"), 31001), ("shop-v1-web-1", Some("10.0.0.4"), 31001)],
                    ),
                    &[("/api%[path]", "{ path_beg /v1/ }")],
                ),
                "leastconn",
            ),
        ],
    );
    web.sticky = Some(Sticky::Route);
    web.virtual_hosts = vec!["shop.example.com".into(), "WWW.Shop.Example.com".into()];
    let mut api = gateway(
        "api",
        9070,
        Protocol::Http,
        vec![route("[192.0.2.10:443]", 100, &[]), route("shop/web", 0, &[])],
    );
    api.sticky = Some(Sticky::Instance);
    let db = gateway(
        "shop/db/port",
        9060,
        Protocol::Tcp,
        vec![route(
            "shop/db/redis/port",
            100,
            &[("shop-db-redis-0", None, 31004)],
        )],
    );
    vec![web, api, db]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haproxy::HaproxyMarshaller;

    #[test]
    fn every_feature_renders_with_the_bundled_template() {
        let e = HaproxyMarshaller::new()
            .with_options(crate::haproxy::HaproxyOptions::default().with_raw_acls(true))
            .envelope(&every_feature())
            .unwrap();
        for needle in [
            "rand(100) lt 50",
            "cookie vamp_i_",
            "set-path \"/api%[path]\" if { path_beg /v1/ }",
            "balance leastconn",
            "192.0.2.10:443",
            "frontend virtual_hosts",
            "mode tcp",
            "path_beg /v3/",
        ] {
            assert!(e.config.contains(needle), "{needle} missing in\n{}", e.config);
        }
        assert!(e.maps.contains_key("virtual_hosts.map"));
    }
}
