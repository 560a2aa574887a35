//! Shared by the canary end-to-end tests and the canary benchmark: an embedded Vamp (SQLite, process driver
//! running `vamp-demo-service`, the embedded agent driving the real `haproxy`) with a deployment `sava` whose
//! cluster runs `sava:1.0` and `sava:1.1`, a user gateway `shop` whose routes are the two services, a load of
//! keep-alive clients through HAProxy that counts which version answered and what failed, and fault injection
//! into the canary's running instance (`PUT /fault`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vamp_core::dsl;
use vamp_core::model::{Artifact, CanaryStatus, Event, EventQuery, Gateway, Kind};
use vamp_core::store::Page;
use vamp_drivers::process::ProcessConfig;
use vamp_server::agent::embedded_with;
use vamp_server::ops::converged;
use vamp_server::{ServerSettings, Vamp, WriteOptions};

use crate::support::{demo_processes, free_port, haproxy_settings, ProcessCleanup, TempDir};

/// How long deploying may take on a loaded machine.
pub const CONVERGE: Duration = Duration::from_secs(60);
/// The baseline's route in `shop`.
pub const BASELINE: &str = "sava/sava/sava:1.0/web";
/// The canary's route in `shop`.
pub const CANARY: &str = "sava/sava/sava:1.1/web";

/// A running embedded Vamp with `sava` deployed; everything it started is stopped on drop.
pub struct Harness {
    pub vamp: Vamp,
    pub gateway_port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<vamp_core::Result<()>>>,
    _cleanup: ProcessCleanup,
    _data: TempDir,
}

fn settings(tick_ms: u64) -> ServerSettings {
    let mut s = haproxy_settings(20, "the canary tests");
    s.canary.tick_ms = tick_ms;
    s
}

fn processes(data: &std::path::Path) -> ProcessConfig {
    demo_processes(data, true)
}

fn breed(version: &str) -> Artifact {
    let text = format!(
        "name: sava:{version}\ndeployable:\n  type: process\n  definition: vamp-demo-service --name sava-{version}\nports:\n  web: 8080/http\n"
    );
    dsl::read(Kind::Breed, &text).unwrap()
}

impl Harness {
    /// Starts Vamp (canary tick `tick_ms`) and deploys `sava` with both versions running.
    pub async fn start(tick_ms: u64) -> Harness {
        let data = TempDir::new("vamp-canary");
        let cleanup = ProcessCleanup(processes(data.path()));
        let vamp = embedded_with(data.path(), settings(tick_ms), processes(data.path()))
            .await
            .unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let v = vamp.clone();
        let task = tokio::spawn(async move {
            v.run(async {
                let _ = rx.await;
            })
            .await
        });
        for version in ["1.0", "1.1"] {
            vamp.create(breed(version), &WriteOptions::default())
                .await
                .unwrap();
        }
        let blueprint = "name: sava\nclusters:\n  sava:\n    services:\n      - breed: sava:1.0\n        scale: {cpu: 0.1, memory: 32MB, instances: 1}\n      - breed: sava:1.1\n        scale: {cpu: 0.1, memory: 32MB, instances: 1}\n";
        vamp.deploy(
            "sava",
            Artifact::Blueprint(dsl::read_deployment_request(blueprint).unwrap()),
            &WriteOptions::default(),
        )
        .await
        .unwrap();
        vamp.wait_for("sava", |d| d.is_some_and(converged), CONVERGE)
            .await
            .unwrap();
        Harness {
            vamp,
            gateway_port: free_port(),
            stop: Some(tx),
            task: Some(task),
            _cleanup: cleanup,
            _data: data,
        }
    }

    /// Creates (or replaces) the user gateway `shop`: baseline 100%, canary 0%, `sticky: route` when asked,
    /// and the canary policy given as YAML lines (indented by two spaces). Waits until it serves.
    pub async fn gateway(&self, sticky: bool, policy: &str) {
        let text = format!(
            "name: shop\nport: {}\n{}routes:\n  {BASELINE}: {{weight: 100%}}\n  {CANARY}: {{weight: 0%}}\ncanary:\n{policy}",
            self.gateway_port,
            if sticky { "sticky: route\n" } else { "" }
        );
        let gateway = dsl::read(Kind::Gateway, &text).unwrap();
        if self.vamp.get(Kind::Gateway, "shop").await.unwrap().is_some() {
            self.vamp.update(gateway, &WriteOptions::default()).await.unwrap();
        } else {
            self.vamp.create(gateway, &WriteOptions::default()).await.unwrap();
        }
        let port = self.gateway_port;
        let served = tokio::task::spawn_blocking(move || {
            vamp_core::testkit::servers::wait_until(CONVERGE, || {
                let mut client = Client::new(port);
                matches!(client.get(), Ok(r) if r.status == 200)
            })
        })
        .await
        .unwrap();
        assert!(served, "gateway shop never served on port {port}");
    }

    /// The stored gateway `shop`.
    pub async fn shop(&self) -> Gateway {
        match self.vamp.get(Kind::Gateway, "shop").await.unwrap() {
            Some(Artifact::Gateway(g)) => g,
            other => panic!("gateway shop: {other:?}"),
        }
    }

    /// The canary's weight and the policy's status as stored.
    pub async fn state(&self) -> (u8, CanaryStatus) {
        let g = self.shop().await;
        let weight = g
            .route(CANARY)
            .and_then(|r| r.inline())
            .and_then(|r| r.weight)
            .map_or(0, |w| w.0);
        (weight, g.canary.map(|c| c.status).unwrap_or_default())
    }

    /// Polls the stored state every 20 ms until `done` holds; the time it took, or a failure after `within`.
    pub async fn until(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(u8, CanaryStatus) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let (weight, status) = self.state().await;
            if done(weight, status) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "{what} did not happen within {within:?}: canary at {weight}%, {status}\nevents:\n{}",
                self.describe_events().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sets `status` on the stored policy.
    pub async fn set_status(&self, status: CanaryStatus) {
        let mut g = self.shop().await;
        if let Some(c) = g.canary.as_mut() {
            c.status = status;
        }
        self.vamp
            .update(Artifact::Gateway(g), &WriteOptions::default())
            .await
            .unwrap();
    }

    /// The canary events of `shop`, oldest first.
    pub async fn events(&self) -> Vec<Event> {
        let mut events = self
            .vamp
            .query(
                &EventQuery::tags(["canary", "gateways:shop"]),
                Page::new(1, 1000).unwrap(),
            )
            .await
            .unwrap()
            .items;
        events.reverse();
        events
    }

    /// One line per canary event: decision, weights and reason.
    pub async fn describe_events(&self) -> String {
        self.events()
            .await
            .iter()
            .map(|e| {
                format!(
                    "  {} {} → {}: {}",
                    e.timestamp.format("%H:%M:%S%.3f"),
                    e.value["decision"],
                    e.value["weights"],
                    e.value["reason"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The port the instance of `sava:<version>` listens on.
    pub async fn instance_port(&self, version: &str) -> u16 {
        let d = self.vamp.deployment("sava").await.unwrap().unwrap();
        let service = d.clusters[0]
            .services
            .iter()
            .find(|s| s.breed.name == format!("sava:{version}"))
            .unwrap();
        service.instances[0].ports["web"]
    }

    /// Makes the running `sava:<version>` answer 500 to `share` of its requests (`PUT /fault`).
    pub async fn fault(&self, version: &str, share: f64) {
        let port = self.instance_port(version).await;
        tokio::task::spawn_blocking(move || put_fault(port, share))
            .await
            .unwrap();
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

fn put_fault(port: u16, share: f64) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /fault?fail-rate={share} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "PUT /fault answered {out}");
}

/// One answer through the gateway.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub set_cookie: Option<String>,
}

impl Answer {
    /// Which version answered: `Some("1.0")`, `Some("1.1")`, or `None` for anything else.
    pub fn version(&self) -> Option<&'static str> {
        if self.body.contains("sava-1.1") {
            Some("1.1")
        } else if self.body.contains("sava-1.0") {
            Some("1.0")
        } else {
            None
        }
    }
}

/// A keep-alive HTTP client that keeps the cookie a response sets, as a browser does.
pub struct Client {
    port: u16,
    stream: Option<BufReader<TcpStream>>,
    pub cookie: Option<String>,
    pub keep_cookie: bool,
}

impl Client {
    pub fn new(port: u16) -> Client {
        Client {
            port,
            stream: None,
            cookie: None,
            keep_cookie: false,
        }
    }

    /// A client that sends back the cookie it was given.
    pub fn with_cookies(port: u16) -> Client {
        Client {
            keep_cookie: true,
            ..Client::new(port)
        }
    }

    /// `GET /` on the kept-alive connection (reconnecting when needed).
    pub fn get(&mut self) -> std::io::Result<Answer> {
        let result = self.exchange();
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn exchange(&mut self) -> std::io::Result<Answer> {
        if self.stream.is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        let Some(reader) = self.stream.as_mut() else {
            return Err(std::io::Error::other("no connection"));
        };
        let cookie = match &self.cookie {
            Some(c) => format!("Cookie: {c}\r\n"),
            None => String::new(),
        };
        write!(
            reader.get_mut(),
            "GET / HTTP/1.1\r\nHost: shop\r\n{cookie}Connection: keep-alive\r\n\r\n"
        )?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let (mut length, mut close, mut set_cookie) = (0usize, false, None);
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("connection closed in the headers"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "connection" => close = value.eq_ignore_ascii_case("close"),
                    "set-cookie" => set_cookie = value.split(';').next().map(str::to_string),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        if close {
            self.stream = None;
        }
        if self.keep_cookie {
            if let Some(c) = &set_cookie {
                self.cookie = Some(c.clone());
            }
        }
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            set_cookie,
        })
    }
}

/// What a load saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub baseline: AtomicU64,
    pub canary: AtomicU64,
    pub failed: AtomicU64,
    /// When the last canary answer and the last failure arrived.
    pub last_canary: Mutex<Option<Instant>>,
    pub last_failure: Mutex<Option<Instant>>,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.baseline.load(Ordering::Relaxed)
            + self.canary.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
    }
}

/// `clients` keep-alive clients through the gateway, each sending about `rate` requests per second, until
/// stopped. Every answer other than a 200 of a known version (and every broken connection) is a failure.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    pub tally: Arc<Tally>,
    pub started: Instant,
}

impl Load {
    pub fn start(port: u16, clients: usize, rate: u32) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let pause = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        let threads = (0..clients)
            .map(|_| {
                let (stop, tally) = (stop.clone(), tally.clone());
                std::thread::spawn(move || {
                    let mut client = Client::new(port);
                    let mut next = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        let answer = client.get();
                        let now = Instant::now();
                        match answer.as_ref().map(|a| (a.status, a.version())) {
                            Ok((200, Some("1.0"))) => {
                                tally.baseline.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok((200, Some("1.1"))) => {
                                tally.canary.fetch_add(1, Ordering::Relaxed);
                                *tally.last_canary.lock().unwrap() = Some(now);
                            }
                            other => {
                                tally.failed.fetch_add(1, Ordering::Relaxed);
                                *tally.last_failure.lock().unwrap() = Some(now);
                                if let Ok((_, Some("1.1"))) = other {
                                    *tally.last_canary.lock().unwrap() = Some(now);
                                }
                            }
                        }
                        next += pause;
                        let now = Instant::now();
                        if next > now {
                            std::thread::sleep(next - now);
                        } else {
                            next = now;
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            threads,
            tally,
            started: Instant::now(),
        }
    }

    pub fn stop(self) -> Arc<Tally> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        self.tally
    }
}

/// Sends `count` requests on one fresh keep-alive client (no cookie): how many each version answered.
pub async fn sample(port: u16, count: usize) -> (usize, usize, usize) {
    tokio::task::spawn_blocking(move || {
        let mut client = Client::new(port);
        let (mut v1, mut v2, mut failed) = (0, 0, 0);
        for _ in 0..count {
            match client.get().as_ref().map(|a| (a.status, a.version())) {
                Ok((200, Some("1.0"))) => v1 += 1,
                Ok((200, Some("1.1"))) => v2 += 1,
                _ => failed += 1,
            }
        }
        (v1, v2, failed)
    })
    .await
    .unwrap()
}

/// Sends batches of `batch` requests until one batch satisfies `done(baseline, canary, failed)`; the time it
/// took, or a failure after `within` naming `what` and the last batch.
pub async fn until_traffic(
    port: u16,
    batch: usize,
    within: Duration,
    what: &str,
    done: impl Fn(usize, usize, usize) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let (v1, v2, failed) = sample(port, batch).await;
        if done(v1, v2, failed) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "traffic never showed {what} within {within:?}: last batch baseline={v1} canary={v2} failed={failed}"
        );
    }
}

/// The number at `key` (dotted) of an event's value.
pub fn number(event: &Event, key: &str) -> Option<f64> {
    key.split('.')
        .try_fold(&event.value, |v, k| v.get(k))
        .and_then(serde_json::Value::as_f64)
}
