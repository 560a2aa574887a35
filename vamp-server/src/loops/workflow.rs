//! The workflow loop (`WorkflowSynchronizationActor` in the original): makes what runs follow each workflow's
//! status, and moves the status on.
//!
//! * `starting`, `running`: the workflow runs ([`WorkflowRuntime::ensure`]: a script's scheduler, or a breed's
//!   service); a changed workflow, breed or scale restarts it. `starting` becomes `running`.
//! * `restarting`: stopped, started again, `running`.
//! * `suspending`, `suspended`: stopped (a breed's service undeployed); `suspending` becomes `suspended`.
//! * `stopping` (what `DELETE` sets): stopped, then the workflow and its execution history are removed.
//!
//! Events (type `workflow`): `workflows:<name>` with `scheduled` / `unscheduled` when it starts / stops running
//! here (as the original), `running` / `suspended` / `stopped` when the status moves on, and
//! `scheduling:failed` (value `{error}`) when it cannot start (a missing breed, a service the driver refuses);
//! it is tried again every pass. When the loop stops (shutdown, lost leadership) every script run is stopped
//! and awaited; breed services keep running like deployment services.

use std::collections::{HashMap, HashSet};

use tokio::sync::watch;
use vamp_core::model::{Artifact, Event, Kind, Workflow, WorkflowStatus};
use vamp_core::Result;

use super::{delay, next_pass};
use crate::ops::codec::{decode, encode};
use crate::vamp::Vamp;
use crate::workflows::container;
use crate::workflows::resolved::resolve;
use crate::workflows::runtime::{Ensured, WorkflowRuntime};

/// What the loop keeps between passes.
struct State {
    runtime: WorkflowRuntime,
    /// The last start failure per workflow, so it is published once, not every pass.
    failures: HashMap<String, String>,
    /// Suspended workflows whose leftover service was already looked for in this process.
    settled: HashSet<String>,
}

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    let mut state = State {
        runtime: WorkflowRuntime::new(vamp.clone()),
        failures: HashMap::new(),
        settled: HashSet::new(),
    };
    loop {
        let busy = match pass(&vamp, &mut state).await {
            Ok(()) => false,
            Err(e) => {
                tracing::warn!(error = %e, "workflow synchronisation failed; retrying");
                true
            }
        };
        if !next_pass(&vamp.inner.wake.workflows, delay(&vamp, busy), &mut stop).await {
            break;
        }
    }
    state.runtime.stop_scripts().await;
}

async fn publish(vamp: &Vamp, name: &str, word: &str, value: serde_json::Value) {
    let event = Event::new([format!("workflows:{name}"), word.to_string()], value).with_type("workflow");
    if let Err(e) = vamp.inner.events.publish(event).await {
        tracing::warn!(error = %e, workflow = %name, "the workflow event could not be published");
    }
}

/// Stores `workflow` with `status` at `revision`; `false` when it changed meanwhile (a revision conflict) or
/// the store failed (warned about): the next pass tries again.
async fn set_status(
    vamp: &Vamp,
    mut workflow: Workflow,
    status: WorkflowStatus,
    revision: u64,
) -> Result<bool> {
    workflow.status = status;
    let document = encode(&Artifact::Workflow(workflow.clone()))?;
    match vamp
        .inner
        .artifacts
        .put(Kind::Workflow, &workflow.name, document, Some(revision))
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == vamp_core::ErrorKind::Conflict => {
            tracing::debug!(error = %e, workflow = %workflow.name, "workflow changed meanwhile; next pass");
            Ok(false)
        }
        Err(e) => {
            tracing::warn!(error = %e, workflow = %workflow.name, "the workflow's status could not be stored; next pass");
            Ok(false)
        }
    }
}

/// Makes `workflow` run; publishes `scheduled` when it started, `scheduling:failed` once per distinct error.
async fn start(vamp: &Vamp, state: &mut State, workflow: &Workflow, restart: bool) -> bool {
    let name = workflow.name.clone();
    if restart && state.runtime.stop(&name).await.unwrap_or(false) {
        publish(vamp, &name, "unscheduled", serde_json::Value::Null).await;
    }
    let outcome = match resolve(vamp, workflow).await {
        Ok(resolved) => state.runtime.ensure(resolved).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Ensured::Unchanged) => true,
        Ok(done) => {
            state.failures.remove(&name);
            if done == Ensured::Restarted {
                publish(vamp, &name, "unscheduled", serde_json::Value::Null).await;
            }
            tracing::info!(workflow = %name, "workflow runs");
            publish(vamp, &name, "scheduled", serde_json::Value::Null).await;
            true
        }
        Err(e) => {
            let error = e.message().to_string();
            if state.failures.get(&name) != Some(&error) {
                tracing::warn!(workflow = %name, error = %error, "the workflow cannot run");
                publish(
                    vamp,
                    &name,
                    "scheduling:failed",
                    serde_json::json!({ "error": error }),
                )
                .await;
                state.failures.insert(name, error);
            }
            false
        }
    }
}

/// Stops `name` (and any service left of it); publishes `unscheduled` when something stopped.
async fn halt(vamp: &Vamp, state: &mut State, name: &str) -> Result<()> {
    let was_running = state.runtime.stop(name).await?;
    if !was_running {
        container::undeploy(vamp, name).await?;
    }
    state.failures.remove(name);
    if was_running {
        tracing::info!(workflow = %name, "workflow stopped running");
        publish(vamp, name, "unscheduled", serde_json::Value::Null).await;
    }
    Ok(())
}

async fn pass(vamp: &Vamp, state: &mut State) -> Result<()> {
    let mut present = HashSet::new();
    let mut first_error = None;
    for stored in vamp.list_all(Kind::Workflow).await? {
        let Artifact::Workflow(workflow) = decode(&stored)? else {
            continue;
        };
        present.insert(workflow.name.clone());
        if let Err(e) = step(vamp, state, workflow, stored.revision).await {
            first_error.get_or_insert(e);
        }
    }
    for name in state.runtime.names() {
        if !present.contains(&name) {
            if let Err(e) = halt(vamp, state, &name).await {
                first_error.get_or_insert(e);
            }
        }
    }
    state.settled.retain(|n| present.contains(n));
    state.failures.retain(|n, _| present.contains(n));
    first_error.map_or(Ok(()), Err)
}

async fn step(vamp: &Vamp, state: &mut State, workflow: Workflow, revision: u64) -> Result<()> {
    let name = workflow.name.clone();
    match workflow.status {
        WorkflowStatus::Running => {
            state.settled.remove(&name);
            start(vamp, state, &workflow, false).await;
        }
        WorkflowStatus::Starting | WorkflowStatus::Restarting => {
            state.settled.remove(&name);
            let restart = workflow.status == WorkflowStatus::Restarting;
            if start(vamp, state, &workflow, restart).await
                && set_status(vamp, workflow, WorkflowStatus::Running, revision).await?
            {
                tracing::info!(workflow = %name, status = "running", "workflow status moved on");
                publish(vamp, &name, "running", serde_json::Value::Null).await;
            }
        }
        WorkflowStatus::Suspending => {
            halt(vamp, state, &name).await?;
            state.settled.insert(name.clone());
            if set_status(vamp, workflow, WorkflowStatus::Suspended, revision).await? {
                tracing::info!(workflow = %name, status = "suspended", "workflow status moved on");
                publish(vamp, &name, "suspended", serde_json::Value::Null).await;
            }
        }
        WorkflowStatus::Suspended => {
            if state.runtime.is_running(&name) || !state.settled.contains(&name) {
                halt(vamp, state, &name).await?;
                state.settled.insert(name);
            }
        }
        WorkflowStatus::Stopping => {
            halt(vamp, state, &name).await?;
            vamp.inner.artifacts.delete(Kind::Workflow, &name).await?;
            vamp.inner.workflow_executions.forget(&name);
            tracing::info!(workflow = %name, status = "stopped", "workflow removed");
            publish(vamp, &name, "stopped", serde_json::Value::Null).await;
        }
    }
    Ok(())
}
