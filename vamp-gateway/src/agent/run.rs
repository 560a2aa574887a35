//! The whole agent as one future: the log receiver and pipeline (metrics, forwarding), the HTTP endpoint, and the
//! watch-and-apply loop, wired so the pipeline names requests after the configuration HAProxy runs and the
//! health endpoint follows the apply loop's status. The `vamp-gateway-agent` binary is this plus flags; a Rust
//! platform can embed it the same way.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use vamp_core::kv::KeyValueStore;
use vamp_core::{Error, Result};

use crate::agent::apply::Applier;
use crate::agent::http::{self, AgentHealth, HttpState};
use crate::agent::options::AgentOptions;
use crate::agent::watch::{run_apply_loop_with, status_channel, watch_and_apply, AgentStatus};
use crate::agent::{stale, work_dir};
use crate::logs::aggregator::{Aggregator, AggregatorOptions};
use crate::logs::forward::elasticsearch::ElasticsearchOptions;
use crate::logs::forward::logstash::LogstashOptions;
use crate::logs::forward::{Forwarder, SinkConfig};
use crate::logs::names::Names;
use crate::logs::pipeline::LogPipeline;
use crate::logs::receiver::{LogReceiver, LogTarget};

/// The sinks `options` ask for: Logstash and/or Elasticsearch.
fn sinks(options: &AgentOptions) -> Vec<SinkConfig> {
    let mut sinks = Vec::new();
    if let Some(address) = &options.logstash {
        sinks.push(SinkConfig::Logstash(LogstashOptions::new(address.clone())));
    }
    if let Some(url) = &options.elasticsearch {
        let mut es = ElasticsearchOptions::new(url.clone());
        es.namespace = options.namespace.clone();
        sinks.push(SinkConfig::Elasticsearch(es));
    }
    sinks
}

/// What the health endpoint reports for an apply-loop status.
fn health_of(status: &AgentStatus) -> AgentHealth {
    let config_applied = status.applied_version.is_some();
    let message = status
        .last_error
        .clone()
        .or_else(|| (!config_applied).then(|| "No configuration has been applied yet.".to_string()));
    AgentHealth {
        haproxy_running: status.haproxy_running,
        config_applied,
        message,
    }
}

/// Runs the agent until `shutdown` completes, then stops HAProxy. Makes the work directory private
/// ([`work_dir::prepare`]) and stops a previous HAProxy of it ([`stale::stop_previous`]) first, then binds the
/// log target (by default the owner-only socket `<dir>/log.sock`; a UDP target reads only `log_sources`, and a
/// port 0 one is replaced by the port it got, so HAProxy logs where the agent listens) and the HTTP endpoint:
/// fails with `Invalid` for options that can never work (among them: no signing key and no
/// `insecure_unsigned`) and `Unavailable` when an address is taken.
pub async fn run(options: AgentOptions, shutdown: impl Future<Output = ()>) -> Result<()> {
    let aggregator = Arc::new(Aggregator::new(AggregatorOptions::default()));
    run_agent(options, None, aggregator, status_channel().0, shutdown).await
}

/// [`run`] against a store the caller already holds instead of `options.kv_url` (which is not used), recording
/// access logs into `aggregator`: for a server that embeds the agent next to its own in-process store (a
/// `memory://` URL would open a separate, empty store) and serves metrics from the same aggregator.
pub async fn run_with_store(
    options: AgentOptions,
    store: Arc<dyn KeyValueStore>,
    aggregator: Arc<Aggregator>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    run_agent(options, Some(store), aggregator, status_channel().0, shutdown).await
}

/// [`run_with_store`] reporting the apply loop's status into `status` (whose receivers see every applied or
/// refused configuration), so the embedding server can tell its own health from it.
pub async fn run_with_store_reporting(
    options: AgentOptions,
    store: Arc<dyn KeyValueStore>,
    aggregator: Arc<Aggregator>,
    status: watch::Sender<AgentStatus>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    run_agent(options, Some(store), aggregator, status, shutdown).await
}

async fn run_agent(
    mut options: AgentOptions,
    store: Option<Arc<dyn KeyValueStore>>,
    aggregator: Arc<Aggregator>,
    status_tx: watch::Sender<AgentStatus>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let names = Names::new();
    let key = options.key()?;
    let check = options.signature_check()?;
    if check == crate::agent::signature::SignatureCheck::AcceptUnsigned {
        tracing::warn!(
            "--insecure-unsigned: configurations are applied without checking their signature; whoever can \
             write the key runs what HAProxy runs"
        );
    }
    options.process.dir = std::path::absolute(&options.process.dir).map_err(|e| {
        Error::invalid(format!(
            "The work directory '{}' cannot be made absolute: {e}.",
            options.process.dir.display()
        ))
    })?;
    work_dir::prepare(&options.process.dir)?;
    let process = options.process.clone();
    let _ = tokio::task::spawn_blocking(move || stale::stop_previous(&process)).await;
    let forwarder = Forwarder::start(sinks(&options))?;
    let pipeline = LogPipeline::new(names.clone(), aggregator, forwarder);
    let target = LogTarget::parse(&options.process.effective_log_target())?;
    let receiver =
        LogReceiver::bind(&target, pipeline.counters().clone())?.accept_from(options.log_sources.clone());
    if let LogTarget::Udp(addr) = receiver.target() {
        tracing::warn!(
            %addr,
            sources = ?receiver.sources(),
            "access logs are read over UDP, from these source addresses only; the default unix socket admits \
             HAProxy alone"
        );
    }
    options.process.log_target = receiver.target().haproxy_address();
    let listener = TcpListener::bind(&options.http_bind).await.map_err(|e| {
        Error::unavailable(format!(
            "The agent's HTTP endpoint cannot listen on {}: {e}.",
            options.http_bind
        ))
    })?;
    tracing::info!(
        http = %options.http_bind,
        logs = %options.process.log_target,
        kv = %vamp_kv::url::redacted(&options.kv_url),
        key = %options.key,
        "vamp-gateway-agent starting"
    );

    let mut status_rx = status_tx.subscribe();
    let (health_tx, health_rx) = watch::channel(health_of(&status_rx.borrow()));
    let bridge = tokio::spawn(async move {
        while status_rx.changed().await.is_ok() {
            let health = health_of(&status_rx.borrow_and_update());
            health_tx.send_replace(health);
        }
    });
    let logs = tokio::spawn(pipeline.clone().run(receiver));
    let state = HttpState {
        health: health_rx,
        logs: pipeline,
    };
    let server = tokio::spawn(async move {
        if let Err(e) = http::serve(listener, state).await {
            tracing::error!(error = %e, "the agent's HTTP endpoint stopped");
        }
    });

    let mut applier = Applier::new(options.process.clone())?;
    applier.on_applied(move |envelope| names.update(envelope));
    let outcome = match store {
        Some(store) => {
            watch_and_apply(store, &key, &check, &mut applier, &status_tx, shutdown).await;
            applier.shutdown().await;
            Ok(())
        }
        None => run_apply_loop_with(options, applier, status_tx, shutdown).await,
    };
    server.abort();
    logs.abort();
    bridge.abort();
    outcome
}
