//! The pulse figures in the Prometheus text format, appended to `GET /api/v1/metrics`.
//!
//! Per gateway and route (`route=""` is the gateway as a whole, which also counts requests no route took, so
//! do not sum over `route`), over the metrics window (rates, times) and the health window (errors, health):
//!
//! - `vamp_gateway_requests{gateway,route}`: requests in the window;
//! - `vamp_gateway_requests_per_second{gateway,route}`;
//! - `vamp_gateway_response_time_ms{gateway,route,percentile}`: `percentile` `50`, `95`, `99` (not `quantile`, which Prometheus reserves for summaries);
//! - `vamp_gateway_response_time_mean_ms{gateway,route}`;
//! - `vamp_gateway_error_ratio{gateway,route}`: the share of 5xx answers;
//! - `vamp_gateway_health{gateway,route}`: the original's 0/1 health;
//! - `vamp_gateway_health_score{gateway,route}`: the smoother score.
//!
//! Per deployment, cluster and service (`cluster=""`/`service=""` for the levels above):
//! `vamp_deployment_health` and `vamp_deployment_health_score`; per deployment its allocation:
//! `vamp_deployment_cpu`, `vamp_deployment_memory_mb`, `vamp_deployment_instances`.

use std::fmt::Write;

use vamp_core::ops::health::Figures;

use super::figures::Pulse;

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Every (labels, figures) of the gateway level, in order.
fn gateway_rows(pulse: &Pulse) -> Vec<(String, &Figures)> {
    let mut rows = Vec::new();
    for g in &pulse.gateways {
        rows.push((labels(&[("gateway", &g.gateway), ("route", "")]), &g.figures));
        for r in &g.routes {
            rows.push((
                labels(&[("gateway", &g.gateway), ("route", &r.route)]),
                &r.figures,
            ));
        }
    }
    rows
}

fn deployment_rows(pulse: &Pulse) -> Vec<(String, &Figures)> {
    let mut rows = Vec::new();
    for d in &pulse.deployments {
        let name = d.deployment.as_str();
        rows.push((
            labels(&[("deployment", name), ("cluster", ""), ("service", "")]),
            &d.figures,
        ));
        for c in &d.clusters {
            rows.push((
                labels(&[("deployment", name), ("cluster", &c.cluster), ("service", "")]),
                &c.figures,
            ));
            for s in &c.services {
                rows.push((
                    labels(&[
                        ("deployment", name),
                        ("cluster", &c.cluster),
                        ("service", &s.service),
                    ]),
                    &s.figures,
                ));
            }
        }
    }
    rows
}

fn gauge(
    out: &mut String,
    name: &str,
    help: &str,
    rows: &[(String, &Figures)],
    value: impl Fn(&Figures) -> f64,
) {
    header(out, name, help);
    for (labels, figures) in rows {
        let _ = writeln!(out, "{name}{labels} {}", value(figures));
    }
}

/// Appends the pulse gauges of `pulse` to `out`.
pub fn write(out: &mut String, pulse: &Pulse) {
    let rows = gateway_rows(pulse);
    gauge(
        out,
        "vamp_gateway_requests",
        "Requests in the metrics window, per gateway (route=\"\") and route.",
        &rows,
        |f| f.requests as f64,
    );
    gauge(
        out,
        "vamp_gateway_requests_per_second",
        "Requests per second over the metrics window.",
        &rows,
        |f| f.rate,
    );
    header(
        out,
        "vamp_gateway_response_time_ms",
        "Response time percentiles in ms over the metrics window.",
    );
    for (labels, f) in &rows {
        let base = labels.trim_end_matches('}');
        for (q, v) in [("50", f.p50), ("95", f.p95), ("99", f.p99)] {
            let _ = writeln!(
                out,
                "vamp_gateway_response_time_ms{base},percentile=\"{q}\"}} {v}"
            );
        }
    }
    gauge(
        out,
        "vamp_gateway_response_time_mean_ms",
        "Mean response time in ms over the metrics window.",
        &rows,
        |f| f.response_time,
    );
    gauge(
        out,
        "vamp_gateway_error_ratio",
        "Share of 5xx answers over the health window.",
        &rows,
        |f| f.error_rate,
    );
    gauge(
        out,
        "vamp_gateway_health",
        "1 without any 5xx answer in the health window, else 0 (the original's rule).",
        &rows,
        |f| f.health,
    );
    gauge(
        out,
        "vamp_gateway_health_score",
        "1 minus the Wilson lower bound of the 5xx share over the health window.",
        &rows,
        |f| f.score,
    );
    let rows = deployment_rows(pulse);
    gauge(
        out,
        "vamp_deployment_health",
        "The original's 0/1 health of a deployment, cluster or service.",
        &rows,
        |f| f.health,
    );
    gauge(
        out,
        "vamp_deployment_health_score",
        "The health score of a deployment, cluster or service.",
        &rows,
        |f| f.score,
    );
    header(
        out,
        "vamp_deployment_cpu",
        "CPU shares a deployment allocates (cpu x instances).",
    );
    for d in &pulse.deployments {
        let _ = writeln!(
            out,
            "vamp_deployment_cpu{} {}",
            labels(&[("deployment", &d.deployment)]),
            d.allocation.cpu
        );
    }
    header(
        out,
        "vamp_deployment_memory_mb",
        "Memory in MB a deployment allocates (memory x instances).",
    );
    for d in &pulse.deployments {
        let _ = writeln!(
            out,
            "vamp_deployment_memory_mb{} {}",
            labels(&[("deployment", &d.deployment)]),
            d.allocation.memory
        );
    }
    header(
        out,
        "vamp_deployment_instances",
        "Instances a deployment asks for.",
    );
    for d in &pulse.deployments {
        let _ = writeln!(
            out,
            "vamp_deployment_instances{} {}",
            labels(&[("deployment", &d.deployment)]),
            d.allocation.instances
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslashes_quotes_and_newlines() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(
            labels(&[("gateway", "x/\"y\""), ("route", "")]),
            "{gateway=\"x/\\\"y\\\"\",route=\"\"}"
        );
    }
}
