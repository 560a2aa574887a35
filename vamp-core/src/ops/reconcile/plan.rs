//! The planner: one pass of the deployment synchronization loop as a pure function.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use crate::driver::{RunningService, ServiceId, ServiceSpec};
use crate::model::{Deployment, DeploymentCluster, DeploymentService, Instance, Intention, Phase};
use crate::ops::deployment::dependencies::satisfying_cluster;
use crate::ops::deployment::{effective_health_checks, fail_on_timeout};
use crate::resolve::environment::{dependency_name, matches_dependency};

use super::action::{Action, Mismatch, SyncEvent, SyncEventKind};
use super::config::{ReconcileChecks, ReconcileConfig};
use super::order::dependency_order;

/// The actions that move `running` towards `desired` at `now`, in the order to carry them out.
///
/// `desired` are the deployments of `config.namespace`; `running` is what the driver lists
/// ([`ContainerDriver::list`](crate::driver::ContainerDriver::list)). Running services of another namespace
/// are ignored: they are neither matched with a desired service nor undeployed as orphans. When the driver
/// lists a service twice, the first listing counts.
///
/// Deployments are planned in the order given; inside one, services come after the services they depend on, so
/// a dependency that becomes `Done` in this pass unblocks its dependents in the same pass. Then every running
/// service of the namespace that no desired deployment has (an orphan) is undeployed, in [`ServiceId`] order.
///
/// Per service (the original's rules, §4.3):
/// * `Failed`: nothing. Not `Done` for longer than its timeout: `SetPhase(Failed)`.
/// * Intention `Deployment`, not running: `Initiated` (or `Done`, with a `redeploy` event) moves to
///   `Updating`; then `WaitForDependency` until every dependency's services are `Deployment/Done`, then
///   `ResolveEnvironment` until every variable is interpolated ([`environment_resolved`]), then `Deploy`.
/// * Intention `Deployment`, running: `ResolveEnvironment` first if needed; then, if the checks find a
///   [`Mismatch`], `Update` (moving to `Updating` with a `redeploy` event unless already there); else
///   `RecordInstances` / `RecordHealth` when they changed, and `SetPhase(Done)` with a `deployed` event once
///   every instance is deployed.
/// * Intention `Undeployment`: running → `Undeploy` (and `Updating`); gone → `Remove`, with an `undeployed`
///   event unless it was already `Done`.
pub fn plan(
    desired: &[Deployment],
    running: &[RunningService],
    now: DateTime<Utc>,
    config: &ReconcileConfig,
) -> Vec<Action> {
    let mut listed: HashMap<&ServiceId, &RunningService> = HashMap::new();
    for r in running.iter().filter(|r| r.id.namespace == config.namespace) {
        listed.entry(&r.id).or_insert(r);
    }
    let mut actions = Vec::new();
    for deployment in desired {
        let mut planned: HashMap<(String, String), Phase> = HashMap::new();
        for (ci, si) in dependency_order(deployment) {
            let Some(cluster) = deployment.clusters.get(ci) else {
                continue;
            };
            let Some(service) = cluster.services.get(si) else {
                continue;
            };
            let id = service_id(deployment, cluster, service, config);
            let running = listed.get(&id).copied();
            let phase = plan_service(
                deployment,
                cluster,
                service,
                &id,
                running,
                &planned,
                now,
                config,
                &mut actions,
            );
            planned.insert((cluster.name.clone(), service.breed.name.clone()), phase);
        }
    }
    let mut orphans: Vec<ServiceId> = listed
        .into_keys()
        .filter(|k| {
            !desired.iter().any(|d| {
                d.name == k.deployment
                    && d.cluster(&k.cluster)
                        .is_some_and(|c| c.service(&k.service).is_some())
            })
        })
        .cloned()
        .collect();
    orphans.sort();
    actions.extend(orphans.into_iter().map(|service| Action::Undeploy {
        service,
        orphan: true,
    }));
    actions
}

/// Whether `service`'s variables are ready to hand to a driver: every breed variable is in the service's list
/// and every variable of the list has an `interpolated` value.
pub fn environment_resolved(service: &DeploymentService) -> bool {
    let vars = &service.environment_variables;
    vars.iter().all(|v| v.interpolated.is_some())
        && service
            .breed
            .environment_variables
            .iter()
            .all(|b| vars.iter().any(|v| v.name == b.name))
}

/// What the driver gets for `service` of `cluster` in `deployment` (namespace `config.namespace`): the breed's
/// deployable and ports; the service's scale, else `config.default_scale`; the environment by container name
/// with interpolated values (else the plain value); the arguments; the effective health checks
/// ([`effective_health_checks`]); the service's network, else the cluster's; and the deployment's, cluster's
/// and service's dialects merged by key, later ones winning.
pub fn service_spec(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
    config: &ReconcileConfig,
) -> ServiceSpec {
    let environment: IndexMap<String, String> = service
        .environment_variables
        .iter()
        .map(|v| {
            (
                v.container_name().to_string(),
                v.interpolated
                    .clone()
                    .or_else(|| v.value.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut dialects = deployment.dialects.clone();
    for (k, v) in cluster.dialects.iter().chain(service.dialects.iter()) {
        dialects.insert(k.clone(), v.clone());
    }
    ServiceSpec {
        id: service_id(deployment, cluster, service, config),
        deployable: service.breed.deployable.clone(),
        scale: service
            .scale
            .clone()
            .unwrap_or_else(|| config.default_scale.clone()),
        environment,
        ports: service.breed.ports.clone(),
        health_checks: effective_health_checks(cluster, service),
        arguments: service.arguments.clone(),
        network: service.network.clone().or_else(|| cluster.network.clone()),
        dialects,
    }
}

/// The id of `service` of `cluster` in `deployment`, in `config.namespace`.
fn service_id(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
    config: &ReconcileConfig,
) -> ServiceId {
    ServiceId::new(
        &config.namespace,
        &deployment.name,
        &cluster.name,
        &service.breed.name,
    )
}

/// Plans one service and returns the phase it will be in once the actions are carried out.
#[allow(clippy::too_many_arguments)]
fn plan_service(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
    id: &ServiceId,
    running: Option<&RunningService>,
    planned: &HashMap<(String, String), Phase>,
    now: DateTime<Utc>,
    config: &ReconcileConfig,
    actions: &mut Vec<Action>,
) -> Phase {
    let status = &service.status;
    if matches!(status.phase, Phase::Failed(_)) {
        return status.phase.clone();
    }
    if let Some(failed) = fail_on_timeout(
        status,
        &deployment.name,
        &service.breed.name,
        now,
        config.timeouts,
    ) {
        actions.push(Action::SetPhase {
            service: id.clone(),
            phase: failed.phase.clone(),
            event: None,
        });
        return failed.phase;
    }
    let mut steps = Steps {
        id,
        phase: status.phase.clone(),
        actions,
    };
    match (status.intention, running) {
        (Intention::Undeployment, Some(_)) => {
            steps.enter_updating(None);
            steps.push(Action::Undeploy {
                service: id.clone(),
                orphan: false,
            });
        }
        (Intention::Undeployment, None) => {
            let event = (steps.phase != Phase::Done).then(|| steps.event(SyncEventKind::Undeployed));
            steps.push(Action::Remove {
                service: id.clone(),
                event,
            });
            steps.phase = Phase::Done;
        }
        (Intention::Deployment, None) => {
            let event = (steps.phase == Phase::Done).then(|| steps.event(SyncEventKind::Redeploy));
            steps.enter_updating(event);
            if let Some((alias, mapped)) = unmet_dependency(deployment, service, planned) {
                steps.push(Action::WaitForDependency {
                    service: id.clone(),
                    dependency: alias,
                    cluster: mapped,
                });
            } else if !environment_resolved(service) {
                steps.push(Action::ResolveEnvironment { service: id.clone() });
            } else {
                steps.push(Action::Deploy {
                    spec: service_spec(deployment, cluster, service, config),
                });
            }
        }
        (Intention::Deployment, Some(listed)) => {
            plan_running(deployment, cluster, service, listed, config, &mut steps);
        }
    }
    steps.phase
}

fn plan_running(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
    listed: &RunningService,
    config: &ReconcileConfig,
    steps: &mut Steps<'_>,
) {
    if !environment_resolved(service) {
        if steps.phase == Phase::Initiated {
            let event = steps.event(SyncEventKind::Redeploy);
            steps.enter_updating(Some(event));
        }
        steps.push(Action::ResolveEnvironment {
            service: steps.id.clone(),
        });
        return;
    }
    let spec = service_spec(deployment, cluster, service, config);
    let mismatches = mismatches(&spec, listed, config.checks);
    if !mismatches.is_empty() {
        let event = steps.event(SyncEventKind::Redeploy);
        steps.enter_updating(Some(event));
        steps.push(Action::Update { spec, mismatches });
        return;
    }
    if !same_instances(&service.instances, &listed.instances) {
        steps.push(Action::RecordInstances {
            service: steps.id.clone(),
            instances: listed.instances.clone(),
        });
    }
    if service.health != Some(listed.health) {
        steps.push(Action::RecordHealth {
            service: steps.id.clone(),
            health: listed.health,
        });
    }
    if steps.phase != Phase::Done {
        if listed.instances.iter().all(|i| i.deployed) {
            let event = steps.event(SyncEventKind::Deployed);
            steps.push(Action::SetPhase {
                service: steps.id.clone(),
                phase: Phase::Done,
                event: Some(event),
            });
            steps.phase = Phase::Done;
        } else {
            steps.enter_updating(None);
        }
    }
}

/// The actions of one service and the phase they leave it in.
struct Steps<'a> {
    id: &'a ServiceId,
    phase: Phase,
    actions: &'a mut Vec<Action>,
}

impl Steps<'_> {
    fn push(&mut self, action: Action) {
        self.actions.push(action);
    }

    fn event(&self, kind: SyncEventKind) -> SyncEvent {
        SyncEvent {
            kind,
            service: self.id.clone(),
        }
    }

    /// Moves to `Updating` unless already there, publishing `event` on the way.
    fn enter_updating(&mut self, event: Option<SyncEvent>) {
        if self.phase != Phase::Updating {
            self.actions.push(Action::SetPhase {
                service: self.id.clone(),
                phase: Phase::Updating,
                event,
            });
            self.phase = Phase::Updating;
        }
    }
}

/// The first dependency alias of `service` whose services are not all `Deployment/Done` (after the phases
/// planned so far), with the cluster it is mapped to.
fn unmet_dependency(
    deployment: &Deployment,
    service: &DeploymentService,
    planned: &HashMap<(String, String), Phase>,
) -> Option<(String, Option<String>)> {
    for (alias, dependency) in &service.breed.dependencies {
        let name = dependency_name(dependency);
        let mapped = service
            .dependencies
            .get(alias)
            .map(String::as_str)
            .or_else(|| satisfying_cluster(deployment, name));
        let ready = mapped.and_then(|c| deployment.cluster(c)).is_some_and(|c| {
            let matching: Vec<&DeploymentService> = c
                .services
                .iter()
                .filter(|s| !s.status.is_undeploying() && matches_dependency(name, &s.breed.name))
                .collect();
            !matching.is_empty()
                && matching.iter().all(|s| {
                    let phase = planned
                        .get(&(c.name.clone(), s.breed.name.clone()))
                        .unwrap_or(&s.status.phase);
                    *phase == Phase::Done
                })
        });
        if !ready {
            return Some((alias.clone(), mapped.map(str::to_string)));
        }
    }
    None
}

fn mismatches(spec: &ServiceSpec, listed: &RunningService, checks: ReconcileChecks) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if checks.instances && listed.instances.len() != spec.scale.instances as usize {
        out.push(Mismatch::Instances {
            desired: spec.scale.instances,
            running: listed.instances.len(),
        });
    }
    let scale = &listed.scale;
    if checks.cpu && (scale.cpu.0 - spec.scale.cpu.0).abs() > 1e-9 {
        out.push(Mismatch::Cpu {
            desired: spec.scale.cpu.0,
            running: scale.cpu.0,
        });
    }
    if checks.memory && (scale.memory.0 - spec.scale.memory.0).abs() > 1e-9 {
        out.push(Mismatch::Memory {
            desired: spec.scale.memory.0,
            running: scale.memory.0,
        });
    }
    if checks.environment {
        let names: Vec<String> = spec
            .environment
            .iter()
            .filter(|(k, v)| listed.environment.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect();
        if !names.is_empty() {
            out.push(Mismatch::Environment { names });
        }
    }
    if checks.health_checks {
        if let Some(running) = &listed.health_checks {
            if *running != spec.health_checks {
                out.push(Mismatch::HealthChecks);
            }
        }
    }
    out
}

/// Whether two instance lists hold the same instances, in any order.
fn same_instances(recorded: &[Instance], running: &[Instance]) -> bool {
    recorded.len() == running.len() && recorded.iter().all(|r| running.iter().any(|o| o == r))
}
