//! `Aggregator`: requests summed per gateway and route into time buckets for [`MetricsSource`] windows, plus
//! running totals for the Prometheus exposition.
//!
//! Memory is bounded: buckets older than the retention are dropped, a series (one gateway and route) without
//! requests for the whole retention is removed, and at most `max_series` series exist at once — requests of a
//! new series beyond that are counted in totals of no series, only as [`Aggregator::refused`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vamp_core::metrics::{MetricsRecorder, MetricsSource, MetricsWindow, RequestSample};
use vamp_core::{Error, Result};

/// Upper bounds (milliseconds) of the Prometheus latency histogram buckets; `+Inf` follows implicitly.
pub const PROMETHEUS_BOUNDS_MS: [f64; 12] = [
    5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
];

/// How the aggregator buckets and bounds what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregatorOptions {
    /// The bucket length: a window may also count requests up to one bucket older than its start.
    pub bucket: Duration,
    /// How long buckets are kept; a longer window covers what is kept.
    pub retention: Duration,
    /// The most series (gateway and route pairs, "no route" included) kept at once.
    pub max_series: usize,
}

impl Default for AggregatorOptions {
    /// 5 s buckets, 15 minutes, 1000 series: at most about 0.7 KB per bucket, so about 130 KB per busy series.
    fn default() -> Self {
        AggregatorOptions {
            bucket: Duration::from_secs(5),
            retention: Duration::from_secs(15 * 60),
            max_series: 1000,
        }
    }
}

/// Running totals of one series since it appeared, for Prometheus counters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Totals {
    /// Every request.
    pub requests: u64,
    /// Requests by status class, 1xx to 5xx.
    pub status: [u64; 5],
    /// Requests with latency ≤ each of [`PROMETHEUS_BOUNDS_MS`] (cumulative).
    pub at_most: [u64; PROMETHEUS_BOUNDS_MS.len()],
    /// The sum of latencies in milliseconds.
    pub latency_sum_ms: f64,
}

impl Totals {
    fn record(&mut self, status: u16, latency_ms: f64) {
        self.requests += 1;
        if (100..600).contains(&status) {
            if let Some(slot) = self.status.get_mut(usize::from(status / 100 - 1)) {
                *slot += 1;
            }
        }
        let ms = if latency_ms.is_finite() {
            latency_ms.max(0.0)
        } else {
            0.0
        };
        for (slot, bound) in self.at_most.iter_mut().zip(PROMETHEUS_BOUNDS_MS) {
            if ms <= bound {
                *slot += 1;
            }
        }
        self.latency_sum_ms += ms;
    }
}

/// The totals of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesTotals {
    /// The gateway name.
    pub gateway: Arc<str>,
    /// The route path; `None` for requests no route took.
    pub route: Option<Arc<str>>,
    /// What the series counted.
    pub totals: Totals,
}

#[derive(Debug, Default)]
struct Series {
    buckets: BTreeMap<i64, MetricsWindow>,
    totals: Totals,
}

#[derive(Debug, Default)]
struct GatewaySeries {
    unrouted: Option<Series>,
    routes: BTreeMap<Arc<str>, Series>,
}

impl GatewaySeries {
    fn len(&self) -> usize {
        self.routes.len() + usize::from(self.unrouted.is_some())
    }
}

#[derive(Debug, Default)]
struct State {
    gateways: BTreeMap<Arc<str>, GatewaySeries>,
    series: usize,
    last_sweep: i64,
}

/// Per gateway and route metrics of the requests HAProxy logged. Implements [`MetricsRecorder`] and
/// [`MetricsSource`] (held as `Arc<Aggregator>`).
#[derive(Debug)]
pub struct Aggregator {
    state: Mutex<State>,
    options: AggregatorOptions,
    bucket_ms: i64,
    refused: AtomicU64,
}

impl Default for Aggregator {
    fn default() -> Self {
        Self::new(AggregatorOptions::default())
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Aggregator {
    /// An empty aggregator. A zero bucket length is taken as one millisecond.
    pub fn new(options: AggregatorOptions) -> Self {
        Aggregator {
            state: Mutex::new(State::default()),
            options,
            bucket_ms: millis(options.bucket).max(1),
            refused: AtomicU64::new(0),
        }
    }

    /// The options it was made with.
    pub fn options(&self) -> AggregatorOptions {
        self.options
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bucket_of(&self, at: DateTime<Utc>) -> i64 {
        at.timestamp_millis().div_euclid(self.bucket_ms)
    }

    /// The first bucket still kept at `now`.
    fn oldest_kept(&self, now: DateTime<Utc>) -> i64 {
        self.bucket_of(now) - millis(self.options.retention) / self.bucket_ms
    }

    /// Records one request of `gateway` (through `route`, if any) that completed at `at` with `status` (0 for
    /// TCP or aborted) after `latency_ms`. Returns false when it was refused because `max_series` series exist
    /// and this one is new. A request older than the retention counts in the totals only.
    pub fn record(
        &self,
        gateway: &str,
        route: Option<&str>,
        status: u16,
        latency_ms: f64,
        at: DateTime<Utc>,
    ) -> bool {
        let now = Utc::now();
        let oldest = self.oldest_kept(now);
        let bucket = self.bucket_of(at);
        let mut state = self.lock();
        if now.timestamp_millis() - state.last_sweep >= self.bucket_ms {
            state.last_sweep = now.timestamp_millis();
            sweep(&mut state, oldest);
        }
        let State { gateways, series, .. } = &mut *state;
        let known = gateways.get(gateway).is_some_and(|g| match route {
            Some(r) => g.routes.contains_key(r),
            None => g.unrouted.is_some(),
        });
        if !known && *series >= self.options.max_series {
            drop(state);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if !known {
            *series += 1;
        }
        if !gateways.contains_key(gateway) {
            gateways.insert(Arc::from(gateway), GatewaySeries::default());
        }
        let Some(entry) = gateways.get_mut(gateway) else {
            return false;
        };
        let target = match route {
            None => entry.unrouted.get_or_insert_with(Series::default),
            Some(r) => {
                if !entry.routes.contains_key(r) {
                    entry.routes.insert(Arc::from(r), Series::default());
                }
                let Some(series) = entry.routes.get_mut(r) else {
                    return false;
                };
                series
            }
        };
        target.totals.record(status, latency_ms);
        if bucket >= oldest {
            target
                .buckets
                .entry(bucket)
                .or_default()
                .record(status, latency_ms);
            expire(target, oldest);
        }
        true
    }

    /// The requests of `gateway` (all routes, or only `route`) that completed within `window` before now.
    /// Fails with `Invalid` for a zero window.
    pub fn window_now(&self, gateway: &str, route: Option<&str>, window: Duration) -> Result<MetricsWindow> {
        if window.is_zero() {
            return Err(Error::invalid(format!(
                "The metrics window of gateway '{gateway}' must be longer than zero."
            )));
        }
        let now = Utc::now();
        let from = (now.timestamp_millis().saturating_sub(millis(window))).div_euclid(self.bucket_ms);
        let from = from.max(self.oldest_kept(now));
        let state = self.lock();
        let mut total = MetricsWindow::new();
        let Some(entry) = state.gateways.get(gateway) else {
            return Ok(total);
        };
        let mut add = |series: &Series| {
            for (_, bucket) in series.buckets.range(from..) {
                total.merge(bucket);
            }
        };
        match route {
            Some(r) => entry.routes.get(r).into_iter().for_each(&mut add),
            None => {
                entry.unrouted.iter().for_each(&mut add);
                entry.routes.values().for_each(&mut add);
            }
        }
        Ok(total)
    }

    /// The totals of every series, by gateway then route (no route first).
    pub fn totals(&self) -> Vec<SeriesTotals> {
        let state = self.lock();
        let mut out = Vec::with_capacity(state.series);
        for (gateway, entry) in &state.gateways {
            if let Some(series) = &entry.unrouted {
                out.push(SeriesTotals {
                    gateway: gateway.clone(),
                    route: None,
                    totals: series.totals.clone(),
                });
            }
            for (route, series) in &entry.routes {
                out.push(SeriesTotals {
                    gateway: gateway.clone(),
                    route: Some(route.clone()),
                    totals: series.totals.clone(),
                });
            }
        }
        out
    }

    /// How many series exist now.
    pub fn series(&self) -> usize {
        self.lock().series
    }

    /// Requests refused because `max_series` series existed.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Drops the buckets of `series` before `oldest`; true when none is left.
fn expire(series: &mut Series, oldest: i64) -> bool {
    if series
        .buckets
        .first_key_value()
        .is_some_and(|(first, _)| *first < oldest)
    {
        series.buckets = series.buckets.split_off(&oldest);
    }
    series.buckets.is_empty()
}

/// Drops buckets before `oldest` everywhere, and series left without buckets.
fn sweep(state: &mut State, oldest: i64) {
    let mut removed = 0;
    state.gateways.retain(|_, entry| {
        let before = entry.len();
        if entry
            .unrouted
            .as_mut()
            .is_some_and(|series| expire(series, oldest))
        {
            entry.unrouted = None;
        }
        entry.routes.retain(|_, series| !expire(series, oldest));
        removed += before - entry.len();
        entry.len() > 0
    });
    state.series = state.series.saturating_sub(removed);
}

#[async_trait]
impl MetricsSource for Aggregator {
    async fn window(&self, gateway: &str, route: Option<&str>, window: Duration) -> Result<MetricsWindow> {
        self.window_now(gateway, route, window)
    }
}

#[async_trait]
impl MetricsRecorder for Aggregator {
    async fn record(&self, samples: &[RequestSample]) -> Result<()> {
        for s in samples {
            Aggregator::record(self, &s.gateway, s.route.as_deref(), s.status, s.latency_ms, s.at);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(max_series: usize) -> Aggregator {
        Aggregator::new(AggregatorOptions {
            bucket: Duration::from_secs(1),
            retention: Duration::from_secs(60),
            max_series,
        })
    }

    #[test]
    fn routes_and_the_unrouted_part_add_up_to_the_gateway() {
        let a = small(10);
        let now = Utc::now();
        a.record("gw", Some("r1"), 200, 3.0, now);
        a.record("gw", Some("r2"), 503, 3.0, now);
        a.record("gw", None, 503, 0.0, now);
        let minute = Duration::from_secs(60);
        assert_eq!(a.window_now("gw", None, minute).unwrap().requests, 3);
        assert_eq!(a.window_now("gw", Some("r2"), minute).unwrap().status[4], 1);
        assert_eq!(a.series(), 3);
    }

    #[test]
    fn new_series_beyond_the_cap_are_refused_and_counted() {
        let a = small(2);
        let now = Utc::now();
        assert!(a.record("gw", Some("r1"), 200, 1.0, now));
        assert!(a.record("gw", Some("r2"), 200, 1.0, now));
        assert!(!a.record("gw", Some("r3"), 200, 1.0, now));
        assert!(
            a.record("gw", Some("r1"), 200, 1.0, now),
            "known series still record"
        );
        assert_eq!((a.series(), a.refused()), (2, 1));
    }

    #[test]
    fn requests_older_than_the_retention_count_only_in_totals() {
        let a = small(10);
        a.record("gw", None, 200, 1.0, Utc::now() - chrono::Duration::minutes(5));
        assert_eq!(
            a.window_now("gw", None, Duration::from_secs(3600))
                .unwrap()
                .requests,
            0
        );
        assert_eq!(a.totals()[0].totals.requests, 1);
    }

    #[test]
    fn series_without_buckets_are_swept() {
        let a = Aggregator::new(AggregatorOptions {
            bucket: Duration::from_millis(10),
            retention: Duration::from_millis(50),
            max_series: 1,
        });
        a.record("gw", Some("old"), 200, 1.0, Utc::now());
        std::thread::sleep(Duration::from_millis(120));
        assert!(
            a.record("gw", Some("new"), 200, 1.0, Utc::now()),
            "the old series was swept"
        );
        assert_eq!(a.series(), 1);
    }

    #[test]
    fn totals_are_cumulative_per_latency_bound() {
        let a = small(10);
        for ms in [1.0, 7.0, 60_000.0] {
            a.record("gw", None, 200, ms, Utc::now());
        }
        let t = &a.totals()[0].totals;
        assert_eq!((t.at_most[0], t.at_most[1], t.at_most[11]), (1, 2, 2));
        assert_eq!((t.requests, t.status[1], t.latency_sum_ms), (3, 3, 60_008.0));
    }

    #[test]
    fn a_zero_window_is_invalid() {
        assert!(small(1).window_now("gw", None, Duration::ZERO).is_err());
    }
}
