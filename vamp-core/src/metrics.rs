//! The `MetricsSource` trait: per gateway and route windows of request counts, status classes and latencies.
//!
//! Gateway agents parse the proxy's request log and feed every request into a [`MetricsRecorder`]; health, SLA
//! and canary decisions read [`MetricsWindow`]s back through a [`MetricsSource`]. Latencies are kept in a
//! [`Histogram`] of fixed log-scale buckets, so windows from many agents merge by adding counts.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The upper bound of the first bucket, in milliseconds.
const FIRST_BOUND_MS: f64 = 0.1;
/// Buckets per doubling: each bound is 2^(1/4) ≈ 1.19 times the previous, so a percentile is within 19% of the
/// true value.
const BUCKETS_PER_DOUBLING: f64 = 4.0;
/// Bounded buckets: the last bound is 0.1 ms × 2^20 ≈ 105 s.
const BOUNDED_BUCKETS: usize = 81;
/// Bounded buckets plus one for everything slower.
pub const HISTOGRAM_BUCKETS: usize = BOUNDED_BUCKETS + 1;

/// The upper bound (inclusive) of bucket `index` in milliseconds; infinite for the last bucket.
pub fn bucket_upper_bound_ms(index: usize) -> f64 {
    if index >= BOUNDED_BUCKETS {
        return f64::INFINITY;
    }
    FIRST_BOUND_MS * (index as f64 / BUCKETS_PER_DOUBLING).exp2()
}

fn bucket_of(ms: f64) -> usize {
    if ms <= FIRST_BOUND_MS {
        return 0;
    }
    let estimate = (BUCKETS_PER_DOUBLING * (ms / FIRST_BOUND_MS).log2()).ceil();
    let mut index = if estimate >= BOUNDED_BUCKETS as f64 {
        BOUNDED_BUCKETS
    } else {
        estimate.max(0.0) as usize
    };
    while index > 0 && ms <= bucket_upper_bound_ms(index - 1) {
        index -= 1;
    }
    while ms > bucket_upper_bound_ms(index) {
        index += 1;
    }
    index
}

/// A latency histogram over fixed log-scale millisecond buckets (0.1 ms to ~105 s, then one open bucket), with
/// the exact count, sum, minimum and maximum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "HistogramWire", into = "HistogramWire")]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; HISTOGRAM_BUCKETS],
            count: 0,
            sum_ms: 0.0,
            min_ms: 0.0,
            max_ms: 0.0,
        }
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one latency. Negative values count as 0 ms; NaN is ignored.
    pub fn record(&mut self, ms: f64) {
        if ms.is_nan() {
            return;
        }
        let ms = ms.max(0.0);
        if let Some(slot) = self.counts.get_mut(bucket_of(ms)) {
            *slot += 1;
        }
        self.min_ms = if self.count == 0 { ms } else { self.min_ms.min(ms) };
        self.max_ms = if self.count == 0 { ms } else { self.max_ms.max(ms) };
        self.count += 1;
        self.sum_ms += ms;
    }

    /// Adds every latency of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.min_ms = if self.count == 0 {
            other.min_ms
        } else {
            self.min_ms.min(other.min_ms)
        };
        self.max_ms = if self.count == 0 {
            other.max_ms
        } else {
            self.max_ms.max(other.max_ms)
        };
        self.count += other.count;
        self.sum_ms += other.sum_ms;
    }

    /// The count of every bucket in bucket order ([`HISTOGRAM_BUCKETS`] of them; bucket `i` holds the latencies
    /// up to [`bucket_upper_bound_ms`]`(i)`): what rank statistics over the histogram read.
    pub fn bucket_counts(&self) -> &[u64] {
        &self.counts
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The exact mean; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ms / self.count as f64)
    }

    /// The smallest recorded latency; `None` when empty.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min_ms)
    }

    /// The largest recorded latency; `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max_ms)
    }

    /// The `p`-th percentile (0 to 100): the upper bound of the bucket holding it, clamped to the recorded
    /// minimum and maximum, so it overestimates by at most one bucket (19%) and `percentile(100.0)` is the
    /// maximum. `None` when empty or `p` is outside 0..=100.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=100.0).contains(&p) {
            return None;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (index, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(bucket_upper_bound_ms(index).clamp(self.min_ms, self.max_ms));
            }
        }
        Some(self.max_ms)
    }
}

/// The serialized form of a [`Histogram`]: only the non-empty buckets, as `[index, count]` pairs.
#[derive(Serialize, Deserialize)]
struct HistogramWire {
    count: u64,
    sum_ms: f64,
    min_ms: f64,
    max_ms: f64,
    buckets: Vec<(usize, u64)>,
}

impl From<Histogram> for HistogramWire {
    fn from(h: Histogram) -> Self {
        let buckets = h
            .counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (i, *n))
            .collect();
        HistogramWire {
            count: h.count,
            sum_ms: h.sum_ms,
            min_ms: h.min_ms,
            max_ms: h.max_ms,
            buckets,
        }
    }
}

impl TryFrom<HistogramWire> for Histogram {
    type Error = Error;

    fn try_from(w: HistogramWire) -> Result<Histogram> {
        let mut counts = vec![0; HISTOGRAM_BUCKETS];
        for (index, n) in w.buckets {
            let slot = counts.get_mut(index).ok_or_else(|| {
                Error::invalid(format!(
                    "Histogram bucket {index} does not exist; there are {HISTOGRAM_BUCKETS}."
                ))
            })?;
            *slot += n;
        }
        if counts.iter().sum::<u64>() != w.count {
            return Err(Error::invalid(
                "The histogram's bucket counts do not add up to its count.",
            ));
        }
        Ok(Histogram {
            counts,
            count: w.count,
            sum_ms: w.sum_ms,
            min_ms: w.min_ms,
            max_ms: w.max_ms,
        })
    }
}

/// The requests of one gateway (or one route of it) over a span of time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricsWindow {
    /// Every request, those without a valid status included.
    pub requests: u64,
    /// Requests by status class: index 0 is 1xx, … index 4 is 5xx.
    pub status: [u64; 5],
    /// Request durations.
    pub latency: Histogram,
}

impl MetricsWindow {
    /// An empty window.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one request. A status outside 100..=599 (HAProxy logs -1 for an aborted request, passed here as 0)
    /// counts as a request but in no status class.
    pub fn record(&mut self, status: u16, latency_ms: f64) {
        self.requests += 1;
        if (100..600).contains(&status) {
            if let Some(slot) = self.status.get_mut(usize::from(status / 100 - 1)) {
                *slot += 1;
            }
        }
        self.latency.record(latency_ms);
    }

    /// Adds every request of `other`.
    pub fn merge(&mut self, other: &MetricsWindow) {
        self.requests += other.requests;
        for (mine, theirs) in self.status.iter_mut().zip(other.status) {
            *mine += theirs;
        }
        self.latency.merge(&other.latency);
    }

    /// Requests per second over a window of length `window`; 0 for an empty window length.
    pub fn rate_per_second(&self, window: Duration) -> f64 {
        let seconds = window.as_secs_f64();
        if seconds > 0.0 {
            self.requests as f64 / seconds
        } else {
            0.0
        }
    }

    /// The share of requests answered with a 5xx status; `None` without requests, so "no traffic" is not
    /// mistaken for "no errors".
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.status[4] as f64 / self.requests as f64)
    }
}

/// One request as a gateway agent saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSample {
    /// The gateway name.
    pub gateway: String,
    /// The route path inside the gateway, when the request went through a route.
    pub route: Option<String>,
    /// The HTTP status; 0 for a TCP connection or an aborted request.
    pub status: u16,
    /// Total time of the request in milliseconds.
    pub latency_ms: f64,
    /// When the request completed.
    pub at: DateTime<Utc>,
}

/// Where metrics come from. Held as `Arc<dyn MetricsSource>`.
#[async_trait]
pub trait MetricsSource: Send + Sync {
    /// The requests that completed within the last `window` before now on `gateway`: on every route of it
    /// when `route` is `None`, else on that route only.
    ///
    /// A gateway or route without requests (unknown ones included) gives an empty window, not `NotFound`: no
    /// traffic yet is a normal state. A window longer than the source's retention covers what it retains. Fails
    /// with [`crate::ErrorKind::Invalid`] for a zero `window`.
    async fn window(&self, gateway: &str, route: Option<&str>, window: Duration) -> Result<MetricsWindow>;
}

/// Where gateway agents feed requests in. Sources that are fed directly (the in-memory one) implement it too,
/// which is what the metrics conformance suite drives.
#[async_trait]
pub trait MetricsRecorder: Send + Sync {
    /// Records the samples. Samples may arrive out of time order; each counts in every later window that
    /// covers its `at`.
    async fn record(&self, samples: &[RequestSample]) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_by_a_quarter_doubling() {
        let ratio = bucket_upper_bound_ms(5) / bucket_upper_bound_ms(4);
        assert!((ratio - 2f64.powf(0.25)).abs() < 1e-9);
        assert!(bucket_upper_bound_ms(BOUNDED_BUCKETS - 1) > 100_000.0);
        assert!(bucket_upper_bound_ms(BOUNDED_BUCKETS).is_infinite());
    }

    #[test]
    fn a_value_lands_in_the_first_bucket_whose_bound_holds_it() {
        for ms in [0.0, 0.1, 0.11, 1.0, 7.3, 250.0, 99_999.0, 1e9] {
            let i = bucket_of(ms);
            assert!(ms <= bucket_upper_bound_ms(i), "{ms}");
            assert!(i == 0 || ms > bucket_upper_bound_ms(i - 1), "{ms}");
        }
    }

    #[test]
    fn percentiles_of_one_value_are_that_value() {
        let mut h = Histogram::new();
        h.record(42.0);
        assert_eq!(h.percentile(50.0), Some(42.0));
        assert_eq!(h.percentile(99.0), Some(42.0));
    }

    #[test]
    fn percentiles_are_within_one_bucket() {
        let mut h = Histogram::new();
        for ms in 1..=1000 {
            h.record(f64::from(ms));
        }
        let p50 = h.percentile(50.0).unwrap();
        assert!((500.0..=500.0 * 1.19).contains(&p50), "{p50}");
        assert_eq!(h.percentile(100.0), Some(1000.0));
        let p0 = h.percentile(0.0).unwrap();
        assert!((1.0..=1.19).contains(&p0), "{p0}");
        assert_eq!(h.mean(), Some(500.5));
    }

    #[test]
    fn percentiles_of_nothing_or_out_of_range_are_none() {
        let mut h = Histogram::new();
        assert_eq!(h.percentile(50.0), None);
        assert_eq!(h.mean(), None);
        h.record(1.0);
        assert_eq!(h.percentile(101.0), None);
        assert_eq!(h.percentile(f64::NAN), None);
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for ms in [1.0, 5.0, 9.0] {
            a.record(ms);
            all.record(ms);
        }
        for ms in [0.5, 300.0] {
            b.record(ms);
            all.record(ms);
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(a.min(), Some(0.5));
    }

    #[test]
    fn histograms_round_trip_through_json_sparsely() {
        let mut h = Histogram::new();
        h.record(3.0);
        h.record(3.0);
        h.record(4000.0);
        let text = serde_json::to_string(&h).unwrap();
        assert!(text.len() < 200, "{text}");
        assert_eq!(serde_json::from_str::<Histogram>(&text).unwrap(), h);
    }

    #[test]
    fn histograms_whose_buckets_disagree_with_the_count_are_refused() {
        let text = r#"{"count":3,"sum_ms":1.0,"min_ms":1.0,"max_ms":1.0,"buckets":[[10,1]]}"#;
        assert!(serde_json::from_str::<Histogram>(text).is_err());
        let text = r#"{"count":1,"sum_ms":1.0,"min_ms":1.0,"max_ms":1.0,"buckets":[[500,1]]}"#;
        assert!(serde_json::from_str::<Histogram>(text).is_err());
    }

    #[test]
    fn windows_count_status_classes_and_errors() {
        let mut w = MetricsWindow::new();
        for status in [200, 201, 302, 404, 500, 503, 0] {
            w.record(status, 10.0);
        }
        assert_eq!(w.requests, 7);
        assert_eq!(w.status, [0, 2, 1, 1, 2]);
        assert_eq!(w.error_rate(), Some(2.0 / 7.0));
        assert_eq!(w.rate_per_second(Duration::from_secs(7)), 1.0);
        assert_eq!(MetricsWindow::new().error_rate(), None);
    }
}
