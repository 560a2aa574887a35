//! What the vamp-kv benches share: their runtime, watch-latency probes (a writer and a watcher, timed from just
//! before a write until the watcher holds the value written), and percentiles.
//!
//! Included by each bench with `#[path = "support/watch_latency.rs"] mod watch_latency;`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::task::JoinHandle;
use vamp_core::kv::{Key, KeyValueStore};

/// Why a bench stopped.
pub type Failure = Box<dyn std::error::Error>;

/// How a probe writes the watched key.
pub type Write = Box<dyn FnMut(Vec<u8>) -> BoxFuture<'static, Result<(), Failure>> + Send>;

/// What a watcher saw: the value when the notification carries it (`None` when it only says "changed"), and when.
pub type Seen = (Option<Vec<u8>>, Instant);

/// How long a round waits for the watcher before the bench fails.
pub const ITEM_WAIT: Duration = Duration::from_secs(10);

/// The multi-threaded runtime (two workers) every bench runs on.
pub fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("no tokio runtime: {e}"),
    }
}

/// One client under measurement: how it writes the watched key, what its watcher reports, and the latencies so
/// far. Dropping it stops the watcher.
pub struct Probe {
    write: Write,
    seen: UnboundedReceiver<Seen>,
    watcher: JoinHandle<()>,
    samples: Vec<Duration>,
}

impl Probe {
    /// A probe that writes with `write` and whose watcher task `watcher` reports to `seen`.
    pub fn new(write: Write, seen: UnboundedReceiver<Seen>, watcher: JoinHandle<()>) -> Self {
        Probe {
            write,
            seen,
            watcher,
            samples: Vec::new(),
        }
    }

    /// Writes `value` and waits until the watcher reports it (or a change without value); keeps the time in
    /// between when `keep`. Fails when the write fails or nothing arrives within [`ITEM_WAIT`].
    pub async fn round(&mut self, value: Vec<u8>, keep: bool) -> Result<(), Failure> {
        while self.seen.try_recv().is_ok() {}
        let started = Instant::now();
        (self.write)(value.clone()).await?;
        loop {
            let (seen, at) = tokio::time::timeout(ITEM_WAIT, self.seen.recv())
                .await
                .map_err(|_| format!("nothing delivered within {ITEM_WAIT:?}"))?
                .ok_or("the watcher ended")?;
            if seen.as_ref().is_none_or(|seen| *seen == value) {
                if keep {
                    self.samples.push(at.duration_since(started));
                }
                return Ok(());
            }
        }
    }

    /// Stops the watcher and returns the 50th and 99th percentile of the kept rounds.
    pub fn finish(&mut self) -> (Duration, Duration) {
        self.watcher.abort();
        self.samples.sort();
        (percentile(&self.samples, 50), percentile(&self.samples, 99))
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// The probe of a store: its own watch of `key`, running once it delivered the current value, and its `set`.
pub async fn store_probe(store: Arc<dyn KeyValueStore>, key: Key) -> Result<Probe, Failure> {
    let mut watch = store.watch(&key);
    watch.next().await.ok_or("the watch ended")??;
    let (tx, seen) = unbounded_channel();
    let watcher = tokio::spawn(async move {
        while let Some(item) = watch.next().await {
            if let Ok(v) = item {
                if tx.send((v.value, Instant::now())).is_err() {
                    return;
                }
            }
        }
    });
    let write: Write = Box::new(move |value| {
        let (store, key) = (Arc::clone(&store), key.clone());
        async move {
            store.set(&key, value).await?;
            Ok(())
        }
        .boxed()
    });
    Ok(Probe::new(write, seen, watcher))
}

/// The `p`th percentile (nearest rank) of `sorted`; zero when it is empty.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let i = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or_default()
}

/// `d` in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
