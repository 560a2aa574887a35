//! The workflow loop: moves workflow statuses on — `starting`/`restarting` → `running`, `suspending` →
//! `suspended`, `stopping` → removed — and publishes `workflows:<name>` events with the new status
//! (`running`, `suspended`, `stopped`). Executing a workflow's JavaScript is issue 8; this loop runs nothing.

use tokio::sync::watch;
use vamp_core::model::{Artifact, Event, Kind, WorkflowStatus};
use vamp_core::Result;

use super::{delay, next_pass};
use crate::ops::codec::{decode, encode};
use crate::vamp::Vamp;

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    loop {
        let busy = match pass(&vamp).await {
            Ok(()) => false,
            Err(e) => {
                tracing::warn!(error = %e, "workflow synchronisation failed; retrying");
                true
            }
        };
        if !next_pass(&vamp.inner.wake.workflows, delay(&vamp, busy), &mut stop).await {
            return;
        }
    }
}

async fn pass(vamp: &Vamp) -> Result<()> {
    for stored in vamp.list_all(Kind::Workflow).await? {
        let Artifact::Workflow(mut workflow) = decode(&stored)? else {
            continue;
        };
        let (next, word) = match workflow.status {
            WorkflowStatus::Starting | WorkflowStatus::Restarting => {
                (Some(WorkflowStatus::Running), "running")
            }
            WorkflowStatus::Suspending => (Some(WorkflowStatus::Suspended), "suspended"),
            WorkflowStatus::Stopping => (None, "stopped"),
            WorkflowStatus::Running | WorkflowStatus::Suspended => continue,
        };
        match next {
            Some(status) => {
                workflow.status = status;
                let document = encode(&Artifact::Workflow(workflow.clone()))?;
                if let Err(e) = vamp
                    .inner
                    .artifacts
                    .put(Kind::Workflow, &workflow.name, document, Some(stored.revision))
                    .await
                {
                    tracing::debug!(error = %e, workflow = %workflow.name, "workflow changed meanwhile; next pass");
                    continue;
                }
            }
            None => {
                vamp.inner
                    .artifacts
                    .delete(Kind::Workflow, &workflow.name)
                    .await?;
            }
        }
        tracing::info!(workflow = %workflow.name, status = word, "workflow status moved on");
        let event = Event::new(
            [format!("workflows:{}", workflow.name), word.to_string()],
            serde_json::Value::Null,
        )
        .with_type("workflow");
        if let Err(e) = vamp.inner.events.publish(event).await {
            tracing::warn!(error = %e, "the workflow event could not be published");
        }
    }
    Ok(())
}
