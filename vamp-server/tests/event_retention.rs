//! The retention loop with the memory event store: events stamped longer ago than `events.retention-s` are
//! deleted at start and at every `events.prune-period-ms`, newer ones are kept, and a retention of 0 keeps
//! everything.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use vamp_core::model::{Event, EventQuery};
use vamp_core::store::Page;
use vamp_server::{ServerSettings, Vamp};

fn settings(retention_s: u64) -> ServerSettings {
    let mut s: ServerSettings = serde_json::from_value(json!({
        "events": {"retention-s": retention_s, "prune-period-ms": 50},
    }))
    .unwrap();
    s.pulse.period_ms = 0;
    s.sla.period_ms = 0;
    s
}

async fn publish_aged(vamp: &Vamp, tag: &str, value: &str, age: chrono::Duration) {
    let mut e = Event::new([tag], json!(value)).with_type("metrics");
    e.timestamp = Utc::now() - age;
    vamp.event_store().publish(e).await.unwrap();
}

async fn values(vamp: &Vamp, tag: &str) -> Vec<serde_json::Value> {
    let page = vamp
        .event_store()
        .query(&EventQuery::tags([tag]), Page::first(100))
        .await
        .unwrap();
    page.items.into_iter().map(|e| e.value).collect()
}

/// Waits up to 10 s for the values of `tag` to be `expected`; the values last seen otherwise.
async fn eventually(vamp: &Vamp, tag: &str, expected: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = values(vamp, tag).await;
        if seen == expected || Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn running(vamp: &Vamp) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let v = vamp.clone();
    let handle = tokio::spawn(async move {
        v.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    (tx, handle)
}

#[tokio::test]
async fn the_loop_deletes_events_older_than_the_retention_and_keeps_newer_ones() {
    let vamp = Vamp::builder().config(settings(3600)).build().unwrap();
    publish_aged(
        &vamp,
        "gateways:shop",
        "two hours old",
        chrono::Duration::hours(2),
    )
    .await;
    publish_aged(&vamp, "gateways:shop", "a day old", chrono::Duration::days(1)).await;
    publish_aged(
        &vamp,
        "gateways:shop",
        "ten minutes old",
        chrono::Duration::minutes(10),
    )
    .await;
    publish_aged(&vamp, "gateways:shop", "new", chrono::Duration::zero()).await;
    let (stop, handle) = running(&vamp);

    let kept = [json!("new"), json!("ten minutes old")];
    assert_eq!(eventually(&vamp, "gateways", &kept).await, kept);

    publish_aged(
        &vamp,
        "gateways:shop",
        "published late, stamped old",
        chrono::Duration::hours(3),
    )
    .await;
    assert_eq!(
        eventually(&vamp, "gateways", &kept).await,
        kept,
        "a later period deletes an old event published while the loop runs"
    );
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the loops stop")
        .unwrap();
}

#[tokio::test]
async fn a_retention_of_zero_keeps_every_event() {
    let vamp = Vamp::builder().config(settings(0)).build().unwrap();
    publish_aged(&vamp, "kept", "a year old", chrono::Duration::days(365)).await;
    let (stop, handle) = running(&vamp);
    // An observation window of ten prune periods: nothing may be deleted within it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(values(&vamp, "kept").await, [json!("a year old")]);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the loops stop")
        .unwrap();
}
