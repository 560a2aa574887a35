//! Test support shared by the backend test binaries: one server per binary ([`Shared`]), leased by the cases
//! that run at the same time and stopped as soon as none holds it (so no server outlives the binary); stores that
//! keep their server alive ([`Leased`]); keys and the values the large-value tests write; and the checks that
//! every backend runs: the conformance cases within one write, the outage under a running watch, the per-write
//! limit, bad keys, a watch ending with its store, and connecting to nothing.
//!
//! The Consul double is `support/consul_double.rs`, included by the Consul test binaries with `#[path]`.

#![allow(dead_code, unused_macros)]

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::testkit::servers::TestServer;
use vamp_core::{ErrorKind, Result};

/// A server started by the first lease and stopped when the last lease is dropped.
pub struct Shared {
    name: &'static str,
    start: fn() -> std::result::Result<TestServer, String>,
    state: Mutex<(Option<TestServer>, usize)>,
}

impl Shared {
    /// A shared `name` server made by `start` (e.g. `TestServer::etcd`).
    pub const fn new(name: &'static str, start: fn() -> std::result::Result<TestServer, String>) -> Self {
        Shared {
            name,
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
                Err(e) => panic!("{} could not be started: {e}", self.name),
            }
        }
        state.1 += 1;
        let address = state.0.as_ref().map(TestServer::address).unwrap_or_default();
        let certs = state.0.as_ref().and_then(TestServer::certs).cloned();
        Lease {
            shared: self,
            address,
            certs,
        }
    }
}

/// A hold on a [`Shared`] server; the server stops when the last one is dropped.
pub struct Lease {
    shared: &'static Shared,
    address: String,
    certs: Option<vamp_core::testkit::certs::TestCerts>,
}

impl Lease {
    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The server's certificates, for a server reached over TLS.
    pub fn certs(&self) -> Option<&vamp_core::testkit::certs::TestCerts> {
        self.certs.as_ref()
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

/// A store that keeps what its server needs (a [`Lease`], or a whole Consul double) for as long as it lives; the
/// store is dropped first.
pub struct Leased<S: ?Sized, L = Lease> {
    store: Arc<S>,
    /// What keeps the server running.
    pub lease: L,
}

impl<S: ?Sized, L> Leased<S, L> {
    /// `store`, holding `lease`.
    pub fn new(store: impl Into<Arc<S>>, lease: L) -> Self {
        Leased {
            store: store.into(),
            lease,
        }
    }
}

#[async_trait]
impl<S: KeyValueStore + ?Sized, L: Send + Sync> KeyValueStore for Leased<S, L> {
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

/// The KeyValueStore conformance cases of `vamp_core::kv_conformance!` except `a_large_value_round_trips` (4 MiB),
/// for a store that refuses a value that large in one write (that case runs through `LargeValues` instead):
/// `kv_conformance_within_one_write!(module, constructor, "backend")`, each case a test `module::<case>`.
macro_rules! kv_conformance_within_one_write {
    ($name:ident, $make:expr, $skip:literal) => {
        vamp_core::__vamp_conformance_tests!(kv, $name, [$skip], subject = $make => (&*subject), [
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
    };
}
#[allow(unused_imports)]
pub(crate) use kv_conformance_within_one_write;

/// A key of its own below `/vamp-kv-test/` for one test.
pub fn scratch(prefix: &str) -> Key {
    Key::parse("/vamp-kv-test")
        .and_then(|k| k.join(&vamp_core::testkit::unique(prefix)))
        .unwrap_or_else(|e| panic!("scratch key: {e}"))
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

/// A server the outage test stops and starts again, on the same address with the same data.
pub trait Restartable {
    /// Stops the server; its clients see it gone.
    fn stop(&mut self);
    /// Starts it again; fails the test when it cannot.
    fn start(&mut self);
}

impl Restartable for TestServer {
    fn stop(&mut self) {
        TestServer::stop(self);
    }

    fn start(&mut self) {
        if let Err(e) = TestServer::start(self) {
            panic!("the server does not start again: {e}");
        }
    }
}

/// The fault scenario, on a store of `server` whose errors name `backend`:
/// 1. a watcher runs; its first item is the current value;
/// 2. the server stops for 10 s; meanwhile `set` and `get` fail, within 10 s together, with a retryable error
///    naming `backend`;
/// 3. the server starts again; the final value is written, retried while the store is still `Unavailable` for
///    up to `rewrite_within` (zero: the first write after the restart must succeed);
/// 4. the watcher delivers the final value with its version within 15 s, every error on the way retryable;
/// 5. the watch ends within 10 s once the store is dropped.
pub async fn watch_survives_an_outage(
    store: Arc<dyn KeyValueStore>,
    server: &mut dyn Restartable,
    backend: &str,
    rewrite_within: Duration,
) {
    use tokio::time::{timeout, Instant};
    let key = configuration_key();
    store
        .set(&key, b"before".to_vec())
        .await
        .expect("set before the outage");
    let (mut items, watcher) = spawn_watcher(&*store, &key);
    let first = timeout(Duration::from_secs(10), items.recv())
        .await
        .expect("the watch delivers its first item within 10 s")
        .expect("the watch ended before its first item")
        .expect("the first item is the current value, not an error");
    assert_eq!(first.value.as_deref(), Some(&b"before"[..]));

    tokio::task::block_in_place(|| server.stop());
    let stopped = Instant::now();
    let within = Duration::from_secs(10);
    let set = timeout(within, store.set(&key, b"while down".to_vec())).await;
    let get = timeout(within, store.get(&key)).await;
    for (call, outcome) in [("set", set.map(|r| r.err())), ("get", get.map(|r| r.err()))] {
        let e = outcome
            .unwrap_or_else(|_| panic!("a {call} while the server is down must return"))
            .unwrap_or_else(|| panic!("a {call} while the server is down must fail"));
        assert!(e.is_retryable(), "not retryable: {e} ({:?})", e.kind());
        assert!(
            e.message().contains(backend),
            "the error does not name {backend}: {e}"
        );
    }
    let failed_within = stopped.elapsed();
    assert!(
        failed_within < within,
        "calls while the server is down took {failed_within:?} to fail"
    );
    tokio::time::sleep_until(stopped + Duration::from_secs(10)).await;
    tokio::task::block_in_place(|| server.start());

    let deadline = Instant::now() + rewrite_within;
    let version = loop {
        match store.set(&key, b"final".to_vec()).await {
            Ok(version) => break version,
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the final set failed after the restart: {e}"),
        }
    };
    let delivered = expect_value(&mut items, b"final", Duration::from_secs(15)).await;
    assert_eq!(delivered.version, version);
    drop(store);
    match timeout(Duration::from_secs(10), watcher).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("the watcher task failed: {e}"),
        Err(_) => panic!("the watch did not end after its store was dropped"),
    }
}

/// A watch delivers the current value first and ends once `store` (the only holder) is dropped.
pub async fn a_watch_ends_with_its_store<S: KeyValueStore + ?Sized>(store: Arc<S>) {
    use futures::StreamExt;
    let mut watch = store.watch(&scratch("ends"));
    assert!(watch.next().await.is_some_and(|item| item.is_ok()));
    drop(store);
    let end = tokio::time::timeout(Duration::from_secs(10), watch.next()).await;
    assert!(
        matches!(end, Ok(None)),
        "the stream must end once the store is gone"
    );
}

/// A value of `limit` bytes is stored and reads back; one byte more is refused with `Invalid` naming
/// `LargeValues`.
pub async fn the_per_write_limit_holds(store: &dyn KeyValueStore, limit: usize) {
    let key = scratch("limit");
    let err = store.set(&key, vec![7u8; limit + 1]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.message().contains("LargeValues"), "{err}");
    let at_limit = vec![7u8; limit];
    store
        .set(&key, at_limit.clone())
        .await
        .expect("a value at the limit fits");
    assert_eq!(
        store.get(&key).await.unwrap().and_then(|v| v.value),
        Some(at_limit)
    );
}

/// Keys that break the key rules, with what the error says about each.
pub const BAD_KEYS: [(&str, &str); 3] = [
    ("/vamp/../etc", "'..'"),
    ("/vamp//x", "empty"),
    ("/vamp/a\u{7}b", "control character"),
];

/// Each of `cases` (a key, what its error says) is refused with `Invalid` before any backend sees it.
pub fn bad_keys_are_invalid(cases: &[(&str, &str)]) {
    for (bad, says) in cases {
        let e = Key::parse(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{bad:?}");
        assert!(e.message().contains(says), "{bad:?}: {e}");
    }
}

/// A store from `vamp_kv::url::connect` refuses keys below the large-value layer's reserved root.
pub async fn the_reserved_root_is_refused(store: &dyn KeyValueStore) {
    let reserved = Key::parse(&format!("/{}/x", vamp_kv::large::RESERVED_ROOT)).unwrap();
    let e = store.set(&reserved, b"x".to_vec()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("reserved"), "{e}");
}

/// Connecting (through `connect`, given `127.0.0.1:<port>`) to a port nothing listens on fails with a retryable
/// error naming `backend`.
pub async fn connecting_to_nothing_is_retryable<T, F, Fut>(backend: &str, connect: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let port = vamp_core::testkit::servers::free_port().expect("a free port");
    let e = connect(format!("127.0.0.1:{port}"))
        .await
        .err()
        .expect("nothing listens there");
    assert!(e.is_retryable(), "{e}");
    assert!(e.message().contains(backend), "{e}");
}
