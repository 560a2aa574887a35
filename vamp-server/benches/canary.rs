//! Automated canary releases under steady user load through HAProxy.
//!
//! ```text
//! cargo bench -p vamp-server --bench canary
//! ```
//!
//! The embedded default (SQLite, process driver running `vamp-demo-service` as `sava:1.0` and `sava:1.1`, the
//! embedded agent driving a real `haproxy`), a user gateway `shop` with a canary policy (steps 10/25/50/100%),
//! and 8 keep-alive clients sending 50 requests per second each (400 req/s) through it.
//!
//! 1. **Fault**: once the canary is at 25%, its running instance starts answering 500 to 20% of its requests
//!    (`PUT /fault?fail-rate=0.2`). Measured: fault → rollback decision (canary weight 0 written), fault → the
//!    last canary answer any client saw, and the failed user requests of the round. Three variants: the
//!    statistical comparison alone with a 2 s interval and with a 5 s interval, and with an absolute error
//!    ceiling (`max_error_rate: 5%`, checked every tick) on a 2 s interval.
//! 2. **Healthy**: from the start of the release to promotion at 100%, and the failed user requests (zero).
//!
//! The baseline is Flagger's documented timing (no Kubernetes here to run it): analysis every `interval`
//! (default 60 s), rollback after `threshold` failed checks, promotion after one interval per step.

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "../tests/canary_support/mod.rs"]
mod canary_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use canary_support::{until_traffic, Harness, Load};
use chrono::{DateTime, Utc};
use vamp_core::model::{CanaryStatus, Event};

const CLIENTS: usize = 8;
const RATE: u32 = 50;
const ROUNDS: usize = 3;

struct Round {
    to_decision: Duration,
    to_last_canary: Option<Duration>,
    requests: u64,
    failed: u64,
}

fn since(event: &Event, from: DateTime<Utc>) -> Duration {
    (event.timestamp - from).to_std().unwrap_or_default()
}

fn policy(interval_s: u64, ceiling: bool) -> String {
    format!(
        "  baseline: sava/sava/sava:1.0/web\n  canary: sava/sava/sava:1.1/web\n  steps: [10%, 25%, 50%, 100%]\n  interval: {interval_s}s\n  min_requests: 20\n{}",
        if ceiling { "  max_error_rate: 5%\n" } else { "" }
    )
}

async fn fault_round(h: &Harness, interval_s: u64, ceiling: bool) -> Round {
    h.fault("1.1", 0.0).await;
    h.gateway(false, &policy(interval_s, ceiling)).await;
    let load = Load::start(h.gateway_port, CLIENTS, RATE);
    h.until(Duration::from_secs(60), "the 25% step", |w, _| w == 25)
        .await;
    h.fault("1.1", 0.2).await;
    let (fault, fault_at) = (Instant::now(), Utc::now());
    h.until(Duration::from_secs(60), "the rollback", |w, s| {
        w == 0 && s == CanaryStatus::RolledBack
    })
    .await;
    until_traffic(
        h.gateway_port,
        50,
        Duration::from_secs(10),
        "all on the baseline",
        |v1, _, _| v1 == 50,
    )
    .await;
    let tally = load.stop();
    let rollback = h
        .events()
        .await
        .into_iter()
        .rev()
        .find(|e| e.value["decision"] == "rollback")
        .expect("a rollback event");
    let last_canary = *tally.last_canary.lock().unwrap();
    Round {
        to_decision: since(&rollback, fault_at),
        to_last_canary: last_canary.map(|t| t.saturating_duration_since(fault)),
        requests: tally.total(),
        failed: tally.failed.load(Ordering::Relaxed),
    }
}

async fn healthy_round(h: &Harness) -> Round {
    h.fault("1.1", 0.0).await;
    let load = Load::start(h.gateway_port, CLIENTS, RATE);
    h.gateway(false, &policy(2, true)).await;
    h.until(Duration::from_secs(60), "the promotion", |w, s| {
        w == 100 && s == CanaryStatus::Promoted
    })
    .await;
    until_traffic(
        h.gateway_port,
        50,
        Duration::from_secs(10),
        "all on the canary",
        |_, v2, _| v2 == 50,
    )
    .await;
    let tally = load.stop();
    let events = h.events().await;
    let start = events
        .iter()
        .rev()
        .find(|e| e.value["decision"] == "advance" && e.value["to_weight"] == 10)
        .expect("the start event");
    let promote = events
        .iter()
        .rev()
        .find(|e| e.value["decision"] == "promote")
        .expect("a promote event");
    Round {
        to_decision: since(promote, start.timestamp),
        to_last_canary: None,
        requests: tally.total(),
        failed: tally.failed.load(Ordering::Relaxed),
    }
}

fn stats(v: Vec<f64>) -> String {
    stats_with(v, 2)
}

fn stats_with(mut v: Vec<f64>, decimals: usize) -> String {
    if v.is_empty() {
        return "n/a".into();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    format!(
        "{:.d$} / {:.d$} / {:.d$}",
        v[0],
        v[v.len() / 2],
        v[v.len() - 1],
        d = decimals
    )
}

fn row(name: &str, rounds: &[Round]) {
    let decision = stats(rounds.iter().map(|r| r.to_decision.as_secs_f64()).collect());
    let traffic = stats(
        rounds
            .iter()
            .filter_map(|r| r.to_last_canary.map(|d| d.as_secs_f64()))
            .collect(),
    );
    let lag = stats_with(
        rounds
            .iter()
            .filter_map(|r| {
                r.to_last_canary
                    .map(|d| 1000.0 * (d.as_secs_f64() - r.to_decision.as_secs_f64()))
            })
            .collect(),
        0,
    );
    let requests: u64 = rounds.iter().map(|r| r.requests).sum();
    let failed: u64 = rounds.iter().map(|r| r.failed).sum();
    let per_round: Vec<String> = rounds.iter().map(|r| r.failed.to_string()).collect();
    println!(
        "| {name} | {} | {decision} | {traffic} | {lag} | {requests} | {failed} ({}) | {:.3}% |",
        rounds.len(),
        per_round.join(", "),
        100.0 * failed as f64 / requests.max(1) as f64
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let h = Harness::start(100).await;
        let mut results = Vec::new();
        for (name, interval_s, ceiling) in [
            ("fault, comparison only, interval 2 s", 2, false),
            ("fault, comparison only, interval 5 s", 5, false),
            ("fault, ceiling 5% + comparison, interval 2 s", 2, true),
        ] {
            let mut rounds = Vec::new();
            for _ in 0..ROUNDS {
                rounds.push(fault_round(&h, interval_s, ceiling).await);
            }
            results.push((name, rounds));
        }
        let mut healthy = Vec::new();
        for _ in 0..ROUNDS {
            healthy.push(healthy_round(&h).await);
        }
        println!(
            "\nCanary releases under {} keep-alive clients × {RATE} req/s through HAProxy, steps 10/25/50/100%, \
             min_requests 20, canary tick 100 ms (min / median / max over rounds, seconds)\n",
            CLIENTS
        );
        println!("| scenario | rounds | fault → rollback decision (s) | fault → last canary answer (s) | last canary answer − decision (ms) | requests | failed (per round) | failed share |");
        println!("|---|---|---|---|---|---|---|---|");
        for (name, rounds) in &results {
            row(name, rounds);
        }
        println!("\n| scenario | rounds | start → promoted at 100% (s) | | | requests | failed (per round) | failed share |");
        println!("|---|---|---|---|---|---|---|---|");
        row("healthy, interval 2 s", &healthy);
        println!(
            "\nFlagger (documented defaults, analytical): interval 60 s; rollback after `threshold` failed checks → \
             ≥ 60 s with threshold 1, 600 s with the documented example threshold 10; promotion through the same \
             3 judged steps ≥ 3 × 60 s = 180 s (its example stepWeight 5 / maxWeight 50: 10 × 60 s = 600 s)."
        );
        h.stop().await;
    });
}
