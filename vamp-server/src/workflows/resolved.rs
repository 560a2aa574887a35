//! A workflow with its breed and scale looked up: what the runtime starts, and the fingerprint that tells
//! whether a running workflow must restart (its definition, breed or scale changed; its status does not count).

use std::time::Duration;

use indexmap::IndexMap;
use vamp_core::model::{Artifact, Breed, Kind, Ref, Scale, Workflow, WorkflowStatus};
use vamp_core::{Error, Result};

use super::environment::{seconds, workflow_environment, PERIOD_VARIABLE, TIMEOUT_VARIABLE};
use super::settings::WorkflowSettings;
use crate::ops::codec::decode;
use crate::vamp::Vamp;

/// The deployable type of script workflows; any other type is run by the container driver.
pub const JAVASCRIPT: &str = "application/javascript";

/// A workflow ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedWorkflow {
    /// The workflow.
    pub workflow: Workflow,
    /// Its breed.
    pub breed: Breed,
    /// Its scale, if it gives one.
    pub scale: Option<Scale>,
    /// Changes exactly when the workflow (but its status), its breed or its scale changes.
    pub fingerprint: String,
}

impl ResolvedWorkflow {
    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.workflow.name
    }

    /// Whether it is a script run by the embedded engine (else its breed runs as a service).
    pub fn is_script(&self) -> bool {
        self.breed.deployable.normalized_kind() == JAVASCRIPT
    }

    /// Its environment without trigger data.
    pub fn environment(&self, namespace: &str) -> IndexMap<String, String> {
        workflow_environment(&self.workflow, &self.breed, namespace, None)
    }

    /// A daemon's period: `VAMP_WORKFLOW_EXECUTION_PERIOD` seconds, else the settings' default; `None` = once.
    pub fn period(&self, namespace: &str, settings: &WorkflowSettings) -> Option<Duration> {
        match seconds(&self.environment(namespace), PERIOD_VARIABLE) {
            Some(s) if s > 0.0 => Some(Duration::from_secs_f64(s)),
            Some(_) => None,
            None => settings.period(),
        }
    }

    /// A run's time limit: `VAMP_WORKFLOW_EXECUTION_TIMEOUT` seconds, else the settings' default; `None` =
    /// none.
    pub fn timeout(&self, namespace: &str, settings: &WorkflowSettings) -> Option<Duration> {
        match seconds(&self.environment(namespace), TIMEOUT_VARIABLE) {
            Some(s) if s > 0.0 => Some(Duration::from_secs_f64(s)),
            Some(_) => None,
            None => settings.timeout(),
        }
    }

    /// A run's memory limit in bytes: `scale.memory`, else the settings' default.
    pub fn memory_bytes(&self, settings: &WorkflowSettings) -> usize {
        let mb = self
            .scale
            .as_ref()
            .map(|s| s.memory.0)
            .filter(|m| m.is_finite() && *m > 0.0)
            .unwrap_or(settings.memory_mb as f64);
        (mb * 1024.0 * 1024.0) as usize
    }
}

async fn stored_breed(vamp: &Vamp, workflow: &str, name: &str) -> Result<Breed> {
    match vamp.inner.artifacts.get(Kind::Breed, name).await? {
        Some(stored) => match decode(&stored)? {
            Artifact::Breed(b) => Ok(b),
            _ => Err(Error::backend(format!(
                "The stored breed '{name}' reads back as another kind."
            ))),
        },
        None => Err(Error::not_found(format!(
            "Workflow '{workflow}' runs breed '{name}', which does not exist; create the breed."
        ))),
    }
}

async fn stored_scale(vamp: &Vamp, workflow: &str, name: &str) -> Result<Scale> {
    match vamp.inner.artifacts.get(Kind::Scale, name).await? {
        Some(stored) => match decode(&stored)? {
            Artifact::Scale(s) => Ok(s),
            _ => Err(Error::backend(format!(
                "The stored scale '{name}' reads back as another kind."
            ))),
        },
        None => Err(Error::not_found(format!(
            "Workflow '{workflow}' uses scale '{name}', which does not exist; create the scale."
        ))),
    }
}

/// Looks up the breed and scale of `workflow`. Fails with `NotFound` naming a missing breed or scale.
pub async fn resolve(vamp: &Vamp, workflow: &Workflow) -> Result<ResolvedWorkflow> {
    let breed = match &workflow.breed {
        Ref::Inline(b) => b.clone(),
        Ref::Named(name) => stored_breed(vamp, &workflow.name, name).await?,
    };
    let scale = match &workflow.scale {
        None => None,
        Some(Ref::Inline(s)) => Some(s.clone()),
        Some(Ref::Named(name)) => Some(stored_scale(vamp, &workflow.name, name).await?),
    };
    let mut unstated = workflow.clone();
    unstated.status = WorkflowStatus::Running;
    let fingerprint = serde_json::json!({
        "workflow": unstated,
        "breed": breed,
        "scale": scale,
    })
    .to_string();
    Ok(ResolvedWorkflow {
        workflow: workflow.clone(),
        breed,
        scale,
        fingerprint,
    })
}
