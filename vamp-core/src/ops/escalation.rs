//! Escalations (the original's `EscalationActor`): what an SLA event does to a deployment. A cluster's
//! escalation list is applied as one `to_one`; `to_one` tries its children in order (in reverse order when
//! de-escalating) and stops at the first that applies; `to_all` applies every child; `scale_instances`,
//! `scale_cpu` and `scale_memory` add (escalate) or subtract (de-escalate) `scale_by` on the first service of
//! the target cluster (`target`, else the SLA's own cluster) when the result stays within
//! `[minimum, maximum]`, and do not apply otherwise.
//!
//! Planning is pure: [`plan_escalations`] gives the scale changes (or why nothing applies) without touching the
//! deployment; [`apply_changes`] writes them into a deployment, resetting each changed service to
//! `Deployment/Initiated` so the deployment loop redeploys it, and refuses when the deployment changed since
//! the plan was made.
//!
//! Two deliberate differences from the original: `to_all` applies every child (the original's fold stopped at
//! the first that applied), and all the changes of one SLA event are written in one update of the deployment,
//! each change starting from the previous one's result (the original wrote each change from the same snapshot,
//! so the last write won).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::sla::{Direction, SLA_EVENT_TYPE};
use crate::model::{Deployment, Escalation, EscalationKind, Event, Intention, Ref, Scale, ServiceStatus};
use crate::{Error, Result};

/// How deeply escalations may nest (through `to_all`/`to_one` and references) before planning gives up on a
/// branch (a reference cycle).
const MAX_DEPTH: usize = 16;

/// One scale change an escalation makes.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleChange {
    /// The cluster scaled (the escalation's `target`, else the SLA's cluster).
    pub cluster: String,
    /// The service scaled: the cluster's first service, by breed name.
    pub service: String,
    /// Its scale before.
    pub from: Scale,
    /// Its scale after.
    pub to: Scale,
    /// The escalation's type (`scale_instances`, `scale_cpu`, `scale_memory`).
    pub escalation: String,
}

/// An escalation that did not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The escalation's type or reference name.
    pub escalation: String,
    /// Why it did not apply (at a bound, unknown target cluster, unsupported type, …).
    pub reason: String,
}

/// What an SLA event does to a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct EscalationPlan {
    /// Which way.
    pub direction: Direction,
    /// The changes, in the order they are applied; empty when nothing applies.
    pub changes: Vec<ScaleChange>,
    /// The escalations tried that did not apply.
    pub skipped: Vec<Skipped>,
}

impl EscalationPlan {
    /// Whether anything changes.
    pub fn applies(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// Plans the escalations of `cluster` of `deployment` for an SLA event going `direction`: `escalations` (the
/// cluster's SLA's) are applied as one `to_one`. References to stored escalations resolve through `lookup`
/// (an unknown one does not apply); a service without a scale counts as having `default_scale`. Pure: the
/// deployment is not changed.
pub fn plan_escalations(
    deployment: &Deployment,
    cluster: &str,
    escalations: &[Ref<Escalation>],
    direction: Direction,
    lookup: &dyn Fn(&str) -> Option<Escalation>,
    default_scale: &Scale,
) -> EscalationPlan {
    let mut planner = Planner {
        lookup,
        default_scale,
        direction,
        sla_cluster: cluster,
        working: deployment.clone(),
        changes: Vec::new(),
        skipped: Vec::new(),
    };
    planner.first_applying(escalations, 0);
    EscalationPlan {
        direction,
        changes: planner.changes,
        skipped: planner.skipped,
    }
}

/// Writes `changes` into `deployment`, in order: each service gets its new scale and the status
/// `Deployment/Initiated` as of `now`. Fails with `Conflict` when a service's scale is no longer the change's
/// `from` (the deployment changed since the plan), and with `NotFound` when the cluster or service is gone; the
/// deployment is then left as it was.
pub fn apply_changes(
    deployment: &mut Deployment,
    changes: &[ScaleChange],
    default_scale: &Scale,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut updated = deployment.clone();
    for change in changes {
        let name = updated.name.clone();
        let service = updated
            .cluster_mut(&change.cluster)
            .and_then(|c| c.services.iter_mut().find(|s| s.breed.name == change.service))
            .ok_or_else(|| {
                Error::not_found(format!(
                    "Deployment '{name}' has no service '{}' in cluster '{}' any more.",
                    change.service, change.cluster
                ))
            })?;
        let current = service.scale.clone().unwrap_or_else(|| default_scale.clone());
        if !current.same_resources(&change.from) {
            return Err(Error::conflict(format!(
                "The scale of service '{}' in cluster '{}' of deployment '{name}' changed to {current} while the \
                 escalation from {} was planned.",
                change.service, change.cluster, change.from
            )));
        }
        service.scale = Some(change.to.clone());
        service.status = ServiceStatus::initiated(Intention::Deployment, now);
    }
    *deployment = updated;
    Ok(())
}

/// The event of an applied change: type `sla`, tags `escalation`, `escalation:escalate|deescalate`,
/// `deployment:<d>`, `cluster:<the cluster scaled>`, `service:<breed>`; value `{direction, escalation, from, to,
/// sla: {deployment, cluster}}` (the SLA's cluster may differ from the one scaled, through `target`).
pub fn change_event(
    deployment: &str,
    sla_cluster: &str,
    direction: Direction,
    change: &ScaleChange,
) -> Event {
    Event::new(
        [
            "escalation".to_string(),
            format!("escalation:{}", direction.name()),
            format!("deployment:{deployment}"),
            format!("cluster:{}", change.cluster),
            format!("service:{}", change.service),
        ],
        json!({
            "direction": direction.name(),
            "escalation": change.escalation,
            "from": change.from,
            "to": change.to,
            "sla": {"deployment": deployment, "cluster": sla_cluster},
        }),
    )
    .with_type(SLA_EVENT_TYPE)
}

/// The event of an SLA event on which no escalation applied: type `sla`, tags `escalation`, `escalation:none`,
/// `deployment:<d>`, `cluster:<c>`; value `{direction, skipped: [{escalation, reason}]}`.
pub fn nothing_applies_event(deployment: &str, cluster: &str, plan: &EscalationPlan) -> Event {
    let skipped: Vec<serde_json::Value> = plan
        .skipped
        .iter()
        .map(|s| json!({"escalation": s.escalation, "reason": s.reason}))
        .collect();
    Event::new(
        [
            "escalation".to_string(),
            "escalation:none".to_string(),
            format!("deployment:{deployment}"),
            format!("cluster:{cluster}"),
        ],
        json!({"direction": plan.direction.name(), "skipped": skipped}),
    )
    .with_type(SLA_EVENT_TYPE)
}

/// The resource a scale escalation changes.
#[derive(Debug, Clone, Copy)]
enum Resource {
    Instances,
    Cpu,
    Memory,
}

struct Planner<'a> {
    lookup: &'a dyn Fn(&str) -> Option<Escalation>,
    default_scale: &'a Scale,
    direction: Direction,
    sla_cluster: &'a str,
    /// The deployment with the changes planned so far, so later changes start from earlier ones.
    working: Deployment,
    changes: Vec<ScaleChange>,
    skipped: Vec<Skipped>,
}

impl Planner<'_> {
    fn skip(&mut self, escalation: &str, reason: String) -> bool {
        self.skipped.push(Skipped {
            escalation: escalation.to_string(),
            reason,
        });
        false
    }

    /// The first child that applies, in order when escalating and in reverse order when de-escalating.
    fn first_applying(&mut self, children: &[Ref<Escalation>], depth: usize) -> bool {
        match self.direction {
            Direction::Escalate => children.iter().any(|c| self.apply(c, depth)),
            Direction::DeEscalate => children.iter().rev().any(|c| self.apply(c, depth)),
        }
    }

    /// Every child; whether any applied.
    fn every(&mut self, children: &[Ref<Escalation>], depth: usize) -> bool {
        let mut applied = false;
        for child in children {
            applied |= self.apply(child, depth);
        }
        applied
    }

    fn apply(&mut self, escalation: &Ref<Escalation>, depth: usize) -> bool {
        let resolved: Cow<'_, Escalation> = match escalation {
            Ref::Inline(e) => Cow::Borrowed(e),
            Ref::Named(name) => match (self.lookup)(name) {
                Some(e) => Cow::Owned(e),
                None => return self.skip(name, format!("there is no stored escalation '{name}'")),
            },
        };
        let label = match escalation {
            Ref::Named(name) => name.clone(),
            Ref::Inline(e) => e.type_name().to_string(),
        };
        if depth >= MAX_DEPTH {
            return self.skip(
                &label,
                format!("escalations nest more than {MAX_DEPTH} levels deep (a reference cycle?)"),
            );
        }
        match &resolved.kind {
            EscalationKind::ToAll(children) => self.every(children, depth + 1),
            EscalationKind::ToOne(children) => self.first_applying(children, depth + 1),
            EscalationKind::ScaleInstances {
                minimum,
                maximum,
                scale_by,
                target,
            } => self.scale(
                Resource::Instances,
                *minimum as f64,
                *maximum as f64,
                *scale_by as f64,
                target.as_deref(),
            ),
            EscalationKind::ScaleCpu {
                minimum,
                maximum,
                scale_by,
                target,
            } => self.scale(Resource::Cpu, *minimum, *maximum, *scale_by, target.as_deref()),
            EscalationKind::ScaleMemory {
                minimum,
                maximum,
                scale_by,
                target,
            } => self.scale(Resource::Memory, *minimum, *maximum, *scale_by, target.as_deref()),
            EscalationKind::Generic { kind, .. } => self.skip(
                &label,
                format!("the escalation type '{kind}' is not supported (UnsupportedEscalationType)"),
            ),
        }
    }

    fn scale(
        &mut self,
        resource: Resource,
        minimum: f64,
        maximum: f64,
        by: f64,
        target: Option<&str>,
    ) -> bool {
        let kind = match resource {
            Resource::Instances => "scale_instances",
            Resource::Cpu => "scale_cpu",
            Resource::Memory => "scale_memory",
        };
        let cluster_name = target.unwrap_or(self.sla_cluster).to_string();
        let Some(cluster) = self.working.cluster(&cluster_name) else {
            let reason = format!(
                "deployment '{}' has no cluster '{cluster_name}'",
                self.working.name
            );
            return self.skip(kind, reason);
        };
        let first = cluster
            .services
            .iter()
            .enumerate()
            .find(|(_, s)| !s.status.is_undeploying());
        let Some((index, service)) = first else {
            return self.skip(kind, format!("cluster '{cluster_name}' has no service to scale"));
        };
        let service_name = service.breed.name.clone();
        let from = service
            .scale
            .clone()
            .unwrap_or_else(|| self.default_scale.clone());
        let current = match resource {
            Resource::Instances => f64::from(from.instances),
            Resource::Cpu => from.cpu.0,
            Resource::Memory => from.memory.0,
        };
        let (next, sign) = match self.direction {
            Direction::Escalate => (current + by, "+"),
            Direction::DeEscalate => (current - by, "-"),
        };
        let next = (next * 1e6).round() / 1e6;
        let unit = match resource {
            Resource::Instances => "",
            Resource::Cpu => " CPU",
            Resource::Memory => " MB",
        };
        let slack = 1e-9;
        let out_of_bounds = if next > maximum + slack {
            Some(format!("above the maximum {maximum}{unit}"))
        } else if next < minimum - slack {
            Some(format!("below the minimum {minimum}{unit}"))
        } else if next < 0.0 {
            Some("below zero".to_string())
        } else {
            None
        };
        if let Some(bound) = out_of_bounds {
            let reason = format!(
                "{cluster_name}/{service_name}: {current}{unit} {sign} {by} would be {next}{unit}, {bound}"
            );
            return self.skip(kind, reason);
        }
        if (next - current).abs() < slack {
            return self.skip(kind, format!("scale_by {by} changes nothing"));
        }
        let mut to = from.clone();
        to.name = String::new();
        match resource {
            Resource::Instances => to.instances = next as u32,
            Resource::Cpu => to.cpu.0 = next,
            Resource::Memory => to.memory.0 = next,
        }
        if let Some(s) = self
            .working
            .cluster_mut(&cluster_name)
            .and_then(|c| c.services.get_mut(index))
        {
            s.scale = Some(to.clone());
        }
        self.changes.push(ScaleChange {
            cluster: cluster_name,
            service: service_name,
            from,
            to,
            escalation: kind.to_string(),
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Breed, Deployable, DeploymentCluster, DeploymentService, Metadata, Phase};

    fn service(breed: &str, scale: Option<Scale>) -> DeploymentService {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        DeploymentService {
            status: ServiceStatus::initiated(Intention::Deployment, now).with_phase(Phase::Done, now),
            breed: Breed::new(breed, Deployable::docker(breed)),
            environment_variables: vec![],
            scale,
            instances: vec![],
            arguments: vec![],
            health_checks: None,
            network: None,
            dependencies: Default::default(),
            dialects: Default::default(),
            health: None,
        }
    }

    fn cluster(name: &str, services: Vec<DeploymentService>) -> DeploymentCluster {
        DeploymentCluster {
            name: name.into(),
            metadata: Metadata::new(),
            services,
            gateways: vec![],
            health_checks: None,
            network: None,
            sla: None,
            dialects: Default::default(),
        }
    }

    /// `shop`: cluster `web` (web:1.0 at 1 instance, 0.5 CPU, 1 GB; web:2.0 second) and cluster `db`
    /// (db:1.0 at 2 instances, 1 CPU, 512 MB).
    fn shop() -> Deployment {
        let mut d = Deployment::new("shop");
        d.clusters = vec![
            cluster(
                "web",
                vec![
                    service("web:1.0", Some(Scale::new(0.5, 1024.0, 1))),
                    service("web:2.0", Some(Scale::new(0.5, 1024.0, 1))),
                ],
            ),
            cluster("db", vec![service("db:1.0", Some(Scale::new(1.0, 512.0, 2)))]),
        ];
        d
    }

    fn inline(kind: EscalationKind) -> Ref<Escalation> {
        Ref::Inline(Escalation::inline(kind))
    }

    fn instances(minimum: i64, maximum: i64, scale_by: i64, target: Option<&str>) -> Ref<Escalation> {
        inline(EscalationKind::ScaleInstances {
            minimum,
            maximum,
            scale_by,
            target: target.map(String::from),
        })
    }

    fn cpu(minimum: f64, maximum: f64, scale_by: f64) -> Ref<Escalation> {
        inline(EscalationKind::ScaleCpu {
            minimum,
            maximum,
            scale_by,
            target: None,
        })
    }

    fn memory(minimum: f64, maximum: f64, scale_by: f64) -> Ref<Escalation> {
        inline(EscalationKind::ScaleMemory {
            minimum,
            maximum,
            scale_by,
            target: None,
        })
    }

    fn no_stored(_: &str) -> Option<Escalation> {
        None
    }

    fn plan(d: &Deployment, escalations: &[Ref<Escalation>], direction: Direction) -> EscalationPlan {
        plan_escalations(d, "web", escalations, direction, &no_stored, &Scale::default())
    }

    /// Each change as `cluster/service kind from->to` with the changed figure only.
    fn summary(p: &EscalationPlan) -> Vec<String> {
        p.changes
            .iter()
            .map(|c| {
                let figure = |s: &Scale| match c.escalation.as_str() {
                    "scale_instances" => s.instances.to_string(),
                    "scale_cpu" => s.cpu.0.to_string(),
                    _ => s.memory.0.to_string(),
                };
                format!(
                    "{}/{} {} {}->{}",
                    c.cluster,
                    c.service,
                    c.escalation,
                    figure(&c.from),
                    figure(&c.to)
                )
            })
            .collect()
    }

    #[test]
    fn scale_instances_adds_and_removes_within_the_bounds_on_the_first_service() {
        let d = shop();
        let up = plan(&d, &[instances(1, 3, 1, None)], Direction::Escalate);
        assert_eq!(summary(&up), ["web/web:1.0 scale_instances 1->2"]);
        let down = plan(&d, &[instances(1, 3, 1, None)], Direction::DeEscalate);
        assert!(!down.applies());
        assert!(
            down.skipped[0].reason.contains("below the minimum 1"),
            "{:?}",
            down.skipped
        );
    }

    #[test]
    fn a_step_beyond_the_maximum_does_not_apply() {
        let mut d = shop();
        d.clusters[0].services[0].scale = Some(Scale::new(0.5, 1024.0, 3));
        let p = plan(&d, &[instances(1, 3, 1, None)], Direction::Escalate);
        assert!(!p.applies());
        assert_eq!(p.skipped.len(), 1);
        assert!(p.skipped[0].reason.contains("above the maximum 3"));
        let big_step = plan(&shop(), &[instances(1, 3, 5, None)], Direction::Escalate);
        assert!(!big_step.applies(), "1 + 5 leaves [1, 3]");
        let exact = plan(&shop(), &[instances(1, 3, 2, None)], Direction::Escalate);
        assert_eq!(summary(&exact), ["web/web:1.0 scale_instances 1->3"]);
    }

    #[test]
    fn cpu_steps_keep_decimal_values_exact_enough_for_the_bounds() {
        let mut d = shop();
        d.clusters[0].services[0].scale = Some(Scale::new(0.1, 1024.0, 1));
        let p = plan(&d, &[cpu(0.1, 0.3, 0.1)], Direction::Escalate);
        assert_eq!(summary(&p), ["web/web:1.0 scale_cpu 0.1->0.2"]);
        d.clusters[0].services[0].scale = Some(Scale::new(0.2, 1024.0, 1));
        let p = plan(&d, &[cpu(0.1, 0.3, 0.1)], Direction::Escalate);
        assert_eq!(
            summary(&p),
            ["web/web:1.0 scale_cpu 0.2->0.3"],
            "0.2 + 0.1 is within 0.3"
        );
        let p = plan(&d, &[cpu(0.1, 0.3, 0.1)], Direction::DeEscalate);
        assert_eq!(summary(&p), ["web/web:1.0 scale_cpu 0.2->0.1"]);
    }

    #[test]
    fn memory_is_scaled_in_megabytes() {
        let d = shop();
        let p = plan(&d, &[memory(512.0, 2048.0, 512.0)], Direction::Escalate);
        assert_eq!(summary(&p), ["web/web:1.0 scale_memory 1024->1536"]);
        assert_eq!(p.changes[0].to.memory.to_string(), "1536MB");
        let p = plan(&d, &[memory(512.0, 2048.0, 1024.0)], Direction::DeEscalate);
        assert!(!p.applies(), "1 GB - 1024 MB is below 512 MB");
    }

    #[test]
    fn the_list_is_one_to_one_in_order_and_in_reverse_when_deescalating() {
        let mut d = shop();
        d.clusters[0].services[0].scale = Some(Scale::new(1.0, 1024.0, 2));
        let list = [instances(1, 3, 1, None), cpu(0.5, 2.0, 0.5)];
        let up = plan(&d, &list, Direction::Escalate);
        assert_eq!(summary(&up), ["web/web:1.0 scale_instances 2->3"]);
        let down = plan(&d, &list, Direction::DeEscalate);
        assert_eq!(summary(&down), ["web/web:1.0 scale_cpu 1->0.5"]);
    }

    #[test]
    fn to_one_falls_through_to_the_next_child_at_a_bound() {
        let mut d = shop();
        d.clusters[0].services[0].scale = Some(Scale::new(1.0, 1024.0, 3));
        let group = inline(EscalationKind::ToOne(vec![
            instances(1, 3, 1, None),
            cpu(0.5, 2.0, 0.5),
        ]));
        let p = plan(&d, std::slice::from_ref(&group), Direction::Escalate);
        assert_eq!(summary(&p), ["web/web:1.0 scale_cpu 1->1.5"]);
        assert_eq!(p.skipped.len(), 1, "the instances step was tried first");
        d.clusters[0].services[0].scale = Some(Scale::new(0.5, 1024.0, 3));
        let p = plan(&d, &[group], Direction::DeEscalate);
        assert_eq!(
            summary(&p),
            ["web/web:1.0 scale_instances 3->2"],
            "cpu, tried first in reverse, is at its minimum"
        );
    }

    #[test]
    fn to_all_applies_every_child_each_from_the_previous_result() {
        let group = inline(EscalationKind::ToAll(vec![
            instances(1, 5, 1, None),
            cpu(0.5, 2.0, 0.5),
            instances(1, 5, 1, None),
            instances(1, 5, 1, Some("db")),
        ]));
        let p = plan(&shop(), &[group], Direction::Escalate);
        assert_eq!(
            summary(&p),
            [
                "web/web:1.0 scale_instances 1->2",
                "web/web:1.0 scale_cpu 0.5->1",
                "web/web:1.0 scale_instances 2->3",
                "db/db:1.0 scale_instances 2->3",
            ]
        );
        let last = &p.changes[2].to;
        assert_eq!((last.instances, last.cpu.0), (3, 1.0));
    }

    #[test]
    fn to_all_applies_when_only_some_children_do() {
        let group = inline(EscalationKind::ToAll(vec![
            instances(1, 1, 1, None),
            cpu(0.5, 2.0, 0.5),
        ]));
        let p = plan(&shop(), &[group], Direction::Escalate);
        assert_eq!(summary(&p), ["web/web:1.0 scale_cpu 0.5->1"]);
        assert_eq!(p.skipped.len(), 1);
    }

    #[test]
    fn nested_groups_combine() {
        let nested = inline(EscalationKind::ToOne(vec![
            instances(1, 1, 1, None),
            inline(EscalationKind::ToAll(vec![
                cpu(0.5, 2.0, 0.5),
                memory(512.0, 2048.0, 256.0),
            ])),
            instances(1, 5, 1, Some("db")),
        ]));
        let p = plan(&shop(), std::slice::from_ref(&nested), Direction::Escalate);
        assert_eq!(
            summary(&p),
            [
                "web/web:1.0 scale_cpu 0.5->1",
                "web/web:1.0 scale_memory 1024->1280"
            ]
        );
        let p = plan(&shop(), &[nested], Direction::DeEscalate);
        assert_eq!(
            summary(&p),
            ["db/db:1.0 scale_instances 2->1"],
            "reversed: the db step comes first"
        );
    }

    #[test]
    fn target_scales_another_cluster_and_an_unknown_target_does_not_apply() {
        let p = plan(&shop(), &[instances(1, 3, 1, Some("db"))], Direction::Escalate);
        assert_eq!(summary(&p), ["db/db:1.0 scale_instances 2->3"]);
        let p = plan(&shop(), &[instances(1, 3, 1, Some("cache"))], Direction::Escalate);
        assert!(!p.applies());
        assert!(p.skipped[0].reason.contains("no cluster 'cache'"));
    }

    #[test]
    fn the_first_service_that_is_not_being_undeployed_is_scaled() {
        let mut d = shop();
        let now = Utc::now();
        d.clusters[0].services[0].status = ServiceStatus::initiated(Intention::Undeployment, now);
        let p = plan(&d, &[instances(1, 3, 1, None)], Direction::Escalate);
        assert_eq!(summary(&p), ["web/web:2.0 scale_instances 1->2"]);
    }

    #[test]
    fn a_service_without_a_scale_starts_from_the_default() {
        let mut d = shop();
        d.clusters[0].services[0].scale = None;
        let default = Scale::new(0.2, 256.0, 1);
        let p = plan_escalations(
            &d,
            "web",
            &[instances(1, 3, 1, None)],
            Direction::Escalate,
            &no_stored,
            &default,
        );
        assert_eq!(p.changes[0].from, default);
        assert_eq!(p.changes[0].to.instances, 2);
    }

    #[test]
    fn references_resolve_through_the_lookup_and_unknown_ones_do_not_apply() {
        let stored = |name: &str| {
            (name == "more").then(|| Escalation {
                name: "more".into(),
                metadata: Metadata::new(),
                kind: EscalationKind::ToAll(vec![instances(1, 3, 1, None), Ref::Named("missing".into())]),
            })
        };
        let p = plan_escalations(
            &shop(),
            "web",
            &[Ref::Named("more".into())],
            Direction::Escalate,
            &stored,
            &Scale::default(),
        );
        assert_eq!(summary(&p), ["web/web:1.0 scale_instances 1->2"]);
        assert_eq!(p.skipped[0].escalation, "missing");
    }

    #[test]
    fn a_reference_cycle_stops_instead_of_recursing_forever() {
        let stored = |name: &str| {
            Some(Escalation {
                name: name.into(),
                metadata: Metadata::new(),
                kind: EscalationKind::ToOne(vec![Ref::Named("loop".into())]),
            })
        };
        let p = plan_escalations(
            &shop(),
            "web",
            &[Ref::Named("loop".into())],
            Direction::Escalate,
            &stored,
            &Scale::default(),
        );
        assert!(!p.applies());
        assert!(p.skipped[0].reason.contains("nest"));
    }

    #[test]
    fn generic_escalations_are_unsupported_and_the_next_one_is_tried() {
        let generic = inline(EscalationKind::Generic {
            kind: "page_oncall".into(),
            parameters: Metadata::new(),
        });
        let p = plan(&shop(), &[generic, instances(1, 3, 1, None)], Direction::Escalate);
        assert_eq!(summary(&p), ["web/web:1.0 scale_instances 1->2"]);
        assert!(p.skipped[0].reason.contains("page_oncall"));
    }

    #[test]
    fn a_zero_step_changes_nothing_and_does_not_count_as_applied() {
        let p = plan(&shop(), &[instances(1, 3, 0, None)], Direction::Escalate);
        assert!(!p.applies());
    }

    #[test]
    fn applying_sets_the_scales_and_reinitiates_the_services() {
        let mut d = shop();
        let group = inline(EscalationKind::ToAll(vec![
            instances(1, 5, 1, None),
            cpu(0.5, 2.0, 0.5),
        ]));
        let p = plan(&d, &[group], Direction::Escalate);
        let now = Utc::now();
        apply_changes(&mut d, &p.changes, &Scale::default(), now).unwrap();
        let s = &d.clusters[0].services[0];
        assert_eq!(s.scale, Some(Scale::new(1.0, 1024.0, 2)));
        assert_eq!(s.status.phase, Phase::Initiated);
        assert_eq!(s.status.phase_since, now);
        assert_eq!(d.clusters[0].services[1].status.phase, Phase::Done, "untouched");
    }

    #[test]
    fn applying_refuses_a_deployment_changed_since_the_plan() {
        let mut d = shop();
        let p = plan(&d, &[instances(1, 5, 1, None)], Direction::Escalate);
        d.clusters[0].services[0].scale = Some(Scale::new(0.5, 1024.0, 4));
        let before = d.clone();
        let err = apply_changes(&mut d, &p.changes, &Scale::default(), Utc::now()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Conflict);
        assert_eq!(d, before);
    }

    #[test]
    fn a_named_scale_loses_its_name_once_changed() {
        let mut d = shop();
        let mut small = Scale::new(0.5, 1024.0, 1);
        small.name = "small".into();
        d.clusters[0].services[0].scale = Some(small);
        let p = plan(&d, &[instances(1, 3, 1, None)], Direction::Escalate);
        assert_eq!(p.changes[0].from.name, "small");
        assert_eq!(p.changes[0].to.name, "");
    }

    #[test]
    fn events_describe_the_change_or_why_nothing_applied() {
        let p = plan(&shop(), &[instances(1, 3, 1, Some("db"))], Direction::Escalate);
        let e = change_event("shop", "web", p.direction, &p.changes[0]);
        assert_eq!(e.kind, "sla");
        for tag in [
            "escalation",
            "escalation:escalate",
            "deployment:shop",
            "cluster:db",
            "service:db:1.0",
        ] {
            assert!(e.tags.contains(tag), "{tag} missing from {:?}", e.tags);
        }
        assert!(
            !e.tags.contains("sla"),
            "not an SLA event: it must not count for the cooldown"
        );
        assert_eq!(e.value["from"]["instances"], 2);
        assert_eq!(e.value["to"]["instances"], 3);
        assert_eq!(e.value["sla"]["cluster"], "web");
        let none = plan(&shop(), &[instances(1, 1, 1, None)], Direction::Escalate);
        let e = nothing_applies_event("shop", "web", &none);
        assert!(e.tags.contains("escalation:none"));
        assert_eq!(e.value["direction"], "escalate");
        assert_eq!(e.value["skipped"].as_array().unwrap().len(), 1);
    }
}
