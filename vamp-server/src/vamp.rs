//! `Vamp`, the server core as one cheap-to-clone handle, and `VampBuilder`, which assembles it from backends.
//!
//! Everything the REST API and the CLI do goes through the methods of [`Vamp`] (in [`crate::ops`]); the
//! synchronisation loops ([`crate::loops`]) run under [`Vamp::run`]. A platform embeds Vamp by giving the builder
//! its own backends, e.g. an in-process [`ContainerDriver`].

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify};
use vamp_core::driver::ContainerDriver;
use vamp_core::gateway::GatewayMarshaller;
use vamp_core::kv::KeyValueStore;
use vamp_core::memory::{
    MemoryArtifactStore, MemoryDriver, MemoryEventStore, MemoryKeyValueStore, MemoryMetrics,
};
use vamp_core::metrics::MetricsSource;
use vamp_core::ops::gateways::PlannedGateway;
use vamp_core::store::{ArtifactStore, EventStore};
use vamp_core::Result;

use crate::agent::EmbeddedAgent;
use crate::ops::cache::DeploymentCache;
use crate::settings::ServerSettings;

/// The Vamp server core: stores, driver, gateway marshaller and metrics, the operations over them and the
/// loops that converge the driver and the gateways on the stored desired state.
///
/// Cloning is cheap and gives the same instance (an `Arc` inside). Every operation returns a
/// [`vamp_core::Result`] whose error kind maps to an HTTP status (Invalid 400, NotFound 404, Conflict 409,
/// Unavailable 503, Unsupported 501, Backend 500); bad input is never a `Backend` error.
#[derive(Clone)]
pub struct Vamp {
    pub(crate) inner: Arc<Inner>,
}

/// The wake-ups of the loops: an operation that changes desired state notifies the loops concerned, which then
/// run at once instead of at the next resync.
#[derive(Debug, Default)]
pub(crate) struct Wakeups {
    pub(crate) deployments: Notify,
    pub(crate) gateways: Notify,
    pub(crate) workflows: Notify,
}

pub(crate) struct Inner {
    pub(crate) settings: ServerSettings,
    pub(crate) artifacts: Arc<dyn ArtifactStore>,
    pub(crate) events: Arc<dyn EventStore>,
    pub(crate) kv: Arc<dyn KeyValueStore>,
    pub(crate) driver: Arc<dyn ContainerDriver>,
    pub(crate) marshaller: Arc<dyn GatewayMarshaller>,
    pub(crate) metrics: Arc<dyn MetricsSource>,
    pub(crate) wake: Wakeups,
    /// Serialises the read-modify-write of deployments inside this process (API and loops); across processes
    /// the stores' expected revisions decide.
    pub(crate) deployment_lock: Mutex<()>,
    /// The gateway loop's last plan (ports assigned, targets resolved); empty until it ran.
    pub(crate) gateway_plan: RwLock<Vec<PlannedGateway>>,
    pub(crate) deployments: DeploymentCache,
    pub(crate) agent: Option<EmbeddedAgent>,
    /// The key the gateway configuration and template are signed with in the KV store.
    pub(crate) kv_signing: Option<vamp_kv::signed::SigningKey>,
    /// The workflows' executions and live logs.
    pub(crate) workflow_executions: crate::workflows::Executions,
    /// Script runs going at once across all workflows (`workflows.max-concurrent-runs` permits).
    pub(crate) workflow_runs: Arc<tokio::sync::Semaphore>,
    /// The workflows' memory budget in MB (`workflows.max-total-memory-mb` permits): a run holds its memory
    /// limit's worth while it goes.
    pub(crate) workflow_memory: Arc<tokio::sync::Semaphore>,
    pub(crate) uuid: String,
    pub(crate) started: DateTime<Utc>,
}

impl Vamp {
    /// A builder with the memory backends and default settings.
    pub fn builder() -> VampBuilder {
        VampBuilder::default()
    }

    /// The embedded default: SQLite persistence (artifacts and events) in `<data_dir>/vamp.db`, an in-process
    /// memory KV, the process driver keeping its state in `<data_dir>/processes`, the HAProxy marshaller, and an
    /// embedded gateway agent (run by [`Vamp::run`]) driving the `haproxy` of `settings.agent.haproxy` from
    /// `<data_dir>/agent`, whose access-log aggregator is the metrics source. Gateways bind to
    /// `settings.gateways.bind` (127.0.0.1 by default).
    ///
    /// Fails with `Backend` when the data directory cannot be created, and with the backends' errors.
    pub async fn embedded(data_dir: &Path, settings: ServerSettings) -> Result<Vamp> {
        crate::agent::embedded(data_dir, settings).await
    }

    /// The settings this instance runs with.
    pub fn settings(&self) -> &ServerSettings {
        &self.inner.settings
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.inner.settings.namespace
    }

    /// The artifact store (for embedders that need direct access; operations go through [`Vamp`]'s methods).
    pub fn artifact_store(&self) -> &Arc<dyn ArtifactStore> {
        &self.inner.artifacts
    }

    /// The event store.
    pub fn event_store(&self) -> &Arc<dyn EventStore> {
        &self.inner.events
    }

    /// The key-value store holding the gateway configuration.
    pub fn kv(&self) -> &Arc<dyn KeyValueStore> {
        &self.inner.kv
    }

    /// The container driver.
    pub fn driver(&self) -> &Arc<dyn ContainerDriver> {
        &self.inner.driver
    }

    /// Runs the deployment, gateway and workflow loops (and the embedded gateway agent, if any) until
    /// `shutdown` completes, then stops them. The operations work without this (a standby serves reads and
    /// stores writes); only the loops converge the driver and the gateways.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        crate::loops::run(self.clone(), shutdown).await
    }

    pub(crate) fn wake_deployments(&self) {
        self.inner.wake.deployments.notify_one();
        self.inner.wake.gateways.notify_one();
    }

    pub(crate) fn wake_deployments_only(&self) {
        self.inner.wake.deployments.notify_one();
    }

    pub(crate) fn wake_gateways(&self) {
        self.inner.wake.gateways.notify_one();
    }

    pub(crate) fn wake_workflows(&self) {
        self.inner.wake.workflows.notify_one();
    }
}

impl std::fmt::Debug for Vamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vamp")
            .field("namespace", &self.inner.settings.namespace)
            .field("uuid", &self.inner.uuid)
            .finish_non_exhaustive()
    }
}

/// Assembles a [`Vamp`]. Every backend defaults to its `vamp_core::memory` implementation (the marshaller to
/// the HAProxy marshaller), the settings to [`ServerSettings::default`].
#[derive(Default)]
pub struct VampBuilder {
    settings: Option<ServerSettings>,
    namespace: Option<String>,
    artifacts: Option<Arc<dyn ArtifactStore>>,
    events: Option<Arc<dyn EventStore>>,
    kv: Option<Arc<dyn KeyValueStore>>,
    driver: Option<Arc<dyn ContainerDriver>>,
    marshaller: Option<Arc<dyn GatewayMarshaller>>,
    metrics: Option<Arc<dyn MetricsSource>>,
    agent: Option<EmbeddedAgent>,
    kv_signing: Option<vamp_kv::signed::SigningKey>,
}

impl VampBuilder {
    /// The namespace (overrides the settings' `namespace`).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// The artifact store (desired state).
    pub fn artifacts(mut self, store: Arc<dyn ArtifactStore>) -> Self {
        self.artifacts = Some(store);
        self
    }

    /// The event store.
    pub fn events(mut self, store: Arc<dyn EventStore>) -> Self {
        self.events = Some(store);
        self
    }

    /// Both stores of a persistence backend, e.g. from `vamp_persistence::url::{connect_artifacts,
    /// connect_events}`.
    pub fn persistence(self, artifacts: Arc<dyn ArtifactStore>, events: Arc<dyn EventStore>) -> Self {
        self.artifacts(artifacts).events(events)
    }

    /// The key-value store the gateway configuration is written to.
    pub fn kv(mut self, kv: Arc<dyn KeyValueStore>) -> Self {
        self.kv = Some(kv);
        self
    }

    /// The container driver.
    pub fn driver(mut self, driver: Arc<dyn ContainerDriver>) -> Self {
        self.driver = Some(driver);
        self
    }

    /// The gateway marshaller.
    pub fn marshaller(mut self, marshaller: Arc<dyn GatewayMarshaller>) -> Self {
        self.marshaller = Some(marshaller);
        self
    }

    /// Where gateway metrics come from.
    pub fn metrics(mut self, metrics: Arc<dyn MetricsSource>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The settings.
    pub fn config(mut self, settings: ServerSettings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// The key the gateway configuration (and a stored template) is signed with in the KV store, so agents
    /// holding the same key apply only what this server wrote. Without it values are written unsigned.
    pub fn kv_signing_key(mut self, key: vamp_kv::signed::SigningKey) -> Self {
        self.kv_signing = Some(key);
        self
    }

    /// An embedded gateway agent that [`Vamp::run`] runs next to the loops.
    pub(crate) fn agent(mut self, agent: EmbeddedAgent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// The `Vamp`. Fails with `Invalid` when the settings cannot work (an empty namespace, an empty gateway
    /// port range).
    pub fn build(self) -> Result<Vamp> {
        let mut settings = self.settings.unwrap_or_default();
        if let Some(ns) = self.namespace {
            settings.namespace = ns;
        }
        check_settings(&settings)?;
        let inner = Inner {
            artifacts: self
                .artifacts
                .unwrap_or_else(|| Arc::new(MemoryArtifactStore::new())),
            events: self.events.unwrap_or_else(|| Arc::new(MemoryEventStore::new())),
            kv: self.kv.unwrap_or_else(|| Arc::new(MemoryKeyValueStore::new())),
            driver: self.driver.unwrap_or_else(|| Arc::new(MemoryDriver::new())),
            marshaller: self.marshaller.unwrap_or_else(|| {
                Arc::new(
                    vamp_gateway::haproxy::HaproxyMarshaller::new()
                        .with_options(settings.gateways.haproxy_options()),
                )
            }),
            metrics: self.metrics.unwrap_or_else(|| Arc::new(MemoryMetrics::new())),
            wake: Wakeups::default(),
            deployment_lock: Mutex::new(()),
            gateway_plan: RwLock::new(Vec::new()),
            deployments: DeploymentCache::default(),
            agent: self.agent,
            kv_signing: self.kv_signing,
            workflow_executions: crate::workflows::Executions::new(
                settings.workflows.history,
                settings.workflows.max_log_lines,
            ),
            workflow_runs: Arc::new(tokio::sync::Semaphore::new(settings.workflows.concurrent_runs())),
            workflow_memory: Arc::new(tokio::sync::Semaphore::new(
                usize::try_from(settings.workflows.total_memory_mb())
                    .unwrap_or(usize::MAX)
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            uuid: new_uuid(),
            started: Utc::now(),
            settings,
        };
        Ok(Vamp {
            inner: Arc::new(inner),
        })
    }
}

fn check_settings(settings: &ServerSettings) -> Result<()> {
    let ns = &settings.namespace;
    if ns.is_empty()
        || !ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(vamp_core::Error::invalid(format!(
            "The namespace '{ns}' is invalid; use letters, digits, '-' and '_' (it appears in KV keys and labels)."
        )));
    }
    if !settings.gateways.port_range.is_valid() {
        return Err(vamp_core::Error::invalid(
            "The gateway port range is empty or starts at 0; give a range like 40000-45000.",
        ));
    }
    Ok(())
}

/// A random version-4 UUID text, for `info().uuid`.
fn new_uuid() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
