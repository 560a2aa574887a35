//! Watch latency and set/get throughput of the vamp-kv stores, beside the bare server measured with its own client
//! in the same run. One command: `cargo bench -p vamp-kv --bench kv` (starts its own servers through the testkit;
//! `VAMP_TEST_SKIP=redis` leaves a backend out).
//!
//! For each backend a `<backend>_rows` function starts the server and returns two rows: `bare` (the raw client:
//! put, then the server's own change notification) and `store` (the `Arc<dyn KeyValueStore>` that
//! `vamp_kv::url::connect` returns, LargeValues included). Watch latency is the time from just before a set until
//! the watcher holds the change, over [`WATCH_ROUNDS`] sequential sets of small values per client; bare and store
//! rounds alternate, so both see the same background load. Throughput is sets and gets of small values over
//! [`KEYS`] keys, one at a time and [`CONCURRENCY`] at a time. To add a backend, write a bare [`Probe`] and a
//! `<backend>_rows` like [`etcd_rows`], and call it from `main`.

#[path = "support/watch_latency.rs"]
mod watch_latency;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use futures::FutureExt;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::testkit::servers::TestServer;
use vamp_core::testkit::{skip, unique};
use watch_latency::{ms, Probe, Seen, Write};

/// Sets whose watch latency is measured, per client.
const WATCH_ROUNDS: usize = 1000;
/// Operations per throughput figure.
const OPS: usize = 1000;
/// Operations in flight at once for the concurrent figures.
const CONCURRENCY: usize = 16;
/// Distinct keys the throughput operations cycle through.
const KEYS: usize = 100;

/// One line of the table.
struct Row {
    backend: &'static str,
    client: &'static str,
    p50: Duration,
    p99: Duration,
    /// Sets one at a time, sets `CONCURRENCY` at a time, gets one at a time, gets `CONCURRENCY` at a time (ops/s).
    ops: [f64; 4],
}

fn main() {
    let runtime = watch_latency::runtime();
    let mut rows = Vec::new();
    if !skip("etcd") {
        rows.extend(runtime.block_on(etcd_rows()));
    }
    if !skip("redis") {
        rows.extend(runtime.block_on(redis_rows()));
    }
    print_table(&rows);
}

fn print_table(rows: &[Row]) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "\nvamp-kv: {cpu}, {cores} cores; {WATCH_ROUNDS} watched sets per client, {OPS} ops per throughput figure\n"
    );
    println!(
        "| backend | client | watch p50 | watch p99 | set ops/s | set ops/s ×{CONCURRENCY} | get ops/s | get ops/s ×{CONCURRENCY} |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let [a, b, c, d] = r.ops;
        println!(
            "| {} | {} | {:.3} ms | {:.3} ms | {a:.0} | {b:.0} | {c:.0} | {d:.0} |",
            r.backend,
            r.client,
            ms(r.p50),
            ms(r.p99)
        );
    }
    println!();
    for pair in rows.chunks(2) {
        if let [bare, store] = pair {
            let (r50, r99) = (ms(store.p50) / ms(bare.p50), ms(store.p99) / ms(bare.p99));
            let verdict = |r: f64| if r <= 1.5 { "met" } else { "NOT met" };
            println!(
                "{}: store/bare watch latency p50 {r50:.2}× ({}), p99 {r99:.2}× ({}); goal ≤ 1.5×",
                store.backend,
                verdict(r50),
                verdict(r99)
            );
        }
    }
}

/// Runs `WATCH_ROUNDS` rounds of each probe, alternating.
async fn interleaved(backend: &str, bare: &mut Probe, store: &mut Probe) {
    for round in 0..WATCH_ROUNDS {
        let value = format!("value-{round}").into_bytes();
        if let Err(e) = bare.round(value.clone(), true).await {
            panic!("{backend} bare, round {round}: {e}");
        }
        if let Err(e) = store.round(value, true).await {
            panic!("{backend} store, round {round}: {e}");
        }
    }
}

/// Operations per second of `OPS` calls of `op`, `concurrency` at a time.
async fn throughput<F, Fut>(concurrency: usize, op: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    stream::iter(0..OPS)
        .map(op)
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
    OPS as f64 / start.elapsed().as_secs_f64()
}

/// The four throughput figures of a client whose set and get are `set` and `get`.
async fn all_throughput<S, SF, G, GF>(set: S, get: G) -> [f64; 4]
where
    S: Fn(usize) -> SF + Copy,
    SF: Future<Output = ()>,
    G: Fn(usize) -> GF + Copy,
    GF: Future<Output = ()>,
{
    [
        throughput(1, set).await,
        throughput(CONCURRENCY, set).await,
        throughput(1, get).await,
        throughput(CONCURRENCY, get).await,
    ]
}

fn keys(prefix: &str) -> Vec<Key> {
    let base = Key::parse(&format!("/vamp-bench/{}", unique(prefix)));
    (0..KEYS)
        .map(|i| base.as_ref().ok().and_then(|b| b.join(&format!("k{i}")).ok()))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_else(|| panic!("bench keys"))
}

fn start(backend: &str, server: Result<TestServer, String>) -> TestServer {
    match server {
        Ok(server) => server,
        Err(e) => panic!("{backend}: the server cannot start: {e}"),
    }
}

async fn connect(backend: &str, url: &str) -> Arc<dyn KeyValueStore> {
    match vamp_kv::url::connect(url).await {
        Ok(store) => store,
        Err(e) => panic!("{backend}: cannot connect to {url}: {e}"),
    }
}

/// The store's probe: its own watch of a key, and its own `set`.
async fn store_probe(backend: &'static str, store: Arc<dyn KeyValueStore>) -> Probe {
    let key = keys("watch").swap_remove(0);
    match watch_latency::store_probe(store, key).await {
        Ok(probe) => probe,
        Err(e) => panic!("{backend} store watch: {e}"),
    }
}

async fn store_throughput(backend: &'static str, store: &Arc<dyn KeyValueStore>) -> [f64; 4] {
    let keys = keys("ops");
    let keys = &keys;
    all_throughput(
        |i: usize| {
            let (store, key) = (store.clone(), keys[i % KEYS].clone());
            async move {
                if let Err(e) = store.set(&key, format!("v{i}").into_bytes()).await {
                    panic!("{backend} store set: {e}");
                }
            }
        },
        |i: usize| {
            let (store, key) = (store.clone(), keys[i % KEYS].clone());
            async move {
                if let Err(e) = store.get(&key).await {
                    panic!("{backend} store get: {e}");
                }
            }
        },
    )
    .await
}

async fn etcd_rows() -> Vec<Row> {
    let server = start("etcd", TestServer::etcd());
    let client = etcd_client::Client::connect([format!("http://{}", server.address())], None)
        .await
        .unwrap_or_else(|e| etcd_failed(e));
    let store = connect("etcd", &format!("etcd://{}", server.address())).await;
    let mut bare = etcd_bare_probe(&client).await;
    let mut probe = store_probe("etcd", store.clone()).await;
    interleaved("etcd", &mut bare, &mut probe).await;
    let ((b50, b99), (s50, s99)) = (bare.finish(), probe.finish());
    let kv = client.kv_client();
    let keys = keys("bare-ops");
    let keys = &keys;
    let bare_ops = all_throughput(
        |i: usize| {
            let (mut kv, key) = (kv.clone(), keys[i % KEYS].clone());
            async move {
                kv.put(key.as_str(), format!("v{i}"), None)
                    .await
                    .unwrap_or_else(|e| etcd_failed(e));
            }
        },
        |i: usize| {
            let (mut kv, key) = (kv.clone(), keys[i % KEYS].clone());
            async move {
                kv.get(key.as_str(), None)
                    .await
                    .unwrap_or_else(|e| etcd_failed(e));
            }
        },
    )
    .await;
    let store_ops = store_throughput("etcd", &store).await;
    vec![
        Row {
            backend: "etcd",
            client: "bare",
            p50: b50,
            p99: b99,
            ops: bare_ops,
        },
        Row {
            backend: "etcd",
            client: "store",
            p50: s50,
            p99: s99,
            ops: store_ops,
        },
    ]
}

fn etcd_failed(e: etcd_client::Error) -> ! {
    panic!("etcd bare: {e}")
}

/// etcd-client alone: put, then the event on an etcd watch of the key.
async fn etcd_bare_probe(client: &etcd_client::Client) -> Probe {
    let key = keys("bare").swap_remove(0);
    let mut watch = client
        .watch_client()
        .watch(key.as_str(), None)
        .await
        .unwrap_or_else(|e| etcd_failed(e));
    let (tx, seen): (UnboundedSender<Seen>, _) = unbounded_channel();
    let watcher = tokio::spawn(async move {
        while let Ok(Some(response)) = watch.message().await {
            for event in response.events() {
                let value = event.kv().map(|kv| kv.value().to_vec());
                if tx.send((value, Instant::now())).is_err() {
                    return;
                }
            }
        }
    });
    let kv = client.kv_client();
    let write: Write = Box::new(move |value: Vec<u8>| {
        let (mut kv, key) = (kv.clone(), key.clone());
        async move {
            kv.put(key.as_str(), value, None).await?;
            Ok(())
        }
        .boxed()
    });
    Probe::new(write, seen, watcher)
}

async fn redis_rows() -> Vec<Row> {
    let server = start("redis", TestServer::redis());
    let client =
        redis::Client::open(format!("redis://{}/0", server.address())).unwrap_or_else(|e| redis_failed(e));
    let connection = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| redis_failed(e));
    let store = connect("redis", &format!("redis://{}", server.address())).await;
    let mut bare = redis_bare_probe(&client, &connection).await;
    let mut probe = store_probe("redis", store.clone()).await;
    interleaved("redis", &mut bare, &mut probe).await;
    let ((b50, b99), (s50, s99)) = (bare.finish(), probe.finish());
    let keys = keys("bare-ops");
    let keys = &keys;
    let connection = &connection;
    let bare_ops = all_throughput(
        |i: usize| {
            let (mut c, key) = (connection.clone(), keys[i % KEYS].clone());
            async move {
                let () = redis::cmd("SET")
                    .arg(key.as_str())
                    .arg(format!("v{i}"))
                    .query_async(&mut c)
                    .await
                    .unwrap_or_else(|e| redis_failed(e));
            }
        },
        |i: usize| {
            let (mut c, key) = (connection.clone(), keys[i % KEYS].clone());
            async move {
                let _: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(key.as_str())
                    .query_async(&mut c)
                    .await
                    .unwrap_or_else(|e| redis_failed(e));
            }
        },
    )
    .await;
    let store_ops = store_throughput("redis", &store).await;
    vec![
        Row {
            backend: "redis",
            client: "bare",
            p50: b50,
            p99: b99,
            ops: bare_ops,
        },
        Row {
            backend: "redis",
            client: "store",
            p50: s50,
            p99: s99,
            ops: store_ops,
        },
    ]
}

fn redis_failed(e: redis::RedisError) -> ! {
    panic!("redis bare: {e}")
}

/// The redis crate alone: SET, then the keyspace notification of the key (`notify-keyspace-events K$`).
async fn redis_bare_probe(client: &redis::Client, connection: &redis::aio::MultiplexedConnection) -> Probe {
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("K$")
        .query_async(&mut connection.clone())
        .await
        .unwrap_or_else(|e| redis_failed(e));
    let key = keys("bare").swap_remove(0);
    let mut pubsub = client
        .get_async_pubsub()
        .await
        .unwrap_or_else(|e| redis_failed(e));
    pubsub
        .subscribe(format!("__keyspace@0__:{key}"))
        .await
        .unwrap_or_else(|e| redis_failed(e));
    let mut messages = pubsub.into_on_message();
    let (tx, seen): (UnboundedSender<Seen>, _) = unbounded_channel();
    let watcher = tokio::spawn(async move {
        while messages.next().await.is_some() {
            if tx.send((None, Instant::now())).is_err() {
                return;
            }
        }
    });
    let connection = connection.clone();
    let write: Write = Box::new(move |value: Vec<u8>| {
        let (mut c, key) = (connection.clone(), key.clone());
        async move {
            let () = redis::cmd("SET")
                .arg(key.as_str())
                .arg(value)
                .query_async(&mut c)
                .await?;
            Ok(())
        }
        .boxed()
    });
    Probe::new(write, seen, watcher)
}
