//! The agent's main loop: watch the configuration key, apply the latest value, survive store outages.
//!
//! The store is opened by URL and watched; every value the watch delivers is applied through the
//! [`Applier`], values that arrived while one was applied are skipped in favour of the latest. A value without a
//! valid signature ([`SignatureCheck`]) is never applied, nor one HAProxy (or the envelope parser) refuses: it is
//! logged and recorded in the status, and the running configuration keeps serving. While the store is unreachable HAProxy keeps serving the last good configuration; the store is
//! reconnected with a capped exponential backoff, and the watch delivers the current value when it returns.
//! The state is published as an [`AgentStatus`] on a `tokio::sync::watch` channel, for the health endpoint.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use tokio::sync::watch;
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::Result;
use vamp_kv::reconnect::Backoff;

use crate::agent::apply::Applier;
use crate::agent::options::AgentOptions;
use crate::agent::signature::SignatureCheck;

/// How often HAProxy's master is checked (and restarted when it died) and pending server deletions retried.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(1);

/// What the agent reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AgentStatus {
    /// Whether the last contact with the store succeeded.
    pub store_reachable: bool,
    /// Whether HAProxy's master runs.
    pub haproxy_running: bool,
    /// The store version of the configuration HAProxy runs.
    pub applied_version: Option<u64>,
    /// When that configuration was applied.
    pub applied_at: Option<DateTime<Utc>>,
    /// How the last value was applied: `unchanged`, `runtime`, `reloaded` or `started`.
    pub applied_how: Option<String>,
    /// The last failure (a refused configuration, an unreachable store), until the next successful apply.
    pub last_error: Option<String>,
    /// When `last_error` happened.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// A channel for the agent's status, starting from the default (nothing applied, store not reached yet).
pub fn status_channel() -> (watch::Sender<AgentStatus>, watch::Receiver<AgentStatus>) {
    watch::channel(AgentStatus::default())
}

/// Runs the agent until `shutdown` completes: connects to the store `options.kv_url` names (retrying with
/// backoff while it is unreachable), watches `options.key`, applies every value to the HAProxy it starts, and
/// stops HAProxy before returning. Fails only for options that can never work (an invalid URL or key, no
/// signing key without `insecure_unsigned`).
pub async fn run_apply_loop(
    options: AgentOptions,
    status: watch::Sender<AgentStatus>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let applier = Applier::new(options.process.clone())?;
    run_apply_loop_with(options, applier, status, shutdown).await
}

/// [`run_apply_loop`] with an applier the caller prepared (for instance with [`Applier::on_applied`]).
pub async fn run_apply_loop_with(
    options: AgentOptions,
    mut applier: Applier,
    status: watch::Sender<AgentStatus>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let key = options.key()?;
    let check = options.signature_check()?;
    vamp_kv::url::KvUrl::parse(&options.kv_url)?;
    let shutdown = shutdown.fuse();
    tokio::pin!(shutdown);
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let store = loop {
        tokio::select! {
            _ = &mut shutdown => {
                applier.shutdown().await;
                return Ok(());
            }
            connected = vamp_kv::url::connect(&options.kv_url) => match connected {
                Ok(store) => break store,
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, "the key-value store is unreachable; retrying");
                    record_error(&status, &e.to_string(), Some(false));
                    tokio::select! {
                        _ = &mut shutdown => {
                            applier.shutdown().await;
                            return Ok(());
                        }
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
                Err(e) => return Err(e),
            }
        }
    };
    watch_and_apply(store, &key, &check, &mut applier, &status, shutdown).await;
    applier.shutdown().await;
    Ok(())
}

/// Watches `key` in `store` and applies its values that pass `check` with `applier` until `shutdown` completes;
/// HAProxy is left running (the caller owns the applier). A watch that ends is started again after a backoff
/// delay.
pub async fn watch_and_apply(
    store: Arc<dyn KeyValueStore>,
    key: &Key,
    check: &SignatureCheck,
    applier: &mut Applier,
    status: &watch::Sender<AgentStatus>,
    shutdown: impl Future<Output = ()>,
) {
    let shutdown = shutdown.fuse();
    tokio::pin!(shutdown);
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut maintenance = tokio::time::interval(MAINTENANCE_INTERVAL);
    maintenance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut values = store.watch(key);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = maintenance.tick() => {
                    if let Err(e) = applier.maintain().await {
                        tracing::error!(error = %e, "keeping HAProxy running failed");
                        record_error(status, &e.to_string(), None);
                    }
                    let running = applier.is_running();
                    status.send_if_modified(|s| std::mem::replace(&mut s.haproxy_running, running) != running);
                }
                item = values.next() => match item {
                    None => break,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, %key, "the key-value store is unreachable; HAProxy keeps serving the last configuration");
                        record_error(status, &e.to_string(), Some(false));
                    }
                    Some(Ok(mut latest)) => {
                        backoff.reset();
                        while let Some(Some(next)) = values.next().now_or_never() {
                            match next {
                                Ok(value) => latest = value,
                                Err(e) => {
                                    record_error(status, &e.to_string(), Some(false));
                                    break;
                                }
                            }
                        }
                        status.send_modify(|s| s.store_reachable = true);
                        apply_value(applier, key, check, latest, status).await;
                    }
                }
            }
        }
        tracing::warn!(%key, "the watch ended; watching again");
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

async fn apply_value(
    applier: &mut Applier,
    key: &Key,
    check: &SignatureCheck,
    value: Versioned,
    status: &watch::Sender<AgentStatus>,
) {
    let Some(bytes) = value.value else {
        tracing::warn!(%key, "the configuration key holds no value; HAProxy keeps the running configuration");
        return;
    };
    let bytes = match check.open(key, &bytes) {
        Ok(inner) => inner.to_vec(),
        Err(e) => {
            let message = format!(
                "The configuration version {} was refused: {} HAProxy keeps the running configuration.",
                value.version,
                e.message()
            );
            tracing::error!(version = value.version, %key, "{message}");
            record_error(status, &message, None);
            return;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            let message = format!(
                "The configuration at {key} (version {}) is not UTF-8; it is refused and the running one kept.",
                value.version
            );
            tracing::error!("{message}");
            record_error(status, &message, None);
            return;
        }
    };
    match applier.apply_text(&text).await {
        Ok(applied) => {
            tracing::info!(
                version = value.version,
                how = applied.kind(),
                "configuration applied"
            );
            let running = applier.is_running();
            status.send_modify(|s| {
                s.applied_version = Some(value.version);
                s.applied_at = Some(Utc::now());
                s.applied_how = Some(applied.kind().to_string());
                s.haproxy_running = running;
                s.last_error = None;
                s.last_error_at = None;
            });
        }
        Err(e) => {
            tracing::error!(version = value.version, error = %e, "configuration refused; HAProxy keeps the running one");
            record_error(
                status,
                &format!("The configuration version {} was refused: {e}", value.version),
                None,
            );
            let running = applier.is_running();
            status.send_modify(|s| s.haproxy_running = running);
        }
    }
}

/// Records a failure; `store_reachable` updates the store's reachability when the failure says something about
/// it.
fn record_error(status: &watch::Sender<AgentStatus>, message: &str, store_reachable: Option<bool>) {
    status.send_modify(|s| {
        if let Some(reachable) = store_reachable {
            s.store_reachable = reachable;
        }
        s.last_error = Some(message.to_string());
        s.last_error_at = Some(Utc::now());
    });
}
