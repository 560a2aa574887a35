//! The synchronisation loops (ARCHITECTURE.md's data flow): the deployment loop converges the container driver
//! on the stored deployments, the gateway loop converges the gateway configuration in the KV store on the
//! deployments and gateways, the workflow loop moves workflow statuses on. Each is woken at once by the
//! operations that change what it works from (a `tokio::sync::Notify` per loop), polls quickly while something
//! is converging, and otherwise resyncs every `synchronization.period-ms`.

mod agent_refusals;
mod canary;
mod deployment;
mod gateway;
mod pulse;
mod retention;
mod sla;
mod workflow;

use std::future::Future;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use vamp_core::Result;

use crate::vamp::Vamp;

/// How long a loop sleeps when periodic resyncs are off and nothing is converging.
const IDLE: Duration = Duration::from_secs(3600);

/// Tasks aborted when dropped: if the future running the loops is dropped (a leader that lost its lease and
/// ran out of grace), the loops and the agent stop with it instead of running on unseen.
struct AbortOnDrop<T>(Vec<JoinHandle<T>>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

/// Runs the loops (and the embedded agent, if any) until `shutdown` completes, then stops them and waits for
/// them to finish their current pass. An embedded agent that stops before shutdown (a taken port, no
/// `haproxy`) stops the loops and is returned as the error at once; dropping this future aborts everything.
pub(crate) async fn run(vamp: Vamp, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut agent = AbortOnDrop(Vec::new());
    if let Some(embedded) = vamp.inner.agent.clone() {
        let kv = vamp.inner.kv.clone();
        let mut stop = stop_rx.clone();
        agent.0.push(tokio::spawn(async move {
            embedded
                .run(kv, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        }));
    }
    let mut loops = AbortOnDrop(vec![
        tokio::spawn(deployment::run(vamp.clone(), stop_rx.clone())),
        tokio::spawn(gateway::run(vamp.clone(), stop_rx.clone())),
        tokio::spawn(workflow::run(vamp.clone(), stop_rx.clone())),
        tokio::spawn(sla::run(vamp.clone(), stop_rx.clone())),
        tokio::spawn(pulse::run(vamp.clone(), stop_rx.clone())),
        tokio::spawn(canary::run(vamp.clone(), stop_rx.clone())),
        tokio::spawn(retention::run(vamp.clone(), stop_rx.clone())),
        tokio::spawn(agent_refusals::run(vamp.clone(), stop_rx.clone())),
    ]);
    tracing::info!(namespace = %vamp.namespace(), "the synchronisation loops are running");
    let agent_ended = async {
        match agent.0.first_mut() {
            Some(handle) => handle.await,
            None => std::future::pending().await,
        }
    };
    let early = tokio::select! {
        _ = shutdown => None,
        ended = agent_ended => Some(ended),
    };
    let stopped_early = early.is_some();
    let _ = stop_tx.send(true);
    for handle in loops.0.drain(..) {
        if let Err(e) = handle.await {
            tracing::error!(error = %e, "a synchronisation loop ended abnormally");
        }
    }
    let ended = match early {
        Some(ended) => {
            agent.0.clear();
            Some(ended)
        }
        None => match agent.0.pop() {
            Some(handle) => Some(handle.await),
            None => None,
        },
    };
    match ended {
        Some(Ok(result)) => {
            if stopped_early {
                tracing::error!("the embedded gateway agent stopped; the loops were stopped with it");
            }
            result?
        }
        Some(Err(e)) => tracing::error!(error = %e, "the embedded gateway agent ended abnormally"),
        None => {}
    }
    tracing::info!("the synchronisation loops have stopped");
    Ok(())
}

/// Waits until the loop should run again: woken by `wake`, after `delay`, or `false` when stopping.
pub(crate) async fn next_pass(wake: &Notify, delay: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = stop.wait_for(|s| *s) => false,
        _ = wake.notified() => true,
        _ = tokio::time::sleep(delay) => true,
    }
}

/// The delay before the next pass: quick while `busy`, else the resync period.
pub(crate) fn delay(vamp: &Vamp, busy: bool) -> Duration {
    let sync = &vamp.settings().synchronization;
    if busy {
        sync.busy_period()
    } else {
        sync.period().unwrap_or(IDLE)
    }
}
