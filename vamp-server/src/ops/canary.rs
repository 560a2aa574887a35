//! Canary releases through the facade: the user gateways whose canary is progressing, the samples of their two
//! routes read from the metrics source, and a judgement applied to the stored gateway — the two route weights
//! and the policy's status, written with the revision read, so a concurrent change by a user wins and the
//! canary loop judges again from the new state — plus one `canary` event per decision. The judgement itself is
//! `vamp_core::ops::canary`; the loop that drives this is `loops::canary`.

use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use vamp_core::dsl::{DslError, ErrorCode};
use vamp_core::model::{Artifact, CanaryStatus, Event, Gateway, Kind, Percentage, Ref};
use vamp_core::ops::canary::{Decision, Judgement, Sample};
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
}

impl Default for CanarySettings {
    fn default() -> Self {
        CanarySettings { tick_ms: 1000 }
    }
}

impl CanarySettings {
    /// The tick (at least 10 ms).
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms.max(10))
    }
}

/// A stored user gateway with a canary policy, and its revision.
#[derive(Debug, Clone)]
pub(crate) struct CanaryGateway {
    pub(crate) revision: u64,
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

/// A canary policy runs on a user gateway only: the gateways of deployments keep their routing in the
/// deployment, which has no place for it (`CanaryPolicyError`).
pub(crate) fn refuse_on_deployment_gateway(gateway: &Gateway) -> Result<()> {
    if gateway.canary.is_none() {
        return Ok(());
    }
    Err(DslError::about(
        ErrorCode::CanaryPolicyError,
        Kind::Gateway,
        gateway.name.clone(),
        "canary",
        format!(
            "'{}' is a gateway of a deployment; a canary policy runs on a user gateway: create one whose routes are the services to compare (e.g. deployment/cluster/service/port)",
            gateway.name
        ),
    )
    .into())
}

impl Vamp {
    /// The stored user gateways whose canary is `progressing`, in name order.
    pub(crate) async fn progressing_canaries(&self) -> Result<Vec<CanaryGateway>> {
        let mut out = Vec::new();
        for stored in self.list_all(Kind::Gateway).await? {
            if let Artifact::Gateway(gateway) = decode(&stored)? {
                let progressing = gateway
                    .canary
                    .as_ref()
                    .is_some_and(|c| c.status == CanaryStatus::Progressing);
                if progressing {
                    out.push(CanaryGateway {
                        revision: stored.revision,
                        gateway,
                    });
                }
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

    /// Applies `judgement` to the stored gateway read at `revision`: weights and status are written (a `Wait`
    /// writes nothing), expecting that revision — `Conflict` when the gateway changed since, so a user's edit
    /// wins — and the gateway loop is woken to render the new weights. Publishes the `canary` event of the
    /// decision in every case. Returns the gateway as it now stands.
    pub(crate) async fn apply_canary(
        &self,
        current: &CanaryGateway,
        judgement: &Judgement,
    ) -> Result<Gateway> {
        let gateway = &current.gateway;
        let Some(next) = decided(gateway, &judgement.decision) else {
            return Err(Error::invalid(format!(
                "Gateway '{}' has no canary policy.",
                gateway.name
            )));
        };
        if next != *gateway {
            let normalized = normalize_gateway(&next).map_err(Error::from)?;
            let document = encode(&Artifact::Gateway(normalized.clone()))?;
            self.inner
                .artifacts
                .put(Kind::Gateway, &gateway.name, document, Some(current.revision))
                .await?;
            self.wake_gateways();
        }
        self.publish_canary(gateway, &next, judgement).await;
        Ok(next)
    }

    async fn publish_canary(&self, before: &Gateway, after: &Gateway, judgement: &Judgement) {
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
        if let Some(object) = value.as_object_mut() {
            object.insert("gateway".into(), after.name.clone().into());
            object.insert("baseline_route".into(), policy.baseline.0.clone().into());
            object.insert("canary_route".into(), policy.canary.0.clone().into());
            object.insert("weights_before".into(), weights(before));
            object.insert("weights".into(), weights(after));
            object.insert("status".into(), policy.status.as_str().into());
            object.insert("interval_s".into(), policy.interval.0.into());
        }
        let tags = [
            "canary".to_string(),
            format!("gateways:{}", after.name),
            format!("canary:{}", judgement.decision.name()),
        ];
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
        assert_eq!(CanarySettings { tick_ms: 0 }.tick(), Duration::from_millis(10));
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
