//! SLAs and escalations end to end (the SLA loop, `loops/sla.rs`).
//!
//! * `a_slow_service_scales_up_through_haproxy_and_back_down_when_it_recovers`: the embedded default (SQLite,
//!   the process driver running `vamp-demo-service`, the embedded agent driving the real `haproxy`). A cluster
//!   at 1 instance with a `response_time_sliding_window` SLA (upper 100 ms, lower 20 ms, interval 1 s, cooldown
//!   1 s) and `scale_instances` 1..3 by 1 gets requests through its HAProxy gateway all along. The service is
//!   made slow (300 ms) → the cluster scales to 3 instances, as the process driver reports them, with
//!   `sla:escalate` events and one `escalation` event per step; the service recovers → back to 1 instance.
//!
//!   How the service is made slow: `PUT /fault?delay-ms=300` on a running `vamp-demo-service` changes only that
//!   process, and the instances the escalation adds start with their command line, i.e. fast. A service whose
//!   every instance is slow is what the SLA is about (a slow dependency, a slow release), so a "fault keeper"
//!   applies the current fault to every instance the driver reports (through the deployment's `instances`)
//!   and re-applies it to instances that appear, within 100 ms. Changing the breed's `--delay-ms` instead
//!   would redeploy the service, which is not "the service became slow", and would fight the escalation over
//!   the same service. A sequential client keeps the traffic going: with a per-request delay, more instances
//!   do not make it faster, so the cluster goes to its maximum and stays there (the escalations then report
//!   that nothing applies) until the fault is cleared.
//! * `the_sla_loop_scales_on_measured_response_times_with_its_cooldown`: the same loop over memory backends and
//!   a memory metrics source fed directly, checking the cooldown between SLA events and the bounds.
//! * `a_third_party_sla_event_posted_to_the_api_triggers_the_escalation`: an `escalation_only` SLA; SLA events
//!   POSTed to `/api/v1/events` scale the cluster up and down; at a bound nothing is written and an
//!   `escalation:none` event says why.
//!
//! A missing `haproxy` fails the first test.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use support::{demo_processes, free_port, get, haproxy_settings, ProcessCleanup, TempDir};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vamp_core::dsl;
use vamp_core::memory::MemoryMetrics;
use vamp_core::model::{Artifact, Deployment, Event, EventQuery, Kind};
use vamp_core::store::Page;
use vamp_drivers::process::ProcessConfig;
use vamp_server::agent::embedded_with;
use vamp_server::api::{serve_on, ApiOptions};
use vamp_server::ops::converged;
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const CONVERGE: Duration = Duration::from_secs(60);

/// Vamp with its loops running until dropped or stopped.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<vamp_core::Result<()>>>,
}

impl Running {
    fn start(vamp: Vamp) -> Running {
        let (tx, rx) = oneshot::channel::<()>();
        let v = vamp.clone();
        let task = tokio::spawn(async move {
            v.run(async {
                let _ = rx.await;
            })
            .await
        });
        Running {
            stop: Some(tx),
            task: Some(task),
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

fn blueprint(text: &str) -> Artifact {
    Artifact::Blueprint(dsl::read_deployment_request(text).unwrap())
}

/// The first service of `cluster`: its scale's instances and the instances the driver reports.
fn instances(d: &Deployment, cluster: &str) -> (u32, usize) {
    let service = &d.cluster(cluster).unwrap().services[0];
    (
        service.scale.as_ref().map_or(0, |s| s.instances),
        service.instances.len(),
    )
}

/// Waits until the first service of `cluster` is deployed at `want` instances, as its scale says and as the
/// driver reports.
async fn until_instances(vamp: &Vamp, cluster: &str, want: u32, within: Duration) -> Deployment {
    let result = vamp
        .wait_for(
            "shop",
            |d| d.is_some_and(|d| converged(d) && instances(d, cluster) == (want, want as usize)),
            within,
        )
        .await;
    match result {
        Ok(Some(d)) => d,
        other => {
            let now = vamp.deployment("shop").await.unwrap();
            let seen = now.as_ref().map(|d| instances(d, cluster));
            let events = all_events(vamp, &["escalation"]).await;
            panic!(
                "the cluster never ran {want} instances ({other:?}); (scale, reported) = {seen:?}; escalation events: {:#?}",
                events.iter().map(|e| &e.value).collect::<Vec<_>>()
            )
        }
    }
}

async fn all_events(vamp: &Vamp, tags: &[&str]) -> Vec<Event> {
    vamp.query(
        &EventQuery::tags(tags.iter().copied()),
        Page::new(1, 1000).unwrap(),
    )
    .await
    .unwrap()
    .items
}

async fn until_events(vamp: &Vamp, tags: &[&str], count: usize, within: Duration) -> Vec<Event> {
    let deadline = Instant::now() + within;
    loop {
        let found = all_events(vamp, tags).await;
        if found.len() >= count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {count} events tagged {tags:?} within {within:?}: {found:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for an `escalation:none` event going `direction` stamped after `since`.
async fn until_nothing_applies(vamp: &Vamp, direction: &str, since: DateTime<Utc>) -> Event {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let found = all_events(vamp, &["escalation:none", "deployment:shop"]).await;
        if let Some(e) = found
            .into_iter()
            .find(|e| e.timestamp >= since && e.value["direction"] == direction)
        {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "no escalation:none event going {direction}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `escalation` events of applied changes as `direction from->to` instance counts, oldest first.
async fn steps(vamp: &Vamp) -> Vec<String> {
    let mut events = all_events(vamp, &["escalation", "service"]).await;
    events.sort_by_key(|e| e.timestamp);
    events
        .iter()
        .map(|e| {
            format!(
                "{} {}->{}",
                e.value["direction"].as_str().unwrap(),
                e.value["from"]["instances"],
                e.value["to"]["instances"]
            )
        })
        .collect()
}

fn sla_settings() -> ServerSettings {
    let mut s = haproxy_settings(20, "the SLA scaling test");
    s.sla.period_ms = 250;
    s
}

fn processes(data: &std::path::Path, stop_on_drop: bool) -> ProcessConfig {
    demo_processes(data, stop_on_drop)
}

/// Sequential requests through a gateway on fresh connections until stopped; counts the answers.
struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let (flag, count) = (stop.clone(), answered.clone());
        let task = tokio::task::spawn_blocking(move || {
            while !flag.load(Ordering::Relaxed) {
                if let Some((200, _)) = get(port) {
                    count.fetch_add(1, Ordering::Relaxed);
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        });
        Load { stop, answered, task }
    }

    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        self.answered.load(Ordering::Relaxed)
    }
}

/// Keeps every instance of the first service of cluster `cluster` at the wanted fault (`PUT /fault?<query>`),
/// including instances that appear later; re-checks every 100 ms.
struct FaultKeeper {
    wanted: Arc<std::sync::Mutex<String>>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl FaultKeeper {
    fn start(vamp: Vamp, cluster: &'static str) -> FaultKeeper {
        let wanted = Arc::new(std::sync::Mutex::new(String::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (wanted.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut applied: HashMap<String, String> = HashMap::new();
            while !s.load(Ordering::Relaxed) {
                let fault = w.lock().unwrap().clone();
                if let Ok(Some(d)) = vamp.deployment("shop").await {
                    for instance in d
                        .cluster(cluster)
                        .map(|c| c.services.iter().flat_map(|s| &s.instances).collect::<Vec<_>>())
                        .unwrap_or_default()
                    {
                        let Some(port) = instance.ports.get("web") else {
                            continue;
                        };
                        let address = format!("{}:{port}", instance.host);
                        if applied.get(&address) == Some(&fault) {
                            continue;
                        }
                        let url = format!("http://{address}/fault?{fault}");
                        if let Ok(r) = client.put(url).send().await {
                            if r.status().is_success() {
                                applied.insert(address, fault.clone());
                            }
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        FaultKeeper { wanted, stop, task }
    }

    /// The fault every instance should have: `delay-ms=300`, or `` to clear it.
    fn set(&self, query: &str) {
        *self.wanted.lock().unwrap() = query.to_string();
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_service_scales_up_through_haproxy_and_back_down_when_it_recovers() {
    let data = TempDir::new("vamp-sla-scaling");
    let _cleanup = ProcessCleanup(processes(data.path(), true));
    let settings = sla_settings();
    let gateway_port = free_port();
    let vamp = embedded_with(data.path(), settings, processes(data.path(), true))
        .await
        .unwrap();
    let running = Running::start(vamp.clone());
    let breed = "name: frontend:1.0\ndeployable:\n  type: process\n  definition: vamp-demo-service --name frontend\nports:\n  web: 8080/http\n";
    vamp.create(dsl::read(Kind::Breed, breed).unwrap(), &WriteOptions::default())
        .await
        .unwrap();
    let shop = format!(
        "name: shop\ngateways:\n  {gateway_port}/http: frontend/web\nclusters:\n  frontend:\n    services:\n      - breed: frontend:1.0\n        scale: {{cpu: 0.1, memory: 32MB, instances: 1}}\n    sla:\n      type: response_time_sliding_window\n      threshold: {{upper: 100, lower: 20}}\n      window: {{interval: 1, cooldown: 1}}\n      escalations:\n        - {{type: scale_instances, minimum: 1, maximum: 3, scale_by: 1}}\n"
    );
    vamp.deploy("shop", blueprint(&shop), &WriteOptions::default())
        .await
        .unwrap();
    until_instances(&vamp, "frontend", 1, CONVERGE).await;
    let deadline = Instant::now() + CONVERGE;
    while !matches!(get(gateway_port), Some((200, _))) {
        assert!(Instant::now() < deadline, "the gateway never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let load = Load::start(gateway_port);
    let keeper = FaultKeeper::start(vamp.clone(), "frontend");

    let slow_since = Utc::now();
    keeper.set("delay-ms=300");
    let up = until_instances(&vamp, "frontend", 3, CONVERGE).await;
    assert!(up.cluster("frontend").unwrap().services[0]
        .instances
        .iter()
        .all(|i| i.deployed));
    let escalate = all_events(&vamp, &["sla:escalate", "deployment:shop", "cluster:frontend"]).await;
    let first = escalate
        .iter()
        .filter(|e| e.timestamp >= slow_since)
        .min_by_key(|e| e.timestamp)
        .expect("an sla:escalate event");
    assert_eq!(first.kind, "sla");
    assert!(
        first.value["response_time_ms"].as_f64().unwrap() > 100.0,
        "{}",
        first.value
    );
    assert_eq!(first.value["threshold"]["upper"], 100);
    assert_eq!(steps(&vamp).await, ["escalate 1->2", "escalate 2->3"]);
    until_nothing_applies(&vamp, "escalate", slow_since).await;
    assert_eq!(
        instances(&vamp.deployment("shop").await.unwrap().unwrap(), "frontend").0,
        3,
        "the maximum holds"
    );

    keeper.set("");
    until_instances(&vamp, "frontend", 1, CONVERGE).await;
    assert_eq!(
        steps(&vamp).await,
        [
            "escalate 1->2",
            "escalate 2->3",
            "deescalate 3->2",
            "deescalate 2->1"
        ]
    );
    let deescalate = all_events(&vamp, &["sla:deescalate", "cluster:frontend"]).await;
    assert!(deescalate
        .iter()
        .any(|e| e.value["response_time_ms"].as_f64().is_some_and(|ms| ms < 20.0)));

    keeper.stop().await;
    let answered = load.stop().await;
    assert!(answered > 10, "only {answered} requests went through the gateway");
    vamp.delete(Kind::Deployment, "shop", &WriteOptions::default())
        .await
        .unwrap();
    vamp.wait_for("shop", |d| d.is_none(), CONVERGE).await.unwrap();
    drop(vamp);
    running.stop().await;
}

fn memory_settings() -> ServerSettings {
    let mut s = ServerSettings::default();
    s.synchronization.busy_period_ms = 20;
    s.sla.period_ms = 100;
    s
}

const WEB_BREED: &str = "      breed:\n        name: web:1.0\n        deployable: acme/web:1.0\n        ports: {web: 8080/http}\n      scale: {cpu: 0.5, memory: 256MB, instances: 1}\n";

/// Records one request on `gateway` every 20 ms with the latency `latency_ms` holds, until stopped.
fn feed(metrics: Arc<MemoryMetrics>, gateway: &'static str, latency_ms: Arc<AtomicU64>) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        while !flag.load(Ordering::Relaxed) {
            let ms = latency_ms.load(Ordering::Relaxed) as f64;
            metrics.record(gateway, None, 200, ms, Utc::now());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    stop
}

fn timestamps(events: &[Event]) -> Vec<DateTime<Utc>> {
    let mut at: Vec<DateTime<Utc>> = events.iter().map(|e| e.timestamp).collect();
    at.sort();
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sla_loop_scales_on_measured_response_times_with_its_cooldown() {
    let metrics = Arc::new(MemoryMetrics::new());
    let vamp = Vamp::builder()
        .metrics(metrics.clone())
        .config(memory_settings())
        .build()
        .unwrap();
    let running = Running::start(vamp.clone());
    let shop = format!(
        "name: shop\nclusters:\n  web:\n    services:\n{WEB_BREED}    sla:\n      type: response_time_sliding_window\n      threshold: {{upper: 100, lower: 20}}\n      window: {{interval: 1, cooldown: 1}}\n      escalations:\n        - {{type: scale_instances, minimum: 1, maximum: 2, scale_by: 1}}\n"
    );
    vamp.deploy("shop", blueprint(&shop), &WriteOptions::default())
        .await
        .unwrap();
    until_instances(&vamp, "web", 1, CONVERGE).await;
    assert!(
        all_events(&vamp, &["sla"]).await.is_empty(),
        "no traffic, no decision"
    );

    let latency = Arc::new(AtomicU64::new(400));
    let stop_feed = feed(metrics.clone(), "shop/web/web", latency.clone());
    until_instances(&vamp, "web", 2, CONVERGE).await;
    let at_max = until_events(&vamp, &["escalation:none", "cluster:web"], 1, CONVERGE).await;
    assert!(
        at_max[0].value["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("above the maximum 2"),
        "{}",
        at_max[0].value
    );
    let escalations = all_events(&vamp, &["sla:escalate", "cluster:web"]).await;
    let at = timestamps(&escalations);
    assert!(at.len() >= 2, "{escalations:#?}");
    for pair in at.windows(2) {
        assert!(
            pair[1] - pair[0] >= chrono::Duration::seconds(2),
            "SLA events {} and {} are closer than interval + cooldown",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(
        instances(&vamp.deployment("shop").await.unwrap().unwrap(), "web").0,
        2
    );

    latency.store(5, Ordering::Relaxed);
    until_instances(&vamp, "web", 1, CONVERGE).await;
    assert_eq!(steps(&vamp).await, ["escalate 1->2", "deescalate 2->1"]);
    stop_feed.store(true, Ordering::Relaxed);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_sla_event_posted_to_the_api_triggers_the_escalation() {
    let vamp = Vamp::builder().config(memory_settings()).build().unwrap();
    let running = Running::start(vamp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let (stop_api, api_stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(
        vamp.clone(),
        ApiOptions::insecure_open(),
        listener,
        async move {
            let _ = api_stopped.await;
        },
    ));
    let escalation = "name: more-cpu\ntype: scale_cpu\nminimum: 0.5\nmaximum: 1\nscale_by: 0.5\n";
    vamp.create(
        dsl::read(Kind::Escalation, escalation).unwrap(),
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    let shop = format!(
        "name: shop\nclusters:\n  web:\n    services:\n{WEB_BREED}    sla:\n      type: escalation_only\n      escalations:\n        - to_one:\n            escalations:\n              - {{type: scale_instances, minimum: 1, maximum: 2, scale_by: 1}}\n              - more-cpu\n"
    );
    vamp.deploy("shop", blueprint(&shop), &WriteOptions::default())
        .await
        .unwrap();
    until_instances(&vamp, "web", 1, CONVERGE).await;

    let client = reqwest::Client::new();
    let post = |direction: &'static str| {
        let client = client.clone();
        let url = format!("{api}/api/v1/events");
        async move {
            let body = serde_json::json!({
                "tags": ["sla", format!("sla:{direction}"), "deployment:shop", "cluster:web"],
                "value": {"by": "an external monitor"},
            });
            let reply = client.post(url).json(&body).send().await.unwrap();
            assert_eq!(reply.status(), reqwest::StatusCode::CREATED);
        }
    };
    let scale = |d: &Deployment| {
        let s = d.cluster("web").unwrap().services[0].scale.clone().unwrap();
        (s.instances, s.cpu.0)
    };
    let wait_scale = |want: (u32, f64)| {
        let vamp = vamp.clone();
        async move {
            vamp.wait_for(
                "shop",
                |d| d.is_some_and(|d| converged(d) && scale(d) == want),
                CONVERGE,
            )
            .await
            .unwrap()
        }
    };

    post("escalate").await;
    wait_scale((2, 0.5)).await;
    post("escalate").await;
    wait_scale((2, 1.0)).await;
    post("escalate").await;
    let none = until_events(&vamp, &["escalation:none", "cluster:web"], 1, CONVERGE).await;
    assert_eq!(none[0].value["direction"], "escalate");
    assert_eq!(none[0].value["skipped"].as_array().unwrap().len(), 2);
    assert_eq!(
        scale(&vamp.deployment("shop").await.unwrap().unwrap()),
        (2, 1.0),
        "nothing written at the bounds"
    );

    post("deescalate").await;
    wait_scale((2, 0.5)).await;
    post("deescalate").await;
    wait_scale((1, 0.5)).await;
    let applied = all_events(&vamp, &["escalation", "deployment:shop", "service:web:1.0"]).await;
    assert_eq!(applied.len(), 4);
    assert!(applied.iter().all(|e| e.value["trigger"].is_string()));

    let _ = stop_api.send(());
    server.await.unwrap().unwrap();
    running.stop().await;
}
