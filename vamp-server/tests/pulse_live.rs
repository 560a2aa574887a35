//! Pulse end to end with the embedded default (SQLite, the process driver running `vamp-demo-service`, the
//! embedded agent driving the real `haproxy` on PATH, the REST API on a free port): real requests through
//! HAProxy give a health event of 1; after `PUT /fault?fail-rate=0.2` on the running service the events say
//! health 0, and the live API shows health 0, a score below 1, an error rate of about 0.2 and a 5xx count. A
//! missing `haproxy` fails the test.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{demo_processes, free_port, get, haproxy_settings, ProcessCleanup, TempDir};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vamp_core::dsl;
use vamp_core::model::{Artifact, Event, EventQuery, Kind};
use vamp_core::store::Page;
use vamp_drivers::process::ProcessConfig;
use vamp_server::agent::embedded_with;
use vamp_server::api::ApiOptions;
use vamp_server::ops::converged;
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const CONVERGE: Duration = Duration::from_secs(60);
const INTERNAL: &str = "shop/frontend/web";
const ROUTE: &str = "shop/frontend/frontend:1.0/web";
/// The pulse windows of this test, in seconds: short, so the figures follow the fault quickly.
const WINDOW_S: u64 = 3;
/// The embedded agent's aggregation bucket (`AggregatorOptions::default`), in seconds.
const AGENT_BUCKET_S: u64 = 5;

fn settings() -> ServerSettings {
    let mut s = haproxy_settings(10, "the pulse test");
    s.pulse.period_ms = 500;
    s.pulse.health_window_s = WINDOW_S;
    s.pulse.metrics_window_s = WINDOW_S;
    s
}

fn processes(data: &std::path::Path) -> ProcessConfig {
    demo_processes(data, true)
}

/// Vamp's loops and its API, running until stopped.
struct Running {
    vamp: Vamp,
    api: String,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    async fn start(data: &std::path::Path) -> Running {
        let vamp = embedded_with(data, settings(), processes(data)).await.unwrap();
        let (loops_tx, loops_rx) = oneshot::channel::<()>();
        let v = vamp.clone();
        let loops = tokio::spawn(async move {
            v.run(async {
                let _ = loops_rx.await;
            })
            .await
            .unwrap();
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}", listener.local_addr().unwrap());
        let (api_tx, api_rx) = oneshot::channel::<()>();
        let v = vamp.clone();
        let server = tokio::spawn(async move {
            vamp_server::api::serve_on(v, ApiOptions::insecure_open(), listener, async move {
                let _ = api_rx.await;
            })
            .await
            .unwrap();
        });
        Running {
            vamp,
            api,
            stops: vec![api_tx, loops_tx],
            tasks: vec![server, loops],
        }
    }

    async fn stop(mut self) {
        for tx in self.stops.drain(..) {
            let _ = tx.send(());
        }
        for task in self.tasks.drain(..) {
            task.await.unwrap();
        }
    }
}

/// Requests through the gateway on fresh connections, one after the other, until stopped; counts answers.
struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (stop.clone(), answered.clone());
        let task = tokio::task::spawn_blocking(move || {
            while !flag.load(Ordering::Relaxed) {
                if get(port).is_some() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Load { stop, answered, task }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
    }
}

/// The newest event tagged `tags` of type `kind`.
async fn newest(vamp: &Vamp, tags: &[&str], kind: &str) -> Option<Event> {
    let query = EventQuery {
        kind: Some(kind.into()),
        ..EventQuery::tags(tags.iter().copied())
    };
    vamp.query(&query, Page::first(1))
        .await
        .unwrap()
        .items
        .into_iter()
        .next()
}

/// Waits until the newest event tagged `tags` satisfies `done`; fails after `CONVERGE`.
async fn until_event(
    vamp: &Vamp,
    tags: &[&str],
    kind: &str,
    what: &str,
    done: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = Instant::now() + CONVERGE;
    loop {
        if let Some(e) = newest(vamp, tags, kind).await.filter(|e| done(e)) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "no event {tags:?} showed {what}; the last was {:?}",
            newest(vamp, tags, kind).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn api_json(client: &reqwest::Client, url: String) -> serde_json::Value {
    let reply = client.get(&url).send().await.unwrap();
    assert_eq!(reply.status(), reqwest::StatusCode::OK, "{url}");
    reply.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_service_turns_health_to_zero_through_haproxy() {
    let data = TempDir::new("vamp-pulse-live");
    let _cleanup = ProcessCleanup(processes(data.path()));
    let running = Running::start(data.path()).await;
    let vamp = running.vamp.clone();
    let gateway_port = free_port();

    let breed = "name: frontend:1.0\ndeployable:\n  type: process\n  definition: vamp-demo-service --name frontend-1.0\nports:\n  web: 8080/http\n";
    vamp.create(dsl::read(Kind::Breed, breed).unwrap(), &WriteOptions::default())
        .await
        .unwrap();
    let blueprint = format!(
        "name: shop\ngateways:\n  {gateway_port}/http: frontend/web\nclusters:\n  frontend:\n    services:\n      - breed: frontend:1.0\n        scale: {{cpu: 0.1, memory: 32MB, instances: 1}}\n"
    );
    let blueprint = Artifact::Blueprint(dsl::read_deployment_request(&blueprint).unwrap());
    vamp.deploy("shop", blueprint, &WriteOptions::default())
        .await
        .unwrap();
    vamp.wait_for("shop", |d| d.is_some_and(converged), CONVERGE)
        .await
        .unwrap();
    let deadline = Instant::now() + CONVERGE;
    while !matches!(get(gateway_port), Some((200, body)) if body.contains("frontend-1.0")) {
        assert!(Instant::now() < deadline, "the gateway never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let gateway = format!("gateways:{INTERNAL}");
    let health = [gateway.as_str(), "gateway", "health"];
    let figures = [gateway.as_str(), "gateway", "metrics:figures"];
    let load = Load::start(gateway_port);
    until_event(&vamp, &figures, "metrics", "traffic without errors", |e| {
        e.value["requests"].as_u64().is_some_and(|n| n > 0) && e.value["health"] == 1.0
    })
    .await;
    let healthy = until_event(&vamp, &health, "health", "health 1", |e| e.value == 1.0).await;
    assert!(healthy.tags.contains("gateway"));

    let shop = vamp.deployment("shop").await.unwrap().unwrap();
    let instance = &shop.clusters[0].services[0].instances[0];
    let fault = format!(
        "http://{}:{}/fault?fail-rate=0.2",
        instance.host, instance.ports["web"]
    );
    let client = reqwest::Client::new();
    let reply = client.put(&fault).send().await.unwrap();
    assert!(reply.status().is_success(), "PUT /fault: {}", reply.status());
    let faulted = chrono::Utc::now();
    let faulted_at = Instant::now();

    until_event(&vamp, &health, "health", "health 0 after the fault", |e| {
        e.timestamp > faulted && e.value == 0.0
    })
    .await;
    until_event(
        &vamp,
        &["deployments:shop", "deployment", "health"],
        "health",
        "the deployment's health 0",
        |e| e.timestamp > faulted && e.value == 0.0,
    )
    .await;
    until_event(
        &vamp,
        &[
            "deployments:shop",
            "clusters:frontend",
            "service",
            "services:frontend:1.0",
            "health",
        ],
        "health",
        "the service's health 0",
        |e| e.timestamp > faulted && e.value == 0.0,
    )
    .await;

    // a window holding only requests after the fault: the embedded agent sums requests into 5 s buckets, so a
    // window may count up to one bucket more; one more second of margin
    let elapsed = faulted_at.elapsed();
    let settle = Duration::from_secs(WINDOW_S + AGENT_BUCKET_S + 1);
    if elapsed < settle {
        tokio::time::sleep(settle - elapsed).await;
    }
    let base = format!("{}/api/v1", running.api);
    let figures = api_json(
        &client,
        format!("{base}/metrics/gateways/{INTERNAL}/routes/{ROUTE}/figures?window={WINDOW_S}"),
    )
    .await;
    let answered = load.answered.load(Ordering::Relaxed);
    load.stop().await;
    let requests = figures["requests"].as_u64().unwrap();
    let errors = figures["errors"].as_u64().unwrap();
    let error_rate = figures["errorRate"].as_f64().unwrap();
    let score = figures["score"].as_f64().unwrap();
    assert!(
        requests >= 20,
        "too few requests in the window to judge: {figures}"
    );
    assert!(errors > 0, "{figures}");
    assert!(
        (0.15..=0.25).contains(&error_rate),
        "error rate {error_rate}: {figures}"
    );
    assert_eq!(figures["health"], 0.0, "{figures}");
    assert!(score < 1.0 && score > 0.5, "score {score}: {figures}");
    let gateway_health = api_json(&client, format!("{base}/health/gateways/{INTERNAL}")).await;
    assert_eq!(gateway_health, 0.0);
    let deployment_health = api_json(&client, format!("{base}/health/deployments/shop")).await;
    assert_eq!(deployment_health, 0.0);
    let five_xx = api_json(
        &client,
        format!("{base}/metrics/deployments/shop/clusters/frontend/services/frontend:1.0/errors"),
    )
    .await;
    assert!(five_xx.as_f64().is_some_and(|n| n > 0.0), "{five_xx}");
    eprintln!(
        "pulse_live: {answered} requests sent; the route's last {WINDOW_S} s: {requests} requests, {errors} 5xx, error rate {error_rate:.3}, score {score:.3}"
    );

    vamp.delete(Kind::Deployment, "shop", &WriteOptions::default())
        .await
        .unwrap();
    vamp.wait_for("shop", |d| d.is_none(), CONVERGE).await.unwrap();
    drop(vamp);
    running.stop().await;
}
