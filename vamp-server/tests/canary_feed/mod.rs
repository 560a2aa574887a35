//! Shared by the canary loop tests on the memory backends: requests fed straight into a metrics source (no
//! HAProxy), at a rate and an error share under the test's control, and the canary events of a gateway.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use vamp_core::memory::MemoryMetrics;
use vamp_core::metrics::{MetricsRecorder, RequestSample};
use vamp_core::model::{Event, EventQuery};
use vamp_core::store::Page;
use vamp_server::Vamp;

/// Records `per_tick` requests on each of two routes of a gateway every 10 ms (or every `period`, see
/// [`Feeder::every`]), `canary_errors` percent of the canary's with status 500, until dropped.
pub struct Feeder {
    /// The canary's share of 500s, in percent.
    pub canary_errors: Arc<AtomicU32>,
    /// Requests per route and 10 ms.
    pub per_tick: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Feeder {
    pub fn start(
        metrics: Arc<MemoryMetrics>,
        gateway: &str,
        baseline: &str,
        canary: &str,
        per_tick: u32,
    ) -> Feeder {
        Self::every(
            Duration::from_millis(10),
            metrics,
            gateway,
            baseline,
            canary,
            per_tick,
        )
    }

    /// A feeder recording `per_tick` requests per route every `period`.
    pub fn every(
        period: Duration,
        metrics: Arc<MemoryMetrics>,
        gateway: &str,
        baseline: &str,
        canary: &str,
        per_tick: u32,
    ) -> Feeder {
        let canary_errors = Arc::new(AtomicU32::new(0));
        let rate = Arc::new(AtomicU32::new(per_tick));
        let (errors, count) = (canary_errors.clone(), rate.clone());
        let (gateway, baseline, canary) = (gateway.to_string(), baseline.to_string(), canary.to_string());
        let task = tokio::spawn(async move {
            let mut n: u64 = 0;
            loop {
                let share = u64::from(errors.load(Ordering::Relaxed));
                let mut samples = Vec::new();
                for _ in 0..count.load(Ordering::Relaxed) {
                    n += 1;
                    let at = Utc::now();
                    let failing = (n % 100) < share;
                    samples.push(sample(&gateway, &baseline, 200, 10.0 + (n % 7) as f64, at));
                    samples.push(sample(
                        &gateway,
                        &canary,
                        if failing { 500 } else { 200 },
                        10.0 + (n % 5) as f64,
                        at,
                    ));
                }
                MetricsRecorder::record(metrics.as_ref(), &samples).await.unwrap();
                tokio::time::sleep(period).await;
            }
        });
        Feeder {
            canary_errors,
            per_tick: rate,
            task,
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn sample(
    gateway: &str,
    route: &str,
    status: u16,
    latency_ms: f64,
    at: chrono::DateTime<Utc>,
) -> RequestSample {
    RequestSample {
        gateway: gateway.into(),
        route: Some(route.into()),
        status,
        latency_ms,
        at,
    }
}

/// The canary events of `gateway`, oldest first.
pub async fn events(vamp: &Vamp, gateway: &str) -> Vec<Event> {
    let mut e = vamp
        .query(
            &EventQuery::tags(["canary".to_string(), format!("gateways:{gateway}")]),
            Page::new(1, 1000).unwrap(),
        )
        .await
        .unwrap()
        .items;
    e.reverse();
    e
}

/// The decisions of `events`, in order.
pub fn decisions(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.value["decision"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Runs `vamp`'s loops until the returned sender is dropped or sent to; the task ends when they stopped.
pub fn run(vamp: &Vamp) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let v = vamp.clone();
    let task = tokio::spawn(async move {
        v.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    (tx, task)
}

/// Polls `check` every 10 ms until it gives a value; fails naming `what` after `within`.
pub async fn until<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            started.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
