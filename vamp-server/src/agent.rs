//! The embedded gateway agent and the embedded default: `Vamp::embedded` assembles SQLite persistence, an
//! in-process memory KV, the process driver, the HAProxy marshaller and a gateway agent that runs in the same
//! process against the same KV store (`vamp_gateway::agent::run::run_with_store`) — so no etcd and no separate
//! agent process are needed — and whose access-log aggregator is the server's metrics source.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;
use vamp_core::kv::{haproxy_configuration_key, KeyValueStore};
use vamp_core::memory::MemoryKeyValueStore;
use vamp_core::{Error, Result};
use vamp_drivers::process::{ProcessConfig, ProcessDriver};
use vamp_gateway::agent::options::AgentOptions;
use vamp_gateway::agent::process::ProcessOptions;
use vamp_gateway::agent::watch::{status_channel, AgentStatus};
use vamp_gateway::haproxy::{HaproxyMarshaller, HAPROXY_VERSION};
use vamp_gateway::logs::aggregator::{Aggregator, AggregatorOptions};
use vamp_kv::signed::SigningKey;

use crate::settings::ServerSettings;
use crate::vamp::Vamp;

/// A gateway agent run in-process by [`Vamp::run`]: it watches the server's own KV store and drives HAProxy.
#[derive(Clone)]
pub(crate) struct EmbeddedAgent {
    options: AgentOptions,
    aggregator: Arc<Aggregator>,
    status: watch::Sender<AgentStatus>,
}

impl EmbeddedAgent {
    /// An agent for `namespace` with its work directory `dir`, configured by `settings`, applying only values
    /// signed with `signing` (the key the server signs with).
    pub(crate) fn new(settings: &ServerSettings, dir: PathBuf, signing: SigningKey) -> Result<EmbeddedAgent> {
        let mut options = AgentOptions::default();
        options.signing_key = Some(signing);
        options.kv_url = "memory://".into();
        options.key = haproxy_configuration_key(&settings.namespace, HAPROXY_VERSION)?
            .as_str()
            .to_string();
        options.http_bind = settings.agent.http_bind.clone();
        let mut process = ProcessOptions::default();
        process.binary = settings.agent.haproxy.clone();
        process.dir = dir;
        process.log_target = settings.agent.log_target.clone();
        options.log_sources = settings
            .agent
            .log_sources
            .iter()
            .map(|source| {
                source.trim().parse().map_err(|_| {
                    Error::invalid(format!(
                        "The setting agent.log-sources holds '{source}', which is not an IP address; list the \
                         addresses HAProxy sends its access logs from, as in '127.0.0.1'."
                    ))
                })
            })
            .collect::<Result<_>>()?;
        process.stats_bind = settings.agent.stats_bind.clone();
        process.gateway_bind = settings.gateways.bind.clone();
        process.vhost_bind = settings.gateways.vhost_bind.clone();
        options.process = process;
        Ok(EmbeddedAgent {
            options,
            aggregator: Arc::new(Aggregator::new(AggregatorOptions::default())),
            status: status_channel().0,
        })
    }

    /// The agent's apply status: what it applied last, and the last configuration HAProxy refused.
    pub(crate) fn status(&self) -> watch::Receiver<AgentStatus> {
        self.status.subscribe()
    }

    /// The aggregator the agent records access logs into; the server's metrics source.
    pub(crate) fn aggregator(&self) -> Arc<Aggregator> {
        self.aggregator.clone()
    }

    /// Runs the agent against `kv` until `shutdown`, then stops HAProxy.
    pub(crate) async fn run(
        &self,
        kv: Arc<dyn KeyValueStore>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        vamp_gateway::agent::run::run_with_store_reporting(
            self.options.clone(),
            kv,
            self.aggregator.clone(),
            self.status.clone(),
            shutdown,
        )
        .await
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::backend(format!(
            "The data directory {} cannot be created: {e}",
            dir.display()
        ))
        .with_source(e)
    })
}

/// The process driver's settings under `data_dir`.
pub fn process_config(data_dir: &Path) -> ProcessConfig {
    let mut config = ProcessConfig::in_dir(data_dir.join("processes"));
    config.working_dir = data_dir.to_path_buf();
    config
}

/// [`Vamp::embedded`].
pub(crate) async fn embedded(data_dir: &Path, settings: ServerSettings) -> Result<Vamp> {
    embedded_with(data_dir, settings, process_config(data_dir)).await
}

/// The file the KV signing key is kept in unless configured: `<data-dir>/kv-signing.key`.
pub fn default_signing_key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("kv-signing.key")
}

/// The signing key in `file`, generated there (mode 0600) when missing; a generated key is logged with where it
/// is, since agents outside this process need a copy of it.
pub fn signing_key(file: &Path) -> Result<SigningKey> {
    let (key, generated) = SigningKey::load_or_generate(file)?;
    if generated {
        tracing::warn!(
            file = %file.display(),
            key_id = key.id(),
            "generated the key gateway configurations are signed with; gateway agents need a copy of this file \
             (vamp-gateway-agent --signing-key <file>)"
        );
    } else {
        tracing::info!(file = %file.display(), key_id = key.id(), "gateway configurations are signed");
    }
    Ok(key)
}

/// [`Vamp::embedded`] with the process driver's settings given (a search path for the commands breeds run,
/// restart backoff, …); `process.state_dir` should lie under `data_dir` so a restarted server re-adopts the
/// processes it started. The gateway configuration is signed with the key in
/// [`default_signing_key_file`] (generated when missing).
pub async fn embedded_with(
    data_dir: &Path,
    settings: ServerSettings,
    process: ProcessConfig,
) -> Result<Vamp> {
    create_dir(data_dir)?;
    let db = data_dir.join("vamp.db");
    let url = format!("sqlite://{}", db.display());
    let artifacts = vamp_persistence::url::connect_artifacts(&url).await?;
    let events = vamp_persistence::url::connect_events(&url).await?;
    let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryKeyValueStore::new());
    let driver = Arc::new(ProcessDriver::new(process).await?);
    let signing = signing_key(&default_signing_key_file(data_dir))?;
    let mut builder = Vamp::builder()
        .persistence(artifacts, events)
        .kv(kv)
        .kv_signing_key(signing.clone())
        .driver(driver)
        .marshaller(Arc::new(
            HaproxyMarshaller::new().with_options(settings.gateways.haproxy_options()),
        ));
    if settings.agent.enabled {
        let dir = settings
            .agent
            .dir
            .clone()
            .unwrap_or_else(|| data_dir.join("agent"));
        create_dir(&dir)?;
        let agent = EmbeddedAgent::new(&settings, dir, signing)?;
        builder = builder.metrics(agent.aggregator()).agent(agent);
    }
    builder.config(settings).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_agent_logs_to_its_socket_and_checks_its_sources() {
        let settings = ServerSettings::default();
        let agent = EmbeddedAgent::new(
            &settings,
            PathBuf::from("/d/agent"),
            SigningKey::generate().unwrap(),
        )
        .unwrap();
        assert_eq!(agent.options.process.effective_log_target(), "/d/agent/log.sock");
        assert_eq!(agent.options.log_sources.len(), 2);
        let mut settings = ServerSettings::default();
        settings.agent.log_sources = vec!["127.0.0.1".into(), "gateway-host".into()];
        let e = EmbeddedAgent::new(
            &settings,
            PathBuf::from("/d/agent"),
            SigningKey::generate().unwrap(),
        )
        .err()
        .unwrap();
        assert!(
            e.message().contains("agent.log-sources") && e.message().contains("'gateway-host'"),
            "{e}"
        );
    }
}
