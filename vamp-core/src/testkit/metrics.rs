//! Conformance cases of [`MetricsSource`], fed through [`MetricsRecorder`]: counting, status classes, routes,
//! windows and latencies.
//!
//! Every case records into a gateway of its own, so cases may share one source.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{err, ok, unique};
use crate::metrics::{MetricsRecorder, MetricsSource, MetricsWindow, RequestSample};
use crate::ErrorKind;

const MINUTE: Duration = Duration::from_secs(60);

fn sample(
    gateway: &str,
    route: Option<&str>,
    status: u16,
    latency_ms: f64,
    at: DateTime<Utc>,
) -> RequestSample {
    RequestSample {
        gateway: gateway.to_string(),
        route: route.map(str::to_string),
        status,
        latency_ms,
        at,
    }
}

async fn record(recorder: &dyn MetricsRecorder, samples: &[RequestSample]) {
    ok("record", recorder.record(samples).await);
}

async fn window(
    source: &dyn MetricsSource,
    gateway: &str,
    route: Option<&str>,
    span: Duration,
) -> MetricsWindow {
    ok(
        &format!("window of {gateway} {route:?}"),
        source.window(gateway, route, span).await,
    )
}

/// A gateway without requests has an empty window, not an error.
pub async fn an_unknown_gateway_has_an_empty_window(
    source: &dyn MetricsSource,
    _recorder: &dyn MetricsRecorder,
) {
    let w = window(source, &unique("gw"), None, MINUTE).await;
    assert_eq!((w.requests, w.status, w.latency.count()), (0, [0; 5], 0));
}

/// A zero-length window is `Invalid`.
pub async fn a_zero_window_is_invalid(source: &dyn MetricsSource, _recorder: &dyn MetricsRecorder) {
    let e = err(
        "a zero window",
        source.window(&unique("gw"), None, Duration::ZERO).await,
    );
    assert_eq!(e.kind(), ErrorKind::Invalid);
}

/// Requests are counted in total and by status class.
pub async fn requests_are_counted_by_status_class(
    source: &dyn MetricsSource,
    recorder: &dyn MetricsRecorder,
) {
    let gw = unique("gw");
    let now = Utc::now();
    let samples: Vec<RequestSample> = [200, 204, 301, 404, 500, 502, 503]
        .into_iter()
        .map(|s| sample(&gw, Some("r"), s, 5.0, now))
        .collect();
    record(recorder, &samples).await;
    let w = window(source, &gw, None, MINUTE).await;
    assert_eq!(w.requests, 7);
    assert_eq!(w.status, [0, 2, 1, 1, 3]);
    assert_eq!(w.error_rate(), Some(3.0 / 7.0));
}

/// A route's window counts only that route; the gateway's window counts every route.
pub async fn a_route_window_counts_only_that_route(
    source: &dyn MetricsSource,
    recorder: &dyn MetricsRecorder,
) {
    let gw = unique("gw");
    let now = Utc::now();
    let mut samples = vec![sample(&gw, Some("shop/v1/web"), 200, 1.0, now); 3];
    samples.extend(vec![sample(&gw, Some("shop/v2/web"), 500, 1.0, now); 2]);
    samples.push(sample(&unique("other"), Some("shop/v1/web"), 200, 1.0, now));
    record(recorder, &samples).await;
    assert_eq!(window(source, &gw, Some("shop/v1/web"), MINUTE).await.requests, 3);
    assert_eq!(
        window(source, &gw, Some("shop/v2/web"), MINUTE).await.status[4],
        2
    );
    assert_eq!(window(source, &gw, None, MINUTE).await.requests, 5);
}

/// Requests that completed before the window are left out; a longer window includes them.
pub async fn requests_before_the_window_are_left_out(
    source: &dyn MetricsSource,
    recorder: &dyn MetricsRecorder,
) {
    let gw = unique("gw");
    let now = Utc::now();
    let ten_minutes_ago = now - chrono::Duration::minutes(10);
    record(
        recorder,
        &[
            sample(&gw, None, 200, 1.0, ten_minutes_ago),
            sample(&gw, None, 200, 1.0, now),
        ],
    )
    .await;
    assert_eq!(
        window(source, &gw, None, MINUTE).await.requests,
        1,
        "a minute holds one request"
    );
    assert_eq!(
        window(source, &gw, None, Duration::from_secs(1800))
            .await
            .requests,
        2,
        "half an hour holds two"
    );
}

/// Latency percentiles and the mean follow the recorded latencies (within one histogram bucket).
pub async fn latencies_are_kept_in_the_histogram(source: &dyn MetricsSource, recorder: &dyn MetricsRecorder) {
    let gw = unique("gw");
    let now = Utc::now();
    let samples: Vec<RequestSample> = (1..=100)
        .map(|ms| sample(&gw, None, 200, f64::from(ms), now))
        .collect();
    record(recorder, &samples).await;
    let w = window(source, &gw, None, MINUTE).await;
    assert_eq!(w.latency.count(), 100);
    assert_eq!(w.latency.mean(), Some(50.5));
    let p50 = w.latency.percentile(50.0).unwrap_or(f64::NAN);
    assert!(
        (50.0..=50.0 * 1.19).contains(&p50),
        "p50 {p50} is not about 50 ms"
    );
    assert_eq!(w.latency.percentile(100.0), Some(100.0));
}
