//! Golden tests of the HAProxy marshaller: one rendered configuration per feature, compared with
//! `tests/golden/<feature>.cfg` (rewrite with `VAMP_UPDATE_GOLDEN=1`) and each checked by the real `haproxy -c`.

mod support;

use vamp_core::gateway::GatewayMarshaller;
use vamp_core::model::{Gateway, Protocol, RouteTarget, Sticky};
use vamp_gateway::haproxy::samples::{balanced, conditional, every_feature, gateway, rewritten, route};
use vamp_gateway::haproxy::HaproxyMarshaller;

use support::golden::{assert_golden, assert_handlebars_agrees};

/// The bundled rendering, checked to agree with handlebars over the same template.
fn render(gateways: &[Gateway]) -> String {
    let text = HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .render(gateways)
        .unwrap();
    assert_handlebars_agrees(gateways, &text);
    text
}

fn web(routes: Vec<vamp_core::model::GatewayRoute>) -> Gateway {
    gateway("shop/web", 9050, Protocol::Http, routes)
}

fn v(n: u8, weight: u8) -> vamp_core::model::GatewayRoute {
    route(
        &format!("shop/v{n}/web"),
        weight,
        &[(
            &format!("shop-v{n}-web-0"),
            Some(&format!("10.0.0.{n}")),
            31000 + u16::from(n),
        )],
    )
}

#[test]
fn no_gateways_has_global_defaults_health_and_stats() {
    assert_golden("no_gateways", &render(&[]));
}

#[test]
fn weighted_routes_split_by_the_weights_map() {
    let text = render(&[web(vec![v(1, 90), v(2, 10), v(3, 0)])]);
    assert!(
        text.contains("#@= 0:89 g_") && text.contains("#@= 90:99 g_"),
        "{text}"
    );
    assert!(
        !text.contains("_r2\n#@"),
        "a 0% route has no weights-map entry:\n{text}"
    );
    assert_golden("weights", &text);
}

#[test]
fn conditions_become_acls_host_user_agent_cookie_header_and_or_not() {
    let text = render(&[web(vec![
        conditional(v(1, 0), "host == beta.example.com or user-agent == safari", 100),
        conditional(v(2, 0), "has cookie beta and not has header X-Old", 100),
        conditional(
            v(3, 0),
            "cookie group has testers or header X-Group misses stable",
            100,
        ),
        v(4, 100),
    ])]);
    for needle in [
        "req.hdr(host) -i -- \"beta.example.com\"",
        "req.fhdr(User-Agent) -m sub -- \"Safari\"",
        "req.fhdr(User-Agent) -m sub -- \"Version\"",
        "req.cook(beta) -m found",
        "req.hdr_cnt(X-Old) gt 0",
        "req.cook(group) -m sub -- \"testers\"",
        "req.fhdr(X-Group) -m sub -- \"stable\"",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    assert_golden("conditions", &text);
}

#[test]
fn raw_acls_are_written_as_given() {
    let text = render(&[web(vec![
        conditional(
            v(1, 0),
            "< hdr_sub(user-agent) Android > and < path_beg /m/ >",
            100,
        ),
        v(2, 100),
    ])]);
    assert!(text.contains(" hdr_sub(user-agent) Android\n"), "{text}");
    assert_golden("raw_acls", &text);
}

#[test]
fn condition_strength_draws_a_random_number() {
    let text = render(&[web(vec![
        conditional(v(1, 0), "has header X-Beta", 50),
        conditional(v(2, 0), "has header X-Gamma", 0),
        conditional(v(3, 0), "has header X-Delta", 100),
        v(4, 100),
    ])]);
    assert!(text.contains("{ rand(100) lt 50 }"), "{text}");
    assert!(!text.contains("X-Gamma"), "a 0% condition is left out:\n{text}");
    assert_golden("condition_strength", &text);
}

#[test]
fn sticky_route_reads_and_sets_the_route_cookie() {
    let mut g = web(vec![v(1, 50), v(2, 50)]);
    g.sticky = Some(Sticky::Route);
    let text = render(&[g]);
    assert!(text.contains("http-response add-header Set-Cookie"), "{text}");
    assert!(text.contains(".routes\n"), "{text}");
    assert_golden("sticky_route", &text);
}

#[test]
fn sticky_instance_adds_dynamic_server_cookies() {
    let mut g = web(vec![route(
        "shop/v1/web",
        100,
        &[
            ("shop-v1-web-0", Some("10.0.0.1"), 31001),
            ("shop-v1-web-1", Some("10.0.0.2"), 31001),
        ],
    )]);
    g.sticky = Some(Sticky::Instance);
    let text = render(&[g]);
    assert!(text.contains("insert indirect nocache dynamic"), "{text}");
    assert_golden("sticky_instance", &text);
}

#[test]
fn rewrites_set_the_path() {
    let text = render(&[web(vec![rewritten(
        v(1, 100),
        &[("/api%[path]", "{ path_beg /v1/ }"), ("/", "{ path /old }")],
    )])]);
    assert!(
        text.contains("http-request set-path \"/api%[path]\" if { path_beg /v1/ }"),
        "{text}"
    );
    assert_golden("rewrites", &text);
}

#[test]
fn balance_is_per_route_with_roundrobin_by_default() {
    let text = render(&[web(vec![
        balanced(v(1, 50), "leastconn"),
        balanced(v(2, 50), "default"),
    ])]);
    assert!(
        text.contains("balance leastconn") && text.contains("balance roundrobin"),
        "{text}"
    );
    assert_golden("balance", &text);
}

#[test]
fn virtual_hosts_map_host_names_to_the_gateway() {
    let mut g = web(vec![v(1, 100)]);
    g.virtual_hosts = vec!["Shop.Example.com".into(), "9050.shop.web.vamp".into()];
    let text = render(&[g]);
    assert!(text.contains("frontend virtual_hosts"), "{text}");
    assert!(text.contains("#@= shop.example.com g_"), "{text}");
    assert_golden("virtual_hosts", &text);
}

#[test]
fn every_target_kind_becomes_a_server() {
    let mut internal = v(1, 25);
    internal.targets.push(RouteTarget::Internal {
        name: "agent-local".into(),
        host: None,
        port: 31009,
    });
    let mut external_target = v(2, 25);
    external_target.targets = vec![RouteTarget::External {
        url: "192.0.2.7:8443".into(),
    }];
    let text = render(&[web(vec![
        internal,
        external_target,
        route("[192.0.2.8:80]", 25, &[]),
        route("shop/v6/web", 25, &[("ipv6", Some("::1"), 8080)]),
    ])]);
    for needle in [
        "10.0.0.1:31001",
        "127.0.0.1:31009",
        "192.0.2.7:8443",
        "192.0.2.8:80",
        "[::1]:8080",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    assert_golden("targets", &text);
}

#[test]
fn gateway_chaining_targets_the_other_gateway_port_on_loopback() {
    let front = gateway("front", 9080, Protocol::Http, vec![route("shop/web", 100, &[])]);
    let text = render(&[front, web(vec![v(1, 100)])]);
    assert!(text.contains("127.0.0.1:9050 weight 100"), "{text}");
    assert_golden("gateway_chaining", &text);
}

#[test]
fn tcp_gateways_use_tcp_rules_and_log_format() {
    let text = render(&[gateway(
        "shop/db/port",
        9060,
        Protocol::Tcp,
        vec![
            route("shop/db/redis/port", 80, &[("redis-0", Some("10.0.0.5"), 31005)]),
            route(
                "shop/db/redis2/port",
                20,
                &[("redis2-0", Some("10.0.0.6"), 31006)],
            ),
        ],
    )]);
    assert!(
        text.contains("mode tcp") && text.contains("tcp-request content set-var"),
        "{text}"
    );
    assert_golden("tcp", &text);
}

#[test]
fn route_slots_grow_in_groups_of_eight() {
    let routes = (1..=8).map(|n| v(n, if n == 1 { 100 } else { 0 })).collect();
    let text = render(&[web(routes)]);
    assert!(text.contains("_r15\n") && !text.contains("_r16\n"), "{text}");
    assert_golden("slots", &text);
}

#[test]
fn every_feature_together() {
    assert_golden("every_feature", &render(&every_feature()));
}
