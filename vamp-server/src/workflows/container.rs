//! Breed-based workflows: a workflow whose breed's deployable is not `application/javascript` (a docker image,
//! a `process` command line) runs as a service of the container driver, as the original deployed workflows
//! like services. Its service id is `<namespace>/<workflow>/<workflow>/<breed>`: the workflow's own name as the
//! deployment (no deployment may share it, `DeploymentWorkflowNameCollision`), so the deployment loop can tell
//! workflow services from orphans ([`without_workflow_services`]).
//!
//! The service runs the breed with the workflow's scale (default 0.1 CPU, 64 MB, 1 instance: the original's
//! workflow scale), the breed's variables overridden by the workflow's with `$workflow`, `$namespace` and the
//! breed's traits resolved, the breed's ports, the workflow's health checks (else the breed's), the breed's and
//! the workflow's arguments, the workflow's network and dialects. It runs as a daemon; other schedules need a
//! script breed.

use std::collections::HashSet;

use vamp_core::driver::{RunningService, ServiceId, ServiceSpec};
use vamp_core::model::{Kind, Scale, Schedule};
use vamp_core::{Error, Result};

use super::resolved::ResolvedWorkflow;
use crate::vamp::Vamp;

/// The scale of a breed-based workflow that gives none (`vamp.workflow-driver.workflow.scale`).
pub fn default_scale() -> Scale {
    Scale::new(0.1, 64.0, 1)
}

/// The service id of `workflow` in `namespace`.
pub fn service_id(namespace: &str, workflow: &ResolvedWorkflow) -> ServiceId {
    ServiceId::new(namespace, workflow.name(), workflow.name(), &workflow.breed.name)
}

/// What the driver is asked to run for `workflow`. Fails with `Invalid` for a schedule other than `daemon`.
pub fn service_spec(namespace: &str, workflow: &ResolvedWorkflow) -> Result<ServiceSpec> {
    if workflow.workflow.schedule != Schedule::Daemon {
        return Err(Error::invalid(format!(
            "Workflow '{}' runs breed '{}' ({}) as a service, which the container driver runs as a daemon; give it \
             'schedule: daemon', or a JavaScript breed (type application/javascript) for event, time and cron \
             schedules.",
            workflow.name(),
            workflow.breed.name,
            workflow.breed.deployable.normalized_kind()
        )));
    }
    let w = &workflow.workflow;
    let breed = &workflow.breed;
    let mut spec = ServiceSpec::new(
        service_id(namespace, workflow),
        breed.deployable.clone(),
        workflow.scale.clone().unwrap_or_else(default_scale),
    );
    spec.environment = workflow.environment(namespace);
    spec.ports = breed.ports.clone();
    spec.health_checks = w
        .health_checks
        .clone()
        .or_else(|| breed.health_checks.clone())
        .unwrap_or_default();
    spec.arguments = breed.arguments.iter().chain(&w.arguments).cloned().collect();
    spec.network = w.network.clone();
    spec.dialects = w.dialects.clone();
    Ok(spec)
}

/// Deploys (or updates) the service of `workflow`.
pub async fn deploy(vamp: &Vamp, workflow: &ResolvedWorkflow) -> Result<()> {
    let spec = service_spec(vamp.namespace(), workflow)?;
    vamp.inner.driver.deploy(&spec).await
}

/// Whether the driver lists the service of `workflow`.
pub async fn is_deployed(vamp: &Vamp, workflow: &ResolvedWorkflow) -> Result<bool> {
    let id = service_id(vamp.namespace(), workflow);
    Ok(vamp
        .inner
        .driver
        .list(vamp.namespace())
        .await?
        .iter()
        .any(|s| s.id == id))
}

/// Undeploys every service whose deployment is the workflow `name` (whatever breed it ran).
pub async fn undeploy(vamp: &Vamp, name: &str) -> Result<()> {
    for service in vamp.inner.driver.list(vamp.namespace()).await? {
        if service.id.deployment == name {
            vamp.inner.driver.undeploy(&service.id).await?;
        }
    }
    Ok(())
}

/// `running` without the services of stored workflows, for the deployment loop: they are not orphans of a
/// removed deployment. The workflow loop owns them.
pub async fn without_workflow_services(
    vamp: &Vamp,
    mut running: Vec<RunningService>,
) -> Result<Vec<RunningService>> {
    if running.is_empty() {
        return Ok(running);
    }
    let names: HashSet<String> = vamp
        .list_all(Kind::Workflow)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    running.retain(|s| !names.contains(&s.id.deployment));
    Ok(running)
}
