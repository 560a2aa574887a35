//! The watch loop: signed values written to the store are applied, bad, unsigned and wrongly signed ones refused
//! while the running configuration serves, and a store outage leaves HAProxy serving until the store returns
//! with a newer value.

mod agent_support;

use std::sync::Arc;
use std::time::Duration;

use agent_support::*;
use tokio::sync::{oneshot, watch};
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::memory::MemoryKeyValueStore;
use vamp_core::testkit::servers::{free_port, wait_until, TestServer};
use vamp_gateway::agent::apply::Applier;
use vamp_gateway::agent::options::AgentOptions;
use vamp_gateway::agent::signature::SignatureCheck;
use vamp_gateway::agent::watch::{run_apply_loop, status_channel, watch_and_apply, AgentStatus};
use vamp_kv::signed::SigningKey;

fn key() -> Key {
    Key::parse("/vamp/default/gateways/haproxy/2.6/configuration").unwrap()
}

fn signing() -> SigningKey {
    SigningKey::new(b"agent-watch-test-key-0123456789abcdef".to_vec()).unwrap()
}

fn unsigned_text(port: u16, backend: &Backend) -> Vec<u8> {
    let gateways = vec![GatewaySpec {
        id: "shop".into(),
        port,
        routes: vec![RouteSpec::new(100, &[backend.port])],
    }];
    envelope(&gateways, &Style::default())
        .to_text()
        .unwrap()
        .into_bytes()
}

fn text(port: u16, backend: &Backend) -> Vec<u8> {
    signing().sign(&key(), &unsigned_text(port, backend))
}

async fn wait_status(
    status: &mut watch::Receiver<AgentStatus>,
    what: &str,
    ok: impl Fn(&AgentStatus) -> bool,
) -> AgentStatus {
    let waited = tokio::time::timeout(Duration::from_secs(20), status.wait_for(|s| ok(s)))
        .await
        .map(|r| r.map(|s| s.clone()));
    match waited {
        Ok(Ok(s)) => s,
        _ => panic!("the agent never reported {what}: {:?}", *status.borrow()),
    }
}

fn serves(port: u16, name: &str) -> bool {
    wait_until(Duration::from_secs(10), || {
        answers(port, 5).iter().all(|a| a == name)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_written_to_the_store_are_applied_and_bad_ones_refused() {
    let scratch = Scratch::new("watch-memory");
    let (a, b, c) = (Backend::start("a"), Backend::start("b"), Backend::start("c"));
    let port = free_port().unwrap();
    let store: Arc<dyn KeyValueStore> = Arc::new(MemoryKeyValueStore::new());
    let (status_tx, mut status) = status_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = process_options(scratch.path(), free_port().unwrap());
    let agent = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut applier = Applier::new(options).unwrap();
            let check = SignatureCheck::Verify(signing());
            watch_and_apply(store, &key(), &check, &mut applier, &status_tx, async {
                let _ = stopped.await;
            })
            .await;
            applier.shutdown().await;
        })
    };

    let v1 = store.set(&key(), text(port, &a)).await.unwrap();
    let s = wait_status(&mut status, "the first value applied", |s| {
        s.applied_version == Some(v1)
    })
    .await;
    assert_eq!(s.applied_how.as_deref(), Some("started"));
    assert!(s.store_reachable && s.haproxy_running);
    assert!(serves(port, "a"));

    let v2 = store.set(&key(), text(port, &b)).await.unwrap();
    let s = wait_status(&mut status, "the second value applied", |s| {
        s.applied_version == Some(v2)
    })
    .await;
    assert_eq!(s.applied_how.as_deref(), Some("runtime"));
    assert!(serves(port, "b"));

    let bad = store
        .set(&key(), signing().sign(&key(), b"global\n    no-such-directive\n"))
        .await
        .unwrap();
    let s = wait_status(&mut status, "the bad value refused", |s| s.last_error.is_some()).await;
    assert_eq!(s.applied_version, Some(v2));
    assert!(
        s.last_error.as_deref().unwrap().contains(&bad.to_string()),
        "{s:?}"
    );
    assert!(serves(port, "b"), "the running configuration keeps serving");

    let other = SigningKey::new(b"someone-else-s-key-0123456789abcdef".to_vec()).unwrap();
    for (what, value, why) in [
        ("unsigned", unsigned_text(port, &c), "not signed"),
        (
            "signed with another key",
            other.sign(&key(), &unsigned_text(port, &c)),
            other.id(),
        ),
    ] {
        let refused = store.set(&key(), value).await.unwrap();
        let s = wait_status(&mut status, &format!("the {what} value refused"), |s| {
            s.last_error
                .as_deref()
                .is_some_and(|e| e.contains(&format!("version {refused} was refused")))
        })
        .await;
        assert!(s.last_error.as_deref().unwrap().contains(why), "{what}: {s:?}");
        assert_eq!(s.applied_version, Some(v2), "{what}");
        assert!(
            serves(port, "b"),
            "{what}: the running configuration keeps serving"
        );
    }

    let v3 = store.set(&key(), text(port, &c)).await.unwrap();
    let s = wait_status(&mut status, "a good value after the bad one", |s| {
        s.applied_version == Some(v3)
    })
    .await;
    assert_eq!(s.last_error, None);
    assert!(serves(port, "c"));

    let _ = stop.send(());
    agent.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etcd_outage_keeps_haproxy_serving_and_the_agent_catches_up() {
    let mut etcd = TestServer::etcd().unwrap();
    let scratch = Scratch::new("watch-etcd");
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let port = free_port().unwrap();
    let url = format!("etcd://{}", etcd.address());
    let mut options = AgentOptions::from_sources(
        [
            "--kv".to_string(),
            url.clone(),
            "--key".into(),
            format!("{}/value", key()),
        ],
        |_| None,
    )
    .unwrap();
    options.process = process_options(scratch.path(), free_port().unwrap());
    options.signing_key = Some(signing());
    let (status_tx, mut status) = status_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(run_apply_loop(options, status_tx, async {
        let _ = stopped.await;
    }));

    let writer = vamp_kv::url::connect(&url).await.unwrap();
    let v1 = writer.set(&key(), text(port, &a)).await.unwrap();
    wait_status(&mut status, "the first value applied", |s| {
        s.applied_version == Some(v1)
    })
    .await;
    assert!(serves(port, "a"));

    etcd.stop();
    wait_status(&mut status, "the store unreachable", |s| !s.store_reachable).await;
    assert!(serves(port, "a"), "HAProxy keeps serving while the store is down");
    assert!(status.borrow().haproxy_running);

    etcd.start().unwrap();
    let writer = vamp_kv::url::connect(&url).await.unwrap();
    let v2 = writer.set(&key(), text(port, &b)).await.unwrap();
    let s = wait_status(&mut status, "the value written after the outage", |s| {
        s.applied_version == Some(v2)
    })
    .await;
    assert!(s.store_reachable);
    assert!(serves(port, "b"));

    let _ = stop.send(());
    agent.await.unwrap().unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || get(port).is_none()),
        "HAProxy stops with the agent"
    );
}
