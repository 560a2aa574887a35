//! Test support shared by the backend test binaries: one real server per binary, leased by the conformance cases
//! that run at the same time and stopped as soon as none holds it (so no server outlives the binary), and the
//! values the large-value tests write.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use futures::stream::BoxStream;
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::testkit::servers::TestServer;
use vamp_core::Result;

/// A server started by the first lease and stopped when the last lease is dropped.
pub struct Shared {
    start: fn() -> std::result::Result<TestServer, String>,
    state: Mutex<(Option<TestServer>, usize)>,
}

impl Shared {
    /// A shared server made by `start` (e.g. `TestServer::etcd`).
    pub const fn new(start: fn() -> std::result::Result<TestServer, String>) -> Self {
        Shared {
            start,
            state: Mutex::new((None, 0)),
        }
    }

    fn state(&self) -> MutexGuard<'_, (Option<TestServer>, usize)> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A hold on the running server, starting it if no lease holds it. Fails the test when it cannot start.
    pub fn lease(&'static self) -> Lease {
        let mut state = self.state();
        if state.0.is_none() {
            match (self.start)() {
                Ok(server) => state.0 = Some(server),
                Err(e) => panic!("the test server cannot start: {e}"),
            }
        }
        state.1 += 1;
        let address = state.0.as_ref().map(TestServer::address).unwrap_or_default();
        Lease {
            shared: self,
            address,
        }
    }
}

/// A hold on a [`Shared`] server; the server stops when the last one is dropped.
pub struct Lease {
    shared: &'static Shared,
    address: String,
}

impl Lease {
    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        state.1 = state.1.saturating_sub(1);
        if state.1 == 0 {
            state.0 = None;
        }
    }
}

/// A store that keeps its server's lease as long as it lives.
pub struct Leased<S: ?Sized> {
    _lease: Lease,
    store: Arc<S>,
}

impl<S: ?Sized> Leased<S> {
    /// `store`, holding `lease`.
    pub fn new(store: Arc<S>, lease: Lease) -> Self {
        Leased { _lease: lease, store }
    }
}

#[async_trait]
impl<S: KeyValueStore + ?Sized> KeyValueStore for Leased<S> {
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

/// A key of its own under `/vamp/<random>/gateways/haproxy/2.6/configuration`.
pub fn configuration_key() -> Key {
    let namespace = vamp_core::testkit::unique("kvtest");
    match vamp_core::kv::haproxy_configuration_key(&namespace, "2.6") {
        Ok(key) => key,
        Err(e) => panic!("building a key: {e}"),
    }
}

/// About `bytes` of HAProxy configuration text with distinct backends, as a large gateway set renders it.
pub fn haproxy_like(bytes: usize) -> Vec<u8> {
    let mut text = String::with_capacity(bytes + 256);
    let mut i = 0u64;
    while text.len() < bytes {
        text.push_str(&format!(
            "backend route-{i:06}\n  mode http\n  balance roundrobin\n  option httpchk GET /health\n  \
             server s{i}-a 10.{}.{}.{}:8080 weight {} check\n  server s{i}-b 10.{}.{}.{}:8081 weight {} check\n\n",
            i / 65536 % 256,
            i / 256 % 256,
            i % 256,
            i % 100,
            (i + 7) / 65536 % 256,
            (i + 7) / 256 % 256,
            (i + 7) % 256,
            100 - i % 100
        ));
        i += 1;
    }
    text.truncate(bytes);
    text.into_bytes()
}

/// `bytes` of pseudo-random bytes that no compressor shrinks.
pub fn incompressible(bytes: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut out = Vec::with_capacity(bytes);
    while out.len() < bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(bytes);
    out
}

/// Reads `items` until an `Ok` item holds `expected`; every `Err` item on the way must be retryable.
pub async fn expect_value(
    items: &mut tokio::sync::mpsc::UnboundedReceiver<Result<Versioned>>,
    expected: &[u8],
    within: std::time::Duration,
) -> Versioned {
    let wait = async {
        while let Some(item) = items.recv().await {
            match item {
                Ok(v) if v.value.as_deref() == Some(expected) => return v,
                Ok(_) => {}
                Err(e) => assert!(e.is_retryable(), "the watch reported a non-retryable error: {e}"),
            }
        }
        panic!("the watch ended before it delivered the expected value");
    };
    match tokio::time::timeout(within, wait).await {
        Ok(v) => v,
        Err(_) => panic!(
            "the watch did not deliver the expected value ({} bytes) within {within:?}",
            expected.len()
        ),
    }
}

/// Forwards every item of a watch of `key` to a channel, from a task of its own (a watcher that keeps running).
pub fn spawn_watcher(
    store: &dyn KeyValueStore,
    key: &Key,
) -> (
    tokio::sync::mpsc::UnboundedReceiver<Result<Versioned>>,
    tokio::task::JoinHandle<()>,
) {
    use futures::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watch = store.watch(key);
    let task = tokio::spawn(async move {
        while let Some(item) = watch.next().await {
            if tx.send(item).is_err() {
                break;
            }
        }
    });
    (rx, task)
}

/// An 8 MiB HAProxy-like configuration and 3 MiB of incompressible bytes round-trip through `store` by `get`
/// and by a watch.
pub async fn large_values_round_trip(store: &dyn KeyValueStore) -> Key {
    let key = configuration_key();
    let (mut items, watcher) = spawn_watcher(store, &key);
    let within = std::time::Duration::from_secs(30);
    for value in [haproxy_like(8 * 1024 * 1024), incompressible(3 * 1024 * 1024)] {
        let version = store.set(&key, value.clone()).await.expect("set a large value");
        let back = store.get(&key).await.expect("get a large value");
        assert!(
            back.as_ref().and_then(|v| v.value.as_deref()) == Some(&value[..]),
            "a {} byte value did not read back unchanged",
            value.len()
        );
        assert_eq!(back.map(|v| v.version), Some(version));
        let seen = expect_value(&mut items, &value, within).await;
        assert_eq!(seen.version, version);
    }
    watcher.abort();
    key
}

/// The fault scenario: a watcher runs; the server stops for 10 s, during which `set` and `get` fail with a
/// retryable error naming `backend`; the server starts again; the final value written then reaches the watcher.
pub async fn watch_survives_an_outage(server: &mut TestServer, url: &str, backend: &str) {
    use std::time::Duration;
    use tokio::time::Instant;
    let store = vamp_kv::url::connect(url).await.expect("connect");
    let key = configuration_key();
    store
        .set(&key, b"before".to_vec())
        .await
        .expect("set before the outage");
    let (mut items, watcher) = spawn_watcher(&*store, &key);
    expect_value(&mut items, b"before", Duration::from_secs(10)).await;

    tokio::task::block_in_place(|| server.stop());
    let stopped = Instant::now();
    for e in [
        store.set(&key, b"while down".to_vec()).await.err(),
        store.get(&key).await.err(),
    ] {
        let e = e.expect("a call while the server is down must fail");
        assert!(e.is_retryable(), "not retryable: {e} ({:?})", e.kind());
        assert!(
            e.message().contains(backend),
            "the error does not name {backend}: {e}"
        );
    }
    let failed_within = stopped.elapsed();
    assert!(
        failed_within < Duration::from_secs(10),
        "calls while the server is down took {failed_within:?} to fail"
    );
    tokio::time::sleep_until(stopped + Duration::from_secs(10)).await;
    tokio::task::block_in_place(|| server.start()).expect("restart the server");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.set(&key, b"final".to_vec()).await {
            Ok(_) => break,
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the final set failed after the restart: {e}"),
        }
    }
    expect_value(&mut items, b"final", Duration::from_secs(15)).await;
    drop(store);
    match tokio::time::timeout(Duration::from_secs(10), watcher).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("the watcher task failed: {e}"),
        Err(_) => panic!("the watch did not end after its store was dropped"),
    }
}
