//! `Sample`: what a canary judgement reads of one route over one interval — requests, 5xx errors and the latency
//! histogram's bucket counts — taken from a [`MetricsWindow`].
//!
//! Metrics sources bucket time (the agents' aggregator keeps 5 s buckets), so a window of the last 2 s can hold
//! up to one bucket of older requests. The canary loop therefore reads cumulative windows from a fixed anchor and
//! judges the difference of two of them ([`Sample::since`]): exactly the requests recorded between the two
//! reads, whatever the source's bucket length.
//!
//! A sample serializes (for the canary loop's checkpoints) with its histogram written sparsely: `buckets` is a
//! list of `[index, count]` pairs of the buckets that are not empty, so an interval's two samples stay a few
//! hundred bytes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::metrics::{bucket_upper_bound_ms, MetricsWindow, HISTOGRAM_BUCKETS};

/// Requests, errors and latencies of one route over a span of time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Sample {
    /// Every request.
    pub requests: u64,
    /// Requests answered with a 5xx status.
    pub errors: u64,
    /// Latency histogram bucket counts (the layout of [`crate::metrics::Histogram`]).
    #[serde(
        default,
        serialize_with = "sparse_buckets",
        deserialize_with = "dense_buckets"
    )]
    pub buckets: Vec<u64>,
    /// The sum of the latencies in milliseconds.
    #[serde(default)]
    pub latency_sum_ms: f64,
}

fn sparse_buckets<S: Serializer>(buckets: &[u64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(
        buckets
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (i, *n)),
    )
}

fn dense_buckets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    let pairs = Vec::<(usize, u64)>::deserialize(d)?;
    let mut out = vec![0; HISTOGRAM_BUCKETS];
    for (i, n) in pairs {
        let slot = out.get_mut(i).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "latency bucket {i} is out of range: a histogram has {HISTOGRAM_BUCKETS} buckets"
            ))
        })?;
        *slot = n;
    }
    Ok(out)
}

impl Sample {
    /// The sample of a metrics window.
    pub fn of(window: &MetricsWindow) -> Sample {
        let latencies = window.latency.count();
        Sample {
            requests: window.requests,
            errors: window.status[4],
            buckets: window.latency.bucket_counts().to_vec(),
            latency_sum_ms: window.latency.mean().unwrap_or(0.0) * latencies as f64,
        }
    }

    /// A sample of `requests` requests of which `errors` failed, each with latency `latency_ms` (for tests and
    /// benchmarks).
    pub fn uniform(requests: u64, errors: u64, latency_ms: f64) -> Sample {
        let mut window = MetricsWindow::new();
        for i in 0..requests {
            window.record(if i < errors { 500 } else { 200 }, latency_ms);
        }
        Sample::of(&window)
    }

    /// What was recorded after `earlier` was read, when `self` and `earlier` are reads of the same cumulative
    /// window (same start): the difference, each count floored at 0.
    pub fn since(&self, earlier: &Sample) -> Sample {
        let buckets = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, n)| n.saturating_sub(earlier.buckets.get(i).copied().unwrap_or(0)))
            .collect();
        Sample {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            buckets,
            latency_sum_ms: (self.latency_sum_ms - earlier.latency_sum_ms).max(0.0),
        }
    }

    /// Both samples together: counts, buckets and latency sums added (a longer span read in two parts).
    pub fn plus(&self, other: &Sample) -> Sample {
        let len = self.buckets.len().max(other.buckets.len());
        let at = |b: &[u64], i: usize| b.get(i).copied().unwrap_or(0);
        Sample {
            requests: self.requests.saturating_add(other.requests),
            errors: self.errors.saturating_add(other.errors),
            buckets: (0..len)
                .map(|i| at(&self.buckets, i).saturating_add(at(&other.buckets, i)))
                .collect(),
            latency_sum_ms: self.latency_sum_ms + other.latency_sum_ms,
        }
    }

    /// How many latencies the histogram holds.
    pub fn latencies(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The share of requests answered with a 5xx; `None` without requests.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }

    /// The mean latency in milliseconds; `None` without latencies.
    pub fn mean_ms(&self) -> Option<f64> {
        let n = self.latencies();
        (n > 0).then(|| self.latency_sum_ms / n as f64)
    }

    /// The `p`-th percentile latency (0 to 100) in milliseconds: the upper bound of the bucket holding it, so an
    /// overestimate by at most one bucket (19%); the open last bucket reports the last bound (~105 s). `None`
    /// without latencies.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        let n = self.latencies();
        if n == 0 || !(0.0..=100.0).contains(&p) {
            return None;
        }
        let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(bucket_upper_bound_ms(i.min(HISTOGRAM_BUCKETS - 2)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_gives_requests_errors_and_latencies() {
        let mut w = MetricsWindow::new();
        w.record(200, 10.0);
        w.record(503, 30.0);
        w.record(404, 20.0);
        let s = Sample::of(&w);
        assert_eq!((s.requests, s.errors, s.latencies()), (3, 1, 3));
        assert_eq!(s.mean_ms(), Some(20.0));
        assert_eq!(s.error_rate(), Some(1.0 / 3.0));
        let p99 = s.percentile_ms(99.0).unwrap();
        assert!((30.0..=30.0 * 1.19).contains(&p99), "{p99}");
    }

    #[test]
    fn the_difference_of_two_reads_is_what_came_in_between() {
        let mut w = MetricsWindow::new();
        w.record(200, 10.0);
        let first = Sample::of(&w);
        w.record(500, 100.0);
        w.record(200, 100.0);
        let between = Sample::of(&w).since(&first);
        assert_eq!((between.requests, between.errors, between.latencies()), (2, 1, 2));
        assert_eq!(between.mean_ms(), Some(100.0));
        assert_eq!(Sample::default().since(&first).requests, 0);
    }

    #[test]
    fn two_parts_add_up_to_the_whole() {
        let mut w = MetricsWindow::new();
        w.record(200, 10.0);
        let first = Sample::of(&w);
        w.record(500, 100.0);
        let whole = Sample::of(&w);
        let second = whole.since(&first);
        assert_eq!(first.plus(&second), whole);
        assert_eq!(Sample::default().plus(&first), first);
    }

    #[test]
    fn a_sample_round_trips_through_json_with_sparse_buckets() {
        let mut w = MetricsWindow::new();
        w.record(200, 10.0);
        w.record(503, 30.0);
        w.record(200, 30.0);
        let s = Sample::of(&w);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["requests"], 3);
        assert_eq!(json["errors"], 1);
        assert_eq!(json["buckets"].as_array().unwrap().len(), 2, "{json}");
        let back: Sample = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        let empty: Sample = serde_json::from_value(serde_json::json!({"requests": 0, "errors": 0})).unwrap();
        assert_eq!(empty.requests, 0);
        let bad = serde_json::json!({"requests": 1, "errors": 0, "buckets": [[500, 1]]});
        let e = serde_json::from_value::<Sample>(bad).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }

    #[test]
    fn an_empty_sample_has_no_rates() {
        let s = Sample::default();
        assert_eq!(
            (s.error_rate(), s.mean_ms(), s.percentile_ms(50.0)),
            (None, None, None)
        );
    }
}
