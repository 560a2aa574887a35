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
    /// `Invalid`, naming the variable, beyond [`MAX_SECONDS`].
    pub fn period(&self, namespace: &str, settings: &WorkflowSettings) -> Result<Option<Duration>> {
        match seconds(&self.environment(namespace), PERIOD_VARIABLE) {
            Some(s) if s > 0.0 => bounded(&self.workflow.name, PERIOD_VARIABLE, s).map(Some),
            Some(_) => Ok(None),
            None => Ok(settings.period()),
        }
    }

    /// A run's time limit: `VAMP_WORKFLOW_EXECUTION_TIMEOUT` seconds, else (absent, 0, negative or not a
    /// number) the settings' default; at most `workflows.max-execution-timeout-ms` (a longer one is cut to it).
    /// Always a limit. `Invalid`, naming the variable, beyond [`MAX_SECONDS`].
    pub fn timeout(&self, namespace: &str, settings: &WorkflowSettings) -> Result<Duration> {
        match seconds(&self.environment(namespace), TIMEOUT_VARIABLE) {
            Some(s) if s > 0.0 => {
                let asked = bounded(&self.workflow.name, TIMEOUT_VARIABLE, s)?;
                Ok(asked.min(settings.max_timeout()))
            }
            _ => Ok(settings.timeout()),
        }
    }

    /// A run's memory limit in bytes: `scale.memory`, else the settings' default, kept within 1 MiB and
    /// `workflows.max-memory-mb` (and the total budget, `max-total-memory-mb`).
    pub fn memory_bytes(&self, settings: &WorkflowSettings) -> usize {
        memory_limit(self.scale.as_ref().map(|s| s.memory.0), settings)
    }
}

/// The longest period or time limit a workflow's environment may set: 30 days.
pub const MAX_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

const MB: f64 = 1024.0 * 1024.0;

fn bounded(workflow: &str, variable: &str, seconds: f64) -> Result<Duration> {
    if seconds > MAX_SECONDS {
        return Err(Error::invalid(format!(
            "Workflow '{workflow}': {variable} is {seconds} seconds; at most {MAX_SECONDS} (30 days) is allowed."
        )));
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| {
        Error::invalid(format!(
            "Workflow '{workflow}': {variable} is not a usable number of seconds: {e}."
        ))
    })
}

/// The memory limit in bytes for `scale_mb` (else the default), within 1 MiB and the largest a run may have.
fn memory_limit(scale_mb: Option<f64>, settings: &WorkflowSettings) -> usize {
    let mb = scale_mb
        .filter(|m| m.is_finite() && *m > 0.0)
        .unwrap_or(settings.default_memory_mb() as f64);
    let max = (settings.max_run_memory_mb() as f64).max(1.0);
    (mb.clamp(1.0, max) * MB) as usize
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
    let settings = &vamp.settings().workflows;
    let checked = ResolvedWorkflow {
        workflow: workflow.clone(),
        breed: breed.clone(),
        scale: None,
        fingerprint: String::new(),
    };
    checked.period(vamp.namespace(), settings)?;
    checked.timeout(vamp.namespace(), settings)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limits_stay_between_one_mib_and_the_maximum() {
        let settings = WorkflowSettings::default();
        assert_eq!(memory_limit(Some(0.0000001), &settings), 1024 * 1024);
        assert_eq!(memory_limit(Some(1e12), &settings), 1024 * 1024 * 1024);
        assert_eq!(memory_limit(Some(16.0), &settings), 16 * 1024 * 1024);
        assert_eq!(memory_limit(None, &settings), 64 * 1024 * 1024);
        let small = WorkflowSettings {
            max_total_memory_mb: 48,
            ..WorkflowSettings::default()
        };
        assert_eq!(memory_limit(None, &small), 48 * 1024 * 1024);
    }

    fn with_timeout(value: &str) -> ResolvedWorkflow {
        let text = format!(
            "name: w\nbreed:\n  name: b\n  deployable: {{type: application/javascript, definition: x}}\n  \
             environment_variables: {{{TIMEOUT_VARIABLE}: '{value}'}}\nschedule: daemon\n"
        );
        let vamp_core::model::Artifact::Workflow(workflow) =
            vamp_core::dsl::read(Kind::Workflow, &text).unwrap()
        else {
            panic!("not a workflow")
        };
        let breed = workflow.breed.inline().cloned().unwrap();
        ResolvedWorkflow {
            workflow,
            breed,
            scale: None,
            fingerprint: String::new(),
        }
    }

    #[test]
    fn a_zero_or_unreadable_timeout_is_the_default_and_a_long_one_is_cut_to_the_maximum() {
        let settings = WorkflowSettings::default();
        for value in ["0", "-5", "never", ""] {
            assert_eq!(
                with_timeout(value).timeout("default", &settings).unwrap(),
                Duration::from_secs(60),
                "{value}"
            );
        }
        assert_eq!(
            with_timeout("2.5").timeout("default", &settings).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(
            with_timeout("86400").timeout("default", &settings).unwrap(),
            settings.max_timeout()
        );
    }

    #[test]
    fn huge_periods_and_timeouts_are_refused_naming_the_variable() {
        let e = bounded("w", PERIOD_VARIABLE, 1e20).unwrap_err();
        assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid);
        assert!(e.message().contains(PERIOD_VARIABLE), "{}", e.message());
        assert_eq!(
            bounded("w", TIMEOUT_VARIABLE, 2.5).unwrap(),
            Duration::from_millis(2500)
        );
        assert!(bounded("w", TIMEOUT_VARIABLE, MAX_SECONDS + 1.0).is_err());
    }
}
