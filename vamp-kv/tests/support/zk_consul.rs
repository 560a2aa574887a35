//! What the ZooKeeper and Consul tests share: a ZooKeeper server used by all cases of one test binary (started on
//! first use, stopped as soon as no case holds a [`Lease`], so nothing outlives the binary), a store wrapper that
//! keeps its server (a lease, or a whole Consul double) for as long as the store lives, and scratch keys.
//!
//! Included with `#[path = "support/zk_consul.rs"] mod zk_consul;`; the Consul double is `support/consul_double.rs`.

#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use futures::stream::BoxStream;
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::testkit::servers::TestServer;
use vamp_core::Result;

struct Shared {
    server: Option<TestServer>,
    users: usize,
}

static ZOOKEEPER: Mutex<Shared> = Mutex::new(Shared {
    server: None,
    users: 0,
});

fn shared() -> MutexGuard<'static, Shared> {
    ZOOKEEPER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A hold on the shared ZooKeeper server; the server stops when the last lease is dropped.
pub struct Lease {
    address: String,
}

impl Lease {
    /// `127.0.0.1:<port>` of the shared server.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut shared = shared();
        shared.users = shared.users.saturating_sub(1);
        if shared.users == 0 {
            shared.server = None;
        }
    }
}

/// Leases the shared ZooKeeper server, starting it when no case runs one; a server that cannot start fails the
/// calling test.
pub fn zookeeper() -> Lease {
    let mut shared = shared();
    if shared.server.is_none() {
        match TestServer::zookeeper() {
            Ok(server) => shared.server = Some(server),
            Err(e) => panic!("ZooKeeper could not be started: {e}"),
        }
    }
    shared.users += 1;
    let address = shared
        .server
        .as_ref()
        .map(TestServer::address)
        .unwrap_or_default();
    Lease { address }
}

/// A store that keeps the server it talks to alive (a [`Lease`] or a whole Consul double): the
/// store is dropped before the server.
pub struct Leased<S, L = Lease> {
    pub store: S,
    pub lease: L,
}

#[async_trait]
impl<S: KeyValueStore, L: Send + Sync> KeyValueStore for Leased<S, L> {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>> {
        self.store.get(key).await
    }

    async fn set(&self, key: &Key, value: Vec<u8>) -> Result<u64> {
        self.store.set(key, value).await
    }

    async fn delete(&self, key: &Key) -> Result<bool> {
        self.store.delete(key).await
    }

    async fn children(&self, key: &Key) -> Result<Vec<String>> {
        self.store.children(key).await
    }

    fn watch(&self, key: &Key) -> BoxStream<'static, Result<Versioned>> {
        self.store.watch(key)
    }
}

/// A key of its own below `/vamp-kv-test/` for one test.
pub fn scratch(prefix: &str) -> Key {
    Key::parse("/vamp-kv-test")
        .and_then(|k| k.join(&vamp_core::testkit::unique(prefix)))
        .unwrap_or_else(|e| panic!("scratch key: {e}"))
}
