//! Conformance cases of [`ContainerDriver`]: info, listing, deploy (health checks included), update, scale,
//! undeploy and isolation.
//!
//! Every case deploys into a random namespace of its own and undeploys what it deployed when it passes. What
//! to run comes from a [`DriverFixture`], so a Docker driver can run a real image and a process driver a real
//! command.

use std::time::Duration;

use super::{err, ok, unique};
use crate::driver::{ContainerDriver, RunningService, ServiceId, ServiceSpec};
use crate::model::{Deployable, HealthCheck, Port, Scale, Seconds};
use crate::ErrorKind;

/// What the driver cases deploy, and how long they wait for instances to run.
#[derive(Debug, Clone)]
pub struct DriverFixture {
    /// What every case runs; must be of a type the driver accepts and keep running until undeployed.
    pub deployable: Deployable,
    /// The ports the deployable listens on.
    pub ports: Vec<Port>,
    /// The scale of one instance; keep it small for real schedulers.
    pub scale: Scale,
    /// How long instances may take to run (image pulls included).
    pub settle: Duration,
}

impl Default for DriverFixture {
    /// A Docker image reference nothing pulls (for drivers that only record specs), one HTTP port, 0.1 CPU,
    /// 64 MB, one instance, one minute to settle.
    fn default() -> Self {
        DriverFixture {
            deployable: Deployable::docker("vamp/conformance:1.0"),
            ports: vec![Port {
                name: "web".to_string(),
                value: "8080".to_string(),
                protocol: Default::default(),
            }],
            scale: Scale::new(0.1, 64.0, 1),
            settle: Duration::from_secs(60),
        }
    }
}

impl DriverFixture {
    /// A spec of the fixture for `service` in `cluster` of deployment `shop` in `namespace`, with one variable.
    pub fn spec(&self, namespace: &str, cluster: &str, service: &str) -> ServiceSpec {
        let mut spec = ServiceSpec::new(
            ServiceId::new(namespace, "shop", cluster, service),
            self.deployable.clone(),
            self.scale.clone(),
        );
        spec.ports = self.ports.clone();
        spec.environment
            .insert("VAMP_CONFORMANCE".to_string(), "1".to_string());
        spec
    }
}

/// The fixture given to [`driver_conformance!`](crate::driver_conformance), or the default one.
pub fn fixture_or_default<const N: usize>(given: [DriverFixture; N]) -> DriverFixture {
    given.into_iter().next().unwrap_or_default()
}

fn namespace() -> String {
    unique("vt")
}

async fn list(driver: &dyn ContainerDriver, namespace: &str) -> Vec<RunningService> {
    ok(&format!("list {namespace}"), driver.list(namespace).await)
}

async fn deploy(driver: &dyn ContainerDriver, spec: &ServiceSpec) {
    ok(&format!("deploy {}", spec.id), driver.deploy(spec).await);
}

async fn undeploy(driver: &dyn ContainerDriver, id: &ServiceId) {
    ok(&format!("undeploy {id}"), driver.undeploy(id).await);
}

async fn listed(driver: &dyn ContainerDriver, id: &ServiceId) -> RunningService {
    let services = list(driver, &id.namespace).await;
    match services.into_iter().find(|s| s.id == *id) {
        Some(service) => service,
        None => panic!("list does not report {id} after deploy returned Ok"),
    }
}

/// Lists until `done` holds for the service or the fixture's settle time passes.
async fn wait_for(
    driver: &dyn ContainerDriver,
    fixture: &DriverFixture,
    id: &ServiceId,
    what: &str,
    done: impl Fn(&RunningService) -> bool,
) -> RunningService {
    let deadline = tokio::time::Instant::now() + fixture.settle;
    loop {
        let service = listed(driver, id).await;
        if done(&service) {
            return service;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "{id}: {what} did not happen within {:?}; last listed: {service:?}",
                fixture.settle
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `info` names the driver and accepts the fixture's deployable.
pub async fn info_names_the_driver(driver: &dyn ContainerDriver, fixture: &DriverFixture) {
    let info = ok("info", driver.info().await);
    assert!(!info.kind.is_empty(), "info has no kind");
    assert!(
        info.accepts(&fixture.deployable),
        "info does not list the fixture's type: {info:?}"
    );
}

/// A namespace nothing was deployed to lists nothing.
pub async fn list_of_an_unused_namespace_is_empty(driver: &dyn ContainerDriver, _fixture: &DriverFixture) {
    assert!(list(driver, &namespace()).await.is_empty());
}

/// After `deploy`, `list` reports the service with the spec's deployable, scale and environment.
pub async fn deploy_then_list_reports_the_service(driver: &dyn ContainerDriver, fixture: &DriverFixture) {
    let spec = fixture.spec(&namespace(), "web", "sava");
    deploy(driver, &spec).await;
    let service = listed(driver, &spec.id).await;
    assert_eq!(
        service.deployable.normalized_kind(),
        spec.deployable.normalized_kind()
    );
    assert_eq!(service.deployable.definition, spec.deployable.definition);
    assert!(
        service.scale.same_resources(&spec.scale),
        "scale {:?} is not {:?}",
        service.scale,
        spec.scale
    );
    assert_eq!(
        service.environment.get("VAMP_CONFORMANCE").map(String::as_str),
        Some("1")
    );
    undeploy(driver, &spec.id).await;
}

/// After `deploy`, `list` reports the spec's health checks, or `None` when the driver cannot tell them.
pub async fn deploy_then_list_reports_the_health_checks_or_none(
    driver: &dyn ContainerDriver,
    fixture: &DriverFixture,
) {
    let mut spec = fixture.spec(&namespace(), "web", "sava");
    spec.health_checks = fixture
        .ports
        .iter()
        .take(1)
        .map(|port| HealthCheck {
            path: "/".to_string(),
            port: port.name.clone(),
            initial_delay: Seconds(30),
            timeout: Seconds(5),
            interval: Seconds(10),
            failures: 3,
            protocol: "TCP".to_string(),
        })
        .collect();
    deploy(driver, &spec).await;
    let service = listed(driver, &spec.id).await;
    if let Some(checks) = &service.health_checks {
        assert_eq!(
            checks, &spec.health_checks,
            "list reports other health checks than deployed"
        );
    }
    undeploy(driver, &spec.id).await;
}

/// Deploying the same spec twice leaves one service.
pub async fn deploy_is_idempotent(driver: &dyn ContainerDriver, fixture: &DriverFixture) {
    let spec = fixture.spec(&namespace(), "web", "sava");
    deploy(driver, &spec).await;
    deploy(driver, &spec).await;
    let services = list(driver, &spec.id.namespace).await;
    assert_eq!(
        services.iter().filter(|s| s.id == spec.id).count(),
        1,
        "{services:?}"
    );
    assert_eq!(services.len(), 1, "{services:?}");
    undeploy(driver, &spec.id).await;
}

/// Deploying a changed spec updates the environment and the scale.
pub async fn deploy_updates_environment_and_scale(driver: &dyn ContainerDriver, fixture: &DriverFixture) {
    let mut spec = fixture.spec(&namespace(), "web", "sava");
    deploy(driver, &spec).await;
    spec.environment
        .insert("VAMP_CONFORMANCE".to_string(), "2".to_string());
    spec.scale.instances += 1;
    deploy(driver, &spec).await;
    let service = wait_for(driver, fixture, &spec.id, "the update", |s| {
        s.environment.get("VAMP_CONFORMANCE").map(String::as_str) == Some("2")
    })
    .await;
    assert_eq!(
        service.scale.instances, spec.scale.instances,
        "the requested instance count was not updated"
    );
    undeploy(driver, &spec.id).await;
}

/// Instances reach the requested count and run, each with a host and every port of the spec.
pub async fn instances_reach_the_requested_scale(driver: &dyn ContainerDriver, fixture: &DriverFixture) {
    let mut spec = fixture.spec(&namespace(), "web", "sava");
    spec.scale.instances = 2;
    deploy(driver, &spec).await;
    let service = wait_for(driver, fixture, &spec.id, "two running instances", |s| {
        s.health.running == 2 && s.instances.iter().filter(|i| i.deployed).count() == 2
    })
    .await;
    for instance in &service.instances {
        assert!(
            !instance.host.is_empty(),
            "instance {} has no host",
            instance.name
        );
        for port in &spec.ports {
            assert!(
                instance.ports.contains_key(&port.name),
                "instance {} lacks port '{}'",
                instance.name,
                port.name
            );
        }
    }
    undeploy(driver, &spec.id).await;
}

/// After `undeploy`, `list` no longer reports the service.
pub async fn undeploy_removes_the_service(driver: &dyn ContainerDriver, fixture: &DriverFixture) {
    let spec = fixture.spec(&namespace(), "web", "sava");
    deploy(driver, &spec).await;
    undeploy(driver, &spec.id).await;
    let services = list(driver, &spec.id.namespace).await;
    assert!(
        services.iter().all(|s| s.id != spec.id),
        "still listed after undeploy: {services:?}"
    );
}

/// Undeploying a service that does not run is `Ok`, also twice.
pub async fn undeploy_of_an_absent_service_is_ok(driver: &dyn ContainerDriver, _fixture: &DriverFixture) {
    let id = ServiceId::new(namespace(), "shop", "web", "never-deployed");
    undeploy(driver, &id).await;
    undeploy(driver, &id).await;
}

/// A namespace lists only its own services.
pub async fn list_is_scoped_to_its_namespace(driver: &dyn ContainerDriver, fixture: &DriverFixture) {
    let (mine, other) = (namespace(), namespace());
    let spec = fixture.spec(&mine, "web", "sava");
    deploy(driver, &spec).await;
    assert!(
        list(driver, &other).await.is_empty(),
        "another namespace sees the service"
    );
    assert_eq!(list(driver, &mine).await.len(), 1);
    undeploy(driver, &spec.id).await;
}

/// Services that differ only by cluster, or only by service name, are different services.
pub async fn services_are_told_apart_by_cluster_and_service(
    driver: &dyn ContainerDriver,
    fixture: &DriverFixture,
) {
    let ns = namespace();
    let specs = [
        fixture.spec(&ns, "a", "sava"),
        fixture.spec(&ns, "b", "sava"),
        fixture.spec(&ns, "a", "other"),
    ];
    for spec in &specs {
        deploy(driver, spec).await;
    }
    let ids: Vec<ServiceId> = list(driver, &ns).await.into_iter().map(|s| s.id).collect();
    for spec in &specs {
        assert!(ids.contains(&spec.id), "{} is missing from {ids:?}", spec.id);
    }
    undeploy(driver, &specs[0].id).await;
    let left: Vec<ServiceId> = list(driver, &ns).await.into_iter().map(|s| s.id).collect();
    assert_eq!(
        left,
        [specs[2].id.clone(), specs[1].id.clone()],
        "undeploying one service touched another"
    );
    for spec in &specs[1..] {
        undeploy(driver, &spec.id).await;
    }
}

/// `list` is sorted by service id.
pub async fn list_is_sorted_by_service_id(driver: &dyn ContainerDriver, fixture: &DriverFixture) {
    let ns = namespace();
    let specs = [
        fixture.spec(&ns, "c", "x"),
        fixture.spec(&ns, "a", "y"),
        fixture.spec(&ns, "b", "x"),
    ];
    for spec in &specs {
        deploy(driver, spec).await;
    }
    let clusters: Vec<String> = list(driver, &ns)
        .await
        .into_iter()
        .map(|s| s.id.cluster)
        .collect();
    assert_eq!(clusters, ["a", "b", "c"]);
    for spec in &specs {
        undeploy(driver, &spec.id).await;
    }
}

/// A deployable type the driver does not list is `Unsupported`, and nothing is deployed.
pub async fn an_unknown_deployable_type_is_unsupported(
    driver: &dyn ContainerDriver,
    fixture: &DriverFixture,
) {
    let mut spec = fixture.spec(&namespace(), "web", "sava");
    spec.deployable = Deployable {
        kind: "vamp/conformance-unknown".to_string(),
        definition: "x".to_string(),
    };
    let e = err("deploy of an unknown type", driver.deploy(&spec).await);
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        list(driver, &spec.id.namespace).await.is_empty(),
        "a refused deploy left a service behind"
    );
}
