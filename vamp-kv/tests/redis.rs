//! The Redis backend against a real Redis server (`TestServer::redis`, no persistence): the KeyValueStore
//! conformance suite raw and wrapped in LargeValues with a small limit (so values are chunked for real), large
//! values through `url::connect`, a 10-second outage under a running watch, the children index, and bad keys.
//!
//! `VAMP_TEST_SKIP=redis` skips these tests; otherwise a server that cannot start fails them.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{Lease, Leased, Shared};
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::testkit::servers::TestServer;
use vamp_kv::large::{LargeValues, MAGIC, RESERVED_ROOT};
use vamp_kv::redis::RedisStore;

static REDIS: Shared = Shared::new("Redis", TestServer::redis);

/// The per-write limit the wrapped suite runs with: small enough that its 4 MiB case is chunked.
const SMALL_LIMIT: usize = 64 * 1024;

async fn raw_store(lease: &Lease) -> RedisStore {
    match RedisStore::connect(&format!("redis://{}", lease.address())).await {
        Ok(store) => store,
        Err(e) => panic!("Redis at {} is not reachable: {e}", lease.address()),
    }
}

async fn raw() -> Arc<Leased<RedisStore>> {
    let lease = REDIS.lease();
    let store = raw_store(&lease).await;
    Arc::new(Leased::new(store, lease))
}

async fn chunking() -> Arc<Leased<LargeValues<RedisStore>>> {
    let lease = REDIS.lease();
    let store = LargeValues::new(raw_store(&lease).await, SMALL_LIMIT);
    Arc::new(Leased::new(store, lease))
}

vamp_core::kv_conformance!(redis_raw, raw, skip = "redis");
vamp_core::kv_conformance!(redis_large_values, chunking, skip = "redis");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_values_round_trip_through_the_url() {
    if vamp_core::testkit::skip("redis") {
        return;
    }
    let lease = REDIS.lease();
    let store = vamp_kv::url::connect(&format!("redis://{}/0", lease.address()))
        .await
        .expect("connect");
    let key = support::large_values_round_trip(&*store).await;
    let raw = raw_store(&lease).await;
    let stored = raw.get(&key).await.unwrap().unwrap().value.unwrap();
    assert_eq!(
        stored,
        support::incompressible(3 * 1024 * 1024),
        "below RedisStore::MAX_VALUE_BYTES values are stored as they are"
    );
    assert!(store.delete(&key).await.unwrap());
    assert_eq!(store.get(&key).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_are_written_deleted_and_never_listed() {
    if vamp_core::testkit::skip("redis") {
        return;
    }
    let lease = REDIS.lease();
    let store = LargeValues::new(raw_store(&lease).await, SMALL_LIMIT);
    let key = support::configuration_key();
    let parent = key.parent().unwrap();
    let value = support::incompressible(5 * SMALL_LIMIT);
    store.set(&key, value.clone()).await.unwrap();
    let stored = store.inner().get(&key).await.unwrap().unwrap().value.unwrap();
    assert!(stored.starts_with(MAGIC) && stored.get(5) == Some(&b'M'));
    assert!(store.get(&key).await.unwrap().unwrap().value == Some(value));
    assert_eq!(store.children(&parent).await.unwrap(), ["configuration"]);
    assert!(store.children(&key).await.unwrap().is_empty());

    let manifest: serde_json::Value = serde_json::from_slice(&stored[6..]).unwrap();
    let chunks = Key::parse(manifest["chunks"].as_str().unwrap()).unwrap();
    assert_eq!(chunks.segments().next(), Some(RESERVED_ROOT));
    assert_eq!(
        store.inner().children(&chunks).await.unwrap(),
        ["0", "1", "2", "3", "4"],
        "the chunks are in the children index"
    );
    store.delete(&key).await.unwrap();
    assert!(
        store.inner().children(&chunks).await.unwrap().is_empty(),
        "deleting the value deletes its chunks and their index entries"
    );
    assert!(store
        .inner()
        .children(&chunks.parent().unwrap())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_children_index_follows_sets_and_deletes_at_every_depth() {
    if vamp_core::testkit::skip("redis") {
        return;
    }
    let lease = REDIS.lease();
    let store = raw_store(&lease).await;
    let root = Key::parse(&format!("/{}", vamp_core::testkit::unique("idx"))).unwrap();
    let deep = root.join("a").unwrap().join("b").unwrap().join("c").unwrap();
    let mid = root.join("a").unwrap().join("b").unwrap();
    store.set(&deep, b"1".to_vec()).await.unwrap();
    store.set(&deep, b"2".to_vec()).await.unwrap();
    store.set(&mid, b"3".to_vec()).await.unwrap();
    assert_eq!(store.children(&root).await.unwrap(), ["a"]);
    store.delete(&deep).await.unwrap();
    assert_eq!(
        store.children(&root).await.unwrap(),
        ["a"],
        "a/b still holds a value"
    );
    assert!(store.children(&mid).await.unwrap().is_empty());
    store.delete(&mid).await.unwrap();
    assert!(store.children(&root).await.unwrap().is_empty());
    assert!(!store.delete(&mid).await.unwrap());
    assert!(store.children(&root).await.unwrap().is_empty());
}

#[tokio::test]
async fn values_are_plain_redis_strings_at_the_key() {
    if vamp_core::testkit::skip("redis") {
        return;
    }
    let lease = REDIS.lease();
    let store = raw_store(&lease).await;
    let key = support::configuration_key();
    store.set(&key, b"frontend f".to_vec()).await.unwrap();
    let answer = vamp_core::testkit::servers::exchange(
        lease.address().rsplit(':').next().unwrap().parse().unwrap(),
        format!("GET {key}\r\n").as_bytes(),
    )
    .unwrap();
    assert!(answer.contains("frontend f"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_survives_ten_seconds_without_redis() {
    if vamp_core::testkit::skip("redis") {
        return;
    }
    let mut server = TestServer::redis().expect("redis");
    let store = vamp_kv::url::connect(&format!("redis://{}", server.address()))
        .await
        .expect("connect");
    support::watch_survives_an_outage(store, &mut server, "Redis", Duration::from_secs(30)).await;
}

#[tokio::test]
async fn bad_keys_are_refused_with_a_clear_error() {
    if vamp_core::testkit::skip("redis") {
        return;
    }
    support::bad_keys_are_invalid(&support::BAD_KEYS);
    let lease = REDIS.lease();
    let store = vamp_kv::url::connect(&format!("redis://{}", lease.address()))
        .await
        .expect("connect");
    support::the_reserved_root_is_refused(&*store).await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_error() {
    support::connecting_to_nothing_is_retryable("Redis", |address| async move {
        RedisStore::connect(&format!("redis://{address}")).await
    })
    .await;
}
