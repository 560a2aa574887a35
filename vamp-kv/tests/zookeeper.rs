//! The ZooKeeper store against a real ZooKeeper server (`TestServer::zookeeper`): the vamp-core conformance
//! cases, what is particular to ZooKeeper (layout, empty values, pruning, zxid versions, chroot, several hosts,
//! the per-write limit), and a 10 s outage while a watch runs.
//!
//! The conformance case `a_large_value_round_trips` (4 MiB) needs `LargeValues`; the whole suite including it runs
//! through that wrapper in `zookeeper_large.rs`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{scratch, Leased, Shared};
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::testkit::servers::TestServer;
use vamp_core::testkit::{run_case, skip};
use vamp_core::ErrorKind;
use vamp_kv::zookeeper::{ZooKeeperStore, EMPTY_VALUE_MARKER, MAX_VALUE_BYTES};
use zookeeper_client as zk;

static ZOOKEEPER: Shared = Shared::new("ZooKeeper", TestServer::zookeeper);

async fn leased_store() -> Arc<Leased<ZooKeeperStore>> {
    let lease = ZOOKEEPER.lease();
    let store = ZooKeeperStore::connect(&[lease.address().to_string()], None)
        .await
        .unwrap_or_else(|e| panic!("ZooKeeper is not reachable: {e}"));
    Arc::new(Leased::new(store, lease))
}

// The bare store, each case its own test on a lease of the shared server.
support::kv_conformance_within_one_write!(conformance, leased_store, "zookeeper");

/// A raw client on the same server, to look at the znodes the store writes.
async fn raw(address: &str) -> zk::Client {
    zk::Client::connect(address)
        .await
        .unwrap_or_else(|e| panic!("raw ZooKeeper client: {e}"))
}

fn case(name: &str, body: impl std::future::Future<Output = ()>) {
    run_case(&["zookeeper"], name, body);
}

#[test]
fn keys_are_the_znode_paths_of_the_original_layout_and_values_are_raw_bytes() {
    case("layout", async {
        let store = leased_store().await;
        let key = scratch("layout")
            .join("gateways")
            .and_then(|k| k.join("haproxy"))
            .and_then(|k| k.join("2.6"))
            .and_then(|k| k.join("configuration"))
            .unwrap();
        let version = store.set(&key, b"frontend x".to_vec()).await.unwrap();
        let client = raw(store.lease.address()).await;
        let (data, stat) = client.get_data(key.as_str()).await.unwrap();
        assert_eq!(data, b"frontend x");
        assert_eq!(version, stat.mzxid as u64, "the version is the znode's mzxid");
        let (parent_data, _) = client.get_data(key.parent().unwrap().as_str()).await.unwrap();
        assert!(parent_data.is_empty(), "parents are created with empty data");
    });
}

#[test]
fn the_empty_value_is_marked_by_a_child_that_children_never_lists() {
    case("empty value", async {
        let store = leased_store().await;
        let key = scratch("empty");
        store.set(&key, Vec::new()).await.unwrap();
        let client = raw(store.lease.address()).await;
        let kids = client.list_children(key.as_str()).await.unwrap();
        assert_eq!(kids, [EMPTY_VALUE_MARKER]);
        assert_eq!(
            store.get(&key).await.unwrap().and_then(|v| v.value),
            Some(Vec::new())
        );
        assert!(store.children(&key).await.unwrap().is_empty());
        assert!(store
            .children(&key.parent().unwrap())
            .await
            .unwrap()
            .contains(&key.name().to_string()));
        store.set(&key, b"full".to_vec()).await.unwrap();
        assert!(
            client.list_children(key.as_str()).await.unwrap().is_empty(),
            "a non-empty value drops the marker"
        );
        store.set(&key, Vec::new()).await.unwrap();
        assert!(store.delete(&key).await.unwrap());
        assert_eq!(store.get(&key).await.unwrap(), None);
        assert_eq!(client.check_stat(key.as_str()).await.unwrap(), None);
    });
}

#[test]
fn a_parent_znode_written_by_another_client_holds_no_value() {
    case("foreign parent", async {
        let store = leased_store().await;
        let key = scratch("foreign");
        let client = raw(store.lease.address()).await;
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        client.mkdir(&format!("{key}/child"), &options).await.unwrap();
        client
            .set_data(&format!("{key}/child"), b"v", None)
            .await
            .unwrap();
        assert_eq!(store.get(&key).await.unwrap(), None);
        assert!(!store.delete(&key).await.unwrap());
        assert_eq!(store.children(&key).await.unwrap(), ["child"]);
    });
}

#[test]
fn delete_removes_the_znode_and_its_value_less_parents() {
    case("prune", async {
        let store = leased_store().await;
        let root = scratch("prune");
        let kept = root.join("kept").unwrap();
        let deep = root
            .join("a")
            .and_then(|k| k.join("b"))
            .and_then(|k| k.join("c"))
            .unwrap();
        store.set(&kept, b"v".to_vec()).await.unwrap();
        store.set(&deep, b"v".to_vec()).await.unwrap();
        assert!(store.delete(&deep).await.unwrap());
        let client = raw(store.lease.address()).await;
        assert_eq!(
            client.check_stat(&format!("{root}/a")).await.unwrap(),
            None,
            "value-less parents left only for the deleted key are removed"
        );
        assert_eq!(client.list_children(root.as_str()).await.unwrap(), ["kept"]);
    });
}

#[test]
fn delete_keeps_a_znode_with_children_and_clears_its_data() {
    case("keep parent", async {
        let store = leased_store().await;
        let key = scratch("parent");
        store.set(&key, b"mine".to_vec()).await.unwrap();
        store
            .set(&key.join("child").unwrap(), b"theirs".to_vec())
            .await
            .unwrap();
        assert!(store.delete(&key).await.unwrap());
        let client = raw(store.lease.address()).await;
        let (data, _) = client.get_data(key.as_str()).await.unwrap();
        assert!(data.is_empty());
        let again = store.set(&key, b"back".to_vec()).await.unwrap();
        assert_eq!(
            store.get(&key).await.unwrap(),
            Some(Versioned {
                value: Some(b"back".to_vec()),
                version: again
            })
        );
    });
}

#[test]
fn a_value_of_the_per_write_limit_is_stored_and_a_larger_one_refused() {
    case("limit", async {
        support::the_per_write_limit_holds(&*leased_store().await, MAX_VALUE_BYTES).await;
    });
}

#[test]
fn a_chroot_puts_every_key_below_it() {
    case("chroot", async {
        let lease = ZOOKEEPER.lease();
        let root = scratch("chroot");
        let store = ZooKeeperStore::connect(&[lease.address().to_string()], Some(root.as_str()))
            .await
            .unwrap();
        let key = Key::parse("/vamp/default/x").unwrap();
        store.set(&key, b"rooted".to_vec()).await.unwrap();
        let client = raw(lease.address()).await;
        let (data, _) = client.get_data(&format!("{root}/vamp/default/x")).await.unwrap();
        assert_eq!(data, b"rooted");
        drop(store);
    });
}

#[test]
fn several_hosts_fail_over_to_the_one_that_answers() {
    case("hosts", async {
        let lease = ZOOKEEPER.lease();
        let dead = format!("127.0.0.1:{}", vamp_core::testkit::servers::free_port().unwrap());
        let store = ZooKeeperStore::connect(&[dead, lease.address().to_string()], None)
            .await
            .unwrap();
        let key = scratch("hosts");
        store.set(&key, b"v".to_vec()).await.unwrap();
        assert!(store.get(&key).await.unwrap().is_some());
        drop(store);
    });
}

#[test]
fn connecting_to_no_server_is_a_retryable_error() {
    case("no server", async {
        support::connecting_to_nothing_is_retryable("ZooKeeper", |address| async move {
            ZooKeeperStore::connect(&[address], None).await
        })
        .await;
    });
}

#[test]
fn bad_hosts_and_chroots_are_refused() {
    case("bad input", async {
        for hosts in [vec![], vec!["a,b".to_string()], vec!["a/x".to_string()]] {
            let err = ZooKeeperStore::connect(&hosts, None).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{hosts:?}");
        }
        for chroot in ["apps", "/apps/../x", "/apps//x", "/a\u{1}b"] {
            let err = ZooKeeperStore::connect(&["127.0.0.1:1".to_string()], Some(chroot))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{chroot:?}");
        }
    });
}

#[test]
fn bad_keys_are_refused_before_they_reach_zookeeper() {
    support::bad_keys_are_invalid(&[
        ("/vamp/../etc", "invalid"),
        ("/vamp//x", "invalid"),
        ("/vamp/x/", "invalid"),
        ("/vamp/a\u{0}b", "invalid"),
        ("/vamp/a\u{7f}b", "invalid"),
        ("/vamp/.", "invalid"),
    ]);
}

#[test]
fn a_watch_ends_when_the_store_is_dropped() {
    case("watch ends", async {
        support::a_watch_ends_with_its_store(leased_store().await).await;
    });
}

/// Stops the server for 10 s while a watch runs: writes fail with a retryable error, nothing panics, and after
/// the restart the watch delivers the value written then (`support::watch_survives_an_outage`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_survives_a_ten_second_outage_and_delivers_the_final_value() {
    if skip("zookeeper") {
        return;
    }
    let mut server = TestServer::zookeeper().expect("ZooKeeper could not be started");
    let store = ZooKeeperStore::connect(&[server.address()], None)
        .await
        .expect("connect");
    support::watch_survives_an_outage(Arc::new(store), &mut server, "ZooKeeper", Duration::from_secs(30))
        .await;
}
