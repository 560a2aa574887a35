//! The main job, end to end, through the facade with the embedded default: SQLite under a fresh data
//! directory, the process driver running `vamp-demo-service`, the embedded gateway agent driving the real
//! `haproxy` on PATH. Deploy → merge a canary → 90/10 (measured over 500 real requests through HAProxy) →
//! slice the old version away → all traffic on the new one → restart Vamp on the same data directory → state
//! intact and traffic still served. No request fails while the canary starts. A missing `haproxy` fails the test.

mod support;

use std::time::{Duration, Instant};

use support::{demo_processes, free_port, get, haproxy_settings, ProcessCleanup, TempDir};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vamp_core::dsl;
use vamp_core::model::{Artifact, Kind, Percentage, Ref, Route};
use vamp_drivers::process::ProcessConfig;
use vamp_server::agent::embedded_with;
use vamp_server::ops::converged;
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const CONVERGE: Duration = Duration::from_secs(60);

struct Running {
    vamp: Vamp,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<vamp_core::Result<()>>>,
}

impl Running {
    async fn start(data: &std::path::Path, settings: &ServerSettings, process: ProcessConfig) -> Running {
        let vamp = embedded_with(data, settings.clone(), process).await.unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let v = vamp.clone();
        let task = tokio::spawn(async move {
            v.run(async {
                let _ = rx.await;
            })
            .await
        });
        Running {
            vamp,
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

fn settings() -> ServerSettings {
    haproxy_settings(20, "the main job")
}

fn processes(data: &std::path::Path, stop_on_drop: bool) -> ProcessConfig {
    demo_processes(data, stop_on_drop)
}

fn breed(version: &str) -> Artifact {
    let text = format!(
        "name: frontend:{version}\ndeployable:\n  type: process\n  definition: vamp-demo-service --name frontend-{version}\nports:\n  web: 8080/http\n"
    );
    dsl::read(Kind::Breed, &text).unwrap()
}

fn blueprint(text: &str) -> Artifact {
    Artifact::Blueprint(dsl::read_deployment_request(text).unwrap())
}

/// `count` requests through the gateway, each on a fresh connection: how many reached v1 and v2.
async fn traffic(port: u16, count: usize) -> (usize, usize) {
    tokio::task::spawn_blocking(move || {
        let (mut v1, mut v2) = (0, 0);
        for _ in 0..count {
            match get(port) {
                Some((200, body)) if body.contains("frontend-1.0") => v1 += 1,
                Some((200, body)) if body.contains("frontend-2.0") => v2 += 1,
                _ => {}
            }
        }
        (v1, v2)
    })
    .await
    .unwrap()
}

/// Sends batches of `batch` requests until `done` holds for one batch, failing after `CONVERGE`.
async fn until_traffic(port: u16, batch: usize, what: &str, done: impl Fn(usize, usize) -> bool) {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let (v1, v2) = traffic(port, batch).await;
        if done(v1, v2) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "traffic never showed {what}: last batch v1={v1} v2={v2}"
        );
    }
}

/// Requests on fresh connections, one after the other, until stopped: how many were answered with 200 and
/// how many were not.
struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: JoinHandle<(usize, usize)>,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::task::spawn_blocking(move || {
            let (mut ok, mut failed) = (0, 0);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match get(port) {
                    Some((200, _)) => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed)
        });
        Load { stop, task }
    }

    async fn stop(self) -> (usize, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

async fn set_weights(vamp: &Vamp, v1: u8, v2: u8) {
    let Some(Artifact::Gateway(mut internal)) = vamp.get(Kind::Gateway, "shop/frontend/web").await.unwrap()
    else {
        panic!("the internal gateway shop/frontend/web is not planned")
    };
    for route in &mut internal.routes {
        let weight = if route.path.0.contains("frontend:1.0") {
            v1
        } else {
            v2
        };
        route.route = Ref::Inline(Route {
            weight: Some(Percentage(weight)),
            ..Route::default()
        });
    }
    vamp.update(Artifact::Gateway(internal), &WriteOptions::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_release_through_haproxy_survives_a_restart() {
    let data = TempDir::new("vamp-main-job");
    let _cleanup = ProcessCleanup(processes(data.path(), true));
    let settings = settings();
    let gateway_port = free_port();

    let first = Running::start(data.path(), &settings, processes(data.path(), false)).await;
    let vamp = first.vamp.clone();
    for version in ["1.0", "2.0"] {
        vamp.create(breed(version), &WriteOptions::default())
            .await
            .unwrap();
    }
    let v1 = format!(
        "name: shop\ngateways:\n  {gateway_port}/http: frontend/web\nclusters:\n  frontend:\n    services:\n      - breed: frontend:1.0\n        scale: {{cpu: 0.1, memory: 32MB, instances: 1}}\n"
    );
    vamp.deploy("shop", blueprint(&v1), &WriteOptions::with_source(v1.clone()))
        .await
        .unwrap();
    vamp.wait_for("shop", |d| d.is_some_and(converged), CONVERGE)
        .await
        .unwrap();
    until_traffic(gateway_port, 10, "v1 only", |v1, v2| v1 == 10 && v2 == 0).await;

    let canary = "name: shop\nclusters:\n  frontend:\n    services:\n      - breed: frontend:2.0\n        scale: {cpu: 0.1, memory: 32MB, instances: 1}\n";
    let load = Load::start(gateway_port);
    vamp.deploy("shop", blueprint(canary), &WriteOptions::default())
        .await
        .unwrap();
    vamp.wait_for(
        "shop",
        |d| d.is_some_and(|d| converged(d) && d.clusters[0].services.len() == 2),
        CONVERGE,
    )
    .await
    .unwrap();
    until_traffic(gateway_port, 20, "both versions", |v1, v2| v1 > 0 && v2 > 0).await;
    let (answered, failed) = load.stop().await;
    assert!(answered > 0, "no request went through during the canary merge");
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed while the canary started",
        answered + failed
    );

    set_weights(&vamp, 90, 10).await;
    until_traffic(gateway_port, 100, "a 90/10 split", |v1, v2| {
        v1 + v2 == 100 && (85..=95).contains(&v1)
    })
    .await;
    let (v1_hits, v2_hits) = traffic(gateway_port, 500).await;
    assert_eq!(v1_hits + v2_hits, 500, "every request answered");
    let share = v1_hits as f64 / 5.0;
    assert!(
        (85.0..=95.0).contains(&share),
        "v1 got {share}% of 500 requests, not 90% ± 5"
    );

    set_weights(&vamp, 0, 100).await;
    let old = blueprint("name: shop\nclusters:\n  frontend:\n    services:\n      - breed: frontend:1.0\n");
    vamp.undeploy("shop", old, &WriteOptions::default())
        .await
        .unwrap();
    vamp.wait_for(
        "shop",
        |d| d.is_some_and(|d| converged(d) && d.clusters[0].services.len() == 1),
        CONVERGE,
    )
    .await
    .unwrap();
    until_traffic(gateway_port, 50, "v2 only", |v1, v2| v1 == 0 && v2 == 50).await;
    assert_eq!(traffic(gateway_port, 200).await, (0, 200));

    drop(vamp);
    first.stop().await;

    let second = Running::start(data.path(), &settings, processes(data.path(), true)).await;
    let vamp = second.vamp.clone();
    assert!(vamp.get(Kind::Breed, "frontend:1.0").await.unwrap().is_some());
    let shop = vamp
        .deployment("shop")
        .await
        .unwrap()
        .expect("the deployment survives the restart");
    assert_eq!(shop.clusters[0].services.len(), 1);
    assert_eq!(shop.clusters[0].services[0].breed.name, "frontend:2.0");
    until_traffic(gateway_port, 50, "v2 only after the restart", |v1, v2| {
        v1 == 0 && v2 == 50
    })
    .await;
    vamp.wait_for("shop", |d| d.is_some_and(converged), CONVERGE)
        .await
        .unwrap();

    vamp.delete(Kind::Deployment, "shop", &WriteOptions::default())
        .await
        .unwrap();
    vamp.wait_for("shop", |d| d.is_none(), CONVERGE).await.unwrap();
    drop(vamp);
    second.stop().await;
}
