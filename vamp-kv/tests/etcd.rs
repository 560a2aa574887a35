//! The etcd backend against a real etcd server (`TestServer::etcd`, default 1.5 MiB request limit): the
//! KeyValueStore conformance suite raw and wrapped in LargeValues, large values through `url::connect`, a
//! 10-second outage under a running watch, and bad keys.
//!
//! `VAMP_TEST_SKIP=etcd` skips these tests; otherwise a server that cannot start fails them.

mod support;

use std::sync::Arc;

use support::{Lease, Leased, Shared};
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::testkit::servers::TestServer;
use vamp_core::ErrorKind;
use vamp_kv::etcd::EtcdStore;
use vamp_kv::large::{LargeValues, MAGIC, RESERVED_ROOT};

static ETCD: Shared = Shared::new(TestServer::etcd);

async fn raw_store(lease: &Lease) -> EtcdStore {
    match EtcdStore::connect(&[lease.address().to_string()]).await {
        Ok(store) => store,
        Err(e) => panic!("etcd at {} is not reachable: {e}", lease.address()),
    }
}

async fn raw() -> Arc<Leased<EtcdStore>> {
    let lease = ETCD.lease();
    let store = raw_store(&lease).await;
    Arc::new(Leased::new(Arc::new(store), lease))
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
vamp_core::__vamp_conformance_tests!(kv, etcd_raw, ["etcd"], subject = raw => (&*subject), [
    get_of_an_absent_key_is_none,
    set_then_get_returns_the_value_and_version,
    versions_increase_with_every_set,
    versions_increase_across_delete_and_set,
    delete_says_whether_the_key_existed,
    delete_of_a_never_set_key_is_false,
    delete_leaves_children_in_place,
    children_are_the_sorted_direct_names,
    children_of_a_leaf_are_empty,
    children_forget_a_subtree_without_values,
    children_match_whole_segments,
    values_are_bytes,
    watch_starts_with_the_current_value,
    watch_of_an_absent_key_starts_without_value,
    watch_sees_a_later_set,
    watch_sees_a_delete,
    watch_delivers_the_final_value_of_a_burst,
    watch_ignores_other_keys,
    every_watcher_sees_the_change,
    keys_are_validated,
]);

vamp_core::kv_conformance!(etcd_large_values, through_url, skip = "etcd");

#[tokio::test]
async fn a_raw_store_refuses_values_above_the_request_limit() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let lease = ETCD.lease();
    let store = raw_store(&lease).await;
    let key = support::configuration_key();
    let e = store
        .set(&key, vec![b'x'; EtcdStore::MAX_VALUE_BYTES + 1])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("LargeValues"), "{e}");
    let at_limit = vec![b'y'; EtcdStore::MAX_VALUE_BYTES];
    store
        .set(&key, at_limit.clone())
        .await
        .expect("a value at the limit fits");
    assert!(store.get(&key).await.unwrap().unwrap().value == Some(at_limit));
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
    let url = format!("etcd://{}", server.address());
    support::watch_survives_an_outage(&mut server, &url, "etcd").await;
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
    for (bad, says) in [
        ("/vamp/../etc", "'..'"),
        ("/vamp//x", "empty"),
        ("/vamp/a\u{7}b", "control character"),
    ] {
        let e = Key::parse(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert!(e.message().contains(says), "{bad:?}: {e}");
    }
    let store = through_url().await;
    let reserved = Key::parse(&format!("/{RESERVED_ROOT}/x")).unwrap();
    let e = store.set(&reserved, b"x".to_vec()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("reserved"), "{e}");
}

#[tokio::test]
async fn an_unreachable_cluster_is_a_retryable_error() {
    let port = vamp_core::testkit::servers::free_port().unwrap();
    let e = EtcdStore::connect(&[format!("127.0.0.1:{port}")])
        .await
        .err()
        .expect("nothing listens there");
    assert!(e.is_retryable(), "{e}");
    assert!(e.message().contains("etcd"), "{e}");
}
