//! Reads a gateway's `canary` block. Malformed values (a step that is not a percentage, an interval without a
//! unit the DSL knows, a status it does not know) are `InvalidValueError`; the consistency of the policy with its
//! gateway (routes that exist, ascending steps, bounds) is checked by `dsl::validate::canary`.
//!
//! A policy is read on a standalone (user) gateway and on a cluster's gateway settings in a blueprint or a
//! deployment (there its routes name services by breed, like the settings' routes). A deployment's own gateways
//! (`deployment/port`, a blueprint's `gateways:`) take none: [`refuse_canary`].

use super::common::{read_optional_parsed, whole_number};
use super::gateway::route_path;
use crate::dsl::cursor::{index, one_or_many, scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::{Node, Value};
use crate::model::{CanaryPolicy, CanaryStatus, Millis, Percentage, Rate, Seconds};

/// Reads `canary`: `baseline` and `canary` required, everything else defaulted (see [`CanaryPolicy::new`]).
pub(crate) fn read_canary(ctx: &Ctx, node: &Node, path: &str) -> R<CanaryPolicy> {
    let c = MapCursor::new(ctx, node, path)?;
    let baseline = read_route(&c, "baseline")?;
    let canary = read_route(&c, "canary")?;
    let mut policy = CanaryPolicy::new(baseline, canary);
    if let Some(n) = c.value("steps") {
        policy.steps = read_steps(ctx, n, &c.path_of("steps"))?;
    }
    if let Some(v) = read_optional_parsed(&c, "interval", Seconds::parse, "a duration: use e.g. 5s or 1m")? {
        policy.interval = v;
    }
    if let Some(v) = read_optional_parsed(&c, "min_requests", whole_number, "a whole number of requests")? {
        policy.min_requests = v;
    }
    policy.max_error_rate = read_optional_parsed(&c, "max_error_rate", Rate::parse, RATE)?;
    policy.max_p99 = read_optional_parsed(&c, "max_p99", Millis::parse, "a duration: use e.g. 500ms or 1s")?;
    if let Some(v) = read_optional_parsed(&c, "error_margin", Rate::parse, RATE)? {
        policy.error_margin = v;
    }
    if let Some(v) = read_optional_parsed(&c, "latency_margin", Rate::parse, RATE)? {
        policy.latency_margin = v;
    }
    if let Some(v) = read_optional_parsed(&c, "latency_floor", Millis::parse, "a duration: use e.g. 5ms")? {
        policy.latency_floor = v;
    }
    if let Some(v) = read_optional_parsed(
        &c,
        "confidence",
        parse_confidence,
        "a confidence: use a number such as 0.95 (or 95%)",
    )? {
        policy.confidence = v;
    }
    if let Some(v) = read_optional_parsed(&c, "max_waits", whole_number, "a whole number of intervals")? {
        policy.max_waits = v;
    }
    if let Some(v) = read_optional_parsed(
        &c,
        "status",
        CanaryStatus::parse,
        "a canary status: use progressing, paused, promoted or rolled_back",
    )? {
        policy.status = v;
    }
    c.finish()?;
    Ok(policy)
}

/// Reads the optional `canary` of a gateway body.
pub(crate) fn read_optional_canary(c: &MapCursor) -> R<Option<CanaryPolicy>> {
    match c.value("canary") {
        None => Ok(None),
        Some(n) => Ok(Some(read_canary(c.ctx, n, &c.path_of("canary"))?)),
    }
}

/// A `canary` in the body of a deployment's own gateway (`deployment/port`) is `CanaryPolicyError`: those
/// gateways route to clusters and their weights are the blueprint's, so a canary goes on the cluster's gateway
/// (`clusters.<cluster>.gateways.<port>.canary`) or on a user gateway.
pub(crate) fn refuse_canary(c: &MapCursor) -> R<()> {
    let Some(node) = c.take("canary") else {
        return Ok(());
    };
    Err(c.ctx.err_at(
        ErrorCode::CanaryPolicyError,
        &c.path_of("canary"),
        node,
        "a deployment's gateway runs no canary: put the policy on the gateway of the cluster whose services it compares (clusters.<cluster>.gateways.<port>.canary), or on a user gateway",
    ))
}

const RATE: &str = "a percentage: use e.g. 5% or 0.5%";

fn read_route(c: &MapCursor, key: &str) -> R<String> {
    let node = c.required(key)?;
    let text = scalar_text(c.ctx, node, &c.path_of(key))?;
    Ok(route_path(c.ctx, text.trim(), &c.path_of(key), node)?.0)
}

fn read_steps(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<Percentage>> {
    let mut out = Vec::new();
    for (i, item) in one_or_many(node).into_iter().enumerate() {
        let p = if matches!(node.value, Value::List(_)) {
            index(path, i)
        } else {
            path.to_string()
        };
        let text = scalar_text(ctx, item, &p)?;
        let step = Percentage::parse(&text).ok_or_else(|| {
            ctx.err_at(
                ErrorCode::InvalidValueError,
                &p,
                item,
                format!("'{text}' is not a step: use a whole percentage such as 25%"),
            )
        })?;
        out.push(step);
    }
    Ok(out)
}

/// A confidence as a number (`0.95`) or a percentage (`95%`).
fn parse_confidence(text: &str) -> Option<f64> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => t.parse::<f64>().ok()?,
    };
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use crate::dsl;
    use crate::model::{Artifact, CanaryStatus, Kind, Millis, Percentage, Rate, Seconds};

    const SHOP: &str = "name: shop\nport: 9050\nsticky: route\nroutes:\n  sava/sava/sava:1.0/web: {weight: 100%}\n  sava/sava/sava:1.1/web: {weight: 0%}\n";

    fn gateway(canary: &str) -> Result<Artifact, dsl::DslError> {
        dsl::read(Kind::Gateway, &format!("{SHOP}canary:\n{canary}"))
    }

    fn policy(canary: &str) -> crate::model::CanaryPolicy {
        match gateway(canary).unwrap() {
            Artifact::Gateway(g) => g.canary.unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_full_policy_reads_every_field() {
        let p = policy(
            "  baseline: sava/sava/sava:1.0/web\n  canary: sava/sava/sava:1.1/web\n  steps: [5%, 10%, 25%, 50%, 100%]\n  interval: 5s\n  min_requests: 50\n  max_error_rate: 5%\n  max_p99: 500ms\n  error_margin: 0.5%\n  latency_margin: 20%\n  latency_floor: 2ms\n  confidence: 0.99\n  max_waits: 3\n  status: paused\n",
        );
        assert_eq!(p.baseline.0, "sava/sava/sava:1.0/web");
        assert_eq!(p.canary.0, "sava/sava/sava:1.1/web");
        assert_eq!(p.steps, [5, 10, 25, 50, 100].map(Percentage).to_vec());
        assert_eq!(p.interval, Seconds(5));
        assert_eq!(p.min_requests, 50);
        assert_eq!(p.max_error_rate, Some(Rate(5.0)));
        assert_eq!(p.max_p99, Some(Millis(500)));
        assert_eq!(p.error_margin, Rate(0.5));
        assert_eq!(p.latency_margin, Rate(20.0));
        assert_eq!(p.latency_floor, Millis(2));
        assert_eq!(p.confidence, 0.99);
        assert_eq!(p.max_waits, 3);
        assert_eq!(p.status, CanaryStatus::Paused);
    }

    #[test]
    fn only_the_two_routes_are_required() {
        let p = policy("  baseline: sava/sava/sava:1.0/web\n  canary: sava/sava/sava:1.1/web\n");
        assert_eq!(
            p,
            crate::model::CanaryPolicy::new("sava/sava/sava:1.0/web", "sava/sava/sava:1.1/web")
        );
        assert_eq!(p.status, CanaryStatus::Progressing);
        assert_eq!(p.max_error_rate, None);
    }

    #[test]
    fn a_confidence_may_be_a_percentage_and_a_single_step_a_scalar() {
        let p = policy(
            "  baseline: sava/sava/sava:1.0/web\n  canary: sava/sava/sava:1.1/web\n  confidence: 90%\n  steps: 50%\n",
        );
        assert!((p.confidence - 0.9).abs() < 1e-12);
        assert_eq!(p.steps, vec![Percentage(50)]);
    }

    #[test]
    fn malformed_values_name_the_field() {
        for (text, path) in [
            (
                "  baseline: a\n  canary: b\n  steps: [5%, lots]\n",
                "canary.steps[1]",
            ),
            (
                "  baseline: a\n  canary: b\n  interval: soon\n",
                "canary.interval",
            ),
            ("  baseline: a\n  canary: b\n  max_p99: 1m\n", "canary.max_p99"),
            (
                "  baseline: a\n  canary: b\n  max_error_rate: 120%\n",
                "canary.max_error_rate",
            ),
            ("  baseline: a\n  canary: b\n  status: running\n", "canary.status"),
            (
                "  baseline: a\n  canary: b\n  confidence: high\n",
                "canary.confidence",
            ),
        ] {
            let e = gateway(text).unwrap_err();
            assert_eq!(e.code, dsl::ErrorCode::InvalidValueError, "{text}: {e}");
            assert_eq!(e.path, path, "{e}");
            assert_eq!(e.artifact.name, "shop");
        }
        let e =
            gateway("  baseline: sava/sava/sava:1.0/web\n  canary: sava/sava/sava:1.1/web\n  weight: 5%\n")
                .unwrap_err();
        assert_eq!(
            (e.code, e.path.as_str()),
            (dsl::ErrorCode::UnexpectedElement, "canary.weight")
        );
        let e = gateway("  canary: sava/sava/sava:1.1/web\n").unwrap_err();
        assert_eq!(
            (e.code, e.path.as_str()),
            (dsl::ErrorCode::MissingPathValueError, "canary.baseline")
        );
    }

    #[test]
    fn a_policy_round_trips_through_yaml_and_json() {
        let a = gateway(
            "  baseline: sava/sava/sava:1.0/web\n  canary: sava/sava/sava:1.1/web\n  steps: [10%, 100%]\n  interval: 2s\n  max_error_rate: 0.5%\n  max_p99: 1.5s\n  confidence: 0.975\n  status: rolled_back\n",
        )
        .unwrap();
        let yaml = dsl::to_yaml(&a).unwrap();
        assert!(yaml.contains("status: rolled_back"), "{yaml}");
        assert!(yaml.contains("max_p99: 1500ms"), "{yaml}");
        assert_eq!(dsl::read(Kind::Gateway, &yaml).unwrap(), a, "{yaml}");
        let json = dsl::to_json_string(&a).unwrap();
        assert_eq!(dsl::read(Kind::Gateway, &json).unwrap(), a, "{json}");
    }

    #[test]
    fn a_gateway_without_a_policy_writes_no_canary() {
        let a = dsl::read(Kind::Gateway, SHOP).unwrap();
        assert!(!dsl::to_yaml(&a).unwrap().contains("canary"));
    }
}
