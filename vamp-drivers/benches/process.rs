//! Deploy and undeploy 50 instances of the demo service with the process driver, against the same 50 processes
//! spawned with bare `std::process::Command`, measured in the same run.
//!
//! - **deploy**: from the first `deploy` call until every instance answers `GET /health` with 200;
//! - **undeploy**: from the first `undeploy` call until every process has exited (SIGTERM, they heed it).
//!
//! The baseline spawns the processes on ports it picks itself, waits for the same HTTP answers, sends one
//! `kill -TERM` naming all of them and waits for them. Run with `cargo bench -p vamp-drivers --bench process`.

#[path = "../tests/process_common/mod.rs"]
mod process_common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use process_common::{config, demo_dir, get, process_gone, state_dir, DEMO_NAME};
use vamp_core::driver::{ContainerDriver, ServiceId, ServiceSpec};
use vamp_core::model::{Deployable, Port, Scale};
use vamp_drivers::process::{ProcessDriver, ProcessEventKind};

const INSTANCES: u32 = 50;
const ROUNDS: usize = 3;
const LIMIT: Duration = Duration::from_secs(60);

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("no runtime: {e}"),
    };
    demo_dir();
    let mut rows: Vec<(String, Vec<Duration>, Vec<Duration>)> = Vec::new();
    for (label, services) in [
        ("bare std::process::Command", 0),
        ("process driver, 1 service × 50", 1),
        ("process driver, 5 services × 10", 5),
    ] {
        let mut deploys = Vec::new();
        let mut undeploys = Vec::new();
        for _ in 0..ROUNDS {
            let (deploy, undeploy) = if services == 0 {
                runtime.block_on(bare_round())
            } else {
                runtime.block_on(driver_round(services))
            };
            deploys.push(deploy);
            undeploys.push(undeploy);
        }
        rows.push((label.to_string(), deploys, undeploys));
    }
    println!("\n{INSTANCES} instances of {DEMO_NAME}, {ROUNDS} rounds each (median, min–max):\n");
    println!("| how | deploy until all answer HTTP | undeploy until all exited |");
    println!("|---|---|---|");
    for (label, deploys, undeploys) in rows {
        println!("| {label} | {} | {} |", summary(deploys), summary(undeploys));
    }
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    format!(
        "{:.0} ms ({:.0}–{:.0})",
        ms(times.get(times.len() / 2)),
        ms(times.first()),
        ms(times.last())
    )
}

/// Waits until every port answers `GET /health` with 200.
async fn all_answer(ports: &[u16]) {
    let deadline = Instant::now() + LIMIT;
    let mut pending: BTreeSet<u16> = ports.iter().copied().collect();
    while !pending.is_empty() {
        let mut answered = Vec::new();
        for port in &pending {
            if matches!(get(*port, "/health").await, Some((200, _))) {
                answered.push(*port);
            }
        }
        answered.iter().for_each(|p| {
            pending.remove(p);
        });
        assert!(
            Instant::now() < deadline,
            "{} instances never answered",
            pending.len()
        );
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn all_exited(pids: &[u32]) {
    let deadline = Instant::now() + LIMIT;
    while !pids.iter().all(|pid| process_gone(*pid)) {
        assert!(Instant::now() < deadline, "instances did not exit");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn bare_round() -> (Duration, Duration) {
    let listeners: Vec<TcpListener> = (0..INSTANCES)
        .filter_map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .filter_map(|l| Some(l.local_addr().ok()?.port()))
        .collect();
    drop(listeners);
    let binary = demo_dir().join(DEMO_NAME);
    let started = Instant::now();
    let mut children = Vec::new();
    for port in &ports {
        match std::process::Command::new(&binary)
            .args(["--name", "bare", "--port", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => children.push(child),
            Err(e) => panic!("cannot spawn the demo service: {e}"),
        }
    }
    all_answer(&ports).await;
    let deploy = started.elapsed();
    let pids: Vec<String> = children.iter().map(|c| c.id().to_string()).collect();
    let started = Instant::now();
    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .args(&pids)
        .status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM failed");
    for child in &mut children {
        let _ = child.wait();
    }
    (deploy, started.elapsed())
}

async fn driver_round(services: u32) -> (Duration, Duration) {
    let mut settings = config(&state_dir());
    settings.stop_grace = Duration::from_secs(10);
    let driver = match ProcessDriver::new(settings).await {
        Ok(driver) => driver,
        Err(e) => panic!("no driver: {e}"),
    };
    let mut events = driver.events();
    let namespace = vamp_core::testkit::unique("bench");
    let specs: Vec<ServiceSpec> = (0..services)
        .map(|n| {
            let mut spec = ServiceSpec::new(
                ServiceId::new(&namespace, "bench", "web", format!("demo-{n}")),
                Deployable {
                    kind: "process".into(),
                    definition: "vamp-demo-service --name bench".into(),
                },
                Scale::new(0.1, 16.0, INSTANCES / services),
            );
            spec.ports = Port::parse("web", "8080").into_iter().collect();
            spec
        })
        .collect();
    let started = Instant::now();
    for spec in &specs {
        if let Err(e) = driver.deploy(spec).await {
            panic!("deploy failed: {e}");
        }
    }
    let ports: Vec<u16> = specs
        .iter()
        .flat_map(|spec| driver.instances(&spec.id))
        .filter_map(|i| i.ports.values().next().copied())
        .collect();
    assert_eq!(ports.len(), INSTANCES as usize);
    all_answer(&ports).await;
    let deploy = started.elapsed();
    let mut pids = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let ProcessEventKind::Started { pid, .. } = event.kind {
            pids.push(pid);
        }
    }
    assert_eq!(
        pids.len(),
        INSTANCES as usize,
        "instances restarted during the bench"
    );
    let started = Instant::now();
    let undeploys = specs.iter().map(|spec| driver.undeploy(&spec.id));
    for result in futures::future::join_all(undeploys).await {
        if let Err(e) = result {
            panic!("undeploy failed: {e}");
        }
    }
    all_exited(&pids).await;
    let undeploy = started.elapsed();
    (deploy, undeploy)
}
