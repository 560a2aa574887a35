//! What the Docker driver tests share, whichever server speaks the Docker API (dockerd or Podman): a server
//! shared by the tests of a binary, the conformance fixture, and the scenarios beyond the conformance suite —
//! real HTTP to every instance through its published loopback port, a fresh driver rebuilding the services from
//! labels, the docker dialect, cpu and memory limits, health checks, rolling replacement and scaling.
//!
//! Nothing can be pulled here, so every test runs `vamp-test/busybox:1`, which the testkit imports from the
//! static busybox. The deployable of the fixture is just that image: like any real image it carries its
//! command (`busybox httpd` on port 8080, set at import), and the dialect scenario overrides it with `Cmd`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use serde_json::json;
use vamp_core::driver::{ContainerDriver, DriverInfo, RunningService, ServiceId, ServiceSpec};
use vamp_core::model::{Deployable, HealthCheck, Port, Protocol, Scale, Seconds};
use vamp_core::testkit::driver::DriverFixture;
use vamp_core::testkit::servers::{build_busybox_image, TestServer, BUSYBOX_TEST_IMAGE, BUSYBOX_TEST_PORT};
use vamp_core::testkit::unique;
use vamp_core::{ErrorKind, Result};
use vamp_drivers::docker::DockerDriver;

/// One `#[tokio::test]` per scenario of this module, against `$shared`'s server, skipped when
/// `VAMP_TEST_SKIP` names `$skip`.
macro_rules! docker_scenarios {
    ($shared:ident, $skip:literal, [$($name:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if vamp_core::testkit::skip($skip) {
                    return;
                }
                let lease = $shared.lease();
                docker_support::$name(&lease).await;
            }
        )*
    };
}

/// One Docker API server for the binary: started (and given the test image) by the first lease, stopped (its
/// containers removed, its bridge deleted) when the last lease is dropped.
pub struct Shared {
    start: fn() -> std::result::Result<TestServer, String>,
    state: Mutex<(Option<TestServer>, usize)>,
}

impl Shared {
    /// A shared server made by `start` (`TestServer::dockerd` or `TestServer::podman`).
    pub const fn new(start: fn() -> std::result::Result<TestServer, String>) -> Self {
        Shared {
            start,
            state: Mutex::new((None, 0)),
        }
    }

    fn state(&self) -> MutexGuard<'_, (Option<TestServer>, usize)> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A hold on the running server, starting it if no lease holds it. Fails the test when it cannot start.
    pub fn lease(&'static self) -> Lease {
        let mut state = self.state();
        if state.0.is_none() {
            let server = (self.start)().unwrap_or_else(|e| panic!("the Docker API server cannot start: {e}"));
            let host = server.docker_host().unwrap_or_default();
            if let Err(e) = build_busybox_image(&host) {
                panic!("the test image cannot be built: {e}");
            }
            state.0 = Some(server);
        }
        state.1 += 1;
        let host = state
            .0
            .as_ref()
            .and_then(TestServer::docker_host)
            .unwrap_or_default();
        Lease { shared: self, host }
    }
}

/// A hold on a [`Shared`] server.
pub struct Lease {
    shared: &'static Shared,
    host: String,
}

impl Lease {
    /// The driver URL of the server: pulling off, a 5 s stop timeout.
    pub fn url(&self) -> String {
        format!(
            "{}?pull=false&stop-timeout=5",
            self.host.replacen("unix://", "docker://", 1)
        )
    }

    /// A new driver for the server.
    pub fn driver(&self) -> DockerDriver {
        DockerDriver::connect(&self.url()).expect("the driver URL is valid")
    }

    /// A bollard client of the server, to look behind the driver's back.
    pub fn docker(&self) -> Docker {
        let socket = self.host.trim_start_matches("unix://");
        Docker::connect_with_unix(
            socket,
            60,
            &bollard::ClientVersion {
                major_version: 1,
                minor_version: 41,
            },
        )
        .expect("a bollard client for the test server")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        state.1 = state.1.saturating_sub(1);
        if state.1 == 0 {
            state.0 = None;
        }
    }
}

/// A driver holding a lease on the shared server as long as it lives.
pub struct Leased {
    _lease: Lease,
    driver: DockerDriver,
}

impl Leased {
    /// A driver of `shared`'s server, holding a lease on it.
    pub fn new(shared: &'static Shared) -> std::sync::Arc<Leased> {
        let lease = shared.lease();
        let driver = lease.driver();
        std::sync::Arc::new(Leased {
            _lease: lease,
            driver,
        })
    }
}

#[async_trait]
impl ContainerDriver for Leased {
    async fn info(&self) -> Result<DriverInfo> {
        self.driver.info().await
    }
    async fn list(&self, namespace: &str) -> Result<Vec<RunningService>> {
        self.driver.list(namespace).await
    }
    async fn deploy(&self, spec: &ServiceSpec) -> Result<()> {
        self.driver.deploy(spec).await
    }
    async fn undeploy(&self, id: &ServiceId) -> Result<()> {
        self.driver.undeploy(id).await
    }
}

/// A breed port named `web`.
pub fn web_port(number: u16) -> Port {
    Port {
        name: "web".to_string(),
        value: number.to_string(),
        protocol: Protocol::Http,
    }
}

/// The conformance fixture: the busybox test image, its port 8080, 0.1 CPU, 64 MB.
pub fn fixture() -> DriverFixture {
    DriverFixture {
        deployable: Deployable::docker(BUSYBOX_TEST_IMAGE),
        ports: vec![web_port(BUSYBOX_TEST_PORT)],
        scale: Scale::new(0.1, 64.0, 1),
        settle: Duration::from_secs(60),
    }
}

/// `GET path` from `host:port`, retried until it answers 200 or 30 s pass (a container reported running may
/// not listen yet); the body, or `None`. CGI answers end their headers with bare newlines, so both separators
/// are accepted.
pub fn http_get(host: &str, port: u16, path: &str) -> Option<String> {
    let mut body = None;
    vamp_core::testkit::servers::wait_until(Duration::from_secs(30), || {
        body = http_get_once(host, port, path);
        body.is_some()
    });
    body
}

/// One `GET`: the body of a 200 answer, or `None`.
fn http_get_once(host: &str, port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect((host, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (status, rest) = out.split_once("\r\n")?;
    status.split_whitespace().nth(1).filter(|code| *code == "200")?;
    let body = match (rest.find("\r\n\r\n"), rest.find("\n\n")) {
        (Some(crlf), Some(lf)) if lf < crlf => rest.get(lf + 2..),
        (Some(crlf), _) => rest.get(crlf + 4..),
        (None, Some(lf)) => rest.get(lf + 2..),
        (None, None) => None,
    };
    body.map(str::to_string)
}

/// The fixture's spec for `service` in cluster `web`, with `instances` instances.
pub fn spec(namespace: &str, service: &str, instances: u32) -> ServiceSpec {
    let mut spec = fixture().spec(namespace, "web", service);
    spec.scale.instances = instances;
    spec
}

/// Lists until `done` holds for the service, for up to a minute.
pub async fn wait_for(
    driver: &DockerDriver,
    id: &ServiceId,
    what: &str,
    done: impl Fn(&RunningService) -> bool,
) -> RunningService {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let listed = driver.list(&id.namespace).await.expect("list");
        let service = listed.into_iter().find(|s| s.id == *id);
        if let Some(s) = service.as_ref().filter(|s| done(s)) {
            return s.clone();
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("{id}: {what} did not happen within a minute; last listed: {service:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether `count` instances are listed and all are deployed.
pub fn all_deployed(count: usize) -> impl Fn(&RunningService) -> bool {
    move |s| s.instances.len() == count && s.instances.iter().all(|i| i.deployed)
}

/// Container ids of a service, by label, straight from Docker.
pub async fn container_ids(docker: &Docker, id: &ServiceId) -> Vec<String> {
    let filters: HashMap<&str, Vec<String>> = [(
        "label",
        vec![
            format!("io.vamp.namespace={}", id.namespace),
            format!("io.vamp.service={}", id.service),
        ],
    )]
    .into_iter()
    .collect();
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let mut ids: Vec<String> = docker
        .list_containers(Some(options))
        .await
        .expect("list containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect();
    ids.sort();
    ids
}

/// The environment of the container behind `host:port`, from the image's `/cgi-bin/env`.
pub async fn environment_of(host: &str, port: u16) -> String {
    let (host, path) = (host.to_string(), "/cgi-bin/env");
    tokio::task::spawn_blocking(move || http_get(&host, port, path))
        .await
        .expect("the HTTP request ran")
        .unwrap_or_else(|| panic!("no answer from {port}{path}"))
}

/// Three instances each answer HTTP on their own published loopback port, each from its own container with
/// the spec's environment.
pub async fn every_instance_answers_http_on_its_published_loopback_port(lease: &Lease) {
    let driver = lease.driver();
    let spec = spec(&unique("dk"), "sava", 3);
    driver.deploy(&spec).await.expect("deploy");
    let service = wait_for(&driver, &spec.id, "three running instances", all_deployed(3)).await;
    let mut hostnames = Vec::new();
    for instance in &service.instances {
        assert_eq!(instance.host, "127.0.0.1", "{instance:?}");
        let port = instance.ports["web"];
        let (host, index) = (instance.host.clone(), "/index.html");
        let body = tokio::task::spawn_blocking(move || http_get(&host, port, index))
            .await
            .expect("the HTTP request ran");
        assert_eq!(body.as_deref(), Some("hello from vamp-test\n"), "{instance:?}");
        let env = environment_of(&instance.host, port).await;
        assert!(
            env.contains("VAMP_CONFORMANCE=1"),
            "the container lacks the spec's variable: {env}"
        );
        hostnames.extend(
            env.lines()
                .filter(|l| l.starts_with("HOSTNAME="))
                .map(str::to_string),
        );
    }
    hostnames.sort();
    hostnames.dedup();
    assert_eq!(hostnames.len(), 3, "three instances should be three containers");
    driver.undeploy(&spec.id).await.expect("undeploy");
}

/// A driver that deployed nothing lists what another deployed, from labels: deployable, scale, environment,
/// health checks and instances.
pub async fn a_fresh_driver_rebuilds_the_services_from_labels(lease: &Lease) {
    let first = lease.driver();
    let mut spec = spec(&unique("dk"), "sava:1.0", 2);
    spec.scale = Scale::new(0.2, 80.0, 2);
    spec.environment.insert("GREETING".into(), "hi there=1".into());
    spec.health_checks = vec![HealthCheck {
        path: "/index.html".into(),
        port: "web".into(),
        initial_delay: Seconds(0),
        timeout: Seconds(2),
        interval: Seconds(1),
        failures: 3,
        protocol: "HTTP".into(),
    }];
    first.deploy(&spec).await.expect("deploy");
    let seen = wait_for(&first, &spec.id, "two running instances", |s| {
        s.health.running == 2 && s.instances.iter().all(|i| i.ports.contains_key("web"))
    })
    .await;
    let fresh = lease.driver();
    let rebuilt = fresh.list(&spec.id.namespace).await.expect("list");
    assert_eq!(rebuilt.len(), 1, "{rebuilt:?}");
    let rebuilt = &rebuilt[0];
    assert_eq!(rebuilt.id, spec.id);
    assert_eq!(rebuilt.deployable, spec.deployable);
    assert!(rebuilt.scale.same_resources(&spec.scale) && rebuilt.scale.instances == 2);
    assert_eq!(rebuilt.environment, spec.environment);
    assert_eq!(rebuilt.health_checks.as_ref(), Some(&spec.health_checks));
    let where_ = |s: &RunningService| -> Vec<(String, String, u16)> {
        s.instances
            .iter()
            .map(|i| (i.name.clone(), i.host.clone(), i.ports["web"]))
            .collect()
    };
    assert_eq!(
        where_(rebuilt),
        where_(&seen),
        "a fresh driver finds other instances"
    );
    fresh
        .undeploy(&spec.id)
        .await
        .expect("undeploy by the fresh driver");
    assert!(first.list(&spec.id.namespace).await.expect("list").is_empty());
}

/// The dialect's `Cmd`, `WorkingDir`, `Labels` and `HostConfig.ShmSize` reach the container; its `Image`,
/// `io.vamp.*` label and `Memory` lose to Vamp's.
pub async fn the_docker_dialect_merges_into_the_container_and_vamp_fields_win(lease: &Lease) {
    let driver = lease.driver();
    let mut spec = spec(&unique("dk"), "sava", 1);
    spec.ports = vec![web_port(9090)];
    spec.dialects.insert(
        "docker".into(),
        json!({
            "Cmd": ["/bin/busybox", "httpd", "-f", "-p", "9090", "-h", "/www"],
            "WorkingDir": "/www",
            "Image": "something/else:1",
            "Labels": {"team": "checkout", "io.vamp.service": "forged"},
            "HostConfig": {"Memory": 1, "ShmSize": 8388608}
        }),
    );
    driver.deploy(&spec).await.expect("deploy");
    let service = wait_for(&driver, &spec.id, "a running instance", all_deployed(1)).await;
    let instance = &service.instances[0];
    let (host, port) = (instance.host.clone(), instance.ports["web"]);
    let body = tokio::task::spawn_blocking(move || http_get(&host, port, "/"))
        .await
        .expect("the HTTP request ran");
    assert_eq!(
        body.as_deref(),
        Some("hello from vamp-test\n"),
        "the dialect's Cmd did not run httpd on 9090"
    );
    let inspected = lease
        .docker()
        .inspect_container(&instance.name, None::<InspectContainerOptions>)
        .await
        .expect("inspect");
    let config = inspected.config.expect("config");
    let host_config = inspected.host_config.expect("host config");
    assert_eq!(config.working_dir.as_deref(), Some("/www"));
    let image = config.image.unwrap_or_default();
    assert_eq!(
        image.trim_start_matches("docker.io/"),
        BUSYBOX_TEST_IMAGE,
        "the dialect replaced the image (Podman writes it fully qualified)"
    );
    let labels = config.labels.expect("labels");
    assert_eq!(labels.get("team").map(String::as_str), Some("checkout"));
    assert_eq!(labels.get("io.vamp.service").map(String::as_str), Some("sava"));
    assert_eq!(host_config.shm_size, Some(8_388_608));
    assert_eq!(host_config.memory, Some(64 * 1024 * 1024));
    driver.undeploy(&spec.id).await.expect("undeploy");
}

/// A dialect key Docker does not know is `Invalid`, naming the key, and nothing is deployed.
pub async fn an_unknown_dialect_key_is_invalid_before_anything_runs(lease: &Lease) {
    let driver = lease.driver();
    let mut spec = spec(&unique("dk"), "sava", 1);
    spec.dialects
        .insert("docker".into(), json!({"labels": {"team": "a"}}));
    let e = driver
        .deploy(&spec)
        .await
        .expect_err("a lowercase key is not Docker's");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("labels"), "{e}");
    assert!(driver.list(&spec.id.namespace).await.expect("list").is_empty());
}

/// The scale's cpu and memory are the container's `NanoCpus` and `Memory`.
pub async fn cpu_and_memory_limits_come_from_the_scale(lease: &Lease) {
    let driver = lease.driver();
    let mut spec = spec(&unique("dk"), "sava", 1);
    spec.scale = Scale::new(0.25, 48.0, 1);
    driver.deploy(&spec).await.expect("deploy");
    let service = wait_for(&driver, &spec.id, "a running instance", all_deployed(1)).await;
    let inspected = lease
        .docker()
        .inspect_container(&service.instances[0].name, None::<InspectContainerOptions>)
        .await
        .expect("inspect");
    let host_config = inspected.host_config.expect("host config");
    assert_eq!(host_config.nano_cpus, Some(250_000_000));
    assert_eq!(host_config.memory, Some(48 * 1024 * 1024));
    driver.undeploy(&spec.id).await.expect("undeploy");
}

/// An HTTP and a TCP check that pass make the instance healthy; a check of a missing page makes it unhealthy
/// and not deployed.
pub async fn health_checks_run_inside_the_container(lease: &Lease) {
    let driver = lease.driver();
    let ns = unique("dk");
    let check = |path: &str, protocol: &str| HealthCheck {
        path: path.into(),
        port: "web".into(),
        initial_delay: Seconds(0),
        timeout: Seconds(2),
        interval: Seconds(1),
        failures: 1,
        protocol: protocol.into(),
    };
    let mut good = spec(&ns, "good", 1);
    good.health_checks = vec![check("/index.html", "HTTP"), check("/", "TCP")];
    let mut bad = spec(&ns, "bad", 1);
    bad.health_checks = vec![check("/missing", "HTTP")];
    driver.deploy(&good).await.expect("deploy good");
    driver.deploy(&bad).await.expect("deploy bad");
    let healthy = wait_for(&driver, &good.id, "a healthy instance", |s| s.health.healthy == 1).await;
    assert!(healthy.instances[0].deployed);
    let unhealthy = wait_for(&driver, &bad.id, "an unhealthy instance", |s| {
        s.health.unhealthy == 1
    })
    .await;
    assert_eq!(unhealthy.health.running, 1);
    assert!(
        !unhealthy.instances[0].deployed,
        "an unhealthy instance is not deployed"
    );
    driver.undeploy(&good.id).await.expect("undeploy");
    driver.undeploy(&bad.id).await.expect("undeploy");
}

/// Scaling adds and removes containers and keeps the others; a changed environment replaces every container;
/// an unchanged deploy touches nothing; the record follows a scale-down.
pub async fn scaling_keeps_containers_and_a_changed_spec_replaces_them(lease: &Lease) {
    let driver = lease.driver();
    let docker = lease.docker();
    let mut spec = spec(&unique("dk"), "sava", 2);
    driver.deploy(&spec).await.expect("deploy");
    let before = container_ids(&docker, &spec.id).await;
    assert_eq!(before.len(), 2);

    spec.scale.instances = 3;
    driver.deploy(&spec).await.expect("scale up");
    let scaled = container_ids(&docker, &spec.id).await;
    assert_eq!(scaled.len(), 3);
    assert!(
        before.iter().all(|id| scaled.contains(id)),
        "scaling up replaced containers"
    );

    spec.environment.insert("VAMP_CONFORMANCE".into(), "2".into());
    driver.deploy(&spec).await.expect("update");
    let replaced = container_ids(&docker, &spec.id).await;
    assert_eq!(replaced.len(), 3, "old containers are left: {replaced:?}");
    assert!(
        replaced.iter().all(|id| !scaled.contains(id)),
        "a changed spec kept old containers"
    );
    let service = wait_for(&driver, &spec.id, "three updated instances", all_deployed(3)).await;
    for instance in &service.instances {
        let env = environment_of(&instance.host, instance.ports["web"]).await;
        assert!(env.contains("VAMP_CONFORMANCE=2"), "{}: {env}", instance.name);
    }

    spec.scale.instances = 1;
    driver.deploy(&spec).await.expect("scale down");
    let left = container_ids(&docker, &spec.id).await;
    assert_eq!(left.len(), 1);
    assert!(
        replaced.contains(&left[0]),
        "scaling down replaced the remaining container"
    );
    let listed = lease.driver().list(&spec.id.namespace).await.expect("list");
    assert_eq!(
        listed[0].scale.instances, 1,
        "the record still says {:?}",
        listed[0].scale
    );
    assert_eq!(listed[0].instances.len(), 1);

    driver.deploy(&spec).await.expect("deploy again");
    assert_eq!(
        container_ids(&docker, &spec.id).await,
        left,
        "an unchanged deploy touched containers"
    );
    driver.undeploy(&spec.id).await.expect("undeploy");
}

/// A service of zero instances is listed (from its record) until undeployed.
pub async fn zero_instances_keep_the_service_listed_until_undeployed(lease: &Lease) {
    let driver = lease.driver();
    let spec = spec(&unique("dk"), "sava", 0);
    driver.deploy(&spec).await.expect("deploy");
    let listed = driver.list(&spec.id.namespace).await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].instances.is_empty());
    assert_eq!(listed[0].scale.instances, 0);
    driver.undeploy(&spec.id).await.expect("undeploy");
    assert!(driver.list(&spec.id.namespace).await.expect("list").is_empty());
}

/// After `undeploy` no container and no record volume of the service is left.
pub async fn undeploy_leaves_no_container_and_no_record(lease: &Lease) {
    let driver = lease.driver();
    let docker = lease.docker();
    let spec = spec(&unique("dk"), "sava", 2);
    driver.deploy(&spec).await.expect("deploy");
    wait_for(&driver, &spec.id, "two running instances", all_deployed(2)).await;
    driver.undeploy(&spec.id).await.expect("undeploy");
    assert!(container_ids(&docker, &spec.id).await.is_empty());
    let filters: HashMap<&str, Vec<String>> =
        [("label", vec![format!("io.vamp.namespace={}", spec.id.namespace)])]
            .into_iter()
            .collect();
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default().filters(&filters).build(),
        ))
        .await
        .expect("list volumes");
    assert!(
        volumes.volumes.unwrap_or_default().is_empty(),
        "the record volume is left"
    );
}

/// A container with only some of the Vamp labels is not listed.
pub async fn containers_without_the_vamp_labels_are_not_listed(lease: &Lease) {
    let driver = lease.driver();
    let docker = lease.docker();
    let ns = unique("dk");
    let body = bollard::models::ContainerCreateBody {
        image: Some(BUSYBOX_TEST_IMAGE.to_string()),
        labels: Some(
            [("io.vamp.namespace".to_string(), ns.clone())]
                .into_iter()
                .collect(),
        ),
        ..Default::default()
    };
    let name = format!("{ns}-foreign");
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .expect("create a foreign container");
    assert!(driver.list(&ns).await.expect("list").is_empty());
    docker
        .remove_container(
            &name,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .expect("remove the foreign container");
}

/// With pulling off, an image the daemon lacks is `Invalid`, naming it, and nothing is deployed.
pub async fn a_missing_image_is_invalid_and_names_it(lease: &Lease) {
    let driver = lease.driver();
    let mut spec = spec(&unique("dk"), "sava", 1);
    spec.deployable = Deployable::docker("vamp-test/absent:1");
    let e = driver.deploy(&spec).await.expect_err("the image is not there");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("vamp-test/absent:1"), "{e}");
    assert!(driver.list(&spec.id.namespace).await.expect("list").is_empty());
}
