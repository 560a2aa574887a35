//! The Consul store against the wire-level double of Consul's KV HTTP API (`support/consul_double.rs`; no real
//! Consul can be installed on these machines): the vamp-core conformance cases, what is particular to Consul
//! (layout, the per-write limit, blocking-query watches that see answers without a change), and a 10 s outage
//! of the double while a watch runs.
//!
//! The conformance case `a_large_value_round_trips` (4 MiB) needs `LargeValues`; the whole suite including it runs
//! through that wrapper in `consul_large.rs`.

#[path = "support/consul_double.rs"]
mod consul_double;
mod support;

use std::sync::Arc;
use std::time::Duration;

use consul_double::ConsulDouble;
use futures::StreamExt;
use support::{scratch, Leased, Restartable};
use vamp_core::kv::KeyValueStore;
use vamp_core::testkit::{run_case, skip};
use vamp_core::ErrorKind;
use vamp_kv::consul::{ConsulStore, MAX_VALUE_BYTES};

async fn served_store() -> Arc<Leased<ConsulStore, ConsulDouble>> {
    let double = ConsulDouble::new();
    let store = ConsulStore::connect(&double.url())
        .await
        .unwrap_or_else(|e| panic!("the Consul double is not reachable: {e}"));
    Arc::new(Leased::new(store, double))
}

// The bare store, each case its own test with its own double.
support::kv_conformance_within_one_write!(conformance, served_store, "consul");

impl Restartable for ConsulDouble {
    fn stop(&mut self) {
        ConsulDouble::stop(self);
    }

    fn start(&mut self) {
        ConsulDouble::start(self);
    }
}

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
        support::the_per_write_limit_holds(&*served_store().await, MAX_VALUE_BYTES).await;
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
        support::connecting_to_nothing_is_retryable("Consul", |address| async move {
            ConsulStore::connect(&format!("http://{address}")).await
        })
        .await;
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
    support::bad_keys_are_invalid(&[
        ("/vamp/../etc", "invalid"),
        ("/vamp//x", "invalid"),
        ("/vamp/x/", "invalid"),
        ("/vamp/a\u{0}b", "invalid"),
        ("vamp/x", "must start with '/'"),
    ]);
}

#[test]
fn a_watch_ends_when_the_store_is_dropped() {
    case("watch ends", async {
        support::a_watch_ends_with_its_store(served_store().await).await;
    });
}

/// Stops the double for 10 s while a watch runs: writes fail with a retryable error, nothing panics, and after
/// the restart on the same port the first write succeeds and the watch delivers it
/// (`support::watch_survives_an_outage`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_survives_a_ten_second_outage_and_delivers_the_final_value() {
    if skip("consul") {
        return;
    }
    let mut double = ConsulDouble::new();
    let store = ConsulStore::connect(&double.url()).await.expect("connect");
    support::watch_survives_an_outage(Arc::new(store), &mut double, "Consul", Duration::ZERO).await;
}

#[tokio::test]
async fn an_acl_token_is_sent_with_every_request_and_a_wrong_one_is_refused_at_connect() {
    let double = ConsulDouble::new();
    double.require_token("s3cret-token");
    let address = double.url().replace("http://", "");
    let store = vamp_kv::url::connect(&format!("consul://:s3cret-token@{address}"))
        .await
        .unwrap_or_else(|e| panic!("the right token was refused: {e}"));
    let key = vamp_core::kv::Key::parse("/vamp/acl/probe").unwrap();
    store.set(&key, b"v".to_vec()).await.unwrap();
    let mut watch = store.watch(&key);
    let first = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.value.as_deref(), Some(&b"v"[..]));
    assert_eq!(
        store.get(&key).await.unwrap().unwrap().value.as_deref(),
        Some(&b"v"[..])
    );
    for url in [
        format!("consul://:wrong-token-4711@{address}"),
        format!("consul://{address}"),
    ] {
        let e = match vamp_kv::url::connect(&url).await {
            Ok(store) => store.get(&key).await.unwrap_err(),
            Err(e) => e,
        };
        let message = format!("{e} {e:?}");
        assert_eq!(e.kind(), ErrorKind::Backend, "{message}");
        assert!(message.contains("403"), "{message}");
        assert!(!message.contains("wrong-token-4711"), "{message}");
    }
}
