//! Watch latency and set/get throughput of the vamp-kv stores, beside the bare server measured with its own client
//! in the same run. One command: `cargo bench -p vamp-kv --bench kv` (starts its own servers through the testkit;
//! `VAMP_TEST_SKIP=redis` leaves a backend out).
//!
//! For each backend a `<backend>_rows` function starts the server and returns two rows: `bare` (the raw client:
//! put, then the server's own change notification) and `store` (the `Arc<dyn KeyValueStore>` that
//! `vamp_kv::url::connect` returns, so LargeValues included). Watch latency is the time from just before a set
//! until the watcher holds the new value, over [`WATCH_ROUNDS`] sequential sets of small values. Throughput is
//! sets and gets of small values over 100 keys, one at a time and [`CONCURRENCY`] at a time. To add a backend,
//! write its `<backend>_rows` and call it from `main`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::testkit::servers::TestServer;
use vamp_core::testkit::{skip, unique};

/// Sets whose watch latency is measured, per row.
const WATCH_ROUNDS: usize = 500;
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
    set_sequential: f64,
    set_concurrent: f64,
    get_sequential: f64,
    get_concurrent: f64,
}

/// What a watcher saw: the value when the notification carries it (`None` when it only says "changed"), and when.
type Seen = (Option<Vec<u8>>, Instant);

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("no tokio runtime: {e}"),
    };
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
        "\nvamp-kv: {cpu}, {cores} cores; {WATCH_ROUNDS} watched sets, {OPS} ops per throughput figure\n"
    );
    println!(
        "| backend | client | watch p50 | watch p99 | set ops/s | set ops/s ×{CONCURRENCY} | get ops/s | get ops/s ×{CONCURRENCY} |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.2} ms | {:.2} ms | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.backend,
            r.client,
            ms(r.p50),
            ms(r.p99),
            r.set_sequential,
            r.set_concurrent,
            r.get_sequential,
            r.get_concurrent
        );
    }
    println!();
    for pair in rows.chunks(2) {
        if let [bare, store] = pair {
            let (r50, r99) = (ms(store.p50) / ms(bare.p50), ms(store.p99) / ms(bare.p99));
            let verdict = if r50 <= 1.5 && r99 <= 1.5 {
                "met"
            } else {
                "NOT met"
            };
            println!(
                "{}: store/bare watch latency p50 {r50:.2}×, p99 {r99:.2}× (goal ≤ 1.5×: {verdict})",
                store.backend
            );
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let i = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or_default()
}

/// Sets `WATCH_ROUNDS` values one after the other with `set`, each time waiting until `seen` reports it; the
/// 50th and 99th percentile of set-to-seen.
async fn watch_latency<F, Fut>(mut set: F, seen: &mut UnboundedReceiver<Seen>) -> (Duration, Duration)
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = ()>,
{
    while seen.try_recv().is_ok() {}
    let mut samples = Vec::with_capacity(WATCH_ROUNDS);
    for round in 0..WATCH_ROUNDS {
        let value = format!("value-{round}").into_bytes();
        let start = Instant::now();
        set(value.clone()).await;
        loop {
            let Some((got, at)) = seen.recv().await else {
                panic!("the watcher stopped");
            };
            if got.as_ref().is_none_or(|g| *g == value) {
                samples.push(at.duration_since(start));
                break;
            }
        }
    }
    samples.sort();
    (percentile(&samples, 50), percentile(&samples, 99))
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

fn keys(prefix: &str) -> Vec<Key> {
    let base = Key::parse(&format!("/vamp-bench/{}", unique(prefix)));
    (0..KEYS)
        .map(|i| base.as_ref().ok().and_then(|b| b.join(&format!("k{i}")).ok()))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_else(|| panic!("bench keys"))
}

/// The `store` row of any backend: a watcher task on one key, then the sets it waits for, then throughput.
async fn store_row(backend: &'static str, url: &str) -> Row {
    let store: Arc<dyn KeyValueStore> = match vamp_kv::url::connect(url).await {
        Ok(store) => store,
        Err(e) => panic!("{backend}: cannot connect to {url}: {e}"),
    };
    let key = keys("watch").swap_remove(0);
    let (tx, mut seen) = unbounded_channel();
    let mut watch = store.watch(&key);
    let watcher = tokio::spawn(async move {
        while let Some(item) = watch.next().await {
            if let Ok(v) = item {
                if tx.send((v.value, Instant::now())).is_err() {
                    break;
                }
            }
        }
    });
    let _ = seen.recv().await;
    let (p50, p99) = watch_latency(
        |value| {
            let (store, key) = (store.clone(), key.clone());
            async move {
                if let Err(e) = store.set(&key, value).await {
                    panic!("{backend} store set: {e}");
                }
            }
        },
        &mut seen,
    )
    .await;
    watcher.abort();
    let keys = keys("ops");
    let set = |i: usize| {
        let (store, key) = (store.clone(), keys[i % KEYS].clone());
        async move {
            if let Err(e) = store.set(&key, format!("v{i}").into_bytes()).await {
                panic!("{backend} store set: {e}");
            }
        }
    };
    let get = |i: usize| {
        let (store, key) = (store.clone(), keys[i % KEYS].clone());
        async move {
            if let Err(e) = store.get(&key).await {
                panic!("{backend} store get: {e}");
            }
        }
    };
    Row {
        backend,
        client: "store",
        p50,
        p99,
        set_sequential: throughput(1, set).await,
        set_concurrent: throughput(CONCURRENCY, set).await,
        get_sequential: throughput(1, get).await,
        get_concurrent: throughput(CONCURRENCY, get).await,
    }
}

fn start(backend: &str, server: Result<TestServer, String>) -> TestServer {
    match server {
        Ok(server) => server,
        Err(e) => panic!("{backend}: the server cannot start: {e}"),
    }
}

async fn etcd_rows() -> Vec<Row> {
    let server = start("etcd", TestServer::etcd());
    let bare = etcd_bare(&server.address()).await;
    let store = store_row("etcd", &format!("etcd://{}", server.address())).await;
    vec![bare, store]
}

/// etcd-client alone: put, then the event on an etcd watch of the key.
async fn etcd_bare(address: &str) -> Row {
    let fail = |e: etcd_client::Error| -> ! { panic!("etcd bare: {e}") };
    let client = etcd_client::Client::connect([format!("http://{address}")], None)
        .await
        .unwrap_or_else(|e| fail(e));
    let kv = client.kv_client();
    let key = keys("bare").swap_remove(0);
    let mut watch = client
        .watch_client()
        .watch(key.as_str(), None)
        .await
        .unwrap_or_else(|e| fail(e));
    let (tx, mut seen): (UnboundedSender<Seen>, _) = unbounded_channel();
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
    let (p50, p99) = watch_latency(
        |value| {
            let (mut kv, key) = (kv.clone(), key.clone());
            async move {
                kv.put(key.as_str(), value, None)
                    .await
                    .unwrap_or_else(|e| fail(e));
            }
        },
        &mut seen,
    )
    .await;
    watcher.abort();
    let keys = keys("bare-ops");
    let set = |i: usize| {
        let (mut kv, key) = (kv.clone(), keys[i % KEYS].clone());
        async move {
            kv.put(key.as_str(), format!("v{i}"), None)
                .await
                .unwrap_or_else(|e| fail(e));
        }
    };
    let get = |i: usize| {
        let (mut kv, key) = (kv.clone(), keys[i % KEYS].clone());
        async move {
            kv.get(key.as_str(), None).await.unwrap_or_else(|e| fail(e));
        }
    };
    Row {
        backend: "etcd",
        client: "bare",
        p50,
        p99,
        set_sequential: throughput(1, set).await,
        set_concurrent: throughput(CONCURRENCY, set).await,
        get_sequential: throughput(1, get).await,
        get_concurrent: throughput(CONCURRENCY, get).await,
    }
}

async fn redis_rows() -> Vec<Row> {
    let server = start("redis", TestServer::redis());
    let bare = redis_bare(&server.address()).await;
    let store = store_row("redis", &format!("redis://{}", server.address())).await;
    vec![bare, store]
}

/// The redis crate alone: SET, then the keyspace notification of the key (`notify-keyspace-events K$`).
async fn redis_bare(address: &str) -> Row {
    let fail = |e: redis::RedisError| -> ! { panic!("redis bare: {e}") };
    let client = redis::Client::open(format!("redis://{address}/0")).unwrap_or_else(|e| fail(e));
    let connection = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| fail(e));
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("K$")
        .query_async(&mut connection.clone())
        .await
        .unwrap_or_else(|e| fail(e));
    let key = keys("bare").swap_remove(0);
    let mut pubsub = client.get_async_pubsub().await.unwrap_or_else(|e| fail(e));
    pubsub
        .subscribe(format!("__keyspace@0__:{key}"))
        .await
        .unwrap_or_else(|e| fail(e));
    let mut messages = pubsub.into_on_message();
    let (tx, mut seen): (UnboundedSender<Seen>, _) = unbounded_channel();
    let watcher = tokio::spawn(async move {
        while messages.next().await.is_some() {
            if tx.send((None, Instant::now())).is_err() {
                return;
            }
        }
    });
    let (p50, p99) = watch_latency(
        |value| {
            let (mut c, key) = (connection.clone(), key.clone());
            async move {
                let () = redis::cmd("SET")
                    .arg(key.as_str())
                    .arg(value)
                    .query_async(&mut c)
                    .await
                    .unwrap_or_else(|e| fail(e));
            }
        },
        &mut seen,
    )
    .await;
    watcher.abort();
    let keys = keys("bare-ops");
    let set = |i: usize| {
        let (mut c, key) = (connection.clone(), keys[i % KEYS].clone());
        async move {
            let () = redis::cmd("SET")
                .arg(key.as_str())
                .arg(format!("v{i}"))
                .query_async(&mut c)
                .await
                .unwrap_or_else(|e| fail(e));
        }
    };
    let get = |i: usize| {
        let (mut c, key) = (connection.clone(), keys[i % KEYS].clone());
        async move {
            let _: Option<Vec<u8>> = redis::cmd("GET")
                .arg(key.as_str())
                .query_async(&mut c)
                .await
                .unwrap_or_else(|e| fail(e));
        }
    };
    Row {
        backend: "redis",
        client: "bare",
        p50,
        p99,
        set_sequential: throughput(1, set).await,
        set_concurrent: throughput(CONCURRENCY, set).await,
        get_sequential: throughput(1, get).await,
        get_concurrent: throughput(CONCURRENCY, get).await,
    }
}
