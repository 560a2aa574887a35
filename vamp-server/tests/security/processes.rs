//! Attacks: processes (see docs/security.md).
//!
//! - A server killed with SIGKILL (a crash, the OOM killer, a stack overflow from a hostile template) left its
//!   HAProxy running, holding the gateway ports: the data plane must die with the server.
//! - After a restart, a stale HAProxy of the same directory shared the gateway port (SO_REUSEPORT) with the new
//!   one and took part of the traffic: the new agent must stop it before it binds.
//! - HAProxy inherited the server's whole environment, so `"${SECRET}"` in a configuration read it: HAProxy must
//!   get a minimal environment.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use vamp_core::testkit::servers::wait_until;

use crate::dataplane::{
    free_port, get, haproxy_of, is_running, wait_for_traffic, Backend, DataDir, Serve, ServeOptions,
};

#[test]
fn a_server_killed_with_sigkill_leaves_no_haproxy_holding_the_gateway_ports() {
    let dir = DataDir::new("sec-orphan");
    let backend = Backend::start("real");
    let gateway = free_port();
    let mut serve = Serve::start(&dir.data(), ServeOptions::default());
    serve.create_gateway("orphan", gateway, backend.port);
    assert!(
        wait_for_traffic(gateway, "real"),
        "the gateway never served through HAProxy"
    );
    let agent_dir = serve.agent_dir();
    let running = haproxy_of(&agent_dir);
    assert!(!running.is_empty(), "no HAProxy of {} found", agent_dir.display());

    serve.kill();

    let gone = wait_until(Duration::from_secs(10), || {
        haproxy_of(&agent_dir).is_empty() && running.iter().all(|pid| !is_running(*pid))
    });
    assert!(
        gone,
        "HAProxy outlived the killed server: {:?} of {running:?} still run",
        running.iter().filter(|pid| is_running(**pid)).collect::<Vec<_>>()
    );
    assert!(
        wait_until(Duration::from_secs(5), || get(gateway).is_none()),
        "the gateway port still answers after the server died"
    );
}

/// The configuration a stale HAProxy runs from the agent's directory: the gateway port, answering `stale`.
fn stale_config(gateway: u16) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 5s\n    \
         timeout client 5s\n    timeout server 5s\n\nfrontend stale\n    bind 127.0.0.1:{gateway}\n    \
         http-request return status 200 content-type text/plain string stale\n"
    )
}

#[test]
fn a_stale_haproxy_of_the_directory_is_stopped_before_the_new_one_serves() {
    let dir = DataDir::new("sec-stale");
    let data = dir.data();
    let agent_dir = data.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let gateway = free_port();
    let config = agent_dir.join("haproxy.cfg");
    std::fs::write(&config, stale_config(gateway)).unwrap();
    let mut stale = Command::new(vamp_gateway::agent::process::resolve_binary(Path::new("haproxy")))
        .arg("-W")
        .arg("-f")
        .arg(&config)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy must be installed");
    assert!(
        wait_until(Duration::from_secs(20), || get(gateway)
            .is_some_and(|(_, body)| body == "stale")),
        "the stale HAProxy never served"
    );
    let stale_pids = haproxy_of(&agent_dir);
    assert!(!stale_pids.is_empty());

    let backend = Backend::start("fresh");
    let serve = Serve::start(&data, ServeOptions::default());
    serve.create_gateway("stale", gateway, backend.port);
    assert!(
        wait_until(Duration::from_secs(30), || stale
            .try_wait()
            .ok()
            .flatten()
            .is_some()),
        "the stale HAProxy {} was not stopped by the starting agent",
        stale.id()
    );
    assert!(
        wait_until(Duration::from_secs(10), || stale_pids
            .iter()
            .all(|pid| !is_running(*pid))),
        "stale workers left: {stale_pids:?}"
    );
    assert!(
        wait_for_traffic(gateway, "fresh"),
        "the new data plane never served"
    );
    let answers: Vec<String> = (0..60)
        .filter_map(|_| get(gateway).map(|(_, body)| body))
        .collect();
    let stale_answers = answers.iter().filter(|b| *b == "stale").count();
    assert_eq!(answers.len(), 60, "every request is answered");
    assert_eq!(
        stale_answers, 0,
        "{stale_answers} of 60 requests reached the stale data plane"
    );
    let _ = stale.kill();
    let _ = stale.wait();
    drop(serve);
}

#[test]
fn haproxy_gets_none_of_the_servers_environment() {
    const SECRET: &str = "s3cr3t-value-the-data-plane-must-not-see";
    let dir = DataDir::new("sec-env");
    let backend = Backend::start("real");
    let gateway = free_port();
    let serve = Serve::start(
        &dir.data(),
        ServeOptions {
            env: vec![("SECRET", SECRET), ("AWS_SECRET_ACCESS_KEY", SECRET)],
            ..ServeOptions::default()
        },
    );
    serve.create_gateway("env", gateway, backend.port);
    assert!(wait_for_traffic(gateway, "real"));
    let pids = haproxy_of(&serve.agent_dir());
    assert!(!pids.is_empty());
    for pid in pids {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let names: Vec<String> = environ
            .split(|b| *b == 0)
            .filter(|e| !e.is_empty())
            .map(|e| {
                String::from_utf8_lossy(e)
                    .split('=')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert!(
            !String::from_utf8_lossy(&environ).contains(SECRET),
            "HAProxy {pid} can read the server's secret: {names:?}"
        );
        assert!(
            names
                .iter()
                .all(|n| n == "PATH" || n.starts_with("VAMP_") || n.starts_with("HAPROXY_")),
            "HAProxy {pid} got more than the minimal environment: {names:?}"
        );
    }
}
