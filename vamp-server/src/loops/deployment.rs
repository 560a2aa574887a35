//! The deployment loop (§4.3): `driver.list` + the stored deployments → `ops::reconcile::plan` → the actions
//! carried out (driver deploy/undeploy, phases, instances, health, resolved environments) → the deployments
//! stored at the revision read, and the `synchronization:deployed|redeploy|undeployed` events published.
//! Dependency waiting and the timeout to `Failed` are the planner's.

use std::collections::HashMap;

use chrono::Utc;
use tokio::sync::watch;
use vamp_core::driver::ServiceId;
use vamp_core::model::{Deployment, DeploymentService, Event, Gateway, Intention, Phase};
use vamp_core::ops::deployment::remove_undeployed;
use vamp_core::ops::reconcile::{plan, Action, SyncEvent};
use vamp_core::resolve::{environment::resolve_environment, Strictness, Values};
use vamp_core::{ErrorKind, Result};

use super::{delay, next_pass};
use crate::vamp::Vamp;

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    loop {
        let busy = match pass(&vamp).await {
            Ok(busy) => busy,
            Err(e) => {
                tracing::warn!(error = %e, "deployment synchronisation failed; retrying");
                true
            }
        };
        if !next_pass(&vamp.inner.wake.deployments, delay(&vamp, busy), &mut stop).await {
            return;
        }
    }
}

fn service_mut<'a>(
    deployments: &'a mut HashMap<String, Deployment>,
    id: &ServiceId,
) -> Option<&'a mut DeploymentService> {
    deployments
        .get_mut(&id.deployment)?
        .cluster_mut(&id.cluster)?
        .services
        .iter_mut()
        .find(|s| s.breed.name == id.service)
}

fn sync_event(event: &SyncEvent) -> Event {
    Event::new(
        event.tags(),
        serde_json::json!({
            "deployment": event.service.deployment,
            "cluster": event.service.cluster,
            "service": event.service.service,
        }),
    )
    .with_type("deployment")
}

/// One pass; `Ok(true)` while something is still converging (so the loop polls again soon).
async fn pass(vamp: &Vamp) -> Result<bool> {
    let namespace = vamp.namespace().to_string();
    let running = vamp.inner.driver.list(&namespace).await?;
    let running = crate::workflows::container::without_workflow_services(vamp, running).await?;
    let guard = vamp.inner.deployment_lock.lock().await;
    let stored = vamp.load_deployments().await?;
    let desired: Vec<Deployment> = stored.iter().map(|(_, d)| d.clone()).collect();
    let revisions: HashMap<String, u64> = stored.iter().map(|(r, d)| (d.name.clone(), *r)).collect();
    let now = Utc::now();
    let config = vamp.settings().reconcile_config();
    let actions = plan(&desired, &running, now, &config);
    let mut working: HashMap<String, Deployment> =
        desired.iter().map(|d| (d.name.clone(), d.clone())).collect();
    let planned_gateways: Vec<Gateway> = vamp
        .inner
        .gateway_plan
        .read()
        .map(|p| p.iter().map(|g| g.gateway.clone()).collect())
        .unwrap_or_default();
    let gateway_host = vamp.settings().gateways.host.clone();
    let mut events = Vec::new();
    let mut busy = false;
    for action in actions {
        tracing::debug!(%action, "deployment synchronisation");
        match action {
            Action::Deploy { spec } | Action::Update { spec, .. } => {
                if let Err(e) = vamp.inner.driver.deploy(&spec).await {
                    tracing::warn!(error = %e, service = %spec.id, "the driver refused to deploy");
                    if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::Unsupported) {
                        if let Some(s) = service_mut(&mut working, &spec.id) {
                            s.status = s.status.with_phase(Phase::Failed(e.to_string()), now);
                        }
                    } else {
                        busy = true;
                    }
                }
            }
            Action::Undeploy { service, orphan } => {
                if orphan {
                    tracing::info!(%service, "undeploying a service no deployment has");
                }
                if let Err(e) = vamp.inner.driver.undeploy(&service).await {
                    tracing::warn!(error = %e, %service, "the driver failed to undeploy");
                    busy = true;
                }
            }
            Action::ResolveEnvironment { service: id } => {
                let Some(deployment) = working.get(&id.deployment) else {
                    continue;
                };
                let values = Values::for_deployment(deployment, &gateway_host, &planned_gateways);
                let resolved = deployment.cluster(&id.cluster).and_then(|cluster| {
                    let service = cluster.service(&id.service)?;
                    Some(resolve_environment(
                        deployment,
                        cluster,
                        service,
                        &values,
                        Strictness::Strict,
                    ))
                });
                match resolved {
                    Some(Ok(vars)) => {
                        if let Some(s) = service_mut(&mut working, &id) {
                            s.environment_variables = vars;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, service = %id, "environment not resolvable yet");
                        busy = true;
                    }
                    None => {}
                }
            }
            Action::WaitForDependency { .. } => busy = true,
            Action::SetPhase {
                service,
                phase,
                event,
            } => {
                if let Some(s) = service_mut(&mut working, &service) {
                    if let Phase::Failed(message) = &phase {
                        tracing::warn!(%service, message, "service failed");
                    }
                    s.status = s.status.with_phase(phase, now);
                }
                events.extend(event);
            }
            Action::RecordInstances { service, instances } => {
                if let Some(s) = service_mut(&mut working, &service) {
                    s.instances = instances;
                }
            }
            Action::RecordHealth { service, health } => {
                if let Some(s) = service_mut(&mut working, &service) {
                    s.health = Some(health);
                }
            }
            Action::Remove { service, event } => {
                if let Some(s) = service_mut(&mut working, &service) {
                    s.status = s.status.with_phase(Phase::Done, now);
                    s.status.intention = Intention::Undeployment;
                }
                events.extend(event);
            }
        }
    }
    let mut changed = false;
    for original in &desired {
        let Some(updated) = working.remove(&original.name) else {
            continue;
        };
        if &updated == original {
            continue;
        }
        changed = true;
        let revision = revisions.get(&original.name).copied().unwrap_or(0);
        let outcome = match remove_undeployed(updated) {
            Some(d) => vamp.store_deployment(&d, revision).await.map(drop),
            None => vamp.remove_deployment(&original.name).await.map(drop),
        };
        if let Err(e) = outcome {
            tracing::debug!(error = %e, deployment = %original.name, "deployment changed meanwhile; next pass");
            busy = true;
        }
    }
    drop(guard);
    for event in &events {
        tracing::info!(tags = ?event.tags(), "synchronisation");
        if let Err(e) = vamp.inner.events.publish(sync_event(event)).await {
            tracing::warn!(error = %e, "the synchronisation event could not be published");
        }
    }
    if changed {
        vamp.wake_gateways();
    }
    let converging = desired
        .iter()
        .flat_map(|d| d.clusters.iter().flat_map(|c| &c.services))
        .any(|s| !matches!(s.status.phase, Phase::Done | Phase::Failed(_)));
    Ok(busy || converging || changed)
}
