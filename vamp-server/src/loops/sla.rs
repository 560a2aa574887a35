//! The SLA loop (the original's `SlaActor` and `EscalationActor`, §1.9). Every `sla.period-ms`:
//!
//! 1. **SLA checks.** For each deployment cluster with a `response_time_sliding_window` SLA whose services are
//!    all `Done`: unless an SLA event of the cluster (tags `sla`, `deployment:<d>`, `cluster:<c>`, whoever
//!    published it) is younger than `interval + cooldown`, the mean response time over `interval` of each of the
//!    cluster's gateways (`<d>/<c>/<port>`) is read from the metrics source, and
//!    [`vamp_core::ops::sla::decide`] turns the slowest into an escalate or de-escalate SLA event (type `sla`,
//!    the numbers as value) or nothing.
//! 2. **Escalations.** The SLA events (tag `sla` with `sla:escalate` or `sla:deescalate`) published since the
//!    previous pass — by step 1 or by anyone through the API — are applied in time order:
//!    [`vamp_core::ops::escalation::plan_escalations`] over the cluster's SLA's escalations, the changed scales
//!    written into the deployment in one update (each changed service back to `Deployment/Initiated`, so the
//!    deployment loop redeploys it), and one `escalation` event per change; when nothing applies, one
//!    `escalation:none` event saying why and no write.
//!
//! A pass never panics: failures are logged and the work is retried at the next pass (a failed event query
//! keeps the escalation window where it was; a failed escalation is planned again on the deployment as it is
//! then, up to three attempts). Stored SLAs and escalations referred to by name are read at
//! every use, so changing them takes effect at the next pass.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use vamp_core::model::{
    Artifact, Deployment, DeploymentCluster, Escalation, EscalationKind, Event, EventQuery, Kind, Ref, Sla,
    SlaKind, TimeBound, TimeRange,
};
use vamp_core::ops::escalation::{apply_changes, change_event, nothing_applies_event, plan_escalations};
use vamp_core::ops::gateways::internal_gateway_name;
use vamp_core::ops::sla::{
    decide, event_target, resolve_sla, sla_tags, Direction, PortResponseTime, ResolvedSla, SlaCheck,
    SlaDecision, SlidingWindow,
};
use vamp_core::store::{Page, MAX_PER_PAGE};
use vamp_core::Result;

use super::next_pass;
use crate::ops::codec::decode;
use crate::vamp::Vamp;
use crate::WriteOptions;

/// How far before the previous pass's end the next escalation query reaches back, so an event stamped just
/// before a pass but stored just after it is still seen; events seen already are recognised by id.
const LATE_EVENTS: Duration = Duration::from_secs(5);

/// How often the escalation of one SLA event is tried (at consecutive passes) before it is given up.
const MAX_ATTEMPTS: u32 = 3;

/// How many stored SLAs a chain of references may visit.
const MAX_SLA_REFERENCES: usize = 8;

/// How many stored escalations one SLA may pull in through references.
const MAX_STORED_ESCALATIONS: usize = 256;

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    let Some(period) = vamp.settings().sla.period() else {
        tracing::info!("the SLA loop is off (sla.period-ms = 0)");
        return;
    };
    let never = Notify::new();
    let mut state = SlaLoop::new(Utc::now());
    while next_pass(&never, period, &mut stop).await {
        if let Err(e) = state.check_slas(&vamp).await {
            tracing::warn!(error = %e, "the SLA checks failed; retrying next period");
        }
        if let Err(e) = state.apply_sla_events(&vamp).await {
            tracing::warn!(error = %e, "applying the escalations failed; retrying next period");
        }
    }
}

/// What the loop remembers between passes.
struct SlaLoop {
    /// The end of the window of SLA events already applied.
    applied_until: DateTime<Utc>,
    /// SLA events applied within the last [`LATE_EVENTS`] before `applied_until`, by id.
    applied: HashMap<String, DateTime<Utc>>,
    /// Unsupported SLA types reported already (deployment, cluster, type), so each is logged once.
    reported: HashSet<(String, String, String)>,
    /// SLA events whose escalation failed, with the attempts made; retried first at the next pass.
    retry: Vec<(Event, u32)>,
}

impl SlaLoop {
    fn new(start: DateTime<Utc>) -> SlaLoop {
        SlaLoop {
            applied_until: start,
            applied: HashMap::new(),
            reported: HashSet::new(),
            retry: Vec::new(),
        }
    }

    async fn check_slas(&mut self, vamp: &Vamp) -> Result<()> {
        for (_, deployment) in vamp.load_deployments().await? {
            for cluster in &deployment.clusters {
                let Some(sla) = &cluster.sla else {
                    continue;
                };
                if let Err(e) = self.check_cluster(vamp, &deployment, cluster, sla).await {
                    tracing::warn!(
                        deployment = %deployment.name,
                        cluster = %cluster.name,
                        error = %e,
                        "the SLA check of a cluster failed"
                    );
                }
            }
        }
        Ok(())
    }

    async fn check_cluster(
        &mut self,
        vamp: &Vamp,
        deployment: &Deployment,
        cluster: &DeploymentCluster,
        sla: &Ref<Sla>,
    ) -> Result<()> {
        let window = match resolve(vamp, sla).await?.check {
            SlaCheck::ResponseTime(window) => window,
            SlaCheck::EscalationOnly => return Ok(()),
            SlaCheck::Unsupported(kind) => {
                let key = (deployment.name.clone(), cluster.name.clone(), kind.clone());
                if self.reported.insert(key) {
                    tracing::warn!(
                        deployment = %deployment.name,
                        cluster = %cluster.name,
                        sla_type = %kind,
                        "UnsupportedSlaType: only response_time_sliding_window SLAs are measured; its escalations \
                         still answer SLA events others publish"
                    );
                }
                return Ok(());
            }
        };
        if cluster.services.is_empty() || !cluster.services.iter().all(|s| s.status.is_done()) {
            tracing::debug!(deployment = %deployment.name, cluster = %cluster.name, "not all services are deployed; SLA check skipped");
            return Ok(());
        }
        let now = Utc::now();
        let last_event = last_sla_event(vamp, &deployment.name, &cluster.name, &window, now).await?;
        let quiet = last_event.is_some_and(|at| window.quiet_until(at, now).is_some());
        let ports = if quiet || window.interval.is_zero() {
            Vec::new()
        } else {
            measure(vamp, deployment, cluster, &window).await?
        };
        let decision = decide(&window, &ports, last_event, now);
        let Some(event) = decision.event(&deployment.name, &cluster.name) else {
            if let SlaDecision::Hold { reason } = &decision {
                tracing::debug!(deployment = %deployment.name, cluster = %cluster.name, %reason, "SLA: no decision");
            }
            return Ok(());
        };
        if let Some((direction, m)) = decision.action() {
            tracing::info!(
                deployment = %deployment.name,
                cluster = %cluster.name,
                %direction,
                response_time_ms = m.response_time_ms,
                upper_ms = window.upper_ms,
                lower_ms = window.lower_ms,
                "SLA: {direction}"
            );
        }
        vamp.inner.events.publish(event).await?;
        Ok(())
    }

    async fn apply_sla_events(&mut self, vamp: &Vamp) -> Result<()> {
        let until = Utc::now();
        let late = chrono::Duration::from_std(LATE_EVENTS).unwrap_or_default();
        let from = self.applied_until - late;
        let mut events = sla_events(vamp, from, until).await?;
        events.sort_by_key(|e| e.timestamp);
        let mut work: Vec<(Event, u32)> = std::mem::take(&mut self.retry);
        for event in events {
            let key = event_key(&event);
            if self.applied.contains_key(&key) {
                continue;
            }
            self.applied.insert(key, event.timestamp);
            work.push((event, 0));
        }
        for (event, attempts) in work {
            let (Some(direction), Some((deployment, cluster))) =
                (Direction::of_tags(&event.tags), event_target(&event.tags))
            else {
                tracing::debug!(tags = ?event.tags, "an SLA event without one direction, deployment and cluster; ignored");
                continue;
            };
            if let Err(e) = escalate(vamp, &deployment, &cluster, direction, &event).await {
                let retry = attempts + 1 < MAX_ATTEMPTS;
                tracing::warn!(%deployment, %cluster, %direction, error = %e, retry, "an escalation failed");
                if retry {
                    self.retry.push((event, attempts + 1));
                }
            }
        }
        self.applied_until = until;
        let horizon = until - late;
        self.applied.retain(|_, at| *at >= horizon);
        Ok(())
    }
}

/// An event's identity: its id, or its timestamp and tags when the store gave none.
fn event_key(event: &Event) -> String {
    match &event.id {
        Some(id) => id.clone(),
        None => format!("{}|{:?}", event.timestamp.to_rfc3339(), event.tags),
    }
}

/// The newest SLA event of the cluster within `interval + cooldown` before `now`, if any.
async fn last_sla_event(
    vamp: &Vamp,
    deployment: &str,
    cluster: &str,
    window: &SlidingWindow,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let quiet = chrono::Duration::from_std(window.quiet_period()).unwrap_or(chrono::Duration::MAX);
    let since = now.checked_sub_signed(quiet).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let query = EventQuery {
        time: TimeRange {
            from: Some((TimeBound::At(since), true)),
            to: Some((TimeBound::At(now), true)),
        },
        ..EventQuery::tags(sla_tags(deployment, cluster))
    };
    let newest = vamp.inner.events.query(&query, Page::first(1)).await?;
    Ok(newest.items.first().map(|e| e.timestamp))
}

/// The mean response time over the window's interval on each gateway of the cluster: one per distinct breed
/// port of its services that are not being undeployed.
async fn measure(
    vamp: &Vamp,
    deployment: &Deployment,
    cluster: &DeploymentCluster,
    window: &SlidingWindow,
) -> Result<Vec<PortResponseTime>> {
    let mut ports: Vec<&str> = Vec::new();
    for service in cluster.services.iter().filter(|s| !s.status.is_undeploying()) {
        for port in &service.breed.ports {
            if !ports.contains(&port.name.as_str()) {
                ports.push(&port.name);
            }
        }
    }
    let mut out = Vec::with_capacity(ports.len());
    for port in ports {
        let gateway = internal_gateway_name(&deployment.name, &cluster.name, port);
        let measured = vamp.inner.metrics.window(&gateway, None, window.interval).await?;
        out.push(PortResponseTime {
            port: port.to_string(),
            gateway,
            mean_ms: measured.latency.mean(),
            requests: measured.requests,
        });
    }
    Ok(out)
}

/// Every event tagged `sla` stamped after `from` and at or before `until`.
async fn sla_events(vamp: &Vamp, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<Event>> {
    let query = EventQuery {
        time: TimeRange {
            from: Some((TimeBound::At(from), false)),
            to: Some((TimeBound::At(until), true)),
        },
        ..EventQuery::tags(["sla"])
    };
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let batch = vamp
            .inner
            .events
            .query(&query, Page::new(page, MAX_PER_PAGE)?)
            .await?;
        let done = batch.items.len() < MAX_PER_PAGE as usize;
        out.extend(batch.items);
        if done || out.len() as u64 >= batch.total {
            return Ok(out);
        }
        page += 1;
    }
}

/// Applies the escalations of `cluster`'s SLA for one SLA event.
async fn escalate(
    vamp: &Vamp,
    deployment_name: &str,
    cluster: &str,
    direction: Direction,
    trigger: &Event,
) -> Result<()> {
    let Some((_, deployment)) = vamp.load_deployment(deployment_name).await? else {
        tracing::debug!(deployment = %deployment_name, "an SLA event for a deployment that does not exist; ignored");
        return Ok(());
    };
    let Some(sla) = deployment.cluster(cluster).and_then(|c| c.sla.clone()) else {
        tracing::debug!(deployment = %deployment_name, %cluster, "an SLA event for a cluster without an SLA; ignored");
        return Ok(());
    };
    let resolved = resolve(vamp, &sla).await?;
    let stored = stored_escalations(vamp, &resolved.escalations).await?;
    let lookup = |name: &str| stored.get(name).cloned();
    let default_scale = vamp.settings().deployment.scale();
    let plan = plan_escalations(
        &deployment,
        cluster,
        &resolved.escalations,
        direction,
        &lookup,
        &default_scale,
    );
    let trigger_id = trigger.id.clone().map(serde_json::Value::String);
    if !plan.applies() {
        let reasons: Vec<&str> = plan.skipped.iter().map(|s| s.reason.as_str()).collect();
        tracing::info!(deployment = %deployment_name, %cluster, %direction, ?reasons, "no escalation applies");
        let mut event = nothing_applies_event(deployment_name, cluster, &plan);
        if let (Some(m), Some(id)) = (event.value.as_object_mut(), trigger_id) {
            m.insert("trigger".into(), id);
        }
        publish(vamp, event).await;
        return Ok(());
    }
    let changes = plan.changes.clone();
    vamp.change_deployment(deployment_name, &WriteOptions::default(), |d| {
        apply_changes(d, &changes, &default_scale, Utc::now())
    })
    .await?;
    for change in &plan.changes {
        tracing::info!(
            deployment = %deployment_name,
            cluster = %change.cluster,
            service = %change.service,
            escalation = %change.escalation,
            %direction,
            "escalation: {} → {}",
            change.from,
            change.to
        );
        let mut event = change_event(deployment_name, cluster, direction, change);
        if let (Some(m), Some(id)) = (event.value.as_object_mut(), trigger_id.clone()) {
            m.insert("trigger".into(), id);
        }
        publish(vamp, event).await;
    }
    Ok(())
}

async fn publish(vamp: &Vamp, event: Event) {
    if let Err(e) = vamp.inner.events.publish(event).await {
        tracing::warn!(error = %e, "an escalation event could not be published");
    }
}

/// The cluster's SLA with references to stored SLAs resolved.
async fn resolve(vamp: &Vamp, sla: &Ref<Sla>) -> Result<ResolvedSla> {
    let mut stored: HashMap<String, Sla> = HashMap::new();
    let mut next = match sla {
        Ref::Named(name) => Some(name.clone()),
        Ref::Inline(s) => match &s.kind {
            SlaKind::Reference(name) => Some(name.clone()),
            _ => None,
        },
    };
    while let Some(name) = next.take() {
        if stored.contains_key(&name) || stored.len() >= MAX_SLA_REFERENCES {
            break;
        }
        let Some(Artifact::Sla(found)) = load(vamp, Kind::Sla, &name).await? else {
            break;
        };
        if let SlaKind::Reference(further) = &found.kind {
            next = Some(further.clone());
        }
        stored.insert(name, found);
    }
    resolve_sla(sla, &|name| stored.get(name).cloned())
}

/// The stored escalations `escalations` refer to by name, directly or through groups and other stored
/// escalations. Names that are not stored are left out (planning reports them).
async fn stored_escalations(
    vamp: &Vamp,
    escalations: &[Ref<Escalation>],
) -> Result<HashMap<String, Escalation>> {
    let mut found: HashMap<String, Escalation> = HashMap::new();
    let mut missing: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<Ref<Escalation>> = escalations.to_vec();
    while let Some(next) = pending.pop() {
        let escalation = match next {
            Ref::Inline(e) => e,
            Ref::Named(name) => {
                if found.contains_key(&name)
                    || missing.contains(&name)
                    || found.len() >= MAX_STORED_ESCALATIONS
                {
                    continue;
                }
                match load(vamp, Kind::Escalation, &name).await? {
                    Some(Artifact::Escalation(e)) => {
                        found.insert(name, e.clone());
                        e
                    }
                    _ => {
                        missing.insert(name);
                        continue;
                    }
                }
            }
        };
        if let EscalationKind::ToAll(children) | EscalationKind::ToOne(children) = escalation.kind {
            pending.extend(children);
        }
    }
    Ok(found)
}

async fn load(vamp: &Vamp, kind: Kind, name: &str) -> Result<Option<Artifact>> {
    match vamp.inner.artifacts.get(kind, name).await? {
        Some(stored) => Ok(Some(decode(&stored)?)),
        None => Ok(None),
    }
}
