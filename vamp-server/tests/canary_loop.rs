//! The canary loop against a metrics source fed directly (memory backends, no HAProxy): the decisions it writes
//! to the gateway (weights and status) and the events it publishes, with the traffic under the test's control;
//! and the facade's refusals of canary policies that cannot run.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::oneshot;
use vamp_core::dsl;
use vamp_core::memory::MemoryMetrics;
use vamp_core::metrics::MetricsRecorder;
use vamp_core::metrics::RequestSample;
use vamp_core::model::{Artifact, CanaryStatus, Event, EventQuery, Gateway, Kind};
use vamp_core::store::Page;
use vamp_core::ErrorKind;
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const BASELINE: &str = "[10.0.0.1:8080]";
const CANARY: &str = "[10.0.0.2:8080]";

/// A running Vamp on the memory backends with a canary tick of 20 ms, and a feeder recording 20 requests per
/// route every 10 ms (2,000 per second each), `canary_errors` percent of the canary's with status 500.
struct Setup {
    vamp: Vamp,
    canary_errors: Arc<AtomicU32>,
    stop: Option<oneshot::Sender<()>>,
    feeder: tokio::task::JoinHandle<()>,
}

impl Setup {
    async fn start() -> Setup {
        let metrics = Arc::new(MemoryMetrics::new());
        let mut settings = ServerSettings::default();
        settings.canary.tick_ms = 20;
        let vamp = Vamp::builder()
            .metrics(metrics.clone())
            .config(settings)
            .build()
            .unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let v = vamp.clone();
        tokio::spawn(async move {
            v.run(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let canary_errors = Arc::new(AtomicU32::new(0));
        let errors = canary_errors.clone();
        let feeder = tokio::spawn(async move {
            let mut n: u64 = 0;
            loop {
                let share = u64::from(errors.load(Ordering::Relaxed));
                let mut samples = Vec::new();
                for _ in 0..20 {
                    n += 1;
                    let at = Utc::now();
                    let failing = (n % 100) < share;
                    samples.push(sample(BASELINE, 200, 10.0 + (n % 7) as f64, at));
                    samples.push(sample(
                        CANARY,
                        if failing { 500 } else { 200 },
                        10.0 + (n % 5) as f64,
                        at,
                    ));
                }
                MetricsRecorder::record(metrics.as_ref(), &samples).await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        Setup {
            vamp,
            canary_errors,
            stop: Some(tx),
            feeder,
        }
    }

    async fn create(&self, policy: &str) {
        let text = format!(
            "name: shop\nport: 9050\nroutes:\n  '{BASELINE}': {{weight: 100%}}\n  '{CANARY}': {{weight: 0%}}\ncanary:\n{policy}"
        );
        self.vamp
            .create(dsl::read(Kind::Gateway, &text).unwrap(), &WriteOptions::default())
            .await
            .unwrap();
    }

    async fn shop(&self) -> Gateway {
        match self.vamp.get(Kind::Gateway, "shop").await.unwrap() {
            Some(Artifact::Gateway(g)) => g,
            other => panic!("{other:?}"),
        }
    }

    async fn state(&self) -> (u8, u8, CanaryStatus) {
        let g = self.shop().await;
        let weight = |path: &str| {
            g.route(path)
                .and_then(|r| r.inline())
                .and_then(|r| r.weight)
                .map_or(0, |w| w.0)
        };
        (
            weight(BASELINE),
            weight(CANARY),
            g.canary.map(|c| c.status).unwrap_or_default(),
        )
    }

    async fn until(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(u8, u8, CanaryStatus) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let (b, c, s) = self.state().await;
            if done(b, c, s) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "{what} did not happen within {within:?}: {b}/{c} {s}; decisions {:?}",
                self.decisions().await
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn events(&self) -> Vec<Event> {
        let mut e = self
            .vamp
            .query(
                &EventQuery::tags(["canary", "gateways:shop"]),
                Page::new(1, 1000).unwrap(),
            )
            .await
            .unwrap()
            .items;
        e.reverse();
        e
    }

    async fn decisions(&self) -> Vec<String> {
        self.events()
            .await
            .iter()
            .map(|e| e.value["decision"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    async fn stop(mut self) {
        self.feeder.abort();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn sample(route: &str, status: u16, latency_ms: f64, at: chrono::DateTime<Utc>) -> RequestSample {
    RequestSample {
        gateway: "shop".into(),
        route: Some(route.into()),
        status,
        latency_ms,
        at,
    }
}

const POLICY: &str = "  baseline: '[10.0.0.1:8080]'\n  canary: '[10.0.0.2:8080]'\n  steps: [10%, 50%, 100%]\n  interval: 1s\n  min_requests: 20\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_walks_the_steps_to_promotion() {
    let s = Setup::start().await;
    s.create(POLICY).await;
    s.until(Duration::from_secs(1), "the start", |_, c, _| c == 10)
        .await;
    assert_eq!(s.state().await, (90, 10, CanaryStatus::Progressing));
    s.until(Duration::from_secs(10), "the promotion", |_, _, st| {
        st == CanaryStatus::Promoted
    })
    .await;
    assert_eq!(s.state().await, (0, 100, CanaryStatus::Promoted));
    assert_eq!(s.decisions().await, ["advance", "advance", "promote"]);
    let events = s.events().await;
    let promote = events.last().unwrap();
    assert_eq!(promote.kind, "canary");
    for tag in ["canary", "gateways:shop", "canary:promote"] {
        assert!(promote.tags.iter().any(|t| t == tag), "{:?}", promote.tags);
    }
    assert_eq!(promote.value["weights_before"]["canary"], 50);
    assert_eq!(promote.value["weights"]["canary"], 100);
    assert_eq!(promote.value["status"], "promoted");
    let canary_requests = promote.value["numbers"]["canary"]["requests"].as_u64().unwrap();
    assert!(
        (20..=4_000).contains(&canary_requests),
        "at most one interval of 2,000 requests per second was judged, not {canary_requests}"
    );
    let rule = promote.value["rule"].as_str().unwrap();
    assert!(rule == "passed" || rule == "shown_not_worse", "{}", promote.value);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_with_a_fifth_of_errors_is_rolled_back_as_soon_as_it_is_proven_worse() {
    let s = Setup::start().await;
    s.canary_errors.store(20, Ordering::Relaxed);
    s.create(POLICY).await;
    s.until(Duration::from_secs(1), "the start", |_, c, _| c == 10)
        .await;
    s.until(Duration::from_secs(5), "the rollback", |_, _, st| {
        st == CanaryStatus::RolledBack
    })
    .await;
    assert_eq!(s.state().await, (100, 0, CanaryStatus::RolledBack));
    assert_eq!(s.decisions().await, ["advance", "rollback"]);
    let rollback = s.events().await.pop().unwrap();
    assert_eq!(rollback.value["rule"], "errors_worse", "{}", rollback.value);
    assert!(
        rollback.value["numbers"]["errors"]["lower"].as_f64().unwrap() > 0.01,
        "{}",
        rollback.value
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_ceiling_rolls_back_within_ticks_not_intervals() {
    let s = Setup::start().await;
    s.create(
        &POLICY
            .replace("interval: 1s", "interval: 30s")
            .replace("min_requests: 20", "min_requests: 20\n  max_error_rate: 5%"),
    )
    .await;
    s.until(Duration::from_secs(1), "the start", |_, c, _| c == 10)
        .await;
    s.canary_errors.store(20, Ordering::Relaxed);
    let took = s
        .until(Duration::from_secs(5), "the rollback", |_, _, st| {
            st == CanaryStatus::RolledBack
        })
        .await;
    assert!(
        took < Duration::from_secs(2),
        "a 30 s interval, yet the ceiling acted in {took:?}"
    );
    let rollback = s.events().await.pop().unwrap();
    assert!(
        rollback.value["reason"].as_str().unwrap().contains("ceiling 5%"),
        "{}",
        rollback.value
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_canary_is_left_alone_until_resumed() {
    let s = Setup::start().await;
    s.create(&format!("{POLICY}  status: paused\n")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s.state().await,
        (100, 0, CanaryStatus::Paused),
        "a paused canary is not started"
    );
    assert!(s.decisions().await.is_empty());
    let mut g = s.shop().await;
    if let Some(c) = g.canary.as_mut() {
        c.status = CanaryStatus::Progressing;
    }
    s.vamp
        .update(Artifact::Gateway(g), &WriteOptions::default())
        .await
        .unwrap();
    s.until(Duration::from_secs(1), "the start after resuming", |_, c, _| {
        c == 10
    })
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_weights_restart_the_interval_from_there() {
    let s = Setup::start().await;
    s.create(&POLICY.replace("interval: 1s", "interval: 2s")).await;
    s.until(Duration::from_secs(1), "the start", |_, c, _| c == 10)
        .await;
    let mut g = s.shop().await;
    for r in &mut g.routes {
        if let Some(route) = r.route.inline_mut() {
            route.weight = Some(vamp_core::model::Percentage(50));
        }
    }
    s.vamp
        .update(Artifact::Gateway(g), &WriteOptions::default())
        .await
        .unwrap();
    s.until(Duration::from_secs(6), "the promotion", |_, _, st| {
        st == CanaryStatus::Promoted
    })
    .await;
    assert_eq!(
        s.decisions().await,
        ["advance", "promote"],
        "judged at the user's 50%, the last step before 100%"
    );
    s.stop().await;
}

#[tokio::test]
async fn policies_that_cannot_run_are_refused_through_the_facade() {
    let vamp = Vamp::builder().build().unwrap();
    let mut g = dsl::read_gateway(
        "name: shop\nport: 9050\nroutes:\n  a/web: {weight: 100%}\n  b/web: {weight: 0%}\n",
    )
    .unwrap();
    g.canary = Some(vamp_core::model::CanaryPolicy::new("a/web", "c/web"));
    let e = vamp
        .create(Artifact::Gateway(g), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert!(e.to_string().contains("not a route of gateway 'shop'"), "{e}");

    let blueprint = "name: sava\ngateways:\n  9060/http: web/web\nclusters:\n  web:\n    breed: {name: web:1.0, deployable: web, ports: {web: 8080/http}}\n";
    vamp.deploy(
        "sava",
        Artifact::Blueprint(dsl::read_deployment_request(blueprint).unwrap()),
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    let Some(Artifact::Gateway(mut deployment_gateway)) = vamp.get(Kind::Gateway, "sava/9060").await.unwrap()
    else {
        panic!("the deployment gateway sava/9060");
    };
    let route = deployment_gateway.routes[0].path.0.clone();
    deployment_gateway.canary = Some(vamp_core::model::CanaryPolicy::new(route.clone(), route));
    let e = vamp
        .update(Artifact::Gateway(deployment_gateway), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert!(
        e.to_string()
            .contains("put the canary on the gateway of the cluster"),
        "{e}"
    );
}
