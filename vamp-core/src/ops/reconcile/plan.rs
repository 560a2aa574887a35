//! The planner: one pass of the deployment synchronization loop as a pure function.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use crate::model::{Deployment, DeploymentCluster, DeploymentService, Instance, Intention, Phase};
use crate::ops::deployment::dependencies::satisfying_cluster;
use crate::ops::deployment::{effective_health_checks, fail_on_timeout};
use crate::resolve::environment::{dependency_name, matches_dependency};

use super::action::{Action, Mismatch, ServiceKey, ServiceSpec, SyncEvent, SyncEventKind};
use super::config::{ReconcileChecks, ReconcileConfig};
use super::observed::Observed;
use super::order::dependency_order;

/// The actions that move `running` towards `desired` at `now`, in the order to carry them out.
///
/// Deployments are planned in the order given; inside one, services come after the services they depend on, so
/// a dependency that becomes `Done` in this pass unblocks its dependents in the same pass. Then every running
/// service that no desired deployment has (an orphan of this namespace) is undeployed, in key order.
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
    running: &[Observed],
    now: DateTime<Utc>,
    config: &ReconcileConfig,
) -> Vec<Action> {
    let mut observed: HashMap<ServiceKey, &Observed> = HashMap::new();
    for o in running {
        observed.entry(o.key()).or_insert(o);
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
            let key = ServiceKey::new(&deployment.name, &cluster.name, &service.breed.name);
            let running = observed.get(&key).copied();
            let phase = plan_service(
                deployment,
                cluster,
                service,
                &key,
                running,
                &planned,
                now,
                config,
                &mut actions,
            );
            planned.insert((cluster.name.clone(), service.breed.name.clone()), phase);
        }
    }
    let mut orphans: Vec<ServiceKey> = observed
        .into_keys()
        .filter(|k| {
            !desired.iter().any(|d| {
                d.name == k.deployment
                    && d.cluster(&k.cluster)
                        .is_some_and(|c| c.service(&k.service).is_some())
            })
        })
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

/// The driver's view of `service` of `cluster` in `deployment`.
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
        key: ServiceKey::new(&deployment.name, &cluster.name, &service.breed.name),
        breed: service.breed.clone(),
        scale: service
            .scale
            .clone()
            .unwrap_or_else(|| config.default_scale.clone()),
        environment,
        arguments: service.arguments.clone(),
        health_checks: effective_health_checks(cluster, service),
        network: service.network.clone().or_else(|| cluster.network.clone()),
        dialects,
    }
}

/// Plans one service and returns the phase it will be in once the actions are carried out.
#[allow(clippy::too_many_arguments)]
fn plan_service(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
    key: &ServiceKey,
    running: Option<&Observed>,
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
            service: key.clone(),
            phase: failed.phase.clone(),
            event: None,
        });
        return failed.phase;
    }
    let mut steps = Steps {
        key,
        phase: status.phase.clone(),
        actions,
    };
    match (status.intention, running) {
        (Intention::Undeployment, Some(_)) => {
            steps.enter_updating(None);
            steps.push(Action::Undeploy {
                service: key.clone(),
                orphan: false,
            });
        }
        (Intention::Undeployment, None) => {
            let event = (steps.phase != Phase::Done).then(|| steps.event(SyncEventKind::Undeployed));
            steps.push(Action::Remove {
                service: key.clone(),
                event,
            });
            steps.phase = Phase::Done;
        }
        (Intention::Deployment, None) => {
            let event = (steps.phase == Phase::Done).then(|| steps.event(SyncEventKind::Redeploy));
            steps.enter_updating(event);
            if let Some((alias, mapped)) = unmet_dependency(deployment, service, planned) {
                steps.push(Action::WaitForDependency {
                    service: key.clone(),
                    dependency: alias,
                    cluster: mapped,
                });
            } else if !environment_resolved(service) {
                steps.push(Action::ResolveEnvironment { service: key.clone() });
            } else {
                steps.push(Action::Deploy {
                    spec: service_spec(deployment, cluster, service, config),
                });
            }
        }
        (Intention::Deployment, Some(observed)) => {
            plan_running(deployment, cluster, service, observed, config, &mut steps);
        }
    }
    steps.phase
}

fn plan_running(
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    service: &DeploymentService,
    observed: &Observed,
    config: &ReconcileConfig,
    steps: &mut Steps<'_>,
) {
    if !environment_resolved(service) {
        if steps.phase == Phase::Initiated {
            let event = steps.event(SyncEventKind::Redeploy);
            steps.enter_updating(Some(event));
        }
        steps.push(Action::ResolveEnvironment {
            service: steps.key.clone(),
        });
        return;
    }
    let spec = service_spec(deployment, cluster, service, config);
    let mismatches = mismatches(&spec, observed, config.checks);
    if !mismatches.is_empty() {
        let event = steps.event(SyncEventKind::Redeploy);
        steps.enter_updating(Some(event));
        steps.push(Action::Update { spec, mismatches });
        return;
    }
    if !same_instances(&service.instances, &observed.instances) {
        steps.push(Action::RecordInstances {
            service: steps.key.clone(),
            instances: observed.instances.clone(),
        });
    }
    if let Some(health) = observed.health.filter(|h| service.health.as_ref() != Some(h)) {
        steps.push(Action::RecordHealth {
            service: steps.key.clone(),
            health,
        });
    }
    if steps.phase != Phase::Done {
        if observed.instances.iter().all(|i| i.deployed) {
            let event = steps.event(SyncEventKind::Deployed);
            steps.push(Action::SetPhase {
                service: steps.key.clone(),
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
    key: &'a ServiceKey,
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
            service: self.key.clone(),
        }
    }

    /// Moves to `Updating` unless already there, publishing `event` on the way.
    fn enter_updating(&mut self, event: Option<SyncEvent>) {
        if self.phase != Phase::Updating {
            self.actions.push(Action::SetPhase {
                service: self.key.clone(),
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

fn mismatches(spec: &ServiceSpec, observed: &Observed, checks: ReconcileChecks) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if checks.instances && observed.instances.len() != spec.scale.instances as usize {
        out.push(Mismatch::Instances {
            desired: spec.scale.instances,
            running: observed.instances.len(),
        });
    }
    if let Some(scale) = &observed.scale {
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
    }
    if checks.environment {
        let names: Vec<String> = spec
            .environment
            .iter()
            .filter(|(k, v)| observed.environment.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect();
        if !names.is_empty() {
            out.push(Mismatch::Environment { names });
        }
    }
    if checks.health_checks {
        if let Some(running) = &observed.health_checks {
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
