//! Attacks: workflows (see docs/security.md). Each test starts a real `vamp serve` (the `vamp` binary, memory
//! backends, no embedded agent, an admin token) with a `workflows:` configuration, creates through the REST API
//! a workflow whose script performs the attack, waits for its execution and reads the result from `GET
//! /api/v1/workflows/{name}/executions`:
//!
//! * `vamp.http` to a loopback server, to `localhost` (the DNS answer is checked), to the cloud metadata
//!   address and name: refused, and the loopback server is never connected to;
//! * an allow-listed first hop (127.0.0.2) redirecting to 127.0.0.1: refused at the redirect;
//! * `VAMP_WORKFLOW_EXECUTION_TIMEOUT: 0` with an endless loop: stopped by the default limit; a huge one: cut
//!   to `max-execution-timeout-ms`;
//! * many concurrent runs with large memory limits: the memory budget lets only as many go as fit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::support::{free_port, TempDir};

const TOKEN: &str = "workflows-security-admin-token";
const DEADLINE: Duration = Duration::from_secs(60);

/// A `vamp serve` child with its data directory; SIGTERM then SIGKILL on drop.
struct Server {
    child: Child,
    port: u16,
    dir: TempDir,
    http: reqwest::Client,
}

impl Server {
    /// Starts `vamp serve` with `workflows` as the `workflows:` section of its configuration file and waits
    /// until it answers `/api/v1/health`.
    async fn start(workflows: Value) -> Server {
        let dir = TempDir::new("security-workflows");
        let config = dir.path().join("vamp.yaml");
        std::fs::write(&config, json!({ "workflows": workflows }).to_string()).unwrap();
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vamp"));
        for (k, _) in std::env::vars() {
            if k.starts_with("VAMP_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .args(["--embedded-agent", "false"])
            .args(["--driver", "memory://", "--persistence", "memory://"])
            .env("VAMP_API_TOKENS", TOKEN)
            .stdout(Stdio::null())
            .stderr(log);
        let server = Server {
            child: cmd.spawn().unwrap(),
            port,
            dir,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        let deadline = Instant::now() + DEADLINE;
        loop {
            let health = server
                .http
                .get(server.url("/api/v1/health"))
                .bearer_auth(TOKEN)
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "vamp serve did not become healthy: {}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// Creates a daemon workflow running `script` once, with `env` and `scale` (when given).
    async fn workflow(&self, name: &str, script: &str, env: Value, scale: Option<Value>) {
        let mut variables = json!({"VAMP_WORKFLOW_EXECUTION_PERIOD": "0"});
        for (k, v) in env.as_object().cloned().unwrap_or_default() {
            variables[k] = v;
        }
        let mut body = json!({
            "name": name,
            "breed": {
                "name": format!("{name}-script"),
                "deployable": {"type": "application/javascript", "definition": script},
                "environment_variables": variables,
            },
            "schedule": "daemon",
        });
        if let Some(scale) = scale {
            body["scale"] = scale;
        }
        let created = self
            .http
            .post(self.url("/api/v1/workflows"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = created.status();
        assert!(status.is_success(), "{status}: {}", created.text().await.unwrap());
    }

    /// The executions of `name`, newest first (empty before the first).
    async fn executions(&self, name: &str) -> Vec<Value> {
        let reply = self
            .http
            .get(self.url(&format!("/api/v1/workflows/{name}/executions")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        if !reply.status().is_success() {
            return Vec::new();
        }
        match reply.json::<Value>().await.unwrap() {
            Value::Array(items) => items,
            other => panic!("executions are not a list: {other}"),
        }
    }

    /// Waits until `name` has an execution that ended (neither running nor skipped); that execution.
    async fn ended(&self, name: &str) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let executions = self.executions(name).await;
            if let Some(done) = executions
                .iter()
                .find(|e| !matches!(e["outcome"].as_str(), Some("running" | "skipped")))
            {
                return done.clone();
            }
            assert!(
                Instant::now() < deadline,
                "workflow {name} never ended a run: {executions:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP server on `ip` answering every request with `answer` (the head of a response, a body after
/// it), counting the connections it accepted. Stopped on drop.
struct Target {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Target {
    fn start(ip: &str, answer: String) -> Target {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let address = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Target {
            address,
            connections,
            stop,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.address);
    }
}

fn secret_answer() -> String {
    let body = "internal-secret";
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A script that requests each URL and logs `LEAK <body>` or `REFUSED <message>`.
fn probe(urls: &[String]) -> String {
    urls.iter()
        .map(|url| {
            format!(
                "try {{ console.log('LEAK ' + vamp.http('{url}').body); }} \
                 catch (e) {{ console.log('REFUSED ' + e.message); }}\n"
            )
        })
        .collect()
}

fn log_lines(execution: &Value) -> Vec<String> {
    execution["log"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vamp_http_cannot_reach_loopback_localhost_or_the_metadata_service() {
    let secret = Target::start("127.0.0.1", secret_answer());
    let port = secret.address.port();
    let server = Server::start(json!({})).await;
    let urls = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://2130706433:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://metadata.google.internal/computeMetadata/v1/".to_string(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_string(),
    ];
    server
        .workflow("probe-loopback", &probe(&urls), json!({}), None)
        .await;
    let execution = server.ended("probe-loopback").await;
    let lines = log_lines(&execution);
    assert_eq!(lines.len(), urls.len(), "{execution}");
    for (url, line) in urls.iter().zip(&lines) {
        assert!(line.starts_with("REFUSED "), "{url} was reached: {line}");
        assert!(
            line.contains("refused:") && line.contains("workflows.http-allow"),
            "{line}"
        );
    }
    assert!(
        lines[0].contains("127.0.0.1 is a loopback address"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("localhost resolves to"), "{}", lines[1]);
    assert!(lines[4].contains("cloud metadata"), "{}", lines[4]);
    assert!(
        lines[5].contains("metadata.google.internal is a cloud metadata service"),
        "{}",
        lines[5]
    );
    assert!(lines[6].contains("cloud metadata"), "{}", lines[6]);
    assert_eq!(secret.connections(), 0, "the loopback server was connected to");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_first_hop_cannot_redirect_vamp_http_to_loopback() {
    let secret = Target::start("127.0.0.1", secret_answer());
    let inner = format!("http://127.0.0.1:{}/", secret.address.port());
    let via_name = format!("http://localhost:{}/", secret.address.port());
    let redirect = |to: &str| {
        format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    };
    let hop = Target::start("127.0.0.2", redirect(&inner));
    let hop_by_name = Target::start("127.0.0.2", redirect(&via_name));
    let server = Server::start(json!({"http-allow": ["127.0.0.2"]})).await;
    let urls = [
        format!("http://127.0.0.2:{}/", hop.address.port()),
        format!("http://127.0.0.2:{}/", hop_by_name.address.port()),
    ];
    server
        .workflow("probe-redirect", &probe(&urls), json!({}), None)
        .await;
    let execution = server.ended("probe-redirect").await;
    let lines = log_lines(&execution);
    assert_eq!(lines.len(), 2, "{execution}");
    assert!(
        lines[0].contains(&format!(
            "refused: redirected to {inner}: 127.0.0.1 is a loopback address"
        )),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("REFUSED ") && lines[1].contains("localhost resolves to"),
        "{}",
        lines[1]
    );
    assert!(hop.connections() >= 1, "the allowed first hop was not reached");
    assert!(
        hop_by_name.connections() >= 1,
        "the allowed first hop was not reached"
    );
    assert_eq!(
        secret.connections(),
        0,
        "the redirect reached the loopback server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_timeout_is_the_default_limit_and_a_huge_one_is_capped() {
    let server = Server::start(json!({
        "execution-timeout-ms": 1500,
        "max-execution-timeout-ms": 3000,
    }))
    .await;
    server
        .workflow(
            "spin-zero",
            "while (true) {}",
            json!({"VAMP_WORKFLOW_EXECUTION_TIMEOUT": "0"}),
            None,
        )
        .await;
    server
        .workflow(
            "spin-forever",
            "while (true) {}",
            json!({"VAMP_WORKFLOW_EXECUTION_TIMEOUT": "2592000"}),
            None,
        )
        .await;
    for (name, limit) in [("spin-zero", "1.5 s"), ("spin-forever", "3 s")] {
        let execution = server.ended(name).await;
        assert_eq!(execution["outcome"], "failed", "{execution}");
        assert_eq!(execution["reason"], "timeout", "{execution}");
        let error = execution["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(&format!("time limit of {limit}")),
            "{name}: {error}"
        );
    }
}

fn at(execution: &Value, field: &str) -> Option<DateTime<Utc>> {
    execution[field].as_str()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_budget_stops_many_large_runs_going_at_once() {
    let server = Server::start(json!({"max-total-memory-mb": 96, "max-memory-mb": 1024})).await;
    let names = ["hog-a", "hog-b", "hog-c", "hog-d"];
    for name in names {
        server
            .workflow(
                name,
                "vamp.sleep(1000)",
                json!({"VAMP_WORKFLOW_EXECUTION_PERIOD": "0.1"}),
                Some(json!({"cpu": 0.1, "memory": "1024MB", "instances": 1})),
            )
            .await;
    }
    let deadline = Instant::now() + DEADLINE;
    let (runs, skipped) = loop {
        let mut runs: Vec<Value> = Vec::new();
        let mut skipped: Vec<Value> = Vec::new();
        for name in names {
            for e in server.executions(name).await {
                match e["outcome"].as_str() {
                    Some("skipped") => skipped.push(e),
                    Some("succeeded") => runs.push(e),
                    _ => {}
                }
            }
        }
        let ran: std::collections::BTreeSet<&str> =
            runs.iter().filter_map(|e| e["workflow"].as_str()).collect();
        if ran.len() >= 2 && !skipped.is_empty() {
            break (runs, skipped);
        }
        assert!(
            Instant::now() < deadline,
            "no two workflows ran one after the other: {runs:?} {skipped:?}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let error = skipped[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("memory limit of 96 MB does not fit") && error.contains("max-total-memory-mb = 96 MB"),
        "{error}"
    );
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = runs
        .iter()
        .map(|e| (at(e, "started").unwrap(), at(e, "finished").unwrap()))
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "two runs of 96 MB went at once within a budget of 96 MB: {pair:?}"
        );
    }
}
