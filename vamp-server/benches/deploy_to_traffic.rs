//! Time from deploy to traffic, and memory.
//!
//! ```text
//! cargo bench -p vamp-server --bench deploy_to_traffic
//! ```
//!
//! 1. Idle RSS of a process holding a running `Vamp` (memory backends, loops running), then RSS and the time to
//!    converge with 1,000 deployments (one cluster, one service, one port each: 1,000 internal gateways) on
//!    the memory driver, which runs nothing — this measures the server, not the services.
//! 2. Deploy to traffic with the embedded default (SQLite, process driver running `vamp-demo-service`, the
//!    embedded agent and a real HAProxy): from `deploy()` of a blueprint with a gateway to the first 200
//!    through that gateway, and undeploy. Baseline in the same run: the process driver alone, from
//!    `driver.deploy()` to the first 200 from the instance itself.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{demo_dir, free_port, free_range, get, ProcessCleanup, TempDir};
use vamp_core::driver::{ContainerDriver, ServiceId, ServiceSpec};
use vamp_core::dsl;
use vamp_core::memory::MemoryDriver;
use vamp_core::model::{Artifact, Deployable, Port, Scale};
use vamp_core::ops::gateways::PortRange;
use vamp_drivers::process::ProcessDriver;
use vamp_server::agent::{embedded_with, process_config};
use vamp_server::ops::converged;
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const ROUNDS: usize = 5;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn stats(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let median = samples[samples.len() / 2];
    (samples[0], median, samples[samples.len() - 1])
}

async fn run_in_background(vamp: &Vamp) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let v = vamp.clone();
    tokio::spawn(async move {
        v.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    tx
}

async fn memory(deployments: usize) -> (f64, f64, Duration) {
    let mut settings = ServerSettings::default();
    settings.synchronization.busy_period_ms = 100;
    let vamp = Vamp::builder()
        .driver(Arc::new(MemoryDriver::new()))
        .config(settings)
        .build()
        .unwrap();
    let stop = run_in_background(&vamp).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_mb();
    let started = Instant::now();
    for i in 0..deployments {
        let text = format!(
            "name: d{i}\nclusters:\n  web:\n    services:\n      breed:\n        name: web-{i}:1.0\n        deployable: acme/web:{i}\n        ports: {{web: 8080/http}}\n      scale: {{cpu: 0.1, memory: 64MB, instances: 1}}\n"
        );
        let bp = Artifact::Blueprint(dsl::read_deployment_request(&text).unwrap());
        vamp.deploy(&format!("d{i}"), bp, &WriteOptions::default())
            .await
            .unwrap();
    }
    let last = format!("d{}", deployments - 1);
    loop {
        let all = vamp
            .list_with(
                vamp_core::model::Kind::Deployment,
                vamp_core::store::Page::new(1, 1000).unwrap(),
                &Default::default(),
            )
            .await
            .unwrap();
        let done = all
            .items
            .iter()
            .filter(|a| matches!(a, Artifact::Deployment(d) if converged(d)))
            .count();
        if done == deployments {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{last}: only {done} converged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let converge = started.elapsed();
    let loaded = rss_mb();
    let _ = stop.send(());
    (idle, loaded, converge)
}

async fn first_200(port: u16, deadline: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if tokio::task::spawn_blocking(move || get(port))
            .await
            .unwrap()
            .is_some_and(|(c, _)| c == 200)
        {
            return started.elapsed();
        }
        assert!(started.elapsed() < deadline, "no 200 on port {port}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn deploy_to_traffic() -> (Vec<f64>, Vec<f64>) {
    let data = TempDir::new("vamp-bench-d2t");
    let mut processes = process_config(data.path());
    processes.search_path = vec![demo_dir().to_path_buf()];
    processes.poll_interval = Duration::from_millis(50);
    processes.stop_on_drop = true;
    let _cleanup = ProcessCleanup(processes.clone());

    let mut baseline = Vec::new();
    {
        let mut direct = processes.clone();
        direct.state_dir = data.path().join("direct");
        let driver = ProcessDriver::new(direct).await.unwrap();
        for i in 0..ROUNDS {
            let id = ServiceId::new("bench", format!("b{i}"), "web", "demo:1.0");
            let mut spec = ServiceSpec::new(
                id.clone(),
                Deployable {
                    kind: "process".into(),
                    definition: "vamp-demo-service --name direct".into(),
                },
                Scale::new(0.1, 32.0, 1),
            );
            spec.ports = vec![Port::parse("web", "8080/http").unwrap()];
            let started = Instant::now();
            driver.deploy(&spec).await.unwrap();
            let port = loop {
                let listed = driver.list("bench").await.unwrap();
                let port = listed
                    .iter()
                    .find(|s| s.id == id)
                    .and_then(|s| s.instances.first())
                    .and_then(|i| i.ports.values().next().copied());
                if let Some(p) = port {
                    break p;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            first_200(port, Duration::from_secs(30)).await;
            baseline.push(started.elapsed().as_secs_f64() * 1000.0);
            driver.undeploy(&id).await.unwrap();
        }
    }

    let base = free_range(40);
    let mut settings = ServerSettings::default();
    settings.synchronization.busy_period_ms = 50;
    settings.gateways.port_range = PortRange::new(base, base + 39).unwrap();
    settings.gateways.vhost_bind = format!("127.0.0.1:{}", free_port());
    settings.agent.stats_bind = format!("127.0.0.1:{}", free_port());
    settings.agent.http_bind = format!("127.0.0.1:{}", free_port());
    let vamp = embedded_with(data.path(), settings, processes).await.unwrap();
    let stop = run_in_background(&vamp).await;
    let breed = "name: demo:1.0\ndeployable: {type: process, definition: vamp-demo-service --name demo}\nports: {web: 8080/http}\n";
    vamp.create(
        dsl::read(vamp_core::model::Kind::Breed, breed).unwrap(),
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    let mut samples = Vec::new();
    for i in 0..ROUNDS {
        let port = free_port();
        let text = format!(
            "name: t{i}\ngateways: {{{port}/http: web/web}}\nclusters:\n  web:\n    services:\n      breed: demo:1.0\n      scale: {{cpu: 0.1, memory: 32MB, instances: 1}}\n"
        );
        let bp = Artifact::Blueprint(dsl::read_deployment_request(&text).unwrap());
        let started = Instant::now();
        vamp.deploy(&format!("t{i}"), bp, &WriteOptions::default())
            .await
            .unwrap();
        first_200(port, Duration::from_secs(60)).await;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        vamp.delete(
            vamp_core::model::Kind::Deployment,
            &format!("t{i}"),
            &WriteOptions::default(),
        )
        .await
        .unwrap();
        vamp.wait_for(&format!("t{i}"), |d| d.is_none(), Duration::from_secs(60))
            .await
            .unwrap();
    }
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(500)).await;
    (samples, baseline)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (idle, loaded, converge) = memory(1000).await;
        println!("| measurement | value |");
        println!("|---|---|");
        println!("| idle RSS (memory backends, loops running) | {idle:.1} MB |");
        println!("| RSS with 1,000 converged deployments (memory driver) | {loaded:.1} MB |");
        println!("| 1,000 deployments: deploy() of all until all converged | {:.2} s |", converge.as_secs_f64());
        let (samples, baseline) = deploy_to_traffic().await;
        let (min, median, max) = stats(samples);
        let (bmin, bmedian, bmax) = stats(baseline);
        println!(
            "| deploy() to first 200 through HAProxy (embedded default, {ROUNDS} rounds) | min {min:.0} / median {median:.0} / max {max:.0} ms |"
        );
        println!(
            "| baseline: process driver deploy() to first 200 from the instance | min {bmin:.0} / median {bmedian:.0} / max {bmax:.0} ms |"
        );
    });
}
