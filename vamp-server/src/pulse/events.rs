//! The events one pulse pass publishes — the original's stock `health`, `metrics` and `allocation` jobs, with
//! their tags (vamp-edge.md §3.3) — plus one `metrics:figures` event per gateway, route, service, cluster and
//! deployment carrying every figure.
//!
//! | what | tags | type | value |
//! |---|---|---|---|
//! | gateway | `gateways:<g>`, `gateway`, `health` | `health` | 0 or 1 |
//! | gateway | `gateways:<g>`, `gateway`, `metrics:rate` / `metrics:responseTime` | `metrics` | number |
//! | route | `gateways:<g>`, `routes:<r>`, `route`, `health` | `health` | 0 or 1 |
//! | route | `gateways:<g>`, `routes:<r>`, `route`, `metrics:rate` / `metrics:responseTime` | `metrics` | number |
//! | service | `deployments:<d>`, `clusters:<c>`, `service`, `services:<breed>`, `health` | `health` | 0 or 1 |
//! | cluster | `deployments:<d>`, `clusters:<c>`, `cluster`, `health` | `health` | 0 or 1 |
//! | deployment | `deployments:<d>`, `deployment`, `health` | `health` | 0 or 1 |
//! | allocation | `allocation`, `deployments:<d>` | `allocation` | `{cpu, memory, instances}` |
//! | each of the above levels | its level tags and `metrics:figures` | `metrics` | the whole `Figures` object |
//!
//! The `value` of every original tag set stays a number, so the original's consumers (the UI multiplies health
//! by 100, SLAs average `metrics:responseTime`) keep working; a query for `health` or `metrics:rate` does not
//! match the `metrics:figures` events, and aggregations skip their non-numeric values (or read a field of them:
//! `field=score`).

use chrono::{DateTime, Utc};
use vamp_core::model::Event;
use vamp_core::ops::health::Figures;

use super::figures::Pulse;

/// The type of health events.
pub const HEALTH: &str = "health";
/// The type of metrics and figures events.
pub const METRICS: &str = "metrics";
/// The type of allocation events.
pub const ALLOCATION: &str = "allocation";
/// The tag of the events carrying a whole [`Figures`] object.
pub const FIGURES_TAG: &str = "metrics:figures";

fn event(tags: &[String], extra: &str, value: serde_json::Value, kind: &str, at: DateTime<Utc>) -> Event {
    let mut event = Event::new(
        tags.iter().cloned().chain(std::iter::once(extra.to_string())),
        value,
    )
    .with_type(kind);
    event.timestamp = at;
    event
}

fn figures_json(figures: &Figures) -> serde_json::Value {
    serde_json::to_value(figures).unwrap_or(serde_json::Value::Null)
}

/// The gateway and route level: health, rate, response time and figures.
fn traffic_events(out: &mut Vec<Event>, tags: &[String], figures: &Figures, at: DateTime<Utc>) {
    out.push(event(tags, "health", figures.health.into(), HEALTH, at));
    out.push(event(tags, "metrics:rate", figures.rate.into(), METRICS, at));
    out.push(event(
        tags,
        "metrics:responseTime",
        figures.response_time.into(),
        METRICS,
        at,
    ));
    out.push(event(tags, FIGURES_TAG, figures_json(figures), METRICS, at));
}

/// The service, cluster and deployment level: health and figures.
fn health_events(out: &mut Vec<Event>, tags: &[String], figures: &Figures, at: DateTime<Utc>) {
    out.push(event(tags, "health", figures.health.into(), HEALTH, at));
    out.push(event(tags, FIGURES_TAG, figures_json(figures), METRICS, at));
}

/// Every event of one pass over `pulse`, all stamped `at`.
pub fn events(pulse: &Pulse, at: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    for g in &pulse.gateways {
        let gateway_tag = format!("gateways:{}", g.gateway);
        traffic_events(&mut out, &[gateway_tag.clone(), "gateway".into()], &g.figures, at);
        for r in &g.routes {
            let tags = [gateway_tag.clone(), format!("routes:{}", r.route), "route".into()];
            traffic_events(&mut out, &tags, &r.figures, at);
        }
    }
    for d in &pulse.deployments {
        let deployment_tag = format!("deployments:{}", d.deployment);
        for c in &d.clusters {
            let cluster_tag = format!("clusters:{}", c.cluster);
            for s in &c.services {
                let tags = [
                    deployment_tag.clone(),
                    cluster_tag.clone(),
                    "service".into(),
                    format!("services:{}", s.service),
                ];
                health_events(&mut out, &tags, &s.figures, at);
            }
            let tags = [deployment_tag.clone(), cluster_tag, "cluster".into()];
            health_events(&mut out, &tags, &c.figures, at);
        }
        health_events(
            &mut out,
            &[deployment_tag.clone(), "deployment".into()],
            &d.figures,
            at,
        );
        let allocation = serde_json::to_value(d.allocation).unwrap_or(serde_json::Value::Null);
        out.push(event(
            &["allocation".into()],
            &deployment_tag,
            allocation,
            ALLOCATION,
            at,
        ));
    }
    out
}
