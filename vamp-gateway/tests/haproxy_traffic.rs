//! Traffic tests: the marshaller's configuration run by a real HAProxy (master-worker, as the agent runs it) on
//! loopback, with backends that answer with their own name, and real requests.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use vamp_core::gateway::GatewayMarshaller;
use vamp_core::model::{Gateway, GatewayRoute, Protocol, Sticky};
use vamp_core::testkit::servers::free_port;
use vamp_gateway::haproxy::samples::{conditional, gateway, rewritten, route};
use vamp_gateway::haproxy::HaproxyMarshaller;

use support::backend::Backend;
use support::client::{get, tcp_exchange};
use support::haproxy::HaproxyUnderTest;

fn to(path: &str, weight: u8, backend: &Backend) -> GatewayRoute {
    route(path, weight, &[(&backend.name, Some("127.0.0.1"), backend.port)])
}

fn start(gateways: &[Gateway]) -> HaproxyUnderTest {
    HaproxyUnderTest::start(
        &HaproxyMarshaller::new()
            .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
            .render(gateways)
            .unwrap(),
    )
}

/// How many of `n` requests each backend answered.
fn tally(n: usize, mut request: impl FnMut() -> String) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        *counts.entry(request()).or_insert(0) += 1;
    }
    counts
}

fn count(counts: &BTreeMap<String, usize>, name: &str) -> usize {
    counts.get(name).copied().unwrap_or(0)
}

#[test]
fn weights_split_ninety_ten_and_a_zero_route_gets_nothing() {
    let (a, b, c) = (Backend::http("a"), Backend::http("b"), Backend::http("c"));
    let port = free_port().unwrap();
    let _haproxy = start(&[gateway(
        "web",
        port,
        Protocol::Http,
        vec![to("a", 90, &a), to("b", 10, &b), to("c", 0, &c)],
    )]);
    let counts = tally(2_000, || get(port, "/", &[]).backend().to_string());
    let share_a = count(&counts, "a") as f64 / 20.0;
    assert!((88.0..=92.0).contains(&share_a), "90/10 split gave {counts:?}");
    assert_eq!(count(&counts, "a") + count(&counts, "b"), 2_000, "{counts:?}");
    assert_eq!(count(&counts, "c"), 0, "the 0% route got traffic: {counts:?}");
}

#[test]
fn header_and_cookie_conditions_route_the_matching_requests() {
    let (plain, beta, gamma) = (
        Backend::http("plain"),
        Backend::http("beta"),
        Backend::http("gamma"),
    );
    let port = free_port().unwrap();
    let _haproxy = start(&[gateway(
        "web",
        port,
        Protocol::Http,
        vec![
            conditional(to("beta", 0, &beta), "header X-Group has beta", 100),
            conditional(to("gamma", 0, &gamma), "has cookie gamma", 100),
            to("plain", 100, &plain),
        ],
    )]);
    for _ in 0..20 {
        assert_eq!(
            get(port, "/", &[("X-Group", "the-beta-testers")]).backend(),
            "beta"
        );
        assert_eq!(get(port, "/", &[("Cookie", "a=1; gamma=yes")]).backend(), "gamma");
        assert_eq!(get(port, "/", &[("X-Group", "stable")]).backend(), "plain");
        assert_eq!(get(port, "/", &[]).backend(), "plain");
    }
}

#[test]
fn user_agent_host_and_negated_conditions_route_the_matching_requests() {
    let (plain, firefox) = (Backend::http("plain"), Backend::http("firefox"));
    let port = free_port().unwrap();
    let _haproxy = start(&[gateway(
        "web",
        port,
        Protocol::Http,
        vec![
            conditional(
                to("firefox", 0, &firefox),
                "user-agent == firefox and host == shop.example.com and not has cookie opt-out",
                100,
            ),
            to("plain", 100, &plain),
        ],
    )]);
    let ua = (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    );
    let host = ("Host", "SHOP.example.com");
    assert_eq!(get(port, "/", &[ua, host]).backend(), "firefox");
    assert_eq!(
        get(port, "/", &[ua, host, ("Cookie", "opt-out=1")]).backend(),
        "plain"
    );
    assert_eq!(get(port, "/", &[ua]).backend(), "plain");
    assert_eq!(
        get(port, "/", &[host, ("User-Agent", "curl/8")]).backend(),
        "plain"
    );
}

#[test]
fn condition_strength_fifty_sends_about_half_of_the_matching_requests() {
    let (plain, beta) = (Backend::http("plain"), Backend::http("beta"));
    let port = free_port().unwrap();
    let _haproxy = start(&[gateway(
        "web",
        port,
        Protocol::Http,
        vec![
            conditional(to("beta", 0, &beta), "has header X-Beta", 50),
            to("plain", 100, &plain),
        ],
    )]);
    let counts = tally(1_000, || get(port, "/", &[("X-Beta", "1")]).backend().to_string());
    let share = count(&counts, "beta") as f64 / 10.0;
    assert!((43.0..=57.0).contains(&share), "50% strength gave {counts:?}");
    let unmatched = tally(100, || get(port, "/", &[]).backend().to_string());
    assert_eq!(count(&unmatched, "plain"), 100, "{unmatched:?}");
}

#[test]
fn sticky_route_keeps_a_client_on_its_route_while_the_weights_change() {
    let (a, b) = (Backend::http("a"), Backend::http("b"));
    let port = free_port().unwrap();
    let mut g = gateway(
        "web",
        port,
        Protocol::Http,
        vec![to("a", 100, &a), to("b", 0, &b)],
    );
    g.sticky = Some(Sticky::Route);
    let haproxy = start(&[g.clone()]);
    let first = get(port, "/", &[]);
    assert_eq!(first.backend(), "a");
    let set_cookie = first
        .header("set-cookie")
        .expect("a sticky gateway sets its cookie");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let again = get(port, "/", &[("Cookie", &cookie)]);
    assert!(
        again.header("set-cookie").is_none(),
        "the cookie is set again although current"
    );

    let weights = haproxy
        .envelope
        .maps
        .keys()
        .find(|k| k.ends_with(".weights"))
        .unwrap()
        .clone();
    let flipped = haproxy.envelope.maps[&weights].replace("_r0", "_r1");
    haproxy.replace_map(&weights, &flipped);

    let newcomers = tally(50, || get(port, "/", &[]).backend().to_string());
    assert_eq!(
        count(&newcomers, "b"),
        50,
        "the weights did not change: {newcomers:?}"
    );
    let sticky = tally(50, || {
        get(port, "/", &[("Cookie", &cookie)]).backend().to_string()
    });
    assert_eq!(count(&sticky, "a"), 50, "the client left its route: {sticky:?}");
    let name = cookie.split('=').next().unwrap();
    let stale = get(port, "/", &[("Cookie", &format!("{name}=g_no_such_route"))]);
    assert_eq!(
        stale.backend(),
        "b",
        "a cookie naming no current route is ignored"
    );
}

#[test]
fn sticky_instance_keeps_a_client_on_one_instance() {
    let (one, two) = (Backend::http("one"), Backend::http("two"));
    let port = free_port().unwrap();
    let mut g = gateway(
        "web",
        port,
        Protocol::Http,
        vec![route(
            "svc",
            100,
            &[
                ("one", Some("127.0.0.1"), one.port),
                ("two", Some("127.0.0.1"), two.port),
            ],
        )],
    );
    g.sticky = Some(Sticky::Instance);
    let _haproxy = start(&[g]);
    let spread = tally(20, || get(port, "/", &[]).backend().to_string());
    assert_eq!(spread.len(), 2, "round robin without cookies: {spread:?}");
    let first = get(port, "/", &[]);
    let cookies: Vec<String> = first
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .collect();
    let cookie = cookies.join("; ");
    let pinned = tally(20, || {
        get(port, "/", &[("Cookie", &cookie)]).backend().to_string()
    });
    assert_eq!(
        pinned.get(first.backend()),
        Some(&20),
        "{pinned:?} (cookies {cookie})"
    );
}

#[test]
fn a_rewrite_changes_the_path() {
    let api = Backend::http("api");
    let port = free_port().unwrap();
    let _haproxy = start(&[gateway(
        "web",
        port,
        Protocol::Http,
        vec![rewritten(
            to("api", 100, &api),
            &[("/api%[path]", "{ path_beg /v1/ }")],
        )],
    )]);
    assert_eq!(get(port, "/v1/users", &[]).body, "api /api/v1/users");
    assert_eq!(get(port, "/v2/users", &[]).body, "api /v2/users");
}

#[test]
fn a_tcp_gateway_forwards_bytes() {
    let db = Backend::tcp("db");
    let port = free_port().unwrap();
    let _haproxy = start(&[gateway("db", port, Protocol::Tcp, vec![to("db", 100, &db)])]);
    let answer = tcp_exchange(port, b"PING\r\n\x00\xff binary");
    assert_eq!(answer, b"db:PING\r\n\x00\xff binary");
}

#[test]
fn virtual_hosts_route_by_the_host_header() {
    let (shop, blog) = (Backend::http("shop"), Backend::http("blog"));
    let (shop_port, blog_port) = (free_port().unwrap(), free_port().unwrap());
    let mut shop_gw = gateway("shop", shop_port, Protocol::Http, vec![to("shop", 100, &shop)]);
    shop_gw.virtual_hosts = vec!["shop.example.com".into()];
    let mut blog_gw = gateway("blog", blog_port, Protocol::Http, vec![to("blog", 100, &blog)]);
    blog_gw.virtual_hosts = vec!["blog.example.com".into()];
    let haproxy = start(&[shop_gw, blog_gw]);
    let vhost = haproxy.vhost_port;
    assert_eq!(get(vhost, "/", &[("Host", "shop.example.com")]).backend(), "shop");
    assert_eq!(
        get(vhost, "/", &[("Host", "Blog.Example.com:80")]).backend(),
        "blog"
    );
    assert_eq!(get(vhost, "/", &[("Host", "other.example.com")]).status, 503);
}

#[test]
fn gateway_chaining_and_external_routes_reach_their_targets() {
    let (inner_backend, outer) = (Backend::http("inner"), Backend::http("outer"));
    let (front_port, inner_port) = (free_port().unwrap(), free_port().unwrap());
    let inner = gateway(
        "inner",
        inner_port,
        Protocol::Http,
        vec![to("inner-svc", 100, &inner_backend)],
    );
    let front = gateway(
        "front",
        front_port,
        Protocol::Http,
        vec![
            conditional(route("inner", 0, &[]), "has header X-Inner", 100),
            route(&format!("[127.0.0.1:{}]", outer.port), 100, &[]),
        ],
    );
    let _haproxy = start(&[front, inner]);
    assert_eq!(get(front_port, "/", &[("X-Inner", "1")]).backend(), "inner");
    assert_eq!(get(front_port, "/", &[]).backend(), "outer");
}

#[test]
fn health_endpoint_answers_and_access_logs_name_gateway_and_route() {
    let a = Backend::http("a");
    let port = free_port().unwrap();
    let haproxy = start(&[gateway(
        "shop/web",
        port,
        Protocol::Http,
        vec![to("shop/v1/web", 100, &a)],
    )]);
    assert_eq!(get(haproxy.stats_port, "/health", &[]).status, 200);
    assert_eq!(get(port, "/hello", &[]).backend(), "a");
    let logs = haproxy.access_logs(1, Duration::from_secs(5));
    let line = logs
        .iter()
        .find(|l| l.contains("/hello"))
        .expect("an access log line");
    let json: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let frontend = json["ft"].as_str().unwrap();
    let backend = json["b"].as_str().unwrap();
    assert_eq!(haproxy.envelope.gateways[frontend], "shop/web");
    assert_eq!(
        haproxy.envelope.routes[backend],
        ("shop/web".to_string(), "shop/v1/web".to_string())
    );
    assert_eq!(json["ST"], 200);
    assert_eq!(json["r"], "GET /hello HTTP/1.1");
}
