//! The Consul store against the wire-level double of Consul's KV HTTP API (`support/consul_double.rs`; no real
//! Consul can be installed on these machines): the vamp-core conformance cases, what is particular to Consul
//! (layout, the per-write limit, blocking-query watches that see answers without a change), and a 10 s outage
//! of the double while a watch runs.
//!
//! The conformance case `a_large_value_round_trips` (4 MiB) needs `LargeValues`; the whole suite including it runs
//! through that wrapper in `consul_large.rs`.

#[path = "support/consul_double.rs"]
mod consul_double;
#[path = "support/zk_consul.rs"]
mod zk_consul;

use std::sync::Arc;
use std::time::{Duration, Instant};

use consul_double::ConsulDouble;
use futures::StreamExt;
use vamp_core::kv::KeyValueStore;
use vamp_core::testkit::{run_case, skip};
use vamp_core::ErrorKind;
use vamp_kv::consul::{ConsulStore, MAX_VALUE_BYTES};
use zk_consul::{scratch, Leased};

async fn served_store() -> Arc<Leased<ConsulStore, ConsulDouble>> {
    let double = ConsulDouble::new();
    let store = ConsulStore::connect(&double.url())
        .await
        .unwrap_or_else(|e| panic!("the Consul double is not reachable: {e}"));
    Arc::new(Leased { store, lease: double })
}

/// The vamp-core conformance cases against the bare store, each its own test with its own double.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod conformance {
            $(
                #[test]
                fn $case() {
                    super::run_case(&["consul"], concat!("kv::", stringify!($case)), async {
                        let store = super::served_store().await;
                        vamp_core::testkit::kv::$case(&*store).await;
                    });
                }
            )*
        }
    };
}

conformance!(
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
);

fn case(name: &str, body: impl std::future::Future<Output = ()>) {
    run_case(&["consul"], name, body);
}

async fn raw_get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("raw GET");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[test]
fn keys_are_consul_keys_without_the_leading_slash_and_values_are_base64() {
    case("layout", async {
        let store = served_store().await;
        let key = scratch("layout").join("configuration").unwrap();
        let version = store.set(&key, b"frontend x".to_vec()).await.unwrap();
        let (status, body) = raw_get(&format!("{}/v1/kv{key}", store.lease.url())).await;
        assert_eq!(status, 200);
        let entries: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(entries[0]["Key"], key.as_str().trim_start_matches('/'));
        assert_eq!(entries[0]["Value"], "ZnJvbnRlbmQgeA==");
        assert_eq!(entries[0]["ModifyIndex"], version);
    });
}

#[test]
fn a_value_of_the_per_write_limit_is_stored_and_a_larger_one_refused() {
    case("limit", async {
        let store = served_store().await;
        let key = scratch("limit");
        let at_limit = vec![7u8; MAX_VALUE_BYTES];
        store.set(&key, at_limit.clone()).await.unwrap();
        assert_eq!(
            store.get(&key).await.unwrap().and_then(|v| v.value),
            Some(at_limit)
        );
        let err = store.set(&key, vec![7u8; MAX_VALUE_BYTES + 1]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(err.message().contains("LargeValues"), "{err}");
    });
}

#[test]
fn an_agent_that_refuses_a_large_body_is_reported_as_invalid_input() {
    case("413", async {
        let double = ConsulDouble::new();
        let client = reqwest::Client::new();
        let response = client
            .put(format!("{}/v1/kv/big", double.url()))
            .body(vec![0u8; MAX_VALUE_BYTES + 1])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 413, "the double must refuse it");
    });
}

#[test]
fn a_watch_ignores_answers_without_a_change() {
    case("spurious", async {
        let store = served_store().await;
        let key = scratch("spurious");
        let other = scratch("other");
        store.set(&key, b"one".to_vec()).await.unwrap();
        let mut watch = store.watch(&key);
        let first = watch.next().await.unwrap().unwrap();
        assert_eq!(first.value.as_deref(), Some(&b"one"[..]));
        store.delete(&other).await.unwrap();
        store.set(&other, b"x".to_vec()).await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(500), watch.next())
                .await
                .is_err(),
            "writes of other keys must not show in the watch"
        );
        store.set(&key, b"two".to_vec()).await.unwrap();
        let next = watch.next().await.unwrap().unwrap();
        assert_eq!(next.value.as_deref(), Some(&b"two"[..]));
    });
}

#[test]
fn connecting_to_no_agent_is_a_retryable_error() {
    case("no agent", async {
        let port = vamp_core::testkit::servers::free_port().unwrap();
        let err = ConsulStore::connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(err.message().contains("Consul"), "{err}");
    });
}

#[test]
fn bad_addresses_are_refused() {
    case("bad address", async {
        for bad in ["127.0.0.1:8500", "consul://h:8500", "http://h:8500?dc=x"] {
            let err = ConsulStore::connect(bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{bad}");
        }
    });
}

#[test]
fn bad_keys_are_refused_before_they_reach_consul() {
    for bad in ["/vamp/../etc", "/vamp//x", "/vamp/x/", "/vamp/a\u{0}b", "vamp/x"] {
        let err = vamp_core::kv::Key::parse(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}");
    }
}

#[test]
fn a_watch_ends_when_the_store_is_dropped() {
    case("watch ends", async {
        let store = served_store().await;
        let mut watch = store.watch(&scratch("ends"));
        assert!(watch.next().await.is_some_and(|item| item.is_ok()));
        drop(store);
        let end = tokio::time::timeout(Duration::from_secs(10), watch.next()).await;
        assert!(
            matches!(end, Ok(None)),
            "the stream must end once the store is gone"
        );
    });
}

/// Stops the double for 10 s while a watch runs: writes fail with a retryable error, nothing panics, and after
/// the restart on the same port the watch delivers the value written then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_survives_a_ten_second_outage_and_delivers_the_final_value() {
    if skip("consul") {
        return;
    }
    let mut double = ConsulDouble::new();
    let store = ConsulStore::connect(&double.url()).await.expect("connect");
    let key = scratch("outage");
    store.set(&key, b"before".to_vec()).await.expect("first set");
    let mut watch = store.watch(&key);
    let first = watch.next().await.expect("first item").expect("first value");
    assert_eq!(first.value.as_deref(), Some(&b"before"[..]));
    let (items, mut received) = tokio::sync::mpsc::unbounded_channel();
    let collector = tokio::spawn(async move {
        while let Some(item) = watch.next().await {
            if items.send(item).is_err() {
                break;
            }
        }
    });

    tokio::task::block_in_place(|| double.stop());
    let stopped = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(15), store.set(&key, b"lost".to_vec()))
        .await
        .expect("a set while the agent is down must return")
        .expect_err("a set while the agent is down must fail");
    assert!(err.is_retryable(), "{err} ({:?})", err.kind());
    assert!(err.message().contains("Consul"), "{err}");
    let err = store.get(&key).await.expect_err("a get while down must fail");
    assert!(err.is_retryable(), "{err}");
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(stopped.elapsed())).await;

    tokio::task::block_in_place(|| double.start());
    let version = store
        .set(&key, b"final".to_vec())
        .await
        .expect("the write after the restart");
    let delivered = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match received.recv().await {
                Some(Ok(item)) if item.value.as_deref() == Some(&b"final"[..]) => return item,
                Some(Ok(_)) => {}
                Some(Err(e)) => assert!(e.is_retryable(), "a watch error must be retryable: {e}"),
                None => panic!("the watch ended"),
            }
        }
    })
    .await
    .expect("the watch did not deliver the final value within 30 s after the restart");
    assert_eq!(delivered.version, version);
    drop(store);
    collector.await.expect("the watch task must not panic");
}
