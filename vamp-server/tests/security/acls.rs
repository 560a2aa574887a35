//! Attacks: acls (see docs/security.md). Against a running `vamp serve` with real HAProxy: a raw ACL that
//! expands an environment variable (an oracle for `$SECRET`), one that reads a file, and one that names a file
//! that does not exist (which used to be accepted with 202 and then made HAProxy refuse every later
//! configuration) — each refused with 400 naming the gateway and the condition, by default and with raw ACLs
//! switched on, so nothing of it reaches HAProxy.

use crate::served::{conditional_gateway, Served};

const SECRET: &str = "s3cr3t-value-of-the-server";

fn refused(served: &Served, name: &str, condition: &str) {
    let port = served.gateway_ports;
    let answer = served.post_gateway(&conditional_gateway(name, port, port + 1, condition));
    assert_eq!(answer.status, 400, "{condition}: {}", answer.body);
    assert!(
        answer.body.contains(&format!("Gateway '{name}'")) && answer.body.contains("condition"),
        "the error names the gateway and the condition: {}",
        answer.body
    );
    let listed = served.call("GET", &format!("/api/v1/gateways/{name}"), None);
    assert_eq!(
        listed.status, 404,
        "the refused gateway was stored: {}",
        listed.body
    );
}

fn configuration(served: &Served) -> String {
    let answer = served.call("GET", "/api/v1/vga/haproxy/2.6/configuration", None);
    if answer.status == 200 {
        answer.body
    } else {
        String::new()
    }
}

#[test]
fn raw_acls_are_refused_by_default() {
    let served = Served::start(&[], &[("SECRET", SECRET)]);
    refused(&served, "guess", r#"< hdr(x-guess) -m str "${SECRET}" >"#);
    refused(&served, "plain", "< path_beg /v2 >");
    refused(&served, "file", "< path -f /etc/hostname >");
    let answer = served.post_gateway(&conditional_gateway(
        "cookie",
        served.gateway_ports,
        served.gateway_ports + 1,
        "has cookie beta",
    ));
    assert_eq!(answer.status, 202, "{}", answer.body);
}

#[test]
fn environment_expansion_and_files_never_reach_haproxy_even_with_raw_acls_on() {
    let served = Served::start(&["--allow-raw-acls", "true"], &[("SECRET", SECRET)]);
    refused(&served, "guess", r#"< hdr(x-guess) -m str "${SECRET}" >"#);
    refused(&served, "bare", "< hdr(x-guess) -m str $SECRET >");
    refused(&served, "file", "< path -f /etc/hostname >");
    refused(&served, "quoted-file", r#"< path "-f" /etc/hostname >"#);
    refused(&served, "map", "< path,map_str(/etc/passwd) -m found >");
    refused(&served, "env", "< env(SECRET) -m str x >");
    let port = served.gateway_ports + 2;
    let answer = served.post_gateway(&conditional_gateway("raw", port, port + 1, "< path_beg /v2 >"));
    assert_eq!(answer.status, 202, "raw ACLs are on: {}", answer.body);
    assert!(
        vamp_core::testkit::servers::wait_until(std::time::Duration::from_secs(30), || {
            configuration(&served).contains("path_beg /v2")
        }),
        "the allowed raw ACL was not written"
    );
    let config = configuration(&served);
    assert!(
        !config.contains("SECRET") && !config.contains("/etc/"),
        "{config}"
    );
}

#[test]
fn a_nonexistent_file_is_no_longer_accepted_with_202() {
    let served = Served::start(&["--allow-raw-acls", "true"], &[]);
    refused(&served, "missing", "< path -f /nonexistent >");
    refused(&served, "missing-anonymous", "< { path -f /nonexistent } >");
}

#[test]
fn a_configuration_haproxy_refuses_makes_health_fail_naming_the_gateway() {
    let served = Served::start(&[], &[]);
    let port = served.gateway_ports + 5;
    let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let answer = served.post_gateway(&conditional_gateway(
        "blocked",
        port,
        served.gateway_ports + 6,
        "has cookie beta",
    ));
    assert_eq!(answer.status, 202, "{}", answer.body);
    let mut last = None;
    let failing = vamp_core::testkit::servers::wait_until(std::time::Duration::from_secs(60), || {
        last = served.health();
        last.as_ref()
            .is_some_and(|a| a.status == 503 && a.body.contains("gateway_agent"))
    });
    assert!(
        failing,
        "/health did not report the refused configuration: {last:?}"
    );
    let body = last.map(|a| a.body).unwrap_or_default();
    assert!(body.contains("'blocked'"), "the gateway is named: {body}");
    let mut events = None;
    let published = vamp_core::testkit::servers::wait_until(std::time::Duration::from_secs(10), || {
        let answer = served.call("GET", "/api/v1/events?tag=gateway-agent:refused", None);
        let found = answer.status == 200 && answer.body.contains("gateways:blocked");
        events = Some(answer);
        found
    });
    let events = events.unwrap();
    assert!(
        published,
        "the refusal event names the gateway: {} {}",
        events.status, events.body
    );
}
