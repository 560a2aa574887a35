//! Watch latency and throughput of the ZooKeeper store against a real ZooKeeper, and of the Consul store against
//! the Consul double, each beside the bare figure measured in the same run with a raw client.
//!
//! `cargo bench -p vamp-kv --bench kv_zk_consul` starts its own ZooKeeper (testkit) and double and prints a table:
//! - watch latency: from just before a `set` of a 1 KiB value to the moment a running watch delivers it, over
//!   `ROUNDS` sets one after the other (p50, p99), after `WARMUP` unmeasured ones, store and bare measured in
//!   alternating blocks;
//! - bare latency, the same with the raw protocol: ZooKeeper `setData` → the data watch fires → `getData` with a
//!   new watch returns the value (zookeeper-client); for the double, `PUT` → a blocking `GET ?index=` returns it
//!   (reqwest). The double's figures describe the client and the double, not Consul;
//! - throughput of `set` and `get` of 1 KiB values, one at a time and `CONCURRENCY` at a time.
//!
//! The goal: the store's watch latency at most 1.5 times the bare one.

#[path = "../tests/support/consul_double.rs"]
mod consul_double;
#[path = "support/watch_latency.rs"]
mod watch_latency;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::testkit::servers::TestServer;
use vamp_kv::consul::ConsulStore;
use vamp_kv::zookeeper::ZooKeeperStore;
use watch_latency::{store_probe, Failure, Probe, Write};
use zookeeper_client as zk;

const ROUNDS: usize = 500;
const WARMUP: usize = 100;
const BLOCKS: usize = 5;
const THROUGHPUT_OPS: usize = 1000;
const CONCURRENCY: usize = 16;
const VALUE_BYTES: usize = 1024;

fn payload(round: usize) -> Vec<u8> {
    let mut value = format!("round {round:08} ").into_bytes();
    value.resize(VALUE_BYTES, b'x');
    value
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", watch_latency::ms(d))
}

/// Runs the rounds numbered `rounds` of `probe`, each once the watcher delivered the previous one, keeping the
/// latencies when `keep`.
async fn measure(probe: &mut Probe, rounds: std::ops::Range<usize>, keep: bool) -> Result<(), Failure> {
    for round in rounds {
        probe
            .round(payload(round), keep)
            .await
            .map_err(|e| format!("round {round}: {e}"))?;
    }
    Ok(())
}

/// Warms both probes up, then measures them in alternating blocks so that neither profits from running later.
async fn compare(store: &mut Probe, bare: &mut Probe) -> Result<(), Failure> {
    measure(bare, 0..WARMUP, false).await?;
    measure(store, 0..WARMUP, false).await?;
    let block = ROUNDS / BLOCKS;
    for first in (WARMUP..WARMUP + block * BLOCKS).step_by(block) {
        measure(bare, first..first + block, true).await?;
        measure(store, first..first + block, true).await?;
    }
    Ok(())
}

struct Throughput {
    set_serial: f64,
    get_serial: f64,
    set_concurrent: f64,
    get_concurrent: f64,
}

async fn store_throughput(store: Arc<dyn KeyValueStore>, base: &Key) -> Result<Throughput, Failure> {
    let key = base.join("throughput")?;
    let value = payload(0);
    let started = Instant::now();
    for _ in 0..THROUGHPUT_OPS {
        store.set(&key, value.clone()).await?;
    }
    let set_serial = THROUGHPUT_OPS as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..THROUGHPUT_OPS {
        store.get(&key).await?;
    }
    let get_serial = THROUGHPUT_OPS as f64 / started.elapsed().as_secs_f64();
    let mut rates = Vec::new();
    for writing in [true, false] {
        let started = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|worker| {
                let store = Arc::clone(&store);
                let key = base.join(&format!("worker{worker}"));
                let value = value.clone();
                tokio::spawn(async move {
                    let key = key?;
                    if !writing {
                        store.set(&key, value.clone()).await?;
                    }
                    for _ in 0..THROUGHPUT_OPS / CONCURRENCY {
                        if writing {
                            store.set(&key, value.clone()).await?;
                        } else {
                            store.get(&key).await?;
                        }
                    }
                    Ok::<(), vamp_core::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        rates.push((THROUGHPUT_OPS / CONCURRENCY * CONCURRENCY) as f64 / started.elapsed().as_secs_f64());
    }
    Ok(Throughput {
        set_serial,
        get_serial,
        set_concurrent: rates.first().copied().unwrap_or_default(),
        get_concurrent: rates.get(1).copied().unwrap_or_default(),
    })
}

async fn bare_zookeeper_probe(address: &str, path: &str) -> Result<Probe, Failure> {
    let client = zk::Client::connect(address).await?;
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.mkdir(path, &options).await?;
    let (tx, delivered) = tokio::sync::mpsc::unbounded_channel();
    let watching = client.clone();
    let owned = path.to_string();
    let watcher = tokio::spawn(async move {
        loop {
            let Ok((data, _, watch)) = watching.get_and_watch_data(&owned).await else {
                return;
            };
            if tx.send((Some(data), Instant::now())).is_err() {
                return;
            }
            watch.changed().await;
        }
    });
    let path = path.to_string();
    let write: Write = Box::new(move |value| {
        let client = client.clone();
        let path = path.clone();
        async move {
            client.set_data(&path, &value, None).await?;
            Ok(())
        }
        .boxed()
    });
    Ok(Probe::new(write, delivered, watcher))
}

async fn bare_double_probe(base: &str, key: &str) -> Result<Probe, Failure> {
    let http = reqwest::Client::new();
    let url = format!("{base}/v1/kv/{key}");
    http.put(&url).body("start").send().await?;
    let (tx, delivered) = tokio::sync::mpsc::unbounded_channel();
    let watching = http.clone();
    let watched = url.clone();
    let watcher = tokio::spawn(async move {
        let mut index = 0u64;
        loop {
            let Ok(response) = watching
                .get(format!("{watched}?index={index}&wait=30s"))
                .send()
                .await
            else {
                return;
            };
            index = response
                .headers()
                .get("x-consul-index")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let Ok(entries) = response.json::<serde_json::Value>().await else {
                return;
            };
            let value = entries[0]["Value"].as_str().unwrap_or_default();
            let Ok(bytes) = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value) else {
                return;
            };
            if tx.send((Some(bytes), Instant::now())).is_err() {
                return;
            }
        }
    });
    let write: Write = Box::new(move |value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.put(&url).body(value).send().await?.error_for_status()?;
            Ok(())
        }
        .boxed()
    });
    Ok(Probe::new(write, delivered, watcher))
}

struct Row {
    backend: &'static str,
    /// p50 and p99 of the store's watch latency.
    store: (Duration, Duration),
    /// p50 and p99 of the raw client's.
    bare: (Duration, Duration),
    throughput: Throughput,
}

async fn run() -> Result<Vec<Row>, Failure> {
    let base = Key::parse("/vamp/bench")?.join(&vamp_core::testkit::unique("b"))?;
    let server = TestServer::zookeeper()?;
    let zookeeper: Arc<dyn KeyValueStore> =
        Arc::new(ZooKeeperStore::connect(&[server.address()], None).await?);
    let mut bare = bare_zookeeper_probe(&server.address(), &format!("{base}/bare")).await?;
    let mut store = store_probe(Arc::clone(&zookeeper), base.join("watched")?).await?;
    compare(&mut store, &mut bare).await?;
    let throughput = store_throughput(Arc::clone(&zookeeper), &base).await?;
    let mut rows = vec![Row {
        backend: "ZooKeeper 3.8.0",
        store: store.finish(),
        bare: bare.finish(),
        throughput,
    }];
    drop((store, bare, zookeeper, server));

    let double = consul_double::ConsulDouble::new();
    let consul: Arc<dyn KeyValueStore> = Arc::new(ConsulStore::connect(&double.url()).await?);
    let consul_base = base.as_str().trim_start_matches('/');
    let mut bare = bare_double_probe(&double.url(), &format!("{consul_base}/bare")).await?;
    let mut store = store_probe(Arc::clone(&consul), base.join("watched")?).await?;
    compare(&mut store, &mut bare).await?;
    let throughput = store_throughput(Arc::clone(&consul), &base).await?;
    rows.push(Row {
        backend: "Consul double (not Consul)",
        store: store.finish(),
        bare: bare.finish(),
        throughput,
    });
    Ok(rows)
}

fn main() {
    let rows = match watch_latency::runtime().block_on(run()) {
        Ok(rows) => rows,
        Err(e) => panic!("the benchmark failed: {e}"),
    };
    println!(
        "\n{ROUNDS} sets of {VALUE_BYTES} B, watch latency set -> watcher; throughput of {THROUGHPUT_OPS} ops \
         (serial / {CONCURRENCY} concurrent)\n"
    );
    println!(
        "| backend | store p50 | store p99 | bare p50 | bare p99 | p50 ratio | p99 ratio | set/s serial | get/s serial | set/s x{CONCURRENCY} | get/s x{CONCURRENCY} |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let ((sp50, sp99), (bp50, bp99)) = (row.store, row.bare);
        let t = &row.throughput;
        println!(
            "| {} | {} | {} | {} | {} | {:.2}x | {:.2}x | {:.0} | {:.0} | {:.0} | {:.0} |",
            row.backend,
            ms(sp50),
            ms(sp99),
            ms(bp50),
            ms(bp99),
            sp50.as_secs_f64() / bp50.as_secs_f64().max(1e-9),
            sp99.as_secs_f64() / bp99.as_secs_f64().max(1e-9),
            t.set_serial,
            t.get_serial,
            t.set_concurrent,
            t.get_concurrent,
        );
    }
}
