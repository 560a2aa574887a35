//! The canary's interval in progress, on the memory backends with requests fed straight into the metrics source:
//! waits keep the samples (a low-traffic canary gathers evidence over several intervals), the interval is
//! checkpointed to the artifact store and resumed — start, waits and samples — by a new server on the same
//! store (a restart; a change of leader, with the store on a real PostgreSQL as in HA), and the checkpoint is
//! removed when the canary stops progressing.

mod canary_feed;

use std::sync::Arc;
use std::time::Duration;

use canary_feed::{decisions, events, run, until, Feeder};
use vamp_core::dsl;
use vamp_core::memory::{MemoryArtifactStore, MemoryEventStore, MemoryMetrics};
use vamp_core::model::{Event, Kind};
use vamp_core::ops::canary::Progress;
use vamp_core::store::{ArtifactStore, EventStore};
use vamp_core::testkit::servers::TestServer;
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const BASELINE: &str = "[10.0.0.1:8080]";
const CANARY: &str = "[10.0.0.2:8080]";

fn memory() -> (Arc<dyn ArtifactStore>, Arc<dyn EventStore>) {
    (
        Arc::new(MemoryArtifactStore::new()),
        Arc::new(MemoryEventStore::new()),
    )
}

fn vamp(
    artifacts: &Arc<dyn ArtifactStore>,
    events: &Arc<dyn EventStore>,
    metrics: &Arc<MemoryMetrics>,
) -> Vamp {
    let mut settings = ServerSettings::default();
    settings.canary.tick_ms = 20;
    settings.canary.checkpoint_ms = 100;
    Vamp::builder()
        .persistence(artifacts.clone(), events.clone())
        .metrics(metrics.clone())
        .config(settings)
        .build()
        .unwrap()
}

async fn create_shop(vamp: &Vamp, policy: &str) {
    let text = format!(
        "name: shop\nport: 9050\nroutes:\n  '{BASELINE}': {{weight: 100%}}\n  '{CANARY}': {{weight: 0%}}\ncanary:\n{policy}"
    );
    vamp.create(dsl::read(Kind::Gateway, &text).unwrap(), &WriteOptions::default())
        .await
        .unwrap();
}

fn requests(e: &Event, side: &str) -> u64 {
    e.value["numbers"][side]["requests"].as_u64().unwrap_or(0)
}

async fn checkpoint(store: &Arc<dyn ArtifactStore>) -> Option<Progress> {
    let stored = store.get(Kind::CanaryProgress, "shop").await.unwrap()?;
    Some(serde_json::from_value(stored.document).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_keep_the_samples_until_there_are_enough() {
    let (artifacts, events_store) = memory();
    let metrics = Arc::new(MemoryMetrics::new());
    let v = vamp(&artifacts, &events_store, &metrics);
    let (stop, task) = run(&v);
    let _feeder = Feeder::every(Duration::from_millis(50), metrics, "shop", BASELINE, CANARY, 1);
    create_shop(
        &v,
        "  baseline: '[10.0.0.1:8080]'\n  canary: '[10.0.0.2:8080]'\n  steps: [10%, 100%]\n  interval: 1s\n  min_requests: 50\n  max_waits: 10\n",
    )
    .await;
    let all = until(Duration::from_secs(15), "the promotion", || async {
        let e = events(&v, "shop").await;
        (e.last().is_some_and(|e| e.value["decision"] == "promote")).then_some(e)
    })
    .await;
    let d = decisions(&all);
    assert_eq!(d.first().map(String::as_str), Some("advance"), "{d:?}");
    assert_eq!(d.last().map(String::as_str), Some("promote"), "{d:?}");
    let waits: Vec<&Event> = all.iter().filter(|e| e.value["decision"] == "wait").collect();
    assert!(
        (1..=4).contains(&waits.len()),
        "about 20 requests a second reach 50 in the third interval: {d:?}"
    );
    for (i, wait) in waits.iter().enumerate() {
        assert_eq!(wait.value["waits"], i + 1, "{}", wait.value);
        assert!(requests(wait, "canary") < 50, "{}", wait.value);
        if i > 0 {
            assert!(
                requests(wait, "baseline") > requests(waits[i - 1], "baseline"),
                "the samples accumulate across waits: {} then {}",
                waits[i - 1].value,
                wait.value
            );
        }
    }
    let promote = all.last().unwrap();
    assert!(requests(promote, "canary") >= 50, "{}", promote.value);
    assert_eq!(promote.value["waits"], waits.len());
    assert_eq!(
        promote.value["interval_started"], waits[0].value["interval_started"],
        "one interval, extended by each wait"
    );
    until(Duration::from_secs(2), "the checkpoint's removal", || async {
        checkpoint(&artifacts).await.is_none().then_some(())
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_server_on_the_same_store_resumes_the_interval_in_progress() {
    let (artifacts, events) = memory();
    resumes_on(artifacts, events).await;
}

/// A change of leader in HA: the loops stop on one server and start on another, both on the same PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_on_the_same_postgresql_resumes_the_interval_in_progress() {
    let server = TestServer::postgres().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
    let url = format!("postgres://postgres@{}/postgres", server.address());
    let artifacts = vamp_persistence::url::connect_artifacts(&url).await.unwrap();
    let events = vamp_persistence::url::connect_events(&url).await.unwrap();
    resumes_on(artifacts, events).await;
}

/// One server runs the canary for two waits and stops; another on the same stores resumes its interval.
async fn resumes_on(artifacts: Arc<dyn ArtifactStore>, events_store: Arc<dyn EventStore>) {
    let policy = "  baseline: '[10.0.0.1:8080]'\n  canary: '[10.0.0.2:8080]'\n  steps: [10%, 100%]\n  interval: 1s\n  min_requests: 100000\n  max_waits: 100\n";

    let metrics = Arc::new(MemoryMetrics::new());
    let first = vamp(&artifacts, &events_store, &metrics);
    let (stop, task) = run(&first);
    let feeder = Feeder::start(metrics, "shop", BASELINE, CANARY, 1);
    create_shop(&first, policy).await;
    let before = until(Duration::from_secs(10), "two waits", || async {
        let e = events(&first, "shop").await;
        (decisions(&e) == ["advance", "wait", "wait"]).then_some(e)
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap();
    drop(feeder);
    let last = before.last().unwrap();
    let saved = checkpoint(&artifacts)
        .await
        .expect("the interval is checkpointed");
    assert_eq!(saved.waits, 2);
    assert_eq!(saved.weight, 10);
    assert!(
        saved.baseline.requests >= requests(last, "baseline"),
        "the checkpoint at the stop has at least what the last wait judged: {} < {}",
        saved.baseline.requests,
        requests(last, "baseline")
    );
    assert_eq!(
        Some(saved.started.to_rfc3339().as_str()),
        last.value["interval_started"].as_str()
    );

    let metrics = Arc::new(MemoryMetrics::new());
    let second = vamp(&artifacts, &events_store, &metrics);
    let (stop, task) = run(&second);
    let _feeder = Feeder::start(metrics, "shop", BASELINE, CANARY, 1);
    let after = until(Duration::from_secs(10), "a wait after the restart", || async {
        let e = events(&second, "shop").await;
        (e.len() > before.len()).then_some(e)
    })
    .await;
    let resumed = &after[before.len()];
    assert_eq!(
        resumed.value["decision"], "wait",
        "resumed, not started over: {}",
        resumed.value
    );
    assert_eq!(resumed.value["waits"], 3, "{}", resumed.value);
    assert_eq!(
        resumed.value["interval_started"], last.value["interval_started"],
        "the same interval"
    );
    assert!(
        requests(resumed, "baseline") > saved.baseline.requests,
        "the checkpointed samples plus the new ones: {} after {}",
        resumed.value,
        saved.baseline.requests
    );

    second
        .delete(Kind::Gateway, "shop", &WriteOptions::default())
        .await
        .unwrap();
    until(Duration::from_secs(2), "the checkpoint's removal", || async {
        checkpoint(&artifacts).await.is_none().then_some(())
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap();
}
