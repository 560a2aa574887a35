//! Attacks: logs (see docs/security.md).
//!
//! The agent's access logs become the health and metrics that SLAs and the canary judge act on. The standalone
//! agent's UDP receiver accepted any datagram: 2,000 forged lines turned a healthy gateway's health from 1.0 to
//! 0.0. Now the default receiver is an owner-only unix socket in an owner-only directory, and a UDP receiver
//! (only when configured) reads only datagrams from its configured sources. Each test forges 2,000 access-log
//! lines of 503s for a real gateway and checks, through the server's REST API, that the gateway's health and
//! metrics did not move while real requests through HAProxy still count.

use std::io::Write;
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use vamp_core::testkit::servers::wait_until;

use crate::dataplane::{free_port, get, wait_for_traffic, Backend, DataDir, Serve, ServeOptions};

const FORGED: usize = 2_000;

/// 2,000 access-log lines in the agent's format, each a 503 of the gateway's first route taking 9 s: what turns
/// a gateway's health to 0 when they are believed. The frontend and backend names are read from the agent's
/// configuration, as an attacker on the host could.
fn forged_lines(agent_dir: &Path) -> Vec<String> {
    let config = std::fs::read_to_string(agent_dir.join("haproxy.cfg")).unwrap();
    let frontend = config
        .lines()
        .find_map(|l| l.strip_prefix("frontend g_"))
        .map(|id| format!("g_{}", id.trim()))
        .expect("the gateway's frontend is in the configuration");
    let backend = format!("{frontend}_r0");
    (0..FORGED)
        .map(|i| {
            format!(
                "<134>Dec  7 19:00:00 haproxy[1]: {{\"ci\":\"10.0.0.{}\",\"cp\":4000,\"t\":\"07/Dec/2026:19:00:00.000\",\
                 \"ft\":\"{frontend}\",\"b\":\"{backend}\",\"s\":\"s0\",\"Tq\":0,\"Tw\":0,\"Tc\":0,\"Tr\":9000,\
                 \"Tt\":9000,\"ST\":503,\"B\":0,\"tsc\":\"SH--\",\"ac\":1,\"fc\":1,\"bc\":1,\"sc\":1,\"rc\":0,\
                 \"sq\":0,\"bq\":0,\"r\":\"GET /forged HTTP/1.1\"}}",
                i % 250
            )
        })
        .collect()
}

/// What the server's REST API says about the gateway: requests, errors and health.
fn figures(serve: &Serve, gateway: &str) -> (f64, f64, f64) {
    let number = |path: String| {
        serve
            .number(&path)
            .unwrap_or_else(|| panic!("{path} did not answer a number"))
    };
    (
        number(format!("/api/v1/metrics/gateways/{gateway}/requests?window=3600")),
        number(format!("/api/v1/metrics/gateways/{gateway}/errors?window=3600")),
        number(format!("/api/v1/health/gateways/{gateway}?window=3600")),
    )
}

/// Sends `count` real requests through the gateway and waits until the server counts all of them (in addition to
/// `before`): the log socket is read in order, so whatever was sent to it before has been handled too.
fn real_traffic_counts(serve: &Serve, gateway: &str, port: u16, before: f64, count: usize) -> f64 {
    for _ in 0..count {
        assert_eq!(get(port).map(|(code, _)| code), Some(200));
    }
    let want = before + count as f64;
    let counted = wait_until(Duration::from_secs(20), || figures(serve, gateway).0 >= want);
    let now = figures(serve, gateway).0;
    assert!(
        counted,
        "real requests through HAProxy are not counted: {now} of {want}"
    );
    now
}

/// Sends requests through the gateway until the server counts them (the agent names a gateway's log lines once
/// it applied the configuration that has it, a moment after HAProxy serves it); the count then.
fn warm_up(serve: &Serve, gateway: &str, port: u16) -> f64 {
    assert!(
        wait_for_traffic(port, "real"),
        "the gateway never served through HAProxy"
    );
    let counting = wait_until(Duration::from_secs(30), || {
        let _ = get(port);
        figures(serve, gateway).0 > 0.0
    });
    assert!(counting, "requests through HAProxy are never counted");
    figures(serve, gateway).0
}

/// The value of a Prometheus counter on the agent's `/metrics`.
fn agent_counter(serve: &Serve, name: &str) -> f64 {
    let (_, body) = crate::dataplane::exchange(
        serve.agent_http,
        b"GET /metrics HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n",
    )
    .unwrap_or_default();
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn forged_access_logs_do_not_reach_the_default_unix_socket() {
    let dir = DataDir::new("sec-logs-unix");
    let backend = Backend::start("real");
    let port = free_port();
    let serve = Serve::start(&dir.data(), ServeOptions::default());
    serve.create_gateway("logged", port, backend.port);
    let warm = warm_up(&serve, "logged", port);
    let counted = real_traffic_counts(&serve, "logged", port, warm, 20);
    let (_, errors_before, health_before) = figures(&serve, "logged");

    let agent_dir = serve.agent_dir();
    let socket = agent_dir.join("log.sock");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600, "the log socket is owner-only");
    assert_eq!(mode(&agent_dir), 0o700, "the agent's directory is owner-only");
    let lines = forged_lines(&agent_dir);

    let old_default = UdpSocket::bind("127.0.0.1:0").unwrap();
    for line in &lines {
        let _ = old_default.send_to(line.as_bytes(), "127.0.0.1:5140");
    }

    let mut logger = Command::new("logger")
        .args(["--socket-errors=on", "-d", "-u"])
        .arg(&socket)
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("logger (util-linux) is installed");
    {
        let mut stdin = logger.stdin.take().unwrap();
        let _ = stdin.write_all(lines.join("\n").as_bytes());
    }
    let out = logger.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "another user could write to the log socket: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let counted = real_traffic_counts(&serve, "logged", port, counted, 10);
    let (requests, errors, health) = figures(&serve, "logged");
    assert_eq!(requests, counted, "only real requests are counted");
    assert_eq!(errors, errors_before, "no forged 503 was counted");
    assert_eq!(health, health_before, "the gateway's health did not move");

    let control = std::os::unix::net::UnixDatagram::unbound().unwrap();
    for line in lines.iter().take(5) {
        control.send_to(line.as_bytes(), &socket).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(10), || figures(&serve, "logged").1
            >= errors_before + 5.0),
        "the socket is live: the agent's own user (HAProxy's) is heard"
    );
}

#[test]
fn forged_access_logs_over_udp_are_dropped_unless_from_a_configured_source() {
    let dir = DataDir::new("sec-logs-udp");
    let backend = Backend::start("real");
    let port = free_port();
    let log_port = free_port();
    let serve = Serve::start(
        &dir.data(),
        ServeOptions {
            args: vec![
                "--agent-log-target".into(),
                format!("127.0.0.1:{log_port}"),
                "--agent-log-source".into(),
                "127.0.0.1".into(),
            ],
            ..ServeOptions::default()
        },
    );
    serve.create_gateway("udp", port, backend.port);
    let warm = warm_up(&serve, "udp", port);
    let counted = real_traffic_counts(&serve, "udp", port, warm, 20);
    let (_, errors_before, health_before) = figures(&serve, "udp");

    let lines = forged_lines(&serve.agent_dir());
    let forger = UdpSocket::bind("127.0.0.2:0").unwrap();
    for line in &lines {
        forger.send_to(line.as_bytes(), ("127.0.0.1", log_port)).unwrap();
    }
    let refused = "vamp_gateway_log_refused_sources_total";
    assert!(
        wait_until(Duration::from_secs(10), || agent_counter(&serve, refused) > 0.0),
        "the agent does not count datagrams from other sources"
    );

    let counted = real_traffic_counts(&serve, "udp", port, counted, 10);
    let (requests, errors, health) = figures(&serve, "udp");
    assert_eq!(requests, counted, "only real requests are counted");
    assert_eq!(errors, errors_before, "no forged 503 was counted");
    assert_eq!(health, health_before, "the gateway's health did not move");
    eprintln!(
        "{} of {FORGED} forged datagrams were read and dropped (the rest the kernel dropped)",
        agent_counter(&serve, refused)
    );
}
