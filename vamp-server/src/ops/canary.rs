//! Canary releases through the facade: the canaries that are progressing — on user gateways and on the gateways
//! of deployments' clusters — the samples of their two routes read from the metrics source, and a judgement
//! applied where the canary's weights live: the stored user gateway, or the cluster's gateway settings in its
//! deployment (`vamp_core::ops::canary::cluster`). Writes expect the state that was judged, so a concurrent
//! change by a user wins and the canary loop judges again from the new state; every decision is one `canary`
//! event. The judgement itself is `vamp_core::ops::canary`; the loop that drives this is `loops::canary`.

use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use vamp_core::dsl::validate::canary::validate_canary;
use vamp_core::dsl::{DslError, ErrorCode};
use vamp_core::model::{Artifact, CanaryStatus, Event, Gateway, Kind, Percentage, Ref};
use vamp_core::ops::canary::{
    cluster_canaries, cluster_canary, write_cluster_canary, Decision, Judgement, Progress, Sample,
};
use vamp_core::ops::deployment::validate;
use vamp_core::ops::gateways::normalize_gateway;
use vamp_core::{Error, Result};

use super::codec::{decode, encode};
use crate::vamp::Vamp;

/// The event type of canary decisions.
pub const CANARY_EVENT_TYPE: &str = "canary";

/// The canary loop's settings (`canary` in the `vamp serve` configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct CanarySettings {
    /// How often the loop looks at the progressing canaries, in milliseconds (default 1000, at least 10). Each
    /// canary is judged once per policy `interval`; between judgements every tick checks the absolute
    /// ceilings, so a breach is rolled back within one tick.
    pub tick_ms: u64,
    /// How often, at most, the interval in progress of each canary is checkpointed to the artifact store, in
    /// milliseconds (default 5000, at least one tick). The loop also checkpoints when an interval starts, after
    /// every wait, and when it stops. Requests counted after the last checkpoint are lost when the server dies
    /// (the metrics are in memory); the store keeps every checkpoint in its history, so this bounds its growth.
    pub checkpoint_ms: u64,
}

impl Default for CanarySettings {
    fn default() -> Self {
        CanarySettings {
            tick_ms: 1000,
            checkpoint_ms: 5000,
        }
    }
}

impl CanarySettings {
    /// The tick (at least 10 ms).
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms.max(10))
    }

    /// The least time between two checkpoints of one canary (at least one tick).
    pub fn checkpoint(&self) -> Duration {
        Duration::from_millis(self.checkpoint_ms).max(self.tick())
    }
}

/// Where a canary's weights and policy are kept, and so where its decisions are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CanaryHome {
    /// A stored user gateway, read at this revision.
    User {
        /// The revision read.
        revision: u64,
    },
    /// The gateway settings of a cluster's port in a deployment.
    Cluster {
        /// The deployment.
        deployment: String,
        /// The cluster.
        cluster: String,
    },
}

/// A progressing canary: where it lives, and its gateway as judged (for a cluster, the internal gateway
/// `deployment/cluster/port` with its weights filled in and the policy's routes as full paths).
#[derive(Debug, Clone)]
pub(crate) struct CanaryGateway {
    pub(crate) home: CanaryHome,
    pub(crate) gateway: Gateway,
}

/// The weight of `route` in `gateway`: its inline weight, 0 when it has none or is not there.
pub(crate) fn route_weight(gateway: &Gateway, route: &str) -> u8 {
    gateway
        .route(route)
        .and_then(|r| r.inline())
        .and_then(|r| r.weight)
        .map_or(0, |w| w.0)
}

/// `gateway` with the decision applied: the canary route at the decision's weight and the baseline at the
/// rest, and the status a final decision leads to. `None` when the gateway has no canary policy.
pub(crate) fn decided(gateway: &Gateway, decision: &Decision) -> Option<Gateway> {
    let mut out = gateway.clone();
    let policy = out.canary.as_mut()?;
    if let Some(weight) = decision.canary_weight() {
        let (baseline, canary) = (policy.baseline.clone(), policy.canary.clone());
        for route in &mut out.routes {
            let weight = if route.path == canary {
                weight
            } else if route.path == baseline {
                100 - weight.min(100)
            } else {
                continue;
            };
            if let Ref::Inline(r) = &mut route.route {
                r.weight = Some(Percentage(weight));
            }
        }
    }
    match decision {
        Decision::Rollback => policy.status = CanaryStatus::RolledBack,
        Decision::Promote => policy.status = CanaryStatus::Promoted,
        Decision::Pause => policy.status = CanaryStatus::Paused,
        Decision::Wait | Decision::Advance { .. } => {}
    }
    Some(out)
}

/// The most recent instant (Unix milliseconds) at half past a whole second: the start of the cumulative windows
/// a canary interval is read from. Any source bucket of whole seconds has its boundaries half a second away
/// from it, so two reads of "the window since the anchor" start at the same bucket (see
/// `vamp_core::ops::canary::sample`).
pub(crate) fn anchor_now() -> i64 {
    let now = Utc::now().timestamp_millis();
    now - (now - 500).rem_euclid(1000)
}

/// A canary policy runs on a user gateway or on a cluster's gateway (`deployment/cluster/port`); a deployment's
/// own gateway (`deployment/port`) routes to whole clusters and takes none (`CanaryPolicyError`).
pub(crate) fn refuse_on_deployment_port_gateway(gateway: &Gateway) -> Result<()> {
    if gateway.canary.is_none() || gateway.is_internal() {
        return Ok(());
    }
    Err(DslError::about(
        ErrorCode::CanaryPolicyError,
        Kind::Gateway,
        gateway.name.clone(),
        "canary",
        format!(
            "'{}' is a deployment's gateway, which routes to whole clusters; put the canary on the gateway of the cluster whose services it compares (deployment/cluster/port), or on a user gateway",
            gateway.name
        ),
    )
    .into())
}

impl Vamp {
    /// The canaries that are `progressing`: on stored user gateways in name order, then on the gateways of
    /// deployments' clusters in deployment, cluster and port order. A cluster canary that no longer fits its
    /// gateway (one of its services is being undeployed) is left out.
    pub(crate) async fn progressing_canaries(&self) -> Result<Vec<CanaryGateway>> {
        let progressing = |g: &Gateway| {
            g.canary
                .as_ref()
                .is_some_and(|c| c.status == CanaryStatus::Progressing)
        };
        let mut out = Vec::new();
        for stored in self.list_all(Kind::Gateway).await? {
            if let Artifact::Gateway(gateway) = decode(&stored)? {
                if progressing(&gateway) && !gateway.is_internal() {
                    out.push(CanaryGateway {
                        home: CanaryHome::User {
                            revision: stored.revision,
                        },
                        gateway,
                    });
                }
            }
        }
        for (_, deployment) in self.load_deployments().await? {
            for canary in cluster_canaries(&deployment) {
                if !progressing(&canary.gateway) {
                    continue;
                }
                if let Err(e) = validate_canary(&canary.gateway) {
                    tracing::debug!(gateway = %canary.gateway.name, error = %e, "a cluster canary that does not fit its gateway is not judged");
                    continue;
                }
                out.push(CanaryGateway {
                    home: CanaryHome::Cluster {
                        deployment: deployment.name.clone(),
                        cluster: canary.cluster,
                    },
                    gateway: canary.gateway,
                });
            }
        }
        Ok(out)
    }

    /// The baseline's and the canary's requests since `anchor` (Unix milliseconds) as the metrics source has
    /// them, cumulative: two reads with the same anchor differ by what came in between.
    pub(crate) async fn canary_reads(&self, gateway: &Gateway, anchor: i64) -> Result<(Sample, Sample)> {
        let Some(policy) = &gateway.canary else {
            return Err(Error::invalid(format!(
                "Gateway '{}' has no canary policy.",
                gateway.name
            )));
        };
        let span_ms = (Utc::now().timestamp_millis() - anchor).max(1);
        let span = Duration::from_millis(u64::try_from(span_ms).unwrap_or(1));
        let metrics = &self.inner.metrics;
        let baseline = metrics
            .window(&gateway.name, Some(&policy.baseline.0), span)
            .await?;
        let canary = metrics
            .window(&gateway.name, Some(&policy.canary.0), span)
            .await?;
        Ok((Sample::of(&baseline), Sample::of(&canary)))
    }

    /// Applies `judgement` to the canary where it lives: weights and status are written (a `Wait` writes
    /// nothing) expecting the state that was judged — `Conflict` when it changed since, so a user's edit wins —
    /// and the gateway loop is woken to render the new weights. A user gateway is written at the revision read;
    /// a cluster canary is written into its deployment under the deployment lock, if the cluster's gateway
    /// still is as judged. Publishes the `canary` event of the decision in every case, with the interval's
    /// start and waits when `interval` is given. Returns the gateway as it now stands.
    pub(crate) async fn apply_canary(
        &self,
        current: &CanaryGateway,
        judgement: &Judgement,
        interval: Option<&Progress>,
    ) -> Result<Gateway> {
        let gateway = &current.gateway;
        let Some(next) = decided(gateway, &judgement.decision) else {
            return Err(Error::invalid(format!(
                "Gateway '{}' has no canary policy.",
                gateway.name
            )));
        };
        if next != *gateway {
            match &current.home {
                CanaryHome::User { revision } => {
                    let normalized = normalize_gateway(&next).map_err(Error::from)?;
                    let document = encode(&Artifact::Gateway(normalized))?;
                    self.inner
                        .artifacts
                        .put(Kind::Gateway, &gateway.name, document, Some(*revision))
                        .await?;
                }
                CanaryHome::Cluster { deployment, .. } => {
                    self.write_cluster_decision(deployment, gateway, &next).await?;
                }
            }
            self.wake_gateways();
        }
        self.publish_canary(current, &next, judgement, interval).await;
        Ok(next)
    }

    /// Writes `next` (the judged cluster canary `judged` with a decision applied) into deployment `name`.
    async fn write_cluster_decision(&self, name: &str, judged: &Gateway, next: &Gateway) -> Result<()> {
        let _guard = self.inner.deployment_lock.lock().await;
        let Some((revision, mut deployment)) = self.load_deployment(name).await? else {
            return Err(Error::not_found(format!(
                "Deployment '{name}' of the canary on gateway '{}' is gone.",
                judged.name
            )));
        };
        let now = cluster_canary(&deployment, &judged.name).map(|c| c.gateway);
        if now.as_ref() != Some(judged) {
            return Err(Error::conflict(format!(
                "The gateway '{}' of deployment '{name}' changed while its canary was judged.",
                judged.name
            )));
        }
        write_cluster_canary(&mut deployment, next)?;
        validate(&deployment).map_err(Error::from)?;
        self.store_deployment(&deployment, revision).await?;
        Ok(())
    }

    async fn publish_canary(
        &self,
        current: &CanaryGateway,
        after: &Gateway,
        judgement: &Judgement,
        interval: Option<&Progress>,
    ) {
        let before = &current.gateway;
        let Some(policy) = &after.canary else {
            return;
        };
        let weights = |g: &Gateway| {
            serde_json::json!({
                "baseline": route_weight(g, &policy.baseline.0),
                "canary": route_weight(g, &policy.canary.0),
            })
        };
        let mut value = serde_json::to_value(judgement).unwrap_or(serde_json::Value::Null);
        let mut tags = vec![
            "canary".to_string(),
            format!("gateways:{}", after.name),
            format!("canary:{}", judgement.decision.name()),
        ];
        if let Some(object) = value.as_object_mut() {
            object.insert("gateway".into(), after.name.clone().into());
            if let CanaryHome::Cluster { deployment, cluster } = &current.home {
                object.insert("deployment".into(), deployment.clone().into());
                object.insert("cluster".into(), cluster.clone().into());
                tags.push(format!("deployments:{deployment}"));
                tags.push(format!("clusters:{cluster}"));
            }
            object.insert("baseline_route".into(), policy.baseline.0.clone().into());
            object.insert("canary_route".into(), policy.canary.0.clone().into());
            object.insert("weights_before".into(), weights(before));
            object.insert("weights".into(), weights(after));
            object.insert("status".into(), policy.status.as_str().into());
            object.insert("interval_s".into(), policy.interval.0.into());
            if let Some(progress) = interval {
                let waited = matches!(judgement.decision, Decision::Wait | Decision::Pause);
                object.insert("interval_started".into(), progress.started.to_rfc3339().into());
                object.insert("waits".into(), (progress.waits + u32::from(waited)).into());
            }
        }
        let event = Event::new(tags, value).with_type(CANARY_EVENT_TYPE);
        match self.inner.events.publish(event).await {
            Ok(_) => tracing::info!(
                gateway = %after.name,
                decision = judgement.decision.name(),
                reason = %judgement.reason,
                "canary decision"
            ),
            Err(e) => {
                tracing::warn!(gateway = %after.name, error = %e, "the canary event could not be published")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use vamp_core::model::{CanaryPolicy, GatewayPort, GatewayRoute, Route};

    use super::*;

    fn shop(baseline: u8, canary: u8) -> Gateway {
        let mut g = Gateway::new("shop", GatewayPort::default());
        for (path, weight) in [("a/web", baseline), ("b/web", canary)] {
            let mut r = GatewayRoute::new(path);
            r.route = Ref::Inline(Route {
                weight: Some(Percentage(weight)),
                ..Route::default()
            });
            g.routes.push(r);
        }
        g.canary = Some(CanaryPolicy::new("a/web", "b/web"));
        g
    }

    #[test]
    fn an_advance_moves_the_canary_to_its_step_and_the_baseline_to_the_rest() {
        let g = decided(&shop(90, 10), &Decision::Advance { to_weight: 25 }).unwrap();
        assert_eq!((route_weight(&g, "a/web"), route_weight(&g, "b/web")), (75, 25));
        assert_eq!(g.canary.unwrap().status, CanaryStatus::Progressing);
    }

    #[test]
    fn final_decisions_set_weights_and_status() {
        let g = decided(&shop(90, 10), &Decision::Rollback).unwrap();
        assert_eq!((route_weight(&g, "a/web"), route_weight(&g, "b/web")), (100, 0));
        assert_eq!(g.canary.unwrap().status, CanaryStatus::RolledBack);
        let g = decided(&shop(50, 50), &Decision::Promote).unwrap();
        assert_eq!((route_weight(&g, "a/web"), route_weight(&g, "b/web")), (0, 100));
        assert_eq!(g.canary.unwrap().status, CanaryStatus::Promoted);
        let g = decided(&shop(90, 10), &Decision::Pause).unwrap();
        assert_eq!((route_weight(&g, "a/web"), route_weight(&g, "b/web")), (90, 10));
        assert_eq!(g.canary.unwrap().status, CanaryStatus::Paused);
        assert_eq!(decided(&shop(90, 10), &Decision::Wait).unwrap(), shop(90, 10));
    }

    #[test]
    fn the_tick_is_configured_in_kebab_case_and_bounded() {
        let s: crate::ServerSettings =
            serde_json::from_value(serde_json::json!({"canary": {"tick-ms": 250}})).unwrap();
        assert_eq!(s.canary.tick(), Duration::from_millis(250));
        assert_eq!(CanarySettings::default().tick(), Duration::from_secs(1));
        let zero = CanarySettings {
            tick_ms: 0,
            checkpoint_ms: 0,
        };
        assert_eq!(zero.tick(), Duration::from_millis(10));
        assert_eq!(zero.checkpoint(), Duration::from_millis(10), "at least one tick");
        assert_eq!(CanarySettings::default().checkpoint(), Duration::from_secs(5));
        let s: crate::ServerSettings =
            serde_json::from_value(serde_json::json!({"canary": {"checkpoint-ms": 500}})).unwrap();
        assert_eq!(
            s.canary.checkpoint(),
            Duration::from_secs(1),
            "not below the default tick"
        );
        assert!(serde_json::from_value::<CanarySettings>(serde_json::json!({"tick": 1})).is_err());
    }

    #[test]
    fn anchors_lie_at_half_past_a_second_in_the_last_second() {
        let before = Utc::now().timestamp_millis();
        let anchor = anchor_now();
        assert_eq!(anchor.rem_euclid(1000), 500);
        assert!(anchor <= Utc::now().timestamp_millis() && anchor > before - 1000);
    }
}
