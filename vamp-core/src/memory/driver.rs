//! `MemoryDriver`: records the specs it is given and reports them as running, with fake instances.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::lock;
use crate::driver::{ContainerDriver, DriverInfo, RunningService, ServiceId, ServiceSpec};
use crate::model::{Health, Instance};
use crate::{Error, ErrorKind, Result};

/// The host every fake instance runs on.
pub const MEMORY_DRIVER_HOST: &str = "127.0.0.1";
/// The deployable types the memory driver accepts.
const DEPLOYABLE_TYPES: [&str; 5] = [
    "container/docker",
    "container/rkt",
    "command",
    "process",
    "application/javascript",
];
/// The range fake instance ports are drawn from.
const PORT_BASE: u16 = 32768;
const PORT_SPAN: u64 = 28000;

/// A call the driver received, in order; what tests of the deployment loop assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverCall {
    /// `deploy` of the service.
    Deploy(ServiceId),
    /// `undeploy` of the service.
    Undeploy(ServiceId),
}

/// A container driver in process memory: `deploy` records the spec and `list` reports it, with the spec's health
/// checks, and with `scale.instances` fake instances on `127.0.0.1`, each port at a number derived from the
/// service, the instance and the port name (so the same spec always gets the same ports).
///
/// For tests of what uses a driver it can be told to fail every call, to take time on every call, and to keep
/// new instances staged until [`MemoryDriver::start_all`].
#[derive(Debug)]
pub struct MemoryDriver {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    services: BTreeMap<ServiceId, Deployed>,
    calls: Vec<DriverCall>,
    failure: Option<(ErrorKind, String)>,
    latency: Duration,
    auto_start: bool,
}

#[derive(Debug)]
struct Deployed {
    spec: ServiceSpec,
    started: bool,
}

impl Default for MemoryDriver {
    fn default() -> Self {
        MemoryDriver {
            state: Mutex::new(State {
                services: BTreeMap::new(),
                calls: Vec::new(),
                failure: None,
                latency: Duration::ZERO,
                auto_start: true,
            }),
        }
    }
}

impl MemoryDriver {
    /// A driver running nothing, whose instances start at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later call fail with `kind` and `message` until [`MemoryDriver::recover`].
    pub fn fail_with(&self, kind: ErrorKind, message: impl Into<String>) {
        lock(&self.state).failure = Some((kind, message.into()));
    }

    /// Ends the failure set by [`MemoryDriver::fail_with`].
    pub fn recover(&self) {
        lock(&self.state).failure = None;
    }

    /// Makes every later call wait `latency` before answering, to exercise callers' timeouts.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.state).latency = latency;
    }

    /// Whether instances of newly deployed or changed services run at once (`true`, the default) or stay staged
    /// until [`MemoryDriver::start_all`].
    pub fn set_auto_start(&self, auto_start: bool) {
        lock(&self.state).auto_start = auto_start;
    }

    /// Starts every staged instance.
    pub fn start_all(&self) {
        for deployed in lock(&self.state).services.values_mut() {
            deployed.started = true;
        }
    }

    /// The specs deployed now, sorted by service id.
    pub fn specs(&self) -> Vec<ServiceSpec> {
        lock(&self.state)
            .services
            .values()
            .map(|d| d.spec.clone())
            .collect()
    }

    /// Every `deploy` and `undeploy` received so far, failed ones included, in order.
    pub fn calls(&self) -> Vec<DriverCall> {
        lock(&self.state).calls.clone()
    }

    /// Waits the configured latency, then fails if a failure is set.
    async fn enter(&self) -> Result<()> {
        let latency = lock(&self.state).latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match &lock(&self.state).failure {
            Some((kind, message)) => Err(Error::new(*kind, message.clone())),
            None => Ok(()),
        }
    }
}

fn info() -> DriverInfo {
    DriverInfo {
        kind: "memory".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        deployable_types: DEPLOYABLE_TYPES.iter().map(|t| t.to_string()).collect(),
    }
}

/// FNV-1a: stable across runs and platforms, unlike `std`'s hasher.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn instance_port(id: &ServiceId, instance: u32, port: &str) -> u16 {
    let offset = stable_hash(&format!("{id}/{instance}/{port}")) % PORT_SPAN;
    PORT_BASE.saturating_add(u16::try_from(offset).unwrap_or(0))
}

fn running(deployed: &Deployed) -> RunningService {
    let spec = &deployed.spec;
    let count = spec.scale.instances;
    let instances = (0..count)
        .map(|i| Instance {
            name: format!(
                "{}-{}-{}-{i}",
                spec.id.deployment, spec.id.cluster, spec.id.service
            ),
            host: MEMORY_DRIVER_HOST.to_string(),
            ports: spec
                .ports
                .iter()
                .map(|p| (p.name.clone(), instance_port(&spec.id, i, &p.name)))
                .collect(),
            deployed: deployed.started,
        })
        .collect();
    let health = if deployed.started {
        Health {
            staged: 0,
            running: count,
            healthy: count,
            unhealthy: 0,
        }
    } else {
        Health {
            staged: count,
            running: 0,
            healthy: 0,
            unhealthy: 0,
        }
    };
    RunningService {
        id: spec.id.clone(),
        deployable: spec.deployable.clone(),
        scale: spec.scale.clone(),
        instances,
        health,
        environment: spec.environment.clone(),
        health_checks: Some(spec.health_checks.clone()),
    }
}

#[async_trait]
impl ContainerDriver for MemoryDriver {
    async fn info(&self) -> Result<DriverInfo> {
        self.enter().await?;
        Ok(info())
    }

    async fn list(&self, namespace: &str) -> Result<Vec<RunningService>> {
        self.enter().await?;
        let state = lock(&self.state);
        Ok(state
            .services
            .values()
            .filter(|d| d.spec.id.namespace == namespace)
            .map(running)
            .collect())
    }

    async fn deploy(&self, spec: &ServiceSpec) -> Result<()> {
        lock(&self.state).calls.push(DriverCall::Deploy(spec.id.clone()));
        self.enter().await?;
        if !info().accepts(&spec.deployable) {
            return Err(Error::unsupported(format!(
                "The memory driver cannot run deployables of type '{}' (service {}); it runs {}.",
                spec.deployable.kind,
                spec.id,
                DEPLOYABLE_TYPES.join(", ")
            )));
        }
        if spec.deployable.definition.trim().is_empty() {
            return Err(Error::invalid(format!(
                "The deployable of service {} has an empty definition; give an image or a command.",
                spec.id
            )));
        }
        let mut state = lock(&self.state);
        let auto_start = state.auto_start;
        match state.services.get_mut(&spec.id) {
            Some(deployed) if deployed.spec == *spec => {}
            Some(deployed) => {
                deployed.spec = spec.clone();
                deployed.started = deployed.started && auto_start;
            }
            None => {
                state.services.insert(
                    spec.id.clone(),
                    Deployed {
                        spec: spec.clone(),
                        started: auto_start,
                    },
                );
            }
        }
        Ok(())
    }

    async fn undeploy(&self, id: &ServiceId) -> Result<()> {
        lock(&self.state).calls.push(DriverCall::Undeploy(id.clone()));
        self.enter().await?;
        lock(&self.state).services.remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Deployable, Port, Scale};

    fn spec() -> ServiceSpec {
        let mut spec = ServiceSpec::new(
            ServiceId::new("ns", "shop", "web", "sava:1.0"),
            Deployable::docker("magneticio/sava:1.0"),
            Scale::new(0.2, 128.0, 2),
        );
        spec.ports = vec![Port::parse("web", "8080/http").unwrap()];
        spec
    }

    #[tokio::test]
    async fn the_same_spec_gets_the_same_ports_from_a_fresh_driver() {
        let (a, b) = (MemoryDriver::new(), MemoryDriver::new());
        a.deploy(&spec()).await.unwrap();
        b.deploy(&spec()).await.unwrap();
        let ports =
            |s: Vec<RunningService>| s[0].instances.iter().map(|i| i.ports["web"]).collect::<Vec<_>>();
        let (pa, pb) = (
            ports(a.list("ns").await.unwrap()),
            ports(b.list("ns").await.unwrap()),
        );
        assert_eq!(pa, pb);
        assert_ne!(pa[0], pa[1], "two instances share a port");
    }

    #[tokio::test]
    async fn held_instances_stay_staged_until_started() {
        let driver = MemoryDriver::new();
        driver.set_auto_start(false);
        driver.deploy(&spec()).await.unwrap();
        let listed = driver.list("ns").await.unwrap();
        assert_eq!(
            listed[0].health,
            Health {
                staged: 2,
                running: 0,
                healthy: 0,
                unhealthy: 0
            }
        );
        assert!(listed[0].instances.iter().all(|i| !i.deployed));
        driver.start_all();
        assert_eq!(driver.list("ns").await.unwrap()[0].health.running, 2);
    }

    #[tokio::test]
    async fn a_set_failure_fails_every_call_until_recovered() {
        let driver = MemoryDriver::new();
        driver.fail_with(ErrorKind::Unavailable { retryable: true }, "down");
        assert!(driver.deploy(&spec()).await.unwrap_err().is_retryable());
        assert!(driver.list("ns").await.is_err());
        driver.recover();
        driver.deploy(&spec()).await.unwrap();
        assert_eq!(
            driver.calls(),
            vec![DriverCall::Deploy(spec().id), DriverCall::Deploy(spec().id)]
        );
    }

    #[tokio::test]
    async fn latency_delays_answers() {
        let driver = MemoryDriver::new();
        driver.set_latency(Duration::from_millis(30));
        let started = std::time::Instant::now();
        driver.info().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
