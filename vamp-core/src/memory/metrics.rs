//! `MemoryMetrics`: request metrics kept in one-second buckets per gateway and route.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::metrics::{MetricsRecorder, MetricsSource, MetricsWindow, RequestSample};
use crate::{Error, Result};

/// How long samples are kept by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(3600);

/// Second since the epoch → the requests completed within it.
type Seconds = BTreeMap<i64, MetricsWindow>;

/// A metrics source fed directly, by [`MemoryMetrics::record`] or through [`MetricsRecorder`]. Requests are
/// summed into one-second buckets per gateway and route, so memory grows with retention and the number of
/// routes, not with traffic; a window counts every request within it and may also count requests up to one
/// second older. Buckets older than the retention
/// are dropped as new samples arrive.
#[derive(Debug)]
pub struct MemoryMetrics {
    gateways: Mutex<BTreeMap<String, BTreeMap<Option<String>, Seconds>>>,
    retention: Duration,
}

impl Default for MemoryMetrics {
    fn default() -> Self {
        Self::with_retention(DEFAULT_RETENTION)
    }
}

impl MemoryMetrics {
    /// An empty source keeping [`DEFAULT_RETENTION`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty source keeping samples for `retention`.
    pub fn with_retention(retention: Duration) -> Self {
        MemoryMetrics {
            gateways: Mutex::new(BTreeMap::new()),
            retention,
        }
    }

    /// Records one request of `gateway` (through `route`, if any) that completed at `at` with `status` after
    /// `latency_ms` milliseconds. A sample older than the retention is ignored.
    pub fn record(
        &self,
        gateway: &str,
        route: Option<&str>,
        status: u16,
        latency_ms: f64,
        at: DateTime<Utc>,
    ) {
        let oldest = self.oldest_kept(Utc::now());
        if at.timestamp() < oldest {
            return;
        }
        let mut gateways = lock(&self.gateways);
        let seconds = gateways
            .entry(gateway.to_string())
            .or_default()
            .entry(route.map(str::to_string))
            .or_default();
        seconds
            .entry(at.timestamp())
            .or_default()
            .record(status, latency_ms);
        *seconds = seconds.split_off(&oldest);
    }

    fn oldest_kept(&self, now: DateTime<Utc>) -> i64 {
        let retention = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
        now.timestamp().saturating_sub(retention)
    }
}

#[async_trait]
impl MetricsSource for MemoryMetrics {
    async fn window(&self, gateway: &str, route: Option<&str>, window: Duration) -> Result<MetricsWindow> {
        if window.is_zero() {
            return Err(Error::invalid(
                "A metrics window must be longer than zero; ask for e.g. 30 seconds.",
            ));
        }
        let span = i64::try_from(window.as_secs_f64().ceil() as u64).unwrap_or(i64::MAX);
        let from = Utc::now().timestamp().saturating_sub(span);
        let mut total = MetricsWindow::new();
        let gateways = lock(&self.gateways);
        let Some(routes) = gateways.get(gateway) else {
            return Ok(total);
        };
        for (name, seconds) in routes {
            if route.is_some_and(|r| name.as_deref() != Some(r)) {
                continue;
            }
            for (_, bucket) in seconds.range(from..) {
                total.merge(bucket);
            }
        }
        Ok(total)
    }
}

#[async_trait]
impl MetricsRecorder for MemoryMetrics {
    async fn record(&self, samples: &[RequestSample]) -> Result<()> {
        for s in samples {
            MemoryMetrics::record(self, &s.gateway, s.route.as_deref(), s.status, s.latency_ms, s.at);
        }
        Ok(())
    }
}
