//! The cost of one pulse pass: for N gateways of 3 routes each (fed 100 requests per route into the memory
//! metrics source), the time to read every window from the metrics source alone (the baseline), to compute every
//! figure (`Vamp::pulse`: gateway plan, windows, figures), and to publish one pass into SQLite
//! (`Vamp::publish_pulse`), with the events per pass and what they take in SQLite (measured with the database
//! closed, so the write-ahead log is checkpointed). Prints a table;
//! `cargo bench -p vamp-server --bench pulse`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vamp_core::dsl;
use vamp_core::memory::MemoryMetrics;
use vamp_core::model::Kind;
use vamp_server::pulse::Windows;
use vamp_server::{Vamp, WriteOptions};

const ROUTES: usize = 3;
const PASSES: usize = 5;
const WINDOW: Duration = Duration::from_secs(30);

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Lets the closed SQLite pool finish: its last connection checkpoints and removes the write-ahead log.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn setup(gateways: usize, dir: &Path) -> (Vamp, Vec<(String, String)>) {
    let url = format!("sqlite://{}", dir.join("vamp.db").display());
    let events = vamp_persistence::url::connect_events(&url)
        .await
        .expect("sqlite events");
    drop(events);
    settle().await;
    let events = vamp_persistence::url::connect_events(&url)
        .await
        .expect("sqlite events");
    let metrics = Arc::new(MemoryMetrics::new());
    let vamp = Vamp::builder()
        .events(events)
        .metrics(metrics.clone())
        .build()
        .expect("vamp");
    let now = chrono::Utc::now();
    let mut series = Vec::new();
    for g in 0..gateways {
        let name = format!("g{g}");
        let mut text = format!("name: {name}\nport: {}/http\nroutes:\n", 20_000 + g);
        for r in 0..ROUTES {
            let route = format!("[10.0.{}.{}:80]", g % 250, r);
            text.push_str(&format!("  '{route}': {{}}\n"));
            for i in 0..100 {
                let status = if i == 0 { 503 } else { 200 };
                metrics.record(&name, Some(&route), status, 5.0 + i as f64, now);
            }
            series.push((name.clone(), route));
        }
        vamp.create(
            dsl::read(Kind::Gateway, &text).expect("gateway"),
            &WriteOptions::default(),
        )
        .await
        .expect("create gateway");
    }
    (vamp, series)
}

async fn row(gateways: usize) -> String {
    let dir = Dir(std::env::temp_dir().join(vamp_core::testkit::unique("vamp-bench-pulse")));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let (vamp, series) = setup(gateways, &dir.0).await;
    let empty = size(&dir.0);
    let windows = Windows::both(WINDOW);

    let mut reads = Vec::new();
    let mut figures = Vec::new();
    let mut publishes = Vec::new();
    let mut events = 0;
    for _ in 0..PASSES {
        let t = Instant::now();
        for g in 0..gateways {
            vamp.metrics(&format!("g{g}"), None, WINDOW)
                .await
                .expect("window");
        }
        for (g, r) in &series {
            vamp.metrics(g, Some(r), WINDOW).await.expect("window");
        }
        reads.push(t.elapsed());
        let t = Instant::now();
        let pulse = vamp.pulse(windows).await.expect("pulse");
        figures.push(t.elapsed());
        assert_eq!(pulse.gateways.len(), gateways);
    }
    for _ in 0..PASSES {
        let t = Instant::now();
        events = vamp.publish_pulse().await.expect("publish");
        publishes.push(t.elapsed());
    }
    drop(vamp);
    settle().await;
    let stored = size(&dir.0).saturating_sub(empty) as f64;
    let per_event = stored / (events * PASSES) as f64;
    format!(
        "| {gateways:>8} | {:>6} | {:>12.2} | {:>12.2} | {:>14.1} | {:>6} | {:>9.0} | {:>10.0} |",
        gateways * (1 + ROUTES),
        ms(median(reads)),
        ms(median(figures)),
        ms(median(publishes)),
        events,
        per_event,
        per_event * events as f64 / 1024.0
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("one pulse pass, median of {PASSES}; {ROUTES} routes per gateway, 100 requests per route, 30 s windows");
    println!();
    println!("| gateways | series | read windows (baseline) ms | figures (pulse) ms | publish to SQLite ms | events | SQLite B/event | SQLite KB/pass |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for gateways in [10, 100, 500] {
        println!("{}", row(gateways).await);
    }
}
