//! The key-value artifact store over real key-value servers (Redis and etcd from `testkit::servers`, connected
//! through `vamp_kv::url::connect`): the artifact conformance suite on each, large documents through vamp-kv's
//! large-value wrapper, and history surviving a server restart.

#[path = "support/held.rs"]
mod held;

use std::sync::Arc;

use held::Held;
use serde_json::json;
use vamp_core::kv::Key;
use vamp_core::model::Kind;
use vamp_core::store::ArtifactStore;
use vamp_core::testkit::servers::TestServer;
use vamp_core::testkit::unique;
use vamp_persistence::kv::KvArtifactStore;

/// `vamp_kv::url::connect` wraps every backend in its large-value layer, so documents may pass a single
/// write's limit.
const LARGE_DOCUMENT_LIMIT: usize = 16 * 1024 * 1024;

/// A store on a server of its own, dropped together (the store first).
type OnServer = Held<KvArtifactStore, TestServer>;

async fn store_on(server: &TestServer, scheme: &str) -> KvArtifactStore {
    let url = format!("{scheme}://{}", server.address());
    let kv = vamp_kv::url::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{scheme} at {url} cannot be reached: {e}"));
    let base = Key::parse(&format!("/vamp-conformance/{}", unique("persistence"))).expect("a valid base key");
    KvArtifactStore::new(kv, base).with_max_document_bytes(LARGE_DOCUMENT_LIMIT)
}

async fn on(server: std::result::Result<TestServer, String>, scheme: &str) -> OnServer {
    let server = server.unwrap_or_else(|e| panic!("{e}"));
    OnServer {
        store: store_on(&server, scheme).await,
        guard: server,
    }
}

vamp_core::artifact_conformance!(
    kv_redis,
    || async { Arc::new(on(TestServer::redis(), "redis").await) },
    skip = "redis",
);

vamp_core::artifact_conformance!(
    kv_etcd,
    || async { Arc::new(on(TestServer::etcd(), "etcd").await) },
    skip = "etcd",
);

#[tokio::test]
async fn a_document_larger_than_one_etcd_write_round_trips() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let etcd = on(TestServer::etcd(), "etcd").await;
    let big = json!({"blob": "x".repeat(3 * 1024 * 1024)});
    etcd.put(Kind::Blueprint, "big", big.clone(), None).await.unwrap();
    assert_eq!(
        etcd.get(Kind::Blueprint, "big")
            .await
            .unwrap()
            .map(|s| s.document),
        Some(big)
    );
}

#[tokio::test]
async fn history_and_revisions_survive_an_etcd_restart() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let mut etcd = on(TestServer::etcd(), "etcd").await;
    etcd.put(Kind::Breed, "sava", json!(1), None).await.unwrap();
    etcd.put(Kind::Breed, "sava", json!(2), None).await.unwrap();
    etcd.guard.stop();
    etcd.guard.start().expect("etcd starts again on its data");
    let revisions = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            match etcd.history(Kind::Breed, "sava").await {
                Ok(history) => break history.iter().map(|s| s.revision).collect::<Vec<u64>>(),
                Err(e) => assert!(e.is_retryable(), "only retryable errors while etcd restarts: {e}"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the store reads etcd again within 30 s of its restart");
    assert_eq!(revisions, [1, 2]);
    assert_eq!(etcd.put(Kind::Breed, "sava", json!(3), Some(2)).await.unwrap(), 3);
}
