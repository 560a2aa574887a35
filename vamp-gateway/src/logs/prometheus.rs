//! The Prometheus text exposition (format 0.0.4) of the agent's metrics: per gateway and route request
//! counters by status class and a latency histogram, and the log pipeline's own counters.

use std::fmt::Write as _;

use super::aggregator::{SeriesTotals, PROMETHEUS_BOUNDS_MS};
use super::counters::CountersSnapshot;
use super::forward::SinkSnapshot;

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything one exposition shows.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Totals per gateway and route.
    pub series: Vec<SeriesTotals>,
    /// The pipeline's counters.
    pub counters: CountersSnapshot,
    /// Requests refused because the aggregator held its maximum of series.
    pub refused: u64,
    /// The forwarding sinks.
    pub sinks: Vec<SinkSnapshot>,
}

/// A label value escaped for the exposition format: `\`, `"` and newline.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A per-sink metric: name, type, help and how to read its value.
type SinkMetric = (&'static str, &'static str, &'static str, fn(&SinkSnapshot) -> u64);

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The exposition text of `snapshot`. Requests without a status class (TCP, aborted) are counted with
/// `status="none"`; a request through no route has `route=""`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "vamp_gateway_requests_total",
        "counter",
        "Requests HAProxy logged, by gateway, route and status class.",
    );
    let labels: Vec<String> = snapshot
        .series
        .iter()
        .map(|s| {
            format!(
                "gateway=\"{}\",route=\"{}\"",
                escape_label(&s.gateway),
                escape_label(s.route.as_deref().unwrap_or(""))
            )
        })
        .collect();
    for (series, labels) in snapshot.series.iter().zip(&labels) {
        let t = &series.totals;
        for (class, n) in STATUS_CLASSES.iter().zip(t.status) {
            let _ = writeln!(
                out,
                "vamp_gateway_requests_total{{{labels},status=\"{class}\"}} {n}"
            );
        }
        let none = t.requests.saturating_sub(t.status.iter().sum());
        let _ = writeln!(
            out,
            "vamp_gateway_requests_total{{{labels},status=\"none\"}} {none}"
        );
    }
    let histogram = "vamp_gateway_request_duration_seconds";
    header(
        &mut out,
        histogram,
        "histogram",
        "Total time of requests (HTTP: from the request headers to the log line, in microseconds, else HAProxy %Ta; TCP: %Tt), by gateway and route.",
    );
    for (series, labels) in snapshot.series.iter().zip(&labels) {
        let t = &series.totals;
        for (bound, n) in PROMETHEUS_BOUNDS_MS.iter().zip(t.at_most) {
            let le = bound / 1000.0;
            let _ = writeln!(out, "{histogram}_bucket{{{labels},le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{histogram}_bucket{{{labels},le=\"+Inf\"}} {}", t.requests);
        let _ = writeln!(out, "{histogram}_sum{{{labels}}} {}", t.latency_sum_ms / 1000.0);
        let _ = writeln!(out, "{histogram}_count{{{labels}}} {}", t.requests);
    }
    let c = &snapshot.counters;
    for (name, help, value) in [
        (
            "vamp_gateway_log_lines_received_total",
            "Log datagrams received.",
            c.received,
        ),
        (
            "vamp_gateway_log_receive_errors_total",
            "Failed reads of the log socket.",
            c.receive_errors,
        ),
        (
            "vamp_gateway_log_parse_errors_total",
            "Log lines that are not access logs of the expected format.",
            c.parse_errors,
        ),
        (
            "vamp_gateway_log_unknown_frontend_total",
            "Access logs of frontends that serve no known gateway.",
            c.unknown_frontend,
        ),
        (
            "vamp_gateway_log_refused_sources_total",
            "UDP log datagrams dropped because their source address is not an accepted log source.",
            c.refused_sources,
        ),
        (
            "vamp_gateway_metrics_refused_total",
            "Requests not aggregated because the most series were kept.",
            snapshot.refused,
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
    let sink_metrics: [SinkMetric; 4] = [
        (
            "vamp_gateway_log_forwarded_total",
            "counter",
            "Log lines delivered, by sink.",
            |s| s.forwarded,
        ),
        (
            "vamp_gateway_log_dropped_total",
            "counter",
            "Log lines dropped from a full forwarding queue (oldest first), by sink.",
            |s| s.dropped,
        ),
        (
            "vamp_gateway_log_forward_failures_total",
            "counter",
            "Log lines lost because sending failed, by sink.",
            |s| s.failed,
        ),
        (
            "vamp_gateway_log_queued",
            "gauge",
            "Log lines waiting to be forwarded, by sink.",
            |s| s.queued as u64,
        ),
    ];
    for (name, kind, help, value) in sink_metrics {
        header(&mut out, name, kind, help);
        for sink in &snapshot.sinks {
            let _ = writeln!(
                out,
                "{name}{{sink=\"{}\",target=\"{}\"}} {}",
                sink.kind,
                escape_label(&sink.target),
                value(sink)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::logs::aggregator::Totals;

    fn one_series() -> Snapshot {
        let totals = Totals {
            requests: 3,
            status: [0, 1, 0, 0, 1],
            at_most: [1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
            latency_sum_ms: 1500.0,
        };
        Snapshot {
            series: vec![SeriesTotals {
                gateway: Arc::from("shop/web"),
                route: Some(Arc::from("a\"b\\c\nd")),
                totals,
            }],
            ..Snapshot::default()
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let text = render(&one_series());
        assert!(
            text.contains(r#"gateway="shop/web",route="a\"b\\c\nd",status="2xx"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn requests_without_a_status_class_count_as_none() {
        let text = render(&one_series());
        assert!(text.contains(r#"status="5xx"} 1"#));
        assert!(text.contains(r#"status="none"} 1"#));
    }

    #[test]
    fn the_histogram_is_cumulative_and_ends_with_inf_sum_and_count() {
        let text = render(&one_series());
        assert!(text.contains(r#"le="0.005"} 1"#), "{text}");
        assert!(text.contains(r#"le="0.025"} 2"#));
        assert!(text.contains(r#"le="30"} 2"#));
        assert!(text.contains(r#"le="+Inf"} 3"#));
        assert!(text.contains(
            r#"vamp_gateway_request_duration_seconds_sum{gateway="shop/web",route="a\"b\\c\nd"} 1.5"#
        ));
        assert!(text.contains(r#"_count{gateway="shop/web",route="a\"b\\c\nd"} 3"#));
    }

    #[test]
    fn every_sample_line_has_a_name_and_a_number() {
        let mut snapshot = one_series();
        snapshot.sinks.push(SinkSnapshot {
            kind: "logstash",
            target: "127.0.0.1:1".into(),
            forwarded: 1,
            dropped: 2,
            failed: 3,
            queued: 4,
        });
        let text = render(&snapshot);
        assert!(text.contains(r#"vamp_gateway_log_dropped_total{sink="logstash",target="127.0.0.1:1"} 2"#));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(line.starts_with("vamp_gateway_"), "{line}");
        }
    }
}
