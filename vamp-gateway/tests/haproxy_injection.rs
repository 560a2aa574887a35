//! Injection tests: hostile text in every field the marshaller writes (names, condition values, cookie and
//! header names, rewrites, raw ACLs, balance, virtual hosts, target addresses) either is refused with a clean
//! `Invalid` error naming the gateway and field, or stays inside its token: the configuration keeps exactly the
//! directives of a benign rendering and the real `haproxy -c` accepts it.

mod support;

use vamp_core::gateway::GatewayMarshaller;
use vamp_core::model::{Gateway, GatewayRoute, Protocol, RouteTarget};
use vamp_core::ErrorKind;
use vamp_gateway::haproxy::envelope::Envelope;
use vamp_gateway::haproxy::samples::{balanced, conditional, gateway, rewritten, route};
use vamp_gateway::haproxy::{HaproxyMarshaller, HaproxyOptions};

use support::golden::assert_haproxy_accepts;

/// Hostile pieces of text: newlines, comments, quotes, braces, spaces, environment variables, backslashes.
const HOSTILE: [&str; 14] = [
    "a\nfrontend evil",
    "a\r\nbind :1",
    "a\0b",
    "a # comment",
    "a#b",
    "a\"b",
    "a'b",
    "a{b}c",
    "a } or { always_true",
    "a b c",
    "${HOME}",
    "a\\",
    "a)b",
    "\"",
];

fn base(route: GatewayRoute) -> Gateway {
    gateway("shop/web", 9050, Protocol::Http, vec![route])
}

fn plain() -> GatewayRoute {
    route("shop/v1/web", 100, &[("shop-v1-web-0", Some("10.0.0.1"), 31001)])
}

/// The first word of every configuration line: the sequence of directives.
fn directives(text: &str) -> Vec<String> {
    Envelope::parse(text)
        .unwrap()
        .config
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

/// Renders `hostile` and `benign`; the hostile one must be refused as `Invalid` naming `field`, or keep the
/// benign one's directives and pass `haproxy -c`.
fn assert_contained(what: &str, benign: Vec<Gateway>, hostile: Vec<Gateway>, field: &str) {
    assert_contained_with(
        HaproxyMarshaller::new()
            .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true)),
        what,
        benign,
        hostile,
        field,
    );
}

fn assert_contained_with(
    m: HaproxyMarshaller,
    what: &str,
    benign: Vec<Gateway>,
    hostile: Vec<Gateway>,
    field: &str,
) {
    let expected = directives(&m.render(&benign).unwrap());
    match m.render(&hostile) {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Invalid, "{what}: {}", e.message());
            assert!(
                e.message().contains(field) && e.message().contains("shop/web"),
                "{what}: the error does not name gateway and field '{field}': {}",
                e.message()
            );
            assert!(
                !e.message().contains('\n') || field == "haproxy",
                "{what}: {}",
                e.message()
            );
        }
        Ok(text) => {
            assert_eq!(
                directives(&text),
                expected,
                "{what}: the directives changed:\n{text}"
            );
            assert_haproxy_accepts(what, &text);
        }
    }
}

#[test]
fn hostile_condition_values_stay_quoted_or_are_refused() {
    for bad in HOSTILE {
        let value = format!("'{}'", bad.replace('\'', "''"));
        for condition in [
            format!("host == {value}"),
            format!("user-agent == {value}"),
            format!("cookie group has {value}"),
            format!("header X-Group has {value}"),
        ] {
            assert_contained(
                &format!("condition {condition:?}"),
                vec![base(conditional(plain(), "host == x", 100))],
                vec![base(conditional(plain(), &condition, 100))],
                "condition",
            );
        }
    }
}

#[test]
fn condition_values_that_look_like_acl_flags_stay_patterns() {
    for flag in ["-i", "-f", "-m", "-n", "--", "-u 1"] {
        for condition in [
            format!("host == '{flag}'"),
            format!("user-agent == '{flag}'"),
            format!("cookie group has '{flag}'"),
            format!("header X-Group has '{flag}'"),
        ] {
            assert_contained(
                &format!("condition {condition:?}"),
                vec![base(conditional(plain(), "host == x", 100))],
                vec![base(conditional(plain(), &condition, 100))],
                "condition",
            );
        }
    }
}

#[test]
fn hostile_cookie_and_header_names_are_refused() {
    for bad in HOSTILE {
        let name = format!("'{}'", bad.replace('\'', "''"));
        for condition in [format!("has cookie {name}"), format!("has header {name}")] {
            let m = HaproxyMarshaller::new()
                .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true));
            let e = m
                .render(&[base(conditional(plain(), &condition, 100))])
                .expect_err(&condition);
            assert_eq!(e.kind(), ErrorKind::Invalid, "{condition}");
        }
    }
}

#[test]
fn hostile_raw_acls_are_refused_unless_balanced_and_comment_free() {
    for bad in HOSTILE {
        let condition = format!("< hdr(x) {bad} >");
        assert_contained(
            &format!("raw acl {condition:?}"),
            vec![base(conditional(plain(), "< hdr(x) a >", 100))],
            vec![base(conditional(plain(), &condition, 100))],
            "condition",
        );
    }
}

#[test]
fn raw_acls_and_rewrites_are_refused_when_switched_off() {
    let mut options = HaproxyOptions::default();
    options.allow_raw_acls = false;
    let m = HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .with_options(options);
    let e = m
        .render(&[base(conditional(plain(), "< hdr_sub(user-agent) Android >", 100))])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("allow_raw_acls"), "{}", e.message());
    let e = m
        .render(&[base(rewritten(plain(), &[("/x", "{ path_beg /y }")]))])
        .unwrap_err();
    assert!(e.message().contains("rewrites"), "{}", e.message());
    assert!(m
        .render(&[base(conditional(plain(), "has cookie a", 100))])
        .is_ok());
}

#[test]
fn hostile_rewrites_stay_quoted_or_are_refused() {
    for bad in HOSTILE {
        assert_contained(
            &format!("rewrite path {bad:?}"),
            vec![base(rewritten(plain(), &[("/x", "{ path_beg /y }")]))],
            vec![base(rewritten(
                plain(),
                &[(&format!("/{bad}"), "{ path_beg /y }")],
            ))],
            "rewrites",
        );
        assert_contained(
            &format!("rewrite condition {bad:?}"),
            vec![base(rewritten(plain(), &[("/x", "{ path_beg /y }")]))],
            vec![base(rewritten(
                plain(),
                &[("/x", &format!("{{ path_beg /{bad} }}"))],
            ))],
            "rewrites",
        );
    }
}

#[test]
fn hostile_balance_is_refused() {
    for bad in HOSTILE {
        let e = HaproxyMarshaller::new()
            .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
            .render(&[base(balanced(plain(), &format!("roundrobin{bad}")))])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{bad:?}");
        assert!(e.message().contains("balance"), "{}", e.message());
    }
}

#[test]
fn hostile_virtual_hosts_are_refused() {
    for bad in HOSTILE {
        let mut g = base(plain());
        g.virtual_hosts = vec![format!("shop{bad}.example.com")];
        let e = HaproxyMarshaller::new()
            .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
            .render(&[g])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{bad:?}");
        assert!(e.message().contains("virtual_hosts"), "{}", e.message());
    }
}

#[test]
fn hostile_target_addresses_are_refused() {
    for bad in HOSTILE {
        let mut internal = plain();
        internal.targets = vec![RouteTarget::Internal {
            name: "x".into(),
            host: Some(format!("10.0.0.1{bad}")),
            port: 80,
        }];
        let mut external = plain();
        external.targets = vec![RouteTarget::External {
            url: format!("example.com{bad}:80"),
        }];
        for r in [internal, external, route(&format!("[h{bad}:80]"), 100, &[])] {
            let e = HaproxyMarshaller::new()
                .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
                .render(&[base(r)])
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid, "{bad:?}");
            assert!(
                e.message().contains("'targets'") || e.message().contains("'path'"),
                "{}",
                e.message()
            );
        }
    }
}

#[test]
fn hostile_names_only_reach_comments_or_are_refused() {
    for bad in HOSTILE {
        let target_name = format!("instance{bad}");
        let mut named = plain();
        named.targets = vec![RouteTarget::Internal {
            name: target_name,
            host: Some("10.0.0.1".into()),
            port: 31001,
        }];
        assert_contained(
            &format!("target name {bad:?}"),
            vec![base(plain())],
            vec![base(named)],
            "targets",
        );
        assert_contained(
            &format!("route path {bad:?}"),
            vec![base(plain())],
            vec![base(route(
                &format!("shop/v1{bad}/web"),
                100,
                &[("i", Some("10.0.0.1"), 31001)],
            ))],
            "path",
        );
        let hostile_gateway = gateway(&format!("shop/web{bad}"), 9050, Protocol::Http, vec![plain()]);
        let m = HaproxyMarshaller::new()
            .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true));
        match m.render(&[hostile_gateway]) {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Invalid, "{bad:?}"),
            Ok(text) => {
                assert_eq!(
                    directives(&text),
                    directives(&m.render(&[base(plain())]).unwrap()),
                    "{bad:?}"
                );
                assert_haproxy_accepts(&format!("gateway name {bad:?}"), &text);
            }
        }
    }
}

#[test]
fn unresolved_references_are_refused_naming_them() {
    let mut r = plain();
    r.route = vamp_core::model::Ref::Named("stored-route".into());
    let e = HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .render(&[base(r)])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(
        e.message().contains("stored-route") && e.message().contains("shop/v1/web"),
        "{}",
        e.message()
    );
    let mut r = plain();
    if let Some(routing) = r.route.inline_mut() {
        routing.condition = Some(vamp_core::model::Ref::Named("beta-users".into()));
    }
    let e = HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .render(&[base(r)])
        .unwrap_err();
    assert!(
        e.message().contains("beta-users") && e.message().contains("condition"),
        "{}",
        e.message()
    );
}

#[test]
fn tcp_gateways_refuse_http_features_naming_the_field() {
    let tcp = |r: GatewayRoute| gateway("shop/web", 9050, Protocol::Tcp, vec![r]);
    let e = HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .render(&[tcp(conditional(plain(), "has cookie a", 100))])
        .unwrap_err();
    assert!(
        e.message().contains("shop/v1/web") && e.message().contains("condition"),
        "{}",
        e.message()
    );
    let e = HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .render(&[tcp(rewritten(plain(), &[("/x", "{ path_beg /y }")]))])
        .unwrap_err();
    assert!(e.message().contains("rewrites"), "{}", e.message());
}

#[test]
fn gateways_sharing_a_port_or_without_one_are_refused() {
    let a = gateway("a", 9050, Protocol::Http, vec![]);
    let b = gateway("b", 9050, Protocol::Http, vec![]);
    assert!(HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .render(&[a.clone(), b])
        .is_err());
    let unassigned = gateway("c", 0, Protocol::Http, vec![]);
    let e = HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .render(&[a, unassigned])
        .unwrap_err();
    assert!(e.message().contains("port"), "{}", e.message());
}
