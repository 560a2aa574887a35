//! The etcd backend against a real etcd server (`TestServer::etcd`, default 1.5 MiB request limit): the
//! KeyValueStore conformance suite raw and wrapped in LargeValues, large values through `url::connect`, a
//! 10-second outage under a running watch, and bad keys.
//!
//! `VAMP_TEST_SKIP=etcd` skips these tests; otherwise a server that cannot start fails them.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{Lease, Leased, Shared};
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::testkit::servers::TestServer;
use vamp_kv::etcd::EtcdStore;
use vamp_kv::large::{LargeValues, MAGIC, RESERVED_ROOT};

static ETCD: Shared = Shared::new("etcd", TestServer::etcd);

async fn raw_store(lease: &Lease) -> EtcdStore {
    match EtcdStore::connect(&[lease.address().to_string()]).await {
        Ok(store) => store,
        Err(e) => panic!("etcd at {} is not reachable: {e}", lease.address()),
    }
}

async fn raw() -> Arc<Leased<EtcdStore>> {
    let lease = ETCD.lease();
    let store = raw_store(&lease).await;
    Arc::new(Leased::new(store, lease))
}

async fn through_url() -> Arc<Leased<dyn KeyValueStore>> {
    let lease = ETCD.lease();
    let store = match vamp_kv::url::connect(&format!("etcd://{}", lease.address())).await {
        Ok(store) => store,
        Err(e) => panic!("etcd at {} is not reachable: {e}", lease.address()),
    };
    Arc::new(Leased::new(store, lease))
}

// The raw store takes one request of at most 1.5 MiB, so the 4 MiB case runs only on the wrapped store below;
// `a_raw_store_refuses_values_above_the_request_limit` pins what the raw store does instead.
support::kv_conformance_within_one_write!(etcd_raw, raw, "etcd");

vamp_core::kv_conformance!(etcd_large_values, through_url, skip = "etcd");

#[tokio::test]
async fn a_raw_store_refuses_values_above_the_request_limit() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let lease = ETCD.lease();
    let store = raw_store(&lease).await;
    support::the_per_write_limit_holds(&store, EtcdStore::MAX_VALUE_BYTES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_values_round_trip_through_the_url() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let lease = ETCD.lease();
    let store = vamp_kv::url::connect(&format!("etcd://{}", lease.address()))
        .await
        .expect("connect");
    let key = support::large_values_round_trip(&*store).await;
    let raw = raw_store(&lease).await;
    let stored = raw.get(&key).await.unwrap().unwrap().value.unwrap();
    assert!(
        stored.starts_with(MAGIC) && stored.get(5) == Some(&b'M'),
        "3 MiB of noise must be stored behind a manifest"
    );
    assert!(stored.len() <= EtcdStore::MAX_VALUE_BYTES);
    let chunks = Key::parse(&format!("/{RESERVED_ROOT}")).unwrap();
    assert!(
        !raw.children(&chunks).await.unwrap().is_empty(),
        "the chunks lie under the reserved root"
    );
    assert!(store.delete(&key).await.unwrap());
    assert_eq!(store.get(&key).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_value_written_through_a_small_limit_reads_back() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let lease = ETCD.lease();
    let store = LargeValues::new(raw_store(&lease).await, 64 * 1024);
    let key = support::configuration_key();
    let value = support::incompressible(1024 * 1024 + 3);
    store.set(&key, value.clone()).await.unwrap();
    assert!(store.get(&key).await.unwrap().unwrap().value == Some(value));
    assert!(
        store
            .inner()
            .get(&key)
            .await
            .unwrap()
            .unwrap()
            .value
            .unwrap()
            .len()
            < 1024
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_survives_ten_seconds_without_etcd() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let mut server = TestServer::etcd().expect("etcd");
    let store = vamp_kv::url::connect(&format!("etcd://{}", server.address()))
        .await
        .expect("connect");
    support::watch_survives_an_outage(store, &mut server, "etcd", Duration::from_secs(30)).await;
}

/// The client's 5 s request timeout must not cut a watch that is idle for longer.
#[tokio::test]
async fn an_idle_watch_outlives_the_request_timeout() {
    use futures::StreamExt;
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let lease = ETCD.lease();
    let store = raw_store(&lease).await;
    let key = support::configuration_key();
    let mut watch = store.watch(&key);
    assert_eq!(watch.next().await.unwrap().unwrap().value, None);
    let idle = tokio::time::timeout(std::time::Duration::from_secs(7), watch.next()).await;
    assert!(idle.is_err(), "the idle watch yielded {idle:?}");
    let version = store.set(&key, b"after idling".to_vec()).await.unwrap();
    let item = tokio::time::timeout(std::time::Duration::from_secs(5), watch.next())
        .await
        .expect("the watch delivers the set")
        .expect("the watch is still open")
        .expect("an item, not an error");
    assert_eq!(item.value.as_deref(), Some(&b"after idling"[..]));
    assert_eq!(item.version, version);
}

#[tokio::test]
async fn bad_keys_are_refused_with_a_clear_error() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    support::bad_keys_are_invalid(&support::BAD_KEYS);
    support::the_reserved_root_is_refused(&*through_url().await).await;
}

#[tokio::test]
async fn an_unreachable_cluster_is_a_retryable_error() {
    support::connecting_to_nothing_is_retryable("etcd", |address| async move {
        EtcdStore::connect(&[address]).await
    })
    .await;
}
