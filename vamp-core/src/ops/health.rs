//! Health and traffic figures: from a [`MetricsWindow`] of a gateway or route to [`Figures`] (requests, rate,
//! response times, errors, the original's binary health and a smoother score), and the composition of service
//! figures into cluster and deployment figures.
//!
//! Two health numbers are kept side by side:
//!
//! - `health` is the original Vamp's rule (its stock `health` workflow): **0 if any 5xx response was logged in
//!   the window, else 1**, and 1 without traffic. One error in a million requests makes it 0.
//! - `score` is `1 − L`, where `L` is the lower bound of the Wilson score interval (z = [`SCORE_Z`] = 1.96) of
//!   the share of 5xx responses. It is 1 without errors (and without traffic), close to `1 − error rate` with
//!   many requests, and never below it: the score only drops as far as the evidence for errors goes, so one
//!   error in 10 000 requests leaves it ≈ 1, a steady 20% error rate takes it to ≈ 0.8, and one failure among
//!   a handful of requests does not throw it to 0. (One minus the interval's *upper* bound would instead mark
//!   a gateway with ten clean requests as 28% unhealthy, which is the wrong way round for a health number.)
//!
//! Clusters and deployments compose as in the original: a cluster's health is the product of its services'
//! healths, a deployment's the product of its clusters'; scores multiply the same way ([`compose`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::metrics::MetricsWindow;

/// The z value of the Wilson interval behind [`score`]: 1.96, a 95% two-sided (97.5% one-sided) bound.
pub const SCORE_Z: f64 = 1.96;

/// The figures of a gateway, a route, a service, a cluster or a deployment over a window.
///
/// Serialized in camelCase, so the JSON field names are the original's metric names where it had one
/// (`rate`, `responseTime`, `health`) and the metric names of the `/api/v1/metrics/…/{metric}` paths for the
/// rest (`requests`, `p50`, `p95`, `p99`, `errors`, `errorRate`, `score`, `window`). Times are milliseconds;
/// without traffic the response times are 0 (look at `requests`), `errorRate` is 0 and both health numbers
/// are 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Requests completed within the window.
    pub requests: u64,
    /// Requests per second: `requests` divided by the window length (the original's `rate`).
    pub rate: f64,
    /// The mean total time of the requests in ms (HAProxy's `Tt`; the original's `responseTime`).
    pub response_time: f64,
    /// The median response time in ms (within one histogram bucket, 19%, above the true value).
    pub p50: f64,
    /// The 95th percentile response time in ms.
    pub p95: f64,
    /// The 99th percentile response time in ms.
    pub p99: f64,
    /// Requests answered with a 5xx status.
    pub errors: u64,
    /// `errors / requests`; 0 without traffic.
    pub error_rate: f64,
    /// The original's rule: 0 with any 5xx in the window, else 1 (1 without traffic).
    pub health: f64,
    /// The smoother health in 0..=1: [`score`] of the errors and requests.
    pub score: f64,
    /// The window length in seconds the rate was computed over.
    pub window: f64,
}

impl Default for Figures {
    /// The figures of a window without traffic of length 0.
    fn default() -> Self {
        Figures {
            requests: 0,
            rate: 0.0,
            response_time: 0.0,
            p50: 0.0,
            p95: 0.0,
            p99: 0.0,
            errors: 0,
            error_rate: 0.0,
            health: 1.0,
            score: 1.0,
            window: 0.0,
        }
    }
}

impl Figures {
    /// These figures with the error figures (`errors`, `errorRate`, `health`, `score`) of `other`: how a health
    /// window of a different length than the metrics window is combined.
    pub fn with_health_of(self, other: &Figures) -> Figures {
        Figures {
            errors: other.errors,
            error_rate: other.error_rate,
            health: other.health,
            score: other.score,
            ..self
        }
    }

    /// One figure by its metric name (the camelCase field name; `response_time` and `response-time` are
    /// accepted for `responseTime`, `error_rate` and `error-rate` for `errorRate`); `None` for an unknown
    /// name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        Some(match name {
            "requests" => self.requests as f64,
            "rate" => self.rate,
            "responseTime" | "response_time" | "response-time" => self.response_time,
            "p50" => self.p50,
            "p95" => self.p95,
            "p99" => self.p99,
            "errors" => self.errors as f64,
            "errorRate" | "error_rate" | "error-rate" => self.error_rate,
            "health" => self.health,
            "score" => self.score,
            "window" => self.window,
            _ => return None,
        })
    }

    /// The metric names [`Figures::metric`] knows, in their canonical form.
    pub const METRICS: &'static [&'static str] = &[
        "requests",
        "rate",
        "responseTime",
        "p50",
        "p95",
        "p99",
        "errors",
        "errorRate",
        "health",
        "score",
    ];
}

/// The figures of `window`, a window of length `span`.
pub fn figures(window: &MetricsWindow, span: Duration) -> Figures {
    let errors = window.status[4].min(window.requests);
    let latency = &window.latency;
    Figures {
        requests: window.requests,
        rate: window.rate_per_second(span),
        response_time: latency.mean().unwrap_or(0.0),
        p50: latency.percentile(50.0).unwrap_or(0.0),
        p95: latency.percentile(95.0).unwrap_or(0.0),
        p99: latency.percentile(99.0).unwrap_or(0.0),
        errors,
        error_rate: window.error_rate().unwrap_or(0.0).min(1.0),
        health: health(window),
        score: score(errors, window.requests),
        window: span.as_secs_f64(),
    }
}

/// The original's health of a window: 0.0 when any request was answered with a 5xx status, else 1.0 (also
/// without traffic).
pub fn health(window: &MetricsWindow) -> f64 {
    if window.status[4] > 0 {
        0.0
    } else {
        1.0
    }
}

/// The smoother health of `errors` failures among `requests`: `1 − L`, with `L` the lower bound of the Wilson
/// score interval of the error share at z = [`SCORE_Z`]:
///
/// ```text
/// p = errors / requests,  n = requests,  z = 1.96
/// L = (p + z²/2n − z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)
/// score = 1 − L   (1 when there are no errors or no requests; errors beyond requests count as requests)
/// ```
///
/// Always in 0..=1, never below `1 − p`, decreasing in `errors`, and approaching `1 − p` as `n` grows.
pub fn score(errors: u64, requests: u64) -> f64 {
    let errors = errors.min(requests);
    if errors == 0 {
        return 1.0;
    }
    (1.0 - wilson_lower_bound(errors, requests, SCORE_Z)).clamp(0.0, 1.0)
}

/// The lower bound of the Wilson score interval of the proportion `hits / n` at `z`; 0 for `n = 0`.
pub fn wilson_lower_bound(hits: u64, n: u64, z: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    let p = (hits as f64 / n).min(1.0);
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - margin) / (1.0 + z2 / n)).clamp(0.0, 1.0)
}

/// The product of `values`; 1.0 for none — how the original composed healths.
pub fn product(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().product()
}

/// The figures of a whole made of `parts` (a cluster of its services, a deployment of its clusters): the
/// traffic figures of `merged` (the parts' windows merged, of length `span`), with `health` and `score` the
/// products of the parts' (1.0 without parts).
pub fn compose(merged: &MetricsWindow, span: Duration, parts: &[Figures]) -> Figures {
    Figures {
        health: product(parts.iter().map(|p| p.health)),
        score: product(parts.iter().map(|p| p.score)),
        ..figures(merged, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THIRTY: Duration = Duration::from_secs(30);

    fn window(ok: u64, errors: u64, ms: f64) -> MetricsWindow {
        let mut w = MetricsWindow::new();
        for _ in 0..ok {
            w.record(200, ms);
        }
        for _ in 0..errors {
            w.record(503, ms);
        }
        w
    }

    #[test]
    fn no_traffic_is_healthy_with_zero_rates() {
        let f = figures(&MetricsWindow::new(), THIRTY);
        assert_eq!(f.requests, 0);
        assert_eq!(
            (f.rate, f.response_time, f.p99, f.error_rate),
            (0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!((f.health, f.score), (1.0, 1.0));
        assert_eq!(f.window, 30.0);
    }

    #[test]
    fn one_error_makes_the_original_health_zero() {
        let f = figures(&window(9_999, 1, 5.0), THIRTY);
        assert_eq!(f.health, 0.0);
        assert_eq!(f.errors, 1);
        assert_eq!(figures(&window(10, 0, 5.0), THIRTY).health, 1.0);
    }

    #[test]
    fn client_errors_are_not_unhealthy() {
        let mut w = MetricsWindow::new();
        w.record(404, 1.0);
        w.record(0, 1.0);
        let f = figures(&w, THIRTY);
        assert_eq!((f.errors, f.health, f.score), (0, 1.0, 1.0));
    }

    #[test]
    fn rate_and_response_times_come_from_the_window() {
        let mut w = MetricsWindow::new();
        for ms in 1..=100 {
            w.record(200, f64::from(ms));
        }
        let f = figures(&w, Duration::from_secs(10));
        assert_eq!(f.requests, 100);
        assert_eq!(f.rate, 10.0);
        assert_eq!(f.response_time, 50.5);
        assert!((50.0..=50.0 * 1.19).contains(&f.p50), "{}", f.p50);
        assert!((95.0..=100.0).contains(&f.p95), "{}", f.p95);
        assert!((99.0..=100.0).contains(&f.p99), "{}", f.p99);
    }

    #[test]
    fn one_error_in_ten_thousand_scores_about_one() {
        let s = score(1, 10_000);
        assert!(s > 0.9999 && s < 1.0, "{s}");
    }

    #[test]
    fn a_steady_fifth_of_errors_scores_about_four_fifths() {
        let s = score(200, 1_000);
        assert!(s > 0.8 && s < 0.83, "{s}");
        let s = score(20_000, 100_000);
        assert!(s > 0.8 && s < 0.805, "{s}");
    }

    #[test]
    fn a_burst_of_errors_drags_the_score_down() {
        assert!(score(1_000, 1_000) < 0.01);
        assert!(score(90, 100) < 0.2);
    }

    #[test]
    fn few_samples_do_not_swing_the_score_to_zero() {
        assert!(score(1, 1) > 0.75, "{}", score(1, 1));
        assert!(score(1, 2) > 0.9, "{}", score(1, 2));
        assert!(score(1, 10) > 0.98, "{}", score(1, 10));
        assert_eq!(score(0, 1), 1.0);
        assert_eq!(score(0, 3), 1.0);
    }

    #[test]
    fn the_score_is_bounded_monotone_and_never_below_one_minus_the_error_rate() {
        for n in [1u64, 2, 5, 10, 33, 100, 1_000, 1_000_000] {
            let mut previous = 1.0;
            for errors in 0..=n.min(200) {
                let s = score(errors, n);
                let share = errors as f64 / n as f64;
                assert!((0.0..=1.0).contains(&s), "{errors}/{n}: {s}");
                assert!(s >= 1.0 - share - 1e-12, "{errors}/{n}: {s} < {}", 1.0 - share);
                assert!(s <= previous, "{errors}/{n}: {s} > {previous}");
                previous = s;
            }
        }
    }

    #[test]
    fn the_same_error_share_scores_lower_with_more_evidence() {
        let shares = [
            score(1, 10),
            score(10, 100),
            score(100, 1_000),
            score(1_000, 10_000),
        ];
        for pair in shares.windows(2) {
            assert!(pair[1] < pair[0], "{shares:?}");
        }
        assert!((shares[3] - 0.9).abs() < 0.01, "{shares:?}");
    }

    #[test]
    fn errors_beyond_requests_count_as_requests() {
        assert_eq!(score(5, 3), score(3, 3));
        assert_eq!(score(5, 0), 1.0);
    }

    #[test]
    fn healths_and_scores_of_parts_multiply() {
        let a = figures(&window(100, 0, 10.0), THIRTY);
        let b = figures(&window(90, 10, 30.0), THIRTY);
        let mut merged = window(100, 0, 10.0);
        merged.merge(&window(90, 10, 30.0));
        let whole = compose(&merged, THIRTY, &[a, b]);
        assert_eq!(whole.health, 0.0);
        assert!((whole.score - a.score * b.score).abs() < 1e-12);
        assert_eq!(whole.requests, 200);
        assert_eq!(whole.errors, 10);
        assert_eq!(whole.response_time, 20.0);
        let healthy = compose(&window(5, 0, 1.0), THIRTY, &[a, a]);
        assert_eq!((healthy.health, healthy.score), (1.0, 1.0));
        let empty = compose(&MetricsWindow::new(), THIRTY, &[]);
        assert_eq!((empty.health, empty.score), (1.0, 1.0));
    }

    #[test]
    fn health_figures_of_another_window_replace_the_error_figures_only() {
        let metrics = figures(&window(100, 0, 10.0), THIRTY);
        let health = figures(&window(1, 1, 99.0), Duration::from_secs(5));
        let f = metrics.with_health_of(&health);
        assert_eq!((f.requests, f.rate, f.response_time), (100, metrics.rate, 10.0));
        assert_eq!((f.errors, f.error_rate, f.health), (1, 0.5, 0.0));
        assert_eq!(f.score, health.score);
    }

    #[test]
    fn figures_serialize_with_the_original_metric_names() {
        let json = serde_json::to_value(figures(&window(3, 1, 2.0), THIRTY)).unwrap();
        for key in [
            "rate",
            "responseTime",
            "errorRate",
            "p95",
            "health",
            "score",
            "requests",
        ] {
            assert!(json.get(key).is_some(), "{key} missing in {json}");
        }
        assert!(json.get("response_time").is_none());
        let back: Figures = serde_json::from_value(json).unwrap();
        assert_eq!(back.errors, 1);
    }

    #[test]
    fn every_listed_metric_is_readable_by_name() {
        let f = figures(&window(3, 1, 2.0), THIRTY);
        for name in Figures::METRICS {
            assert!(f.metric(name).is_some(), "{name}");
        }
        assert_eq!(f.metric("response-time"), Some(f.response_time));
        assert_eq!(f.metric("errorRate"), Some(0.25));
        assert_eq!(f.metric("latency"), None);
    }
}
