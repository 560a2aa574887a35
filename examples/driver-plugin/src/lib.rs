//! A complete third-party container driver plugin for Vamp, written for plugin authors to copy.
//!
//! The driver, `echo`, runs nothing: it keeps the services it is asked to deploy in memory and reports each with
//! the requested number of instances, all running at once on `127.0.0.1`. Replace the bodies of the four
//! methods with calls to your scheduler and you have a real driver.
//!
//! What makes it a plugin is the last line of this file: [`vamp_drivers::export_driver!`] generates the C entry
//! point `vamp_driver_plugin_v1` that Vamp looks for, and serves the driver on a tokio runtime of the plugin's
//! own. Everything else is the ordinary [`ContainerDriver`] trait every built-in driver implements.
//!
//! The driver also has three test hooks, used by vamp-drivers' tests to check that a misbehaving plugin cannot
//! take the host down. A deployable whose definition is `panic` makes `deploy` panic; `hang` makes it never
//! finish; `sleep:<milliseconds>` makes it finish after that long. A real driver has no such hooks.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use vamp_core::driver::{ContainerDriver, DriverInfo, RunningService, ServiceId, ServiceSpec};
use vamp_core::model::{Health, Instance};
use vamp_core::{Error, Result};

/// The deployable type this driver runs. Vamp routes a breed to the driver whose `info` lists its type, so a
/// plugin for a new scheduler usually introduces a type of its own.
pub const DEPLOYABLE_TYPE: &str = "echo";

/// The host every echo instance reports.
pub const HOST: &str = "127.0.0.1";

/// The in-memory echo driver.
///
/// A driver owns no desired state: Vamp's deployment loop compares what `list` reports with what it wants and
/// calls `deploy` and `undeploy` to close the gap. The map here stands for "what the scheduler runs".
#[derive(Debug, Default)]
pub struct EchoDriver {
    services: Mutex<BTreeMap<ServiceId, ServiceSpec>>,
}

impl EchoDriver {
    /// A driver running nothing. `export_driver!` calls it once, on the plugin's runtime, at the host's first
    /// call; a real driver would connect to its scheduler here (or lazily, in the first method call).
    pub fn new() -> Self {
        Self::default()
    }

    /// The map, even if a panicking test hook poisoned its lock: the map itself is never left half-written.
    fn services(&self) -> MutexGuard<'_, BTreeMap<ServiceId, ServiceSpec>> {
        self.services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What `list` reports for a deployed spec: every instance running, each port at the breed's port number plus
/// the instance's index (a real driver reports the ports its scheduler assigned).
fn running(spec: &ServiceSpec) -> RunningService {
    let count = spec.scale.instances;
    let instances = (0..count)
        .map(|index| Instance {
            name: format!("echo-{}-{index}", spec.id),
            host: HOST.to_string(),
            ports: spec
                .ports
                .iter()
                .map(|port| {
                    let base = port.number().unwrap_or(8080);
                    let offset = u16::try_from(index).unwrap_or(u16::MAX);
                    (port.name.clone(), base.saturating_add(offset))
                })
                .collect(),
            deployed: true,
        })
        .collect();
    RunningService {
        id: spec.id.clone(),
        deployable: spec.deployable.clone(),
        scale: spec.scale.clone(),
        instances,
        health: Health {
            staged: 0,
            running: count,
            healthy: count,
            unhealthy: 0,
        },
        environment: spec.environment.clone(),
        // The echo driver "runs" the health checks it was given; a driver whose scheduler cannot report them
        // says `None`, and Vamp then does not compare them.
        health_checks: Some(spec.health_checks.clone()),
    }
}

/// The test hooks (see the crate documentation); `Ok` for every other definition.
async fn test_hook(definition: &str) {
    if definition == "panic" {
        panic!("the echo driver was asked to panic");
    }
    if definition == "hang" {
        std::future::pending::<()>().await;
    }
    if let Some(millis) = definition.strip_prefix("sleep:").and_then(|m| m.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

#[async_trait]
impl ContainerDriver for EchoDriver {
    async fn info(&self) -> Result<DriverInfo> {
        Ok(DriverInfo {
            kind: "echo".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            deployable_types: vec![DEPLOYABLE_TYPE.to_string()],
        })
    }

    async fn list(&self, namespace: &str) -> Result<Vec<RunningService>> {
        // A BTreeMap keyed by ServiceId iterates in id order, which is the order `list` must return.
        Ok(self
            .services()
            .values()
            .filter(|spec| spec.id.namespace == namespace)
            .map(running)
            .collect())
    }

    async fn deploy(&self, spec: &ServiceSpec) -> Result<()> {
        // Refuse what this driver cannot run with the error kinds the trait documents: the host carries the
        // kind and the message across the boundary unchanged.
        if spec.deployable.normalized_kind() != DEPLOYABLE_TYPE {
            return Err(Error::unsupported(format!(
                "The echo driver runs deployables of type '{DEPLOYABLE_TYPE}', not '{}' (service {}).",
                spec.deployable.kind, spec.id
            )));
        }
        if spec.deployable.definition.trim().is_empty() {
            return Err(Error::invalid(format!(
                "The deployable of service {} has an empty definition; give the text to echo.",
                spec.id
            )));
        }
        test_hook(&spec.deployable.definition).await;
        // Create or update: deploying the same spec again leaves the same state, as the trait requires.
        self.services().insert(spec.id.clone(), spec.clone());
        Ok(())
    }

    async fn undeploy(&self, id: &ServiceId) -> Result<()> {
        // Undeploying what does not run is not an error.
        self.services().remove(id);
        Ok(())
    }
}

// The plugin's entry point: `vamp_driver_plugin_v1`, serving `EchoDriver::new()`.
vamp_drivers::export_driver!(EchoDriver::new);
