//! Canaries on a deployment's cluster gateway, end to end through the real entry point: `vamp serve` as a
//! process (the `vamp` binary: SQLite under a temporary data directory, the process driver running
//! `vamp demo-service`, the embedded agent driving the real `haproxy` on PATH), driven only through its REST
//! API, with keep-alive clients sending real requests through HAProxy. A missing `haproxy` fails the tests.
//!
//! The usual Vamp flow: `sava:1.0` is deployed behind the deployment gateway `<port>/http: sava/web`, `sava:1.1`
//! is merged into the same cluster (it takes no traffic: the cluster's routing gives `sava:1.0` 100%), and a
//! canary policy is put on the cluster's gateway `sava/sava/web`, which then moves the cluster's weights.
//!
//! - a healthy canary is promoted to 100%; the policy round-trips through `GET` of the gateway and the
//!   deployment;
//! - a canary (its policy given in the merged blueprint) answering 500 to 20% of its requests is rolled back;
//! - the server is stopped mid-interval and started again on the same data directory: the interval is resumed
//!   (same start, the wait count going on, the samples of before the restart still counted).
//!
//! The tests run one at a time; each starts a server, HAProxy and two services.

mod canary_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use canary_support::{until_traffic, Load};
use reqwest::StatusCode;
use serde_json::Value;
use support::{free_port, free_range, ProcessCleanup, TempDir};
use vamp_core::testkit::servers::wait_until;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const TOKEN: &str = "canary-cluster-release";
const GATEWAY: &str = "sava/sava/web";
const BASELINE: &str = "sava/sava/sava:1.0/web";
const CANARY: &str = "sava/sava/sava:1.1/web";
/// How long deploying may take on a loaded machine.
const CONVERGE: Duration = Duration::from_secs(90);

/// The configuration file of the servers: free binds, a gateway port range, quick loops, a 100 ms canary tick
/// and a checkpoint every 500 ms.
fn write_config(dir: &Path) -> PathBuf {
    let base = free_range(20);
    let text = format!(
        "log-level: warn\napi:\n  tokens:\n    admin: [{TOKEN}]\nsynchronization:\n  busy-period-ms: 100\ncanary:\n  tick-ms: 100\n  checkpoint-ms: 500\ngateways:\n  port-range: {base}-{}\n  vhost-bind: 127.0.0.1:{}\nagent:\n  stats-bind: 127.0.0.1:{}\n  http-bind: 127.0.0.1:{}\n",
        base + 19,
        free_port(),
        free_port(),
        free_port()
    );
    let file = dir.join("vamp.yml");
    std::fs::write(&file, text).unwrap();
    file
}

/// A `vamp serve` process and a client of its API; SIGTERM (then SIGKILL) on drop. Its log goes to
/// `serve.log` next to the data directory and is printed when a test fails.
struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
    log: PathBuf,
}

impl Server {
    fn start(data: &Path, config: &Path, listen: u16) -> Server {
        assert!(
            Command::new("haproxy")
                .arg("-v")
                .output()
                .is_ok_and(|o| o.status.success()),
            "haproxy is not on PATH: the cluster canary tests need a real HAProxy"
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vamp"));
        cmd.arg("serve")
            .args(["--listen", &format!("127.0.0.1:{listen}")])
            .args(["--data-dir", &data.display().to_string()])
            .args(["--config", &config.display().to_string()]);
        for (k, _) in std::env::vars() {
            if k.starts_with("VAMP_") {
                cmd.env_remove(k);
            }
        }
        let log = data.with_file_name("serve.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        cmd.stdout(Stdio::null()).stderr(Stdio::from(file));
        Server {
            child: cmd.spawn().unwrap(),
            base: format!("http://127.0.0.1:{listen}/api/v1"),
            client: reqwest::Client::new(),
            log,
        }
    }

    /// Waits until the API answers `/health`.
    async fn ready(&self) {
        let started = Instant::now();
        loop {
            let answer = self
                .client
                .get(format!("{}/health", self.base))
                .bearer_auth(TOKEN)
                .send()
                .await;
            if answer.is_ok_and(|a| a.status() == StatusCode::OK) {
                return;
            }
            assert!(started.elapsed() < CONVERGE, "vamp serve never became healthy");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `body` (YAML) with `method` to `path`; fails the test unless the answer is a success.
    async fn send(&self, method: reqwest::Method, path: &str, body: &str) -> Value {
        let answer = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/x-yaml")
            .header("accept", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let text = answer.text().await.unwrap();
        assert!(
            status.is_success(),
            "{method} {path} answered {status}: {text}\n{body}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let answer = self
            .client
            .get(format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(TOKEN)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let text = answer.text().await.unwrap();
        assert!(status.is_success(), "GET {path} answered {status}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn deployment(&self) -> Value {
        self.get("/deployments/sava", &[]).await
    }

    /// The canary's weight and the policy's status as the deployment keeps them.
    async fn state(&self) -> (Option<u64>, String) {
        let d = self.deployment().await;
        let web = &d["clusters"]["sava"]["gateways"]["web"];
        let weight = web["routes"]["sava:1.1"]["weight"]
            .as_str()
            .and_then(|w| w.trim_end_matches('%').parse().ok());
        (weight, web["canary"]["status"].as_str().unwrap_or("").to_string())
    }

    async fn until_state(&self, within: Duration, what: &str, done: impl Fn(Option<u64>, &str) -> bool) {
        let started = Instant::now();
        loop {
            let (weight, status) = self.state().await;
            if done(weight, &status) {
                return;
            }
            assert!(
                started.elapsed() < within,
                "{what} did not happen within {within:?}: canary at {weight:?}, {status}\n{}",
                describe(&self.events().await)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The canary events of the cluster gateway, oldest first.
    async fn events(&self) -> Vec<Value> {
        let tag = format!("gateways:{GATEWAY}");
        let mut events = match self
            .get(
                "/events",
                &[("tag", "canary"), ("tag", &tag), ("per_page", "200")],
            )
            .await
        {
            Value::Array(items) => items,
            other => panic!("events: {other}"),
        };
        events.reverse();
        events
    }

    /// Waits until every service of `sava` is deployed and has an instance.
    async fn until_converged(&self, services: usize) {
        let started = Instant::now();
        loop {
            let d = self.deployment().await;
            let list = d["clusters"]["sava"]["services"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let done = list.len() == services
                && list.iter().all(|s| {
                    s["status"]["phase"]["name"] == "Done"
                        && s["instances"].as_array().is_some_and(|i| !i.is_empty())
                });
            if done {
                return;
            }
            assert!(started.elapsed() < CONVERGE, "sava never converged: {d}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The port the instance of `sava:<version>` listens on.
    async fn instance_port(&self, version: &str) -> u16 {
        let d = self.deployment().await;
        let services = d["clusters"]["sava"]["services"].as_array().cloned().unwrap();
        let service = services
            .iter()
            .find(|s| s["breed"]["name"] == format!("sava:{version}"))
            .unwrap();
        u16::try_from(service["instances"][0]["ports"]["web"].as_u64().unwrap()).unwrap()
    }

    /// SIGTERM, and the exit within a deadline.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let exited = wait_until(Duration::from_secs(60), || {
            self.child.try_wait().ok().flatten().is_some()
        });
        assert!(exited, "vamp serve did not stop within 60 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().filter(|l| !l.contains("haproxy:")).collect();
            eprintln!(
                "vamp serve's log (without HAProxy's lines), last 40 lines:\n{}",
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            wait_until(Duration::from_secs(20), || {
                self.child.try_wait().ok().flatten().is_some()
            });
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "  {} {} waits={} → {}: {}",
                e["timestamp"],
                e["value"]["decision"],
                e["value"]["waits"],
                e["value"]["weights"],
                e["value"]["reason"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn decisions(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["value"]["decision"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Makes the service instance on `port` answer 500 to `share` of its requests (`PUT /fault`).
fn put_fault(port: u16, share: f64) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /fault?fail-rate={share} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "PUT /fault answered {out}");
}

fn breed(version: &str) -> String {
    format!(
        "name: sava:{version}\ndeployable:\n  type: process\n  definition: vamp demo-service --name sava-{version}\nports:\n  web: 8080/http\n"
    )
}

const SCALE: &str = "        scale: {cpu: 0.1, memory: 32MB, instances: 1}\n";

/// A server with `sava:1.0` behind `<gateway_port>/http` and `sava:1.1` merged into its cluster without
/// traffic; everything it started is stopped when the parts are dropped (the deployment removed first).
struct Release {
    server: Server,
    gateway_port: u16,
    listen: u16,
    config: PathBuf,
    data: PathBuf,
    _cleanup: ProcessCleanup,
    _dir: TempDir,
}

impl Release {
    /// Deploys `sava:1.0`, then merges `merge` (the cluster `sava` of a blueprint, services and gateways).
    async fn start(merge: &str) -> Release {
        let dir = TempDir::new("vamp-canary-cluster");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let config = write_config(dir.path());
        let cleanup = ProcessCleanup(vamp_server::agent::process_config(&data));
        let listen = free_port();
        let gateway_port = free_port();
        let server = Server::start(&data, &config, listen);
        server.ready().await;
        for version in ["1.0", "1.1"] {
            server
                .send(reqwest::Method::POST, "/breeds", &breed(version))
                .await;
        }
        let first = format!(
            "name: sava\ngateways:\n  {gateway_port}/http: sava/web\nclusters:\n  sava:\n    services:\n      - breed: sava:1.0\n{SCALE}    gateways:\n      web:\n        routes:\n          sava:1.0: {{weight: 100%}}\n"
        );
        server
            .send(reqwest::Method::PUT, "/deployments/sava", &first)
            .await;
        server.until_converged(1).await;
        until_traffic(gateway_port, 20, CONVERGE, "sava 1.0 serving", |v1, _, failed| {
            v1 == 20 && failed == 0
        })
        .await;
        let second = format!("name: sava\nclusters:\n  sava:\n{merge}");
        server
            .send(reqwest::Method::PUT, "/deployments/sava", &second)
            .await;
        server.until_converged(2).await;
        Release {
            server,
            gateway_port,
            listen,
            config,
            data,
            _cleanup: cleanup,
            _dir: dir,
        }
    }

    /// Puts `policy` (YAML flow map) on the cluster gateway through the gateways API, routes 100/0.
    async fn put_canary(&self, policy: &str) {
        let body = format!(
            "name: {GATEWAY}\nroutes:\n  {BASELINE}: {{weight: 100%}}\n  {CANARY}: {{weight: 0%}}\ncanary: {policy}\n"
        );
        self.server
            .send(reqwest::Method::PUT, &format!("/gateways/{GATEWAY}"), &body)
            .await;
    }

    /// Removes the deployment (so its services stop) and stops the server.
    async fn finish(mut self) {
        let all = "name: sava\nclusters:\n  sava:\n    services:\n      - breed: sava:1.0\n      - breed: sava:1.1\n";
        self.server
            .send(reqwest::Method::DELETE, "/deployments/sava", all)
            .await;
        let started = Instant::now();
        loop {
            let answer = self
                .server
                .client
                .get(format!("{}/deployments/sava", self.server.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            if answer.status() == StatusCode::NOT_FOUND || started.elapsed() > CONVERGE {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.server.stop();
    }
}

const ONLY_1_1: &str =
    "    services:\n      - breed: sava:1.1\n        scale: {cpu: 0.1, memory: 32MB, instances: 1}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_on_the_cluster_gateway_is_promoted_through_haproxy() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let r = Release::start(ONLY_1_1).await;
    until_traffic(
        r.gateway_port,
        50,
        Duration::from_secs(10),
        "all on 1.0 after the merge",
        |v1, v2, f| (v1, v2, f) == (50, 0, 0),
    )
    .await;
    r.put_canary(&format!(
        "{{baseline: {BASELINE}, canary: {CANARY}, steps: [10%, 25%, 50%, 100%], interval: 1s, min_requests: 20, max_error_rate: 5%}}"
    ))
    .await;
    let shown = r.server.get(&format!("/gateways/{GATEWAY}"), &[]).await;
    assert_eq!(shown["canary"]["baseline"], BASELINE, "{shown}");
    assert_eq!(shown["canary"]["canary"], CANARY, "{shown}");
    let d = r.server.deployment().await;
    let kept = &d["clusters"]["sava"]["gateways"]["web"]["canary"];
    assert_eq!(kept["baseline"], "sava:1.0", "{d}");
    assert_eq!(kept["canary"], "sava:1.1", "{d}");

    let load = Load::start(r.gateway_port, 4, 100);
    r.server
        .until_state(Duration::from_secs(60), "the promotion", |w, s| {
            w == Some(100) && s == "promoted"
        })
        .await;
    until_traffic(
        r.gateway_port,
        50,
        Duration::from_secs(10),
        "all on the canary",
        |v1, v2, f| (v1, v2, f) == (0, 50, 0),
    )
    .await;
    let tally = load.stop();
    assert_eq!(
        tally.failed.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "no request failed during the ramp"
    );
    let events = r.server.events().await;
    let d = decisions(&events);
    let steps: Vec<u64> = events
        .iter()
        .filter(|e| e["value"]["decision"] == "advance")
        .filter_map(|e| e["value"]["to_weight"].as_u64())
        .collect();
    assert_eq!(steps, [10, 25, 50], "{}", describe(&events));
    assert_eq!(d.last().map(String::as_str), Some("promote"), "{d:?}");
    assert!(!d.iter().any(|x| x == "rollback"), "{d:?}");
    let promote = events.last().unwrap();
    assert_eq!(promote["value"]["deployment"], "sava");
    assert_eq!(promote["value"]["weights"]["canary"], 100);
    assert!(
        promote["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "deployments:sava"),
        "{promote}"
    );
    for judged in events.iter().skip(1) {
        let canary = judged["value"]["numbers"]["canary"]["requests"]
            .as_u64()
            .unwrap_or(0);
        assert!(canary >= 20, "judged on {canary} canary requests: {judged}");
    }
    eprintln!("promoted:\n{}", describe(&events));
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_failing_a_fifth_of_its_requests_on_the_cluster_gateway_is_rolled_back() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let merge = format!(
        "    services:\n      - breed: sava:1.0\n{SCALE}      - breed: sava:1.1\n{SCALE}    gateways:\n      web:\n        routes:\n          sava:1.0: {{weight: 100%}}\n          sava:1.1: {{weight: 0%}}\n        canary: {{baseline: sava:1.0, canary: sava:1.1, steps: [20%, 50%, 100%], interval: 2s, min_requests: 30}}\n"
    );
    let r = Release::start(&merge).await;
    let load = Load::start(r.gateway_port, 4, 100);
    r.server
        .until_state(Duration::from_secs(30), "the first step", |w, _| w == Some(20))
        .await;
    let port = r.server.instance_port("1.1").await;
    tokio::task::spawn_blocking(move || put_fault(port, 0.2))
        .await
        .unwrap();
    r.server
        .until_state(Duration::from_secs(30), "the rollback", |w, s| {
            w == Some(0) && s == "rolled_back"
        })
        .await;
    until_traffic(
        r.gateway_port,
        50,
        Duration::from_secs(10),
        "all on the baseline",
        |v1, v2, f| (v1, v2, f) == (50, 0, 0),
    )
    .await;
    load.stop();
    let events = r.server.events().await;
    let rollback = events
        .iter()
        .find(|e| e["value"]["decision"] == "rollback")
        .unwrap_or_else(|| panic!("no rollback:\n{}", describe(&events)));
    assert!(
        rollback["value"]["numbers"]["canary"]["errors"].as_u64().unwrap() > 0,
        "{rollback}"
    );
    assert_eq!(rollback["value"]["weights"]["canary"], 0);
    assert!(!decisions(&events).iter().any(|d| d == "promote"));
    eprintln!("rolled back:\n{}", describe(&events));
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_interval_resumes_the_interval_with_its_samples_and_waits() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut r = Release::start(ONLY_1_1).await;
    r.put_canary(&format!(
        "{{baseline: {BASELINE}, canary: {CANARY}, steps: [10%, 100%], interval: 2s, min_requests: 100000, max_waits: 1000}}"
    ))
    .await;
    let load = Load::start(r.gateway_port, 2, 50);
    let started = Instant::now();
    let before = loop {
        let events = r.server.events().await;
        if decisions(&events).iter().filter(|d| *d == "wait").count() >= 2 {
            break events;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no two waits:\n{}",
            describe(&events)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        before.last().unwrap()["value"]["decision"],
        "wait",
        "{}",
        describe(&before)
    );

    r.server.stop();
    let stopped_at = chrono::Utc::now();
    r.server = Server::start(&r.data, &r.config, r.listen);
    r.server.ready().await;
    let at =
        |e: &Value| -> chrono::DateTime<chrono::Utc> { e["timestamp"].as_str().unwrap().parse().unwrap() };
    let started = Instant::now();
    let after = loop {
        let events = r.server.events().await;
        if events.iter().any(|e| at(e) > stopped_at) {
            break events;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no decision after the restart:\n{}",
            describe(&events)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("around the restart:\n{}", describe(&after));
    let last = after.iter().rfind(|e| at(e) <= stopped_at).unwrap();
    let resumed = after.iter().find(|e| at(e) > stopped_at).unwrap();
    assert_eq!(last["value"]["decision"], "wait", "{last}");
    let waits = last["value"]["waits"].as_u64().unwrap();
    let requests = last["value"]["numbers"]["baseline"]["requests"].as_u64().unwrap();
    assert!(requests > 0, "traffic was judged before the restart: {last}");
    assert_eq!(
        resumed["value"]["decision"], "wait",
        "resumed, not started over: {resumed}"
    );
    assert_eq!(
        resumed["value"]["waits"].as_u64(),
        Some(waits + 1),
        "the wait count goes on: {resumed}"
    );
    assert_eq!(
        resumed["value"]["interval_started"], last["value"]["interval_started"],
        "the same interval"
    );
    assert!(
        resumed["value"]["numbers"]["baseline"]["requests"]
            .as_u64()
            .unwrap()
            >= requests,
        "the samples of before the restart still count: {resumed} after {requests}"
    );
    assert_eq!(r.server.state().await.0, Some(10), "the canary stays at its step");
    load.stop();
    r.finish().await;
}
