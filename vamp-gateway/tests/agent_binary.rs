//! The `vamp-gateway-agent` binary end to end: a real etcd holds the marshaller's configuration, the agent
//! applies it to the real HAProxy it starts, traffic flows through the gateway to loopback backends, HAProxy's
//! access logs come back as metrics on the agent's endpoints, a weight change is applied without a reload, and
//! SIGTERM stops the agent and HAProxy with it; an agent killed with SIGKILL takes its HAProxy with it too.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use vamp_core::gateway::GatewayMarshaller;
use vamp_core::kv::{haproxy_configuration_key, KeyValueStore};
use vamp_core::metrics::MetricsWindow;
use vamp_core::model::{Gateway, Protocol};
use vamp_core::testkit::servers::{free_port, wait_until, TestServer};
use vamp_gateway::haproxy::samples::{gateway, route};
use vamp_gateway::haproxy::HaproxyMarshaller;
use vamp_kv::signed::SigningKey;

use support::backend::Backend;
use support::client::try_get;
use support::haproxy::{haproxy_binary, TempDir};

const DEADLINE: Duration = Duration::from_secs(20);

/// The agent process; killed on drop if the test did not stop it.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn shop(port: u16, v1: &Backend, w1: u8, v2: &Backend, w2: u8) -> Vec<Gateway> {
    vec![gateway(
        "shop/web",
        port,
        Protocol::Http,
        vec![
            route("shop/v1/web", w1, &[(&v1.name, Some("127.0.0.1"), v1.port)]),
            route("shop/v2/web", w2, &[(&v2.name, Some("127.0.0.1"), v2.port)]),
        ],
    )]
}

/// The body of a plain HTTP GET to the agent's endpoint, with its status.
fn agent_get(port: u16, path: &str) -> Option<(u16, String)> {
    let response = try_get(port, path, &[]).ok()?;
    Some((response.status, response.body.clone()))
}

fn window(http: u16, route: &str) -> MetricsWindow {
    let path = format!("/v1/metrics/window?gateway=shop/web&route={route}&window=300");
    agent_get(http, &path)
        .and_then(|(status, body)| (status == 200).then_some(body))
        .and_then(|body| serde_json::from_str(&body).ok())
        .unwrap_or_default()
}

fn split(port: u16, n: usize) -> (usize, usize) {
    let (mut v1, mut v2) = (0, 0);
    for _ in 0..n {
        let response = try_get(port, "/", &[]).expect("request through the gateway");
        match response.backend() {
            "v1" => v1 += 1,
            "v2" => v2 += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    (v1, v2)
}

fn process_alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{}", pid.trim())).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_applies_serves_measures_and_stops_cleanly() {
    let etcd = TestServer::etcd().expect("etcd must start: install etcd-server (bash .ci/test does)");
    let kv_url = format!("etcd://{}", etcd.address());
    let store: Arc<dyn KeyValueStore> = vamp_kv::url::connect(&kv_url).await.unwrap();
    let key = haproxy_configuration_key("default", "2.6").unwrap();
    let (v1, v2) = (Backend::http("v1"), Backend::http("v2"));
    let gateway_port = free_port().unwrap();
    let marshaller = HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true));
    let dir = TempDir::new("agent-binary");
    let key_file = dir.0.join("kv-signing.key");
    let (signing, _) = SigningKey::load_or_generate(&key_file).unwrap();
    let first = marshaller.render(&shop(gateway_port, &v1, 100, &v2, 0)).unwrap();
    store
        .set(&key, signing.sign(&key, first.as_bytes()))
        .await
        .unwrap();

    let (http, stats, logs) = (free_port().unwrap(), free_port().unwrap(), free_port().unwrap());
    let child = Command::new(env!("CARGO_BIN_EXE_vamp-gateway-agent"))
        .args(["--kv", &kv_url, "--key", key.as_str()])
        .args(["--signing-key", &key_file.display().to_string()])
        .args(["--dir", &dir.0.display().to_string()])
        .args(["--haproxy", &haproxy_binary().display().to_string()])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .args(["--stats-bind", &format!("127.0.0.1:{stats}")])
        .args(["--log-target", &format!("127.0.0.1:{logs}")])
        .args(["--gateway-bind", "127.0.0.1", "--vhost-bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the agent binary starts");
    let mut agent = Agent(child);

    assert!(
        wait_until(DEADLINE, || agent_get(http, "/health")
            .is_some_and(|(s, _)| s == 200)),
        "the agent never reported healthy: {:?}",
        agent_get(http, "/health")
    );
    assert_eq!(split(gateway_port, 50), (50, 0), "all traffic on v1 at 100/0");
    assert!(
        wait_until(DEADLINE, || window(http, "shop/v1/web").requests == 50),
        "the 50 requests never showed up as metrics: {:?}",
        window(http, "shop/v1/web")
    );
    let window_v1 = window(http, "shop/v1/web");
    assert_eq!(window_v1.status[1], 50, "all 2xx");
    let (_, prometheus) = agent_get(http, "/metrics").unwrap();
    assert!(
        prometheus.contains(
            r#"vamp_gateway_requests_total{gateway="shop/web",route="shop/v1/web",status="2xx"} 50"#
        ),
        "Prometheus text lacks the route's counter:\n{prometheus}"
    );

    let pid_file = dir.0.join("haproxy.pid");
    let master_pid = std::fs::read_to_string(&pid_file).unwrap();
    let second = marshaller.render(&shop(gateway_port, &v1, 0, &v2, 100)).unwrap();
    store
        .set(&key, signing.sign(&key, second.as_bytes()))
        .await
        .unwrap();
    assert!(
        wait_until(DEADLINE, || split(gateway_port, 5) == (0, 5)),
        "the weight change never reached HAProxy"
    );
    let (_, health) = agent_get(http, "/health").unwrap();
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        master_pid,
        "the same master serves (no restart)"
    );

    let pid = agent.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(
        wait_until(DEADLINE, || matches!(agent.0.try_wait(), Ok(Some(_)))),
        "the agent did not stop on SIGTERM"
    );
    assert!(
        wait_until(DEADLINE, || !process_alive(&master_pid)),
        "HAProxy's master outlived the agent"
    );
}

#[test]
fn the_agent_refuses_to_start_without_a_signing_key_unless_told_to_accept_unsigned_values() {
    let dir = TempDir::new("agent-no-key");
    let out = Command::new(env!("CARGO_BIN_EXE_vamp-gateway-agent"))
        .args(["--kv", "memory://", "--dir", &dir.0.display().to_string()])
        .args(["--http", "127.0.0.1:0"])
        .env_remove("VAMP_KV_SIGNING_KEY_FILE")
        .env_remove("VAMP_INSECURE_UNSIGNED")
        .stdin(Stdio::null())
        .output()
        .expect("the agent binary runs");
    assert!(!out.status.success(), "the agent started without a key");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--signing-key") && stderr.contains("--insecure-unsigned"),
        "the refusal does not say what to do: {stderr}"
    );
}

/// Whether `pid` runs (exists and is no zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| !matches!(state, "Z" | "X" | "x"))
    })
}

/// The running HAProxy processes whose command line mentions `dir`.
fn haproxy_of(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "haproxy")
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
                && running(*pid)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_dies_with_an_agent_killed_with_sigkill() {
    let etcd = TestServer::etcd().expect("etcd must start: install etcd-server (bash .ci/test does)");
    let kv_url = format!("etcd://{}", etcd.address());
    let store: Arc<dyn KeyValueStore> = vamp_kv::url::connect(&kv_url).await.unwrap();
    let key = haproxy_configuration_key("default", "2.6").unwrap();
    let (v1, v2) = (Backend::http("v1"), Backend::http("v2"));
    let gateway_port = free_port().unwrap();
    let config = HaproxyMarshaller::new()
        .render(&shop(gateway_port, &v1, 100, &v2, 0))
        .unwrap();
    let dir = TempDir::new("agent-sigkill");
    let key_file = dir.0.join("kv-signing.key");
    let (signing, _) = SigningKey::load_or_generate(&key_file).unwrap();
    store
        .set(&key, signing.sign(&key, config.as_bytes()))
        .await
        .unwrap();
    let (http, stats) = (free_port().unwrap(), free_port().unwrap());
    let child = Command::new(env!("CARGO_BIN_EXE_vamp-gateway-agent"))
        .args(["--kv", &kv_url, "--key", key.as_str()])
        .args(["--dir", &dir.0.display().to_string()])
        .args(["--signing-key", &key_file.display().to_string()])
        .args(["--haproxy", &haproxy_binary().display().to_string()])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .args(["--stats-bind", &format!("127.0.0.1:{stats}")])
        .args(["--gateway-bind", "127.0.0.1", "--vhost-bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the agent binary starts");
    let mut agent = Agent(child);
    assert!(
        wait_until(DEADLINE, || try_get(gateway_port, "/", &[])
            .is_ok_and(|r| r.backend() == "v1")),
        "the gateway never served"
    );
    let haproxy = haproxy_of(&dir.0);
    assert!(!haproxy.is_empty(), "the agent runs no HAProxy of its directory");

    agent.0.kill().unwrap();
    let _ = agent.0.wait();
    assert!(
        wait_until(DEADLINE, || haproxy.iter().all(|pid| !running(*pid))),
        "HAProxy outlived the killed agent: {:?}",
        haproxy_of(&dir.0)
    );
    assert!(
        wait_until(DEADLINE, || try_get(gateway_port, "/", &[]).is_err()),
        "the gateway port still answers"
    );
}
