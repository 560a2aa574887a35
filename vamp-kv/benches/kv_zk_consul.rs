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

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::testkit::servers::TestServer;
use vamp_kv::consul::ConsulStore;
use vamp_kv::zookeeper::ZooKeeperStore;
use zookeeper_client as zk;

const ROUNDS: usize = 500;
const WARMUP: usize = 100;
const BLOCKS: usize = 5;
const THROUGHPUT_OPS: usize = 1000;
const CONCURRENCY: usize = 16;
const VALUE_BYTES: usize = 1024;
const ITEM_WAIT: Duration = Duration::from_secs(10);

type Failure = Box<dyn std::error::Error>;

fn payload(round: usize) -> Vec<u8> {
    let mut value = format!("round {round:08} ").into_bytes();
    value.resize(VALUE_BYTES, b'x');
    value
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(at).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

type Write = Box<dyn FnMut(Vec<u8>) -> BoxFuture<'static, Result<(), Failure>> + Send>;

/// A writer and the watcher that reports what it delivers, with the time it did.
struct Probe {
    write: Write,
    delivered: tokio::sync::mpsc::UnboundedReceiver<(Vec<u8>, Instant)>,
    watcher: tokio::task::JoinHandle<()>,
    round: usize,
    samples: Vec<Duration>,
}

impl Probe {
    /// Writes `rounds` values one after the other, each once the watcher delivered the previous one, and keeps
    /// (when `keep`) the time from before the write to the delivery.
    async fn measure(&mut self, rounds: usize, keep: bool) -> Result<(), Failure> {
        for _ in 0..rounds {
            self.round += 1;
            let value = payload(self.round);
            let started = Instant::now();
            (self.write)(value.clone()).await?;
            loop {
                let (seen, at) = tokio::time::timeout(ITEM_WAIT, self.delivered.recv())
                    .await
                    .map_err(|_| format!("round {}: nothing delivered within {ITEM_WAIT:?}", self.round))?
                    .ok_or("the watcher ended")?;
                if seen == value {
                    if keep {
                        self.samples.push(at - started);
                    }
                    break;
                }
            }
        }
        Ok(())
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Warms both probes up, then measures them in alternating blocks so that neither profits from running later.
async fn compare(store: &mut Probe, bare: &mut Probe) -> Result<(), Failure> {
    bare.measure(WARMUP, false).await?;
    store.measure(WARMUP, false).await?;
    for _ in 0..BLOCKS {
        bare.measure(ROUNDS / BLOCKS, true).await?;
        store.measure(ROUNDS / BLOCKS, true).await?;
    }
    Ok(())
}

async fn store_probe(store: Arc<dyn KeyValueStore>, key: Key) -> Result<Probe, Failure> {
    let mut watch = store.watch(&key);
    watch.next().await.ok_or("the watch ended")??;
    let (tx, delivered) = tokio::sync::mpsc::unbounded_channel();
    let watcher = tokio::spawn(async move {
        while let Some(item) = watch.next().await {
            if let Ok(Some(value)) = item.map(|v| v.value) {
                if tx.send((value, Instant::now())).is_err() {
                    return;
                }
            }
        }
    });
    let write: Write = Box::new(move |value| {
        let store = Arc::clone(&store);
        let key = key.clone();
        async move {
            store.set(&key, value).await?;
            Ok(())
        }
        .boxed()
    });
    Ok(Probe {
        write,
        delivered,
        watcher,
        round: 0,
        samples: Vec::new(),
    })
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
            if tx.send((data, Instant::now())).is_err() {
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
    Ok(Probe {
        write,
        delivered,
        watcher,
        round: 0,
        samples: Vec::new(),
    })
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
            if tx.send((bytes, Instant::now())).is_err() {
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
    Ok(Probe {
        write,
        delivered,
        watcher,
        round: 0,
        samples: Vec::new(),
    })
}

struct Row {
    backend: &'static str,
    store: Vec<Duration>,
    bare: Vec<Duration>,
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
        store: std::mem::take(&mut store.samples),
        bare: std::mem::take(&mut bare.samples),
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
        store: std::mem::take(&mut store.samples),
        bare: std::mem::take(&mut bare.samples),
        throughput,
    });
    Ok(rows)
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("no runtime: {e}"),
    };
    let rows = match runtime.block_on(run()) {
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
    for mut row in rows {
        let (sp50, sp99) = (percentile(&mut row.store, 0.5), percentile(&mut row.store, 0.99));
        let (bp50, bp99) = (percentile(&mut row.bare, 0.5), percentile(&mut row.bare, 0.99));
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
