//! The ZooKeeper backend with digest authentication against a real ZooKeeper: the conformance suite through a
//! URL with a user, whose znodes then carry the ACL `auth` (creator only); a client with another password or
//! none can neither read nor overwrite them, and says so.
//!
//! `VAMP_TEST_SKIP=zookeeper` skips these tests; otherwise a server that cannot start fails them.

mod support;

use std::sync::Arc;

use support::{Leased, Shared};
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::testkit::servers::TestServer;

static ZOOKEEPER: Shared = Shared::new("ZooKeeper", TestServer::zookeeper);

async fn as_vamp() -> Arc<Leased<dyn KeyValueStore>> {
    let lease = ZOOKEEPER.lease();
    let url = format!("zk://vamp:digest-secret@{}/digest-conformance", lease.address());
    match vamp_kv::url::connect(&url).await {
        Ok(store) => Arc::new(Leased::new(store, lease)),
        Err(e) => panic!("ZooKeeper at {} is not reachable: {e}", lease.address()),
    }
}

vamp_core::kv_conformance!(zookeeper_digest, as_vamp, skip = "zookeeper");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn znodes_of_a_user_are_closed_to_other_passwords_and_to_anonymous_clients() {
    if vamp_core::testkit::skip("zookeeper") {
        return;
    }
    let lease = ZOOKEEPER.lease();
    let owner = vamp_kv::url::connect(&format!("zk://vamp:digest-secret@{}", lease.address()))
        .await
        .unwrap();
    let key = Key::parse("/vamp-digest/default/gateways/haproxy/2.6/configuration").unwrap();
    owner.set(&key, b"signed by the server".to_vec()).await.unwrap();
    for (who, url) in [
        (
            "another password",
            format!("zk://vamp:wrong-password-4711@{}", lease.address()),
        ),
        ("no credentials", format!("zk://{}", lease.address())),
    ] {
        let other = vamp_kv::url::connect(&url).await.unwrap();
        let read = other.get(&key).await;
        let e = read.expect_err(&format!("{who} read the znode"));
        let message = e.to_string();
        assert!(
            message.contains("auth") || message.contains("Auth"),
            "{who}: {message}"
        );
        assert!(!message.contains("wrong-password-4711"), "{message}");
        assert!(
            other.set(&key, b"the attacker's".to_vec()).await.is_err(),
            "{who} overwrote the znode"
        );
    }
    let back = owner.get(&key).await.unwrap().unwrap();
    assert_eq!(back.value.as_deref(), Some(&b"signed by the server"[..]));
}
