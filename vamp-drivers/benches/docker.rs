//! Time to deploy and to undeploy 50 instances with the Docker driver, beside the bare Docker API doing the same
//! in the same run. One command: `cargo bench -p vamp-drivers --bench docker` (starts its own dockerd through the
//! testkit and imports the busybox test image; `VAMP_TEST_SKIP=docker` skips it).
//!
//! Rows, each over [`INSTANCES`] containers of the busybox test image with port 8080 published on loopback, 0.1 CPU
//! and 64 MB:
//! - **bare:** bollard `create_container` + `start_container` per container, [`PARALLELISM`] at a time (what
//!   `docker run -d` does), then `stop_container` (5 s timeout) + `remove_container`, [`PARALLELISM`] at a time.
//! - **driver:** `DockerDriver::deploy` of one service of [`INSTANCES`] instances (it checks the image, writes
//!   the record, lists the service, then creates and starts [`PARALLELISM`] at a time), then `undeploy`.
//!
//! Columns: when the call returned, when every instance answered HTTP through its published port (a `GET /` per
//! instance, polled), and when undeploy returned with nothing left. The driver also times an unchanged redeploy and
//! a `list`. Rounds alternate bare and driver so both see the same background load.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures::stream::{self, StreamExt};
use vamp_core::driver::{ContainerDriver, ServiceId, ServiceSpec};
use vamp_core::model::{Deployable, Port, Protocol, Scale};
use vamp_core::testkit::servers::{build_busybox_image, TestServer, BUSYBOX_TEST_IMAGE};
use vamp_core::testkit::{skip, unique};
use vamp_drivers::docker::DockerDriver;

/// Containers per row.
const INSTANCES: u32 = 50;
/// Containers created, started or removed at once, by both rows (the driver's default).
const PARALLELISM: usize = 8;
/// Rounds of each row.
const ROUNDS: usize = 2;

/// One measured round.
struct Row {
    client: &'static str,
    round: usize,
    deploy_returned: Duration,
    all_answer: Duration,
    undeploy: Duration,
}

fn ok<T, E: std::fmt::Display>(what: &str, r: std::result::Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Whether `GET /` on 127.0.0.1:`port` answers 200.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.") && out.split_whitespace().nth(1) == Some("200")
}

/// Polls until every port answers, checking each one until it does.
async fn until_all_answer(ports: Vec<u16>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut waiting = ports;
    while !waiting.is_empty() {
        let still =
            tokio::task::spawn_blocking(move || waiting.into_iter().filter(|p| !answers(*p)).collect())
                .await
                .unwrap_or_default();
        waiting = still;
        assert!(
            Instant::now() < deadline,
            "instances did not answer within 2 minutes"
        );
        if !waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn published_ports(docker: &Docker, label: &str) -> Vec<u16> {
    let filters: HashMap<&str, Vec<String>> = [("label", vec![label.to_string()])].into_iter().collect();
    let options = ListContainersOptionsBuilder::default().filters(&filters).build();
    ok("list containers", docker.list_containers(Some(options)).await)
        .into_iter()
        .filter_map(|c| c.ports?.into_iter().find_map(|p| p.public_port))
        .collect()
}

async fn bare_round(docker: &Docker, round: usize) -> Row {
    let label = unique("bench");
    let started = Instant::now();
    let ids: Vec<String> = stream::iter(0..INSTANCES)
        .map(|i| {
            let label = label.clone();
            async move {
                let body = ContainerCreateBody {
                    image: Some(BUSYBOX_TEST_IMAGE.to_string()),
                    labels: Some([("bench".to_string(), label.clone())].into_iter().collect()),
                    exposed_ports: Some(vec!["8080/tcp".to_string()]),
                    host_config: Some(HostConfig {
                        port_bindings: Some(
                            [(
                                "8080/tcp".to_string(),
                                Some(vec![PortBinding {
                                    host_ip: Some("127.0.0.1".to_string()),
                                    host_port: Some(String::new()),
                                }]),
                            )]
                            .into_iter()
                            .collect(),
                        ),
                        nano_cpus: Some(100_000_000),
                        memory: Some(64 * 1024 * 1024),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                let name = format!("{label}-{i}");
                let options = CreateContainerOptionsBuilder::default().name(&name).build();
                let created = ok("create", docker.create_container(Some(options), body).await);
                ok("start", docker.start_container(&created.id, None).await);
                created.id
            }
        })
        .buffer_unordered(PARALLELISM)
        .collect()
        .await;
    let deploy_returned = started.elapsed();
    until_all_answer(published_ports(docker, &format!("bench={label}")).await).await;
    let all_answer = started.elapsed();
    let removing = Instant::now();
    stream::iter(ids)
        .for_each_concurrent(PARALLELISM, |id| async move {
            let stop = StopContainerOptionsBuilder::default().t(5).build();
            ok("stop", docker.stop_container(&id, Some(stop)).await);
            let remove = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            ok("remove", docker.remove_container(&id, Some(remove)).await);
        })
        .await;
    Row {
        client: "bare",
        round,
        deploy_returned,
        all_answer,
        undeploy: removing.elapsed(),
    }
}

async fn driver_round(driver: &DockerDriver, round: usize, extras: &mut Vec<(String, Duration)>) -> Row {
    let mut spec = ServiceSpec::new(
        ServiceId::new(unique("bench"), "shop", "web", "sava"),
        Deployable::docker(BUSYBOX_TEST_IMAGE),
        Scale::new(0.1, 64.0, INSTANCES),
    );
    spec.ports = vec![Port {
        name: "web".to_string(),
        value: "8080".to_string(),
        protocol: Protocol::Http,
    }];
    let started = Instant::now();
    ok("deploy", driver.deploy(&spec).await);
    let deploy_returned = started.elapsed();
    let listed = ok("list", driver.list(&spec.id.namespace).await);
    let ports: Vec<u16> = listed
        .iter()
        .flat_map(|s| s.instances.iter().filter_map(|i| i.ports.get("web").copied()))
        .collect();
    assert_eq!(
        ports.len(),
        INSTANCES as usize,
        "not every instance has a published port"
    );
    until_all_answer(ports).await;
    let all_answer = started.elapsed();
    let again = Instant::now();
    ok("redeploy", driver.deploy(&spec).await);
    extras.push((
        format!("round {round}: unchanged redeploy of {INSTANCES}"),
        again.elapsed(),
    ));
    let listing = Instant::now();
    ok("list", driver.list(&spec.id.namespace).await);
    extras.push((
        format!("round {round}: list of {INSTANCES} instances"),
        listing.elapsed(),
    ));
    let removing = Instant::now();
    ok("undeploy", driver.undeploy(&spec.id).await);
    let undeploy = removing.elapsed();
    assert!(
        ok("list", driver.list(&spec.id.namespace).await).is_empty(),
        "undeploy left the service"
    );
    Row {
        client: "driver",
        round,
        deploy_returned,
        all_answer,
        undeploy,
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    if skip("docker") {
        return;
    }
    let runtime = ok(
        "runtime",
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    );
    let server = ok("dockerd", TestServer::dockerd());
    let host = server.docker_host().unwrap_or_default();
    ok("test image", build_busybox_image(&host));
    let (rows, extras) = runtime.block_on(async {
        let url = format!(
            "{}?pull=false&stop-timeout=5",
            host.replacen("unix://", "docker://", 1)
        );
        let driver = ok("driver", DockerDriver::connect(&url));
        let docker = ok(
            "bollard",
            Docker::connect_with_unix(
                host.trim_start_matches("unix://"),
                120,
                bollard::API_DEFAULT_VERSION,
            ),
        );
        let docker = ok("negotiate", docker.negotiate_version().await);
        let mut rows = Vec::new();
        let mut extras = Vec::new();
        for round in 1..=ROUNDS {
            rows.push(bare_round(&docker, round).await);
            rows.push(driver_round(&driver, round, &mut extras).await);
        }
        (rows, extras)
    });
    drop(server);
    println!("\n{INSTANCES} instances, {PARALLELISM} at a time\n");
    println!("| round | client | deploy returned | all answer HTTP | undeploy |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.round,
            r.client,
            seconds(r.deploy_returned),
            seconds(r.all_answer),
            seconds(r.undeploy)
        );
    }
    println!();
    for (what, took) in extras {
        println!("- {what}: {:.1} ms", took.as_secs_f64() * 1000.0);
    }
}
