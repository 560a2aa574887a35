//! The key-value artifact store measured against the bare key-value store it writes to; shared by the benches.

use std::sync::Arc;

use serde_json::json;
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::model::Kind;
use vamp_core::store::{ArtifactStore, Page};
use vamp_persistence::kv::KvArtifactStore;

use super::timing::{measure, Line};

/// How many artifacts each line writes or reads.
pub const ARTIFACTS: u64 = 2_000;

fn document(i: u64) -> serde_json::Value {
    json!({
        "name": format!("sava-{i}"),
        "deployable": "magneticio/sava:1.0.0",
        "ports": {"webport": "8080/http"},
        "environment_variables": {"DEBUG": "false"},
    })
}

/// The lines for the key-value artifact store over `kv`, after the bare `kv` baseline.
pub async fn kv_lines(kv: Arc<dyn KeyValueStore>, label: &str) -> Vec<Line> {
    let base = Key::parse(&format!("/bench/{}", vamp_core::testkit::unique("kv"))).expect("a key");
    let bytes = serde_json::to_vec(&document(0)).expect("json");
    let raw = base.join("raw").expect("a key");
    let mut lines = vec![
        measure(
            &format!("baseline: bare {label} set (one key per op)"),
            ARTIFACTS,
            |i| {
                let kv = kv.clone();
                let key = raw.join(&i.to_string()).expect("a key");
                let bytes = bytes.clone();
                async move {
                    kv.set(&key, bytes).await.expect("set");
                }
            },
        )
        .await,
        measure(&format!("baseline: bare {label} get"), ARTIFACTS, |i| {
            let kv = kv.clone();
            let key = raw.join(&i.to_string()).expect("a key");
            async move {
                kv.get(&key).await.expect("get");
            }
        })
        .await,
    ];
    let store = Arc::new(KvArtifactStore::new(kv.clone(), base));
    lines.push(
        measure(
            &format!("KvArtifactStore over {label}: put (new artifact)"),
            ARTIFACTS,
            |i| {
                let store = store.clone();
                async move {
                    store
                        .put(Kind::Breed, &format!("sava-{i}"), document(i), None)
                        .await
                        .expect("put");
                }
            },
        )
        .await,
    );
    lines.push(
        measure(
            &format!("KvArtifactStore over {label}: put expecting the revision"),
            ARTIFACTS,
            |i| {
                let store = store.clone();
                async move {
                    store
                        .put(Kind::Breed, &format!("sava-{i}"), document(i), Some(1))
                        .await
                        .expect("conditional put");
                }
            },
        )
        .await,
    );
    lines.push(
        measure(&format!("KvArtifactStore over {label}: get"), ARTIFACTS, |i| {
            let store = store.clone();
            async move {
                store.get(Kind::Breed, &format!("sava-{i}")).await.expect("get");
            }
        })
        .await,
    );
    lines.push(
        measure(
            &format!("KvArtifactStore over {label}: list a page of 100 of {ARTIFACTS}"),
            20,
            |i| {
                let store = store.clone();
                async move {
                    let page = Page::new(u32::try_from(i % 20).unwrap_or(0) + 1, 100).expect("page");
                    store.list(Kind::Breed, page).await.expect("list");
                }
            },
        )
        .await,
    );
    lines
}
