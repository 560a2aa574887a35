//! `cargo bench -p vamp-persistence --bench es_kv`: the key-value artifact store over the in-memory key-value
//! store against the bare store it runs on, and the Elasticsearch event store against the wire-level double of
//! Elasticsearch (the figures are the double's, not a real Elasticsearch's) with the bare round trip to the
//! double as baseline. Prints Markdown tables.

#[path = "../tests/support/es_double/mod.rs"]
#[allow(dead_code)]
mod es_double;
#[path = "support/kv_artifacts.rs"]
mod kv_artifacts;
#[path = "support/timing.rs"]
mod timing;

use std::sync::Arc;

use chrono::{Duration, Utc};
use elasticsearch::http::transport::Transport;
use elasticsearch::Elasticsearch;
use kv_artifacts::kv_lines;
use serde_json::json;
use timing::{measure, print, Line};
use vamp_core::kv::KeyValueStore;
use vamp_core::memory::MemoryKeyValueStore;
use vamp_core::model::{Aggregator, AggregatorKind, Event, EventQuery};
use vamp_core::store::{EventStore, Page};
use vamp_persistence::elasticsearch::ElasticsearchStore;

const SINGLE_EVENTS: u64 = 500;
const BULK_EVENTS: u64 = 5_000;
const QUERIES: u64 = 200;

async fn es_lines() -> Vec<Line> {
    let double = es_double::EsDouble::start();
    let raw = Elasticsearch::new(Transport::single_node(&double.url()).expect("a transport"));
    let store = Arc::new(
        ElasticsearchStore::connect(&format!("elasticsearch://{}", &double.url()[7..]))
            .await
            .expect("the store connects to the double"),
    );
    let mut lines = vec![
        measure(
            "baseline: bare HTTP round trip to the double (GET /)",
            QUERIES,
            |_| {
                let raw = raw.clone();
                async move {
                    raw.info().send().await.expect("info");
                }
            },
        )
        .await,
    ];
    let now = Utc::now();
    lines.push(
        measure("publish (one event per request)", SINGLE_EVENTS, |i| {
            let store = store.clone();
            async move {
                let mut e = Event::new(["deployments:shop", "single"], json!({"ms": i}));
                e.timestamp = now - Duration::milliseconds(i64::try_from(i).unwrap_or(0));
                store.publish(e).await.expect("publish");
            }
        })
        .await,
    );
    let batches = BULK_EVENTS / 1000;
    lines.push(
        measure(
            "publish_all (1,000 events per _bulk request), per event",
            batches,
            |b| {
                let store = store.clone();
                async move {
                    let events = (0..1000)
                        .map(|i| {
                            let mut e = Event::new(["deployments:shop", "bulk"], json!({"ms": i}));
                            e.timestamp =
                                now - Duration::milliseconds(i64::try_from(b * 1000 + i).unwrap_or(0));
                            e
                        })
                        .collect();
                    store.publish_all(events).await.expect("publish_all");
                }
            },
        )
        .await,
    );
    if let Some(bulk) = lines.last_mut() {
        bulk.ops = BULK_EVENTS;
    }
    let query = EventQuery::tags(["bulk"]);
    lines.push(
        measure(
            &format!("query: first page of 30 of {BULK_EVENTS}"),
            QUERIES,
            |_| {
                let store = store.clone();
                let query = query.clone();
                async move {
                    store.query(&query, Page::default()).await.expect("query");
                }
            },
        )
        .await,
    );
    lines.push(
        measure(
            &format!("query: page 150 of 30 of {BULK_EVENTS} (from/size)"),
            QUERIES,
            |_| {
                let store = store.clone();
                let query = query.clone();
                async move {
                    store
                        .query(&query, Page::new(150, 30).expect("page"))
                        .await
                        .expect("query");
                }
            },
        )
        .await,
    );
    let narrow = Arc::new(store_with_window(&double, 1000).await);
    lines.push(
        measure(
            &format!("query: page 150 of 30 of {BULK_EVENTS} past a 1,000 result window (search_after)"),
            20,
            |_| {
                let store = narrow.clone();
                let query = query.clone();
                async move {
                    store
                        .query(&query, Page::new(150, 30).expect("page"))
                        .await
                        .expect("query");
                }
            },
        )
        .await,
    );
    let average = Aggregator {
        kind: AggregatorKind::Average,
        field: Some("ms".to_string()),
    };
    lines.push(
        measure(
            &format!("aggregate: average of a field over {BULK_EVENTS}"),
            QUERIES,
            |_| {
                let store = store.clone();
                let query = query.clone();
                let average = average.clone();
                async move {
                    store.aggregate(&query, &average).await.expect("aggregate");
                }
            },
        )
        .await,
    );
    lines
}

async fn store_with_window(double: &es_double::EsDouble, window: u64) -> ElasticsearchStore {
    ElasticsearchStore::connect(&format!("elasticsearch://{}", &double.url()[7..]))
        .await
        .expect("the store connects to the double")
        .with_result_window(window)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let memory: Arc<dyn KeyValueStore> = Arc::new(MemoryKeyValueStore::new());
        print(
            "KV-backed artifacts over the in-memory key-value store",
            &kv_lines(memory, "memory KV").await,
        );
        print(
            "Elasticsearch event store over the wire-level double (double figures, not Elasticsearch's)",
            &es_lines().await,
        );
    });
}
