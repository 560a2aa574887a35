//! Workflows as artifacts with a status lifecycle: stored when allowed (`ops::workflows::check_workflow_update`),
//! their status set by users (`running`, `suspended`, `restarting`, …) and moved on by the workflow loop, which
//! runs them ([`crate::workflows`]); their executions and live logs.

use tokio::sync::broadcast;
use vamp_core::model::{Artifact, Kind, Workflow, WorkflowStatus};
use vamp_core::ops::workflows::check_workflow_update;
use vamp_core::{Error, Result};

use super::archive::ArchiveAction;
use super::codec::{decode, encode};
use super::options::WriteOptions;
use crate::vamp::Vamp;
use crate::workflows::{Execution, LogMessage};

impl Vamp {
    pub(crate) async fn load_workflow(&self, name: &str) -> Result<Option<(u64, Workflow)>> {
        match self.inner.artifacts.get(Kind::Workflow, name).await? {
            Some(s) => match decode(&s)? {
                Artifact::Workflow(w) => Ok(Some((s.revision, w))),
                _ => Err(Error::backend(format!(
                    "The stored workflow '{name}' reads back as another kind."
                ))),
            },
            None => Ok(None),
        }
    }

    pub(crate) async fn write_workflow(
        &self,
        workflow: Workflow,
        options: &WriteOptions,
    ) -> Result<Workflow> {
        let existing = self.load_workflow(&workflow.name).await?;
        let deployment_exists = self
            .inner
            .artifacts
            .get(Kind::Deployment, &workflow.name)
            .await?
            .is_some();
        check_workflow_update(existing.as_ref().map(|(_, w)| w), &workflow, deployment_exists)?;
        if options.validate_only {
            return Ok(workflow);
        }
        let artifact = Artifact::Workflow(workflow.clone());
        self.inner
            .artifacts
            .put(Kind::Workflow, &workflow.name, encode(&artifact)?, None)
            .await?;
        let action = if existing.is_some() {
            ArchiveAction::Update
        } else {
            ArchiveAction::Create
        };
        self.archive(Kind::Workflow, &workflow.name, action, options, Some(&artifact))
            .await;
        self.wake_workflows();
        Ok(workflow)
    }

    /// The status of workflow `name`; `None` when there is no such workflow.
    pub async fn workflow_status(&self, name: &str) -> Result<Option<WorkflowStatus>> {
        Ok(self.load_workflow(name).await?.map(|(_, w)| w.status))
    }

    /// Sets the status of workflow `name` (`PUT /workflows/{name}/status`); the workflow loop moves it on
    /// (`starting`/`restarting` → `running`, `suspending` → `suspended`, `stopping` → removed). `NotFound` when
    /// there is no such workflow.
    pub async fn set_workflow_status(
        &self,
        name: &str,
        status: WorkflowStatus,
        options: &WriteOptions,
    ) -> Result<Workflow> {
        let Some((revision, mut workflow)) = self.load_workflow(name).await? else {
            return Err(Error::not_found(format!("There is no workflow '{name}'.")));
        };
        workflow.status = status;
        if options.validate_only {
            return Ok(workflow);
        }
        let artifact = Artifact::Workflow(workflow.clone());
        self.inner
            .artifacts
            .put(Kind::Workflow, name, encode(&artifact)?, Some(revision))
            .await?;
        self.archive(
            Kind::Workflow,
            name,
            ArchiveAction::Update,
            options,
            Some(&artifact),
        )
        .await;
        self.wake_workflows();
        Ok(workflow)
    }

    /// A workflow delete: status `stopping`; the workflow loop removes it.
    pub(crate) async fn stop_workflow(&self, name: &str, options: &WriteOptions) -> Result<bool> {
        if self.load_workflow(name).await?.is_none() {
            return Ok(false);
        }
        self.set_workflow_status(name, WorkflowStatus::Stopping, options)
            .await?;
        Ok(true)
    }

    /// The executions of workflow `name` this server ran and keeps, newest first (the last
    /// `workflows.history` ones and as many failed ones). Empty when it has not run here (a standby server, or
    /// not yet); `NotFound` when there is no such workflow and no history of it.
    pub async fn workflow_executions(&self, name: &str) -> Result<Vec<Execution>> {
        let kept = self.inner.workflow_executions.list(name);
        if kept.is_none() && self.load_workflow(name).await?.is_none() {
            return Err(Error::not_found(format!("There is no workflow '{name}'.")));
        }
        Ok(kept.unwrap_or_default())
    }

    /// The log of workflow `name`: the recent messages (at most `recent_lines` lines, with the start and end
    /// of their executions), then a receiver of every workflow's live messages from now on (filter by
    /// [`LogMessage::workflow`]). `NotFound` as [`Vamp::workflow_executions`].
    pub async fn workflow_log(
        &self,
        name: &str,
        recent_lines: usize,
    ) -> Result<(Vec<LogMessage>, broadcast::Receiver<LogMessage>)> {
        let live = self.inner.workflow_executions.subscribe();
        let kept = self.inner.workflow_executions.list(name);
        if kept.is_none() && self.load_workflow(name).await?.is_none() {
            return Err(Error::not_found(format!("There is no workflow '{name}'.")));
        }
        Ok((self.inner.workflow_executions.replay(name, recent_lines), live))
    }
}
