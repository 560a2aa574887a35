//! The canary judge's A/A and A/B benchmark: many releases through the product under realistic noise, and how
//! often the judge gets them right.
//!
//! ```text
//! cargo bench -p vamp-server --bench canary_judge
//! CANARY_BENCH_QUICK=1 cargo bench -p vamp-server --bench canary_judge     # about 10 releases per scenario
//! ```
//!
//! The embedded default (SQLite, the process driver running `vamp-demo-service`, the embedded agent driving a
//! real `haproxy`) with several *slots* released side by side: slot `k` is a deployment `s<k>` whose cluster
//! runs `sava:1.0` (the baseline) and `sava:1.1` (the canary) and a user gateway `g<k>` whose routes are the two
//! services. A release on a slot sets both services' behaviour (`PUT /fault` on their running instances), writes
//! the gateway with baseline 100%, canary 0% and a canary policy `progressing`, and waits until the canary loop
//! has finished it: promoted, rolled back, or paused (or the deadline passed: undecided). The benchmark only
//! drives releases through the product and reads their outcome from the stored gateway and the `canary` events,
//! so it measures whichever judge is in the tree.
//!
//! The service (both sides, unless the scenario changes the canary): 100 ms + a uniform 0–20 ms jitter, and
//! 3% of the requests, chosen at random, stall 40–50 ms more (mean ≈ 111.35 ms). Scenarios:
//!
//! - **A/A, 100 ms service**: the canary is the same build as the baseline. Any rollback is a false rollback.
//! - **A/A, 1 ms service**: the same with a fast service, a uniform 0–2 ms and the same 3% stalls of 40–50 ms
//!   (which then make up more than half the mean): HAProxy's whole-millisecond latencies tie at 0, 1 and 2 ms.
//! - **A/B 20% 5xx**: the canary answers 500 to every fifth request.
//! - **A/B +50 ms on half**: half the canary's requests, chosen at random, take 50 ms more.
//! - **A/B +10% latency**: the canary is 10% slower at everything: 110 ms + 0–22 ms, stalls 44–55 ms (mean
//!   ≈ 122.5 ms).
//!
//! Each at high traffic (400 req/s per gateway) and low traffic (20 req/s per gateway). The user load per
//! gateway is half keep-alive clients (each paced at ≤ 4 req/s, desynchronised) and half new-connection
//! requests (`Connection: close`, Poisson arrivals). A busy CPU: a burner thread spins on one core for the
//! whole run. The policy is the default (confidence, margins, `min_requests`, `max_waits`, steps) except the
//! `interval` (5 s at high traffic, 10 s = the default at low traffic); the canary loop ticks every 250 ms.
//!
//! Settings (environment):
//!
//! | variable | default | what |
//! |---|---|---|
//! | `CANARY_BENCH_QUICK` | off | `1`: about 10 releases per scenario (a smoke check) |
//! | `CANARY_BENCH_AA_RELEASES` | 100 (quick 10) | A/A releases at high traffic, half on each service |
//! | `CANARY_BENCH_AB_RELEASES` | 20 (quick 10) | releases of each A/B scenario at high traffic |
//! | `CANARY_BENCH_LOW_AA_RELEASES` | 30 (quick 10) | A/A releases at low traffic, half on each service |
//! | `CANARY_BENCH_LOW_AB_RELEASES` | 10 (quick 10) | releases of each A/B scenario at low traffic |
//! | `CANARY_BENCH_HIGH_PARALLEL` | 4 | releases side by side at high traffic |
//! | `CANARY_BENCH_LOW_PARALLEL` | 30 | releases side by side at low traffic |
//! | `CANARY_BENCH_HIGH_INTERVAL_S` | 5 | the policy's `interval` at high traffic |
//! | `CANARY_BENCH_LOW_INTERVAL_S` | 10 | the policy's `interval` at low traffic |
//! | `CANARY_BENCH_STEPS` | the policy default | e.g. `10%, 25%, 50%, 100%` |
//! | `CANARY_BENCH_DEADLINE_INTERVALS` | 30 | a release not finished after this many intervals (+ 30 s) is undecided |
//! | `CANARY_BENCH_TICK_MS` | 250 | the canary loop's tick (`canary.tick-ms`) |
//! | `CANARY_BENCH_BURN` | 1 | busy-CPU burner threads (0: none) |
//! | `CANARY_BENCH_ONLY` | all | only the scenarios whose name and level contain this (`A/A`, `5xx`, `1 ms`, `high`, …) |
//!
//! Output: one markdown row per scenario — releases; promoted, rolled back, paused, undecided; false rollbacks
//! (A/A) or missed regressions (A/B: promoted, paused or undecided); time to decision from the release's start
//! (seconds) and the judge's share of it from the start decision (median / p90, in intervals); A/B: caught within
//! two intervals of the start decision (+ 1 s); user requests and the failed ones; the clients' mean latency of
//! each side — then the goals (≤ 1 false rollback in 100 A/A releases; every regression caught within two
//! intervals at high traffic), the failed requests other than the canary's own 500s by kind, and the reasons of
//! the wrong decisions. Progress goes to stderr, one line per release. SIGINT or SIGTERM stops the run and
//! cleans up (demo services, HAProxy, the data directory).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use vamp_core::dsl;
use vamp_core::model::{Artifact, CanaryStatus, Event, EventQuery, Kind};
use vamp_core::store::Page;
use vamp_server::agent::embedded_with;
use vamp_server::ops::converged;
use vamp_server::{Vamp, WriteOptions};

use support::{demo_processes, free_port, haproxy_settings, ProcessCleanup, TempDir};

/// How long deploying may take on a loaded machine.
const CONVERGE: Duration = Duration::from_secs(120);
/// The service both sides run: 100 ms, a 0–20 ms jitter, 3% stalls of 40–50 ms.
const SERVICE: &str = "delay-ms=100&jitter-ms=20&stall-rate=0.03&stall-ms=40-50";
/// A fast service: a 0–2 ms jitter and the same stalls, which then make up most of the mean.
const FAST_SERVICE: &str = "jitter-ms=2&stall-rate=0.03&stall-ms=40-50";
/// The most a keep-alive client sends per second; more clients make up the rate.
const CLIENT_RATE: f64 = 4.0;
/// How long a user request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// "Within two intervals": a rollback decided at most two intervals and this much after the start decision (the
/// end of an interval is noticed up to one canary tick late).
const WITHIN_SLACK: Duration = Duration::from_secs(1);
/// How often a release's gateway is looked at while it runs.
const POLL: Duration = Duration::from_millis(200);

/// A/A, or a regression the judge should catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Promote,
    Rollback,
}

#[derive(Debug)]
struct Scenario {
    name: &'static str,
    /// `PUT /fault` queries of the baseline's and the canary's instance.
    baseline: String,
    canary: String,
    expect: Expect,
}

fn scenarios() -> Vec<Scenario> {
    let with = |extra: &str| format!("{SERVICE}&{extra}");
    vec![
        Scenario {
            name: "A/A, 100 ms service",
            baseline: SERVICE.into(),
            canary: SERVICE.into(),
            expect: Expect::Promote,
        },
        Scenario {
            name: "A/A, 1 ms service",
            baseline: FAST_SERVICE.into(),
            canary: FAST_SERVICE.into(),
            expect: Expect::Promote,
        },
        Scenario {
            name: "A/B 20% 5xx",
            baseline: SERVICE.into(),
            canary: with("fail-rate=0.2"),
            expect: Expect::Rollback,
        },
        Scenario {
            name: "A/B +50 ms on half",
            baseline: SERVICE.into(),
            canary: with("slow-rate=0.5&slow-ms=50"),
            expect: Expect::Rollback,
        },
        Scenario {
            name: "A/B +10% latency",
            baseline: SERVICE.into(),
            canary: "delay-ms=110&jitter-ms=22&stall-rate=0.03&stall-ms=44-55".into(),
            expect: Expect::Rollback,
        },
    ]
}

/// A traffic level: its rate per gateway, the policy interval, and how many releases run side by side.
#[derive(Debug, Clone)]
struct Level {
    name: &'static str,
    rate: u32,
    interval_s: u64,
    parallel: usize,
    /// Releases per scenario, in the order of [`scenarios`].
    counts: Vec<usize>,
}

#[derive(Debug)]
struct Config {
    quick: bool,
    levels: Vec<Level>,
    steps: Option<String>,
    tick_ms: u64,
    burners: usize,
    deadline_intervals: u64,
    only: Option<String>,
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a valid value")),
        _ => default,
    }
}

impl Config {
    fn from_env() -> Config {
        let quick = env_or("CANARY_BENCH_QUICK", 0u8) != 0;
        let (aa, ab, low_aa, low_ab) = if quick {
            (10, 10, 10, 10)
        } else {
            (100, 20, 30, 10)
        };
        let aa = env_or("CANARY_BENCH_AA_RELEASES", aa);
        let ab = env_or("CANARY_BENCH_AB_RELEASES", ab);
        let low_aa = env_or("CANARY_BENCH_LOW_AA_RELEASES", low_aa);
        let low_ab = env_or("CANARY_BENCH_LOW_AB_RELEASES", low_ab);
        let steps = std::env::var("CANARY_BENCH_STEPS")
            .ok()
            .filter(|s| !s.trim().is_empty());
        Config {
            quick,
            levels: vec![
                Level {
                    name: "high",
                    rate: 400,
                    interval_s: env_or("CANARY_BENCH_HIGH_INTERVAL_S", 5),
                    parallel: env_or("CANARY_BENCH_HIGH_PARALLEL", 4usize).max(1),
                    counts: vec![aa - aa / 2, aa / 2, ab, ab, ab],
                },
                Level {
                    name: "low",
                    rate: 20,
                    interval_s: env_or("CANARY_BENCH_LOW_INTERVAL_S", 10),
                    parallel: env_or("CANARY_BENCH_LOW_PARALLEL", 30usize).max(1),
                    counts: vec![low_aa - low_aa / 2, low_aa / 2, low_ab, low_ab, low_ab],
                },
            ],
            steps,
            tick_ms: env_or("CANARY_BENCH_TICK_MS", 250),
            burners: env_or("CANARY_BENCH_BURN", 1),
            deadline_intervals: env_or("CANARY_BENCH_DEADLINE_INTERVALS", 30),
            only: std::env::var("CANARY_BENCH_ONLY")
                .ok()
                .filter(|s| !s.trim().is_empty()),
        }
    }

    /// Whether the scenario runs at this level (`CANARY_BENCH_ONLY`).
    fn selected(&self, scenario: &Scenario, level: &Level) -> bool {
        self.only.as_ref().is_none_or(|only| {
            let only = only.to_lowercase();
            format!("{} {}", scenario.name, level.name)
                .to_lowercase()
                .contains(&only)
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// User load
// ---------------------------------------------------------------------------------------------------------

/// What the users of one gateway saw during one release.
#[derive(Debug, Default, Clone)]
struct Tally {
    requests: u64,
    /// Anything but a 200: 5xx, broken connections, timeouts.
    failed: u64,
    /// Of those, the answers with a 5xx status.
    server_errors: u64,
    /// The failures other than the canary's own 500s, by what went wrong (status, I/O error).
    failures: BTreeMap<String, u64>,
    baseline_ok: u64,
    canary_ok: u64,
    /// Summed latencies of the 200 answers, per side, in microseconds.
    baseline_us: u64,
    canary_us: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.failed += other.failed;
        self.server_errors += other.server_errors;
        for (what, n) in &other.failures {
            *self.failures.entry(what.clone()).or_default() += n;
        }
        self.baseline_ok += other.baseline_ok;
        self.canary_ok += other.canary_ok;
        self.baseline_us += other.baseline_us;
        self.canary_us += other.canary_us;
    }

    fn record(&mut self, answer: &std::io::Result<(u16, bool)>, took: Duration) {
        self.requests += 1;
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        match answer {
            Ok((200, false)) => {
                self.baseline_ok += 1;
                self.baseline_us += micros;
            }
            Ok((200, true)) => {
                self.canary_ok += 1;
                self.canary_us += micros;
            }
            Ok((status, canary)) => {
                self.failed += 1;
                if *status >= 500 {
                    self.server_errors += 1;
                }
                // The demo service's own 500s are the scenario's; anything else is worth naming.
                if !(*status == 500 && *canary) {
                    let what = format!("status {status}");
                    *self.failures.entry(what).or_default() += 1;
                }
            }
            Err(e) => {
                self.failed += 1;
                *self.failures.entry(e.to_string()).or_default() += 1;
            }
        }
    }
}

/// The tallies of one gateway's users by release. Each request counts for the release that was running when it
/// *started* (a request the canary was serving when it was rolled back belongs to that release, not to the next
/// one); requests started between releases count for none.
#[derive(Debug, Default)]
struct Ledger {
    /// The current epoch: odd while a release runs, even between releases.
    epoch: u64,
    /// Per epoch: what its requests saw, and how many are still running.
    open: HashMap<u64, (Tally, u64)>,
}

impl Ledger {
    /// A request starts: the epoch it counts for.
    fn begin(&mut self) -> u64 {
        self.open.entry(self.epoch).or_default().1 += 1;
        self.epoch
    }

    /// A request of `epoch` ended (ignored when its release was already taken: it outlived the wait).
    fn end(&mut self, epoch: u64, answer: &std::io::Result<(u16, bool)>, took: Duration) {
        let Some(entry) = self.open.get_mut(&epoch) else {
            return;
        };
        entry.0.record(answer, took);
        entry.1 = entry.1.saturating_sub(1);
        if epoch % 2 == 0 && entry.1 == 0 {
            self.open.remove(&epoch);
        }
    }

    /// A release starts: its epoch.
    fn start_release(&mut self) -> u64 {
        self.epoch += if self.epoch % 2 == 0 { 1 } else { 2 };
        self.epoch
    }

    /// The release of `epoch` ended: requests from now on count for none.
    fn end_release(&mut self, epoch: u64) {
        if self.epoch == epoch {
            self.epoch += 1;
        }
    }

    /// Requests of `epoch` still running.
    fn running(&self, epoch: u64) -> u64 {
        self.open.get(&epoch).map_or(0, |(_, n)| *n)
    }

    fn take(&mut self, epoch: u64) -> Tally {
        self.open.remove(&epoch).map(|(t, _)| t).unwrap_or_default()
    }
}

/// SplitMix64, for arrival times and client offsets.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

/// One `GET /` on `reader`'s connection: the status, and whether the canary (`sava-1.1`) answered; `close`
/// asks for a new connection per request.
async fn exchange(reader: &mut BufReader<TcpStream>, close: bool) -> std::io::Result<(u16, bool, bool)> {
    let connection = if close { "close" } else { "keep-alive" };
    reader
        .get_mut()
        .write_all(format!("GET / HTTP/1.1\r\nHost: shop\r\nConnection: {connection}\r\n\r\n").as_bytes())
        .await?;
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Err(std::io::Error::other("closed before the status line"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let (mut length, mut closed) = (0usize, close);
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::other("closed in the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "connection" if value.eq_ignore_ascii_case("close") => closed = true,
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    let canary = String::from_utf8_lossy(&body).contains("sava-1.1");
    Ok((status, canary, closed))
}

async fn connect(port: u16) -> std::io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    Ok(BufReader::new(stream))
}

/// One request with its own connection, within the timeout.
async fn one_shot(port: u16) -> std::io::Result<(u16, bool)> {
    let run = async {
        let mut reader = connect(port).await?;
        let (status, canary, _) = exchange(&mut reader, true).await?;
        Ok((status, canary))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("timed out")))
}

/// The user load of one gateway: keep-alive clients and new-connection requests, each half of `rate`.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(runtime: &Handle, port: u16, rate: u32, ledger: Arc<Mutex<Ledger>>, seed: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let keep_alive_rate = f64::from(rate) / 2.0;
        let clients = (keep_alive_rate / CLIENT_RATE).ceil().max(1.0) as usize;
        let pause = Duration::from_secs_f64(clients as f64 / keep_alive_rate);
        let mut tasks = Vec::new();
        for i in 0..clients {
            let (stop, ledger) = (stop.clone(), ledger.clone());
            let offset = pause.mul_f64(i as f64 / clients as f64);
            tasks.push(runtime.spawn(async move {
                let mut next = tokio::time::Instant::now() + offset;
                let mut connection: Option<BufReader<TcpStream>> = None;
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep_until(next).await;
                    let started = Instant::now();
                    let epoch = ledger.lock().unwrap().begin();
                    let run = async {
                        if connection.is_none() {
                            connection = Some(connect(port).await?);
                        }
                        let Some(reader) = connection.as_mut() else {
                            return Err(std::io::Error::other("no connection"));
                        };
                        let (status, canary, closed) = exchange(reader, false).await?;
                        if closed {
                            connection = None;
                        }
                        Ok((status, canary))
                    };
                    let answer = tokio::time::timeout(REQUEST_TIMEOUT, run)
                        .await
                        .unwrap_or_else(|_| Err(std::io::Error::other("timed out")));
                    if answer.is_err() {
                        connection = None;
                    }
                    ledger.lock().unwrap().end(epoch, &answer, started.elapsed());
                    next += pause;
                    let now = tokio::time::Instant::now();
                    if next < now {
                        next = now;
                    }
                }
            }));
        }
        let new_connection_rate = f64::from(rate) - keep_alive_rate;
        let (stop2, ledger2) = (stop.clone(), ledger);
        tasks.push(runtime.spawn(async move {
            let mut random = Random(seed);
            let mut in_flight = tokio::task::JoinSet::new();
            let mut next = tokio::time::Instant::now();
            while !stop2.load(Ordering::Relaxed) {
                next += Duration::from_secs_f64(-random.unit().ln() / new_connection_rate);
                tokio::time::sleep_until(next).await;
                let ledger = ledger2.clone();
                in_flight.spawn(async move {
                    let started = Instant::now();
                    let epoch = ledger.lock().unwrap().begin();
                    let answer = one_shot(port).await;
                    ledger.lock().unwrap().end(epoch, &answer, started.elapsed());
                });
                while in_flight.try_join_next().is_some() {}
            }
            while in_flight.join_next().await.is_some() {}
        }));
        Load { stop, tasks }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Spins on one core until stopped: the busy neighbour.
fn burner(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut x = 0u64;
        while !stop.load(Ordering::Relaxed) {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
            }
        }
        x
    })
}

// ---------------------------------------------------------------------------------------------------------
// The product: slots of a baseline/canary pair and a user gateway
// ---------------------------------------------------------------------------------------------------------

/// A deployment `s<k>` with both versions and a user gateway `g<k>` routing to them.
struct Slot {
    deployment: String,
    gateway: String,
    port: u16,
    baseline: String,
    canary: String,
    ledger: Arc<Mutex<Ledger>>,
}

impl Slot {
    fn new(k: usize) -> Slot {
        let deployment = format!("s{k}");
        Slot {
            baseline: format!("{deployment}/sava/sava:1.0/web"),
            canary: format!("{deployment}/sava/sava:1.1/web"),
            deployment,
            gateway: format!("g{k}"),
            port: free_port(),
            ledger: Arc::default(),
        }
    }

    fn start_release(&self) -> u64 {
        self.ledger.lock().unwrap().start_release()
    }

    /// Ends the release of `epoch`: waits until the requests it started have ended (they end within
    /// [`REQUEST_TIMEOUT`]); what they saw.
    async fn end_release(&self, epoch: u64) -> Tally {
        self.ledger.lock().unwrap().end_release(epoch);
        let deadline = Instant::now() + REQUEST_TIMEOUT + Duration::from_secs(5);
        while self.ledger.lock().unwrap().running(epoch) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.ledger.lock().unwrap().take(epoch)
    }
}

/// A running embedded Vamp with the slots deployed; everything it started is stopped on drop.
struct Bench {
    vamp: Vamp,
    slots: Vec<Slot>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<vamp_core::Result<()>>>,
    _cleanup: ProcessCleanup,
    _data: TempDir,
}

fn breed(version: &str) -> Artifact {
    let text = format!(
        "name: sava:{version}\ndeployable:\n  type: process\n  definition: vamp-demo-service --name sava-{version}\nports:\n  web: 8080/http\n"
    );
    dsl::read(Kind::Breed, &text).unwrap()
}

impl Bench {
    async fn start(slots: usize, tick_ms: u64) -> Bench {
        let data = TempDir::new("vamp-canary-judge");
        let cleanup = ProcessCleanup(demo_processes(data.path(), true));
        let mut settings = haproxy_settings(u16::try_from(slots + 10).unwrap(), "the canary judge benchmark");
        settings.canary.tick_ms = tick_ms;
        let vamp = embedded_with(data.path(), settings, demo_processes(data.path(), true))
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let v = vamp.clone();
        let task = tokio::spawn(async move {
            v.run(async {
                let _ = rx.await;
            })
            .await
        });
        for version in ["1.0", "1.1"] {
            vamp.create(breed(version), &WriteOptions::default())
                .await
                .unwrap();
        }
        let slots: Vec<Slot> = (0..slots).map(Slot::new).collect();
        for slot in &slots {
            let blueprint = format!(
                "name: {}\nclusters:\n  sava:\n    services:\n      - breed: sava:1.0\n        scale: {{cpu: 0.1, memory: 32MB, instances: 1}}\n      - breed: sava:1.1\n        scale: {{cpu: 0.1, memory: 32MB, instances: 1}}\n",
                slot.deployment
            );
            vamp.deploy(
                &slot.deployment,
                Artifact::Blueprint(dsl::read_deployment_request(&blueprint).unwrap()),
                &WriteOptions::default(),
            )
            .await
            .unwrap();
        }
        for slot in &slots {
            vamp.wait_for(&slot.deployment, |d| d.is_some_and(converged), CONVERGE)
                .await
                .unwrap();
        }
        let bench = Bench {
            vamp,
            slots,
            stop: Some(tx),
            task: Some(task),
            _cleanup: cleanup,
            _data: data,
        };
        for slot in &bench.slots {
            bench.write_gateway(slot, 10, CanaryStatus::Paused, None).await;
        }
        for slot in &bench.slots {
            let port = slot.port;
            let served = tokio::task::spawn_blocking(move || {
                vamp_core::testkit::servers::wait_until(CONVERGE, || {
                    support::get(port).is_some_and(|(code, _)| code == 200)
                })
            })
            .await
            .unwrap();
            assert!(served, "gateway {} never served on port {port}", slot.gateway);
        }
        bench
    }

    /// Writes the slot's gateway: baseline 100%, canary 0%, the policy with `interval_s`, the steps if given,
    /// and `status`.
    async fn write_gateway(&self, slot: &Slot, interval_s: u64, status: CanaryStatus, steps: Option<&str>) {
        let steps = steps.map_or(String::new(), |s| format!("  steps: [{s}]\n"));
        let text = format!(
            "name: {}\nport: {}\nroutes:\n  {}: {{weight: 100%}}\n  {}: {{weight: 0%}}\ncanary:\n  baseline: {}\n  canary: {}\n  interval: {interval_s}s\n{steps}  status: {}\n",
            slot.gateway,
            slot.port,
            slot.baseline,
            slot.canary,
            slot.baseline,
            slot.canary,
            status.as_str()
        );
        let gateway = dsl::read(Kind::Gateway, &text).unwrap();
        let exists = self
            .vamp
            .get(Kind::Gateway, &slot.gateway)
            .await
            .unwrap()
            .is_some();
        if exists {
            self.vamp.update(gateway, &WriteOptions::default()).await.unwrap();
        } else {
            self.vamp.create(gateway, &WriteOptions::default()).await.unwrap();
        }
    }

    async fn status(&self, slot: &Slot) -> CanaryStatus {
        match self.vamp.get(Kind::Gateway, &slot.gateway).await.unwrap() {
            Some(Artifact::Gateway(g)) => g.canary.map(|c| c.status).unwrap_or_default(),
            other => panic!("gateway {}: {other:?}", slot.gateway),
        }
    }

    /// The ports of the baseline's and the canary's running instance.
    async fn instance_ports(&self, slot: &Slot) -> (u16, u16) {
        let d = self.vamp.deployment(&slot.deployment).await.unwrap().unwrap();
        let port = |version: &str| {
            let service = d.clusters[0]
                .services
                .iter()
                .find(|s| s.breed.name == format!("sava:{version}"))
                .unwrap();
            service.instances[0].ports["web"]
        };
        (port("1.0"), port("1.1"))
    }

    /// The slot's canary events since `since`, newest first.
    async fn events_since(&self, slot: &Slot, since: DateTime<Utc>) -> Vec<Event> {
        let query = EventQuery::tags(["canary".to_string(), format!("gateways:{}", slot.gateway)]);
        self.vamp
            .query(&query, Page::new(1, 200).unwrap())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.timestamp >= since)
            .collect()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

async fn put_fault(port: u16, query: &str) {
    let request = format!(
        "PUT /fault?{query} HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200"),
        "PUT /fault?{query} answered {out}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Releases
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Promoted,
    RolledBack,
    Paused,
    Undecided,
}

#[derive(Debug)]
struct Release {
    outcome: Outcome,
    /// From the gateway write that started it to the final decision's event.
    decision: Duration,
    /// From the start decision's event (the canary moved to its first step) to the final decision's: the
    /// time the judge took.
    judging: Duration,
    /// From the write to the end of the release (for the request rate).
    elapsed: Duration,
    tally: Tally,
    /// The final decision's reason.
    reason: String,
}

async fn release(bench: &Bench, slot: &Slot, scenario: &Scenario, level: &Level, config: &Config) -> Release {
    let (baseline_port, canary_port) = bench.instance_ports(slot).await;
    put_fault(baseline_port, &scenario.baseline).await;
    put_fault(canary_port, &scenario.canary).await;
    let (started, started_at) = (Instant::now(), Utc::now());
    let epoch = slot.start_release();
    bench
        .write_gateway(
            slot,
            level.interval_s,
            CanaryStatus::Progressing,
            config.steps.as_deref(),
        )
        .await;
    let deadline = Duration::from_secs(level.interval_s * config.deadline_intervals + 30);
    let outcome = loop {
        match bench.status(slot).await {
            CanaryStatus::Promoted => break Outcome::Promoted,
            CanaryStatus::RolledBack => break Outcome::RolledBack,
            CanaryStatus::Paused => break Outcome::Paused,
            CanaryStatus::Progressing if started.elapsed() > deadline => break Outcome::Undecided,
            CanaryStatus::Progressing => tokio::time::sleep(POLL).await,
        }
    };
    let elapsed = started.elapsed();
    let tally = slot.end_release(epoch).await;
    // Hold the slot (weights back to 100/0, the loop no longer looks) until its next release.
    bench
        .write_gateway(
            slot,
            level.interval_s,
            CanaryStatus::Paused,
            config.steps.as_deref(),
        )
        .await;
    let events = bench.events_since(slot, started_at).await;
    let last = events.iter().find(|e| {
        matches!(
            e.value["decision"].as_str(),
            Some("rollback" | "promote" | "pause")
        )
    });
    let since = |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).to_std().unwrap_or_default();
    let first = events.last().map_or(started_at, |e| e.timestamp);
    let (decision, judging) = match (outcome, last) {
        (Outcome::Undecided, _) | (_, None) => (elapsed, since(first, Utc::now())),
        (_, Some(e)) => (since(started_at, e.timestamp), since(first, e.timestamp)),
    };
    let reason = last
        .or(events.first())
        .and_then(|e| e.value["reason"].as_str())
        .unwrap_or("")
        .to_string();
    Release {
        outcome,
        decision,
        judging,
        elapsed,
        tally,
        reason,
    }
}

/// Runs the releases of one traffic level: `counts[i]` of scenario `i`, interleaved, `level.parallel` at a
/// time, under user load on every slot in use. The releases per scenario.
async fn run_level(
    bench: &Bench,
    load_runtime: &Handle,
    scenarios: &[Scenario],
    level: &Level,
    config: &Config,
) -> Vec<Vec<Release>> {
    let mut queue = VecDeque::new();
    let mut left = level.counts.clone();
    while left.iter().any(|n| *n > 0) {
        for (i, n) in left.iter_mut().enumerate() {
            if *n > 0 {
                *n -= 1;
                queue.push_back(i);
            }
        }
    }
    let total = queue.len();
    let queue = Mutex::new(queue);
    let results: Mutex<Vec<Vec<Release>>> = Mutex::new(scenarios.iter().map(|_| Vec::new()).collect());
    let slots = &bench.slots[..level.parallel.min(total).min(bench.slots.len())];
    let loads: Vec<Load> = slots
        .iter()
        .enumerate()
        .map(|(k, slot)| {
            Load::start(
                load_runtime,
                slot.port,
                level.rate,
                slot.ledger.clone(),
                0x5eed ^ ((k as u64) << 20) ^ u64::from(level.rate),
            )
        })
        .collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let phase = Instant::now();
    let (queue, results_ref, done) = (&queue, &results, &done);
    let workers = slots.iter().map(move |slot| async move {
        loop {
            let Some(i) = queue.lock().unwrap().pop_front() else {
                return;
            };
            let scenario = &scenarios[i];
            let r = release(bench, slot, scenario, level, config).await;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            eprintln!(
                "[{:>6.1} s] {} traffic {n}/{total}: {} on {}: {:?} after {:.1} s ({} requests, {} failed, {:.0} req/s)",
                phase.elapsed().as_secs_f64(),
                level.name,
                scenario.name,
                slot.gateway,
                r.outcome,
                r.decision.as_secs_f64(),
                r.tally.requests,
                r.tally.failed,
                r.tally.requests as f64 / r.elapsed.as_secs_f64().max(0.001),
            );
            results_ref.lock().unwrap()[i].push(r);
        }
    });
    futures::future::join_all(workers).await;
    for load in loads {
        load.stop().await;
    }
    results.into_inner().unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn row(scenario: &Scenario, level: &Level, releases: &[Release]) -> String {
    let count = |o: Outcome| releases.iter().filter(|r| r.outcome == o).count();
    let (promoted, rolled_back, paused, undecided) = (
        count(Outcome::Promoted),
        count(Outcome::RolledBack),
        count(Outcome::Paused),
        count(Outcome::Undecided),
    );
    let wrong = match scenario.expect {
        Expect::Promote => format!("**{rolled_back}** false rollbacks"),
        Expect::Rollback => format!("**{}** missed", releases.len() - rolled_back),
    };
    let interval = level.interval_s as f64;
    let sorted = |f: &dyn Fn(&Release) -> f64| {
        let mut v: Vec<f64> = releases.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let times = sorted(&|r| r.decision.as_secs_f64());
    let (median, p90) = (quantile(&times, 0.5), quantile(&times, 0.9));
    let judged = sorted(&|r| r.judging.as_secs_f64() / interval);
    let within_two = match scenario.expect {
        Expect::Rollback => {
            let caught = releases
                .iter()
                .filter(|r| {
                    r.outcome == Outcome::RolledBack
                        && r.judging.as_secs_f64() <= 2.0 * interval + WITHIN_SLACK.as_secs_f64()
                })
                .count();
            format!("{caught}/{}", releases.len())
        }
        Expect::Promote => "–".to_string(),
    };
    let mut tally = Tally::default();
    for r in releases {
        tally.add(&r.tally);
    }
    let seconds: f64 = releases.iter().map(|r| r.elapsed.as_secs_f64()).sum();
    let mean_ms = |us: u64, n: u64| {
        if n == 0 {
            "–".to_string()
        } else {
            format!("{:.1}", us as f64 / n as f64 / 1000.0)
        }
    };
    format!(
        "| {} | {} req/s, {} s | {} | {promoted} | {rolled_back} | {paused} | {undecided} | {wrong} | {median:.1} / {p90:.1} | {:.1} / {:.1} | {within_two} | {} ({:.0} req/s) | {} ({:.2}%): {} 5xx, {} other | {} / {} |",
        scenario.name,
        level.rate,
        level.interval_s,
        releases.len(),
        quantile(&judged, 0.5),
        quantile(&judged, 0.9),
        tally.requests,
        tally.requests as f64 / seconds.max(0.001),
        tally.failed,
        100.0 * tally.failed as f64 / tally.requests.max(1) as f64,
        tally.server_errors,
        tally.failed - tally.server_errors,
        mean_ms(tally.baseline_us, tally.baseline_ok),
        mean_ms(tally.canary_us, tally.canary_ok),
    )
}

/// Waits for SIGINT or SIGTERM; which one came.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

fn main() {
    let config = Config::from_env();
    let scenarios = scenarios();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let load_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load")
        .enable_all()
        .build()
        .expect("the load runtime");
    let levels: Vec<Level> = config
        .levels
        .iter()
        .map(|level| {
            let mut level = level.clone();
            for (i, scenario) in scenarios.iter().enumerate() {
                if !config.selected(scenario, &level) {
                    level.counts[i] = 0;
                }
            }
            level
        })
        .filter(|level| level.counts.iter().any(|n| *n > 0))
        .collect();
    let slots = levels
        .iter()
        .map(|l| l.parallel.min(l.counts.iter().sum()))
        .max()
        .unwrap_or(0);
    if slots == 0 {
        eprintln!("no scenario selected (CANARY_BENCH_ONLY={:?})", config.only);
        return;
    }
    let began = Instant::now();
    let stop_burning = Arc::new(AtomicBool::new(false));
    let burners: Vec<_> = (0..config.burners)
        .map(|_| burner(stop_burning.clone()))
        .collect();
    let results = runtime.block_on(async {
        let run = async {
            let bench = Bench::start(slots, config.tick_ms).await;
            eprintln!(
                "{slots} slots deployed and serving after {:.1} s",
                began.elapsed().as_secs_f64()
            );
            let mut results = Vec::new();
            for level in &levels {
                let releases = run_level(&bench, load_runtime.handle(), &scenarios, level, &config).await;
                results.push((level.clone(), releases));
            }
            bench.stop().await;
            results
        };
        // Interrupted, the run is dropped: the process driver's guard stops the demo services and the data
        // directory goes; HAProxy goes with the runtime below.
        tokio::select! {
            results = run => Some(results),
            signal = interrupted() => {
                eprintln!("{signal}: stopping, cleaning up");
                None
            }
        }
    });
    stop_burning.store(true, Ordering::Relaxed);
    for b in burners {
        let _ = b.join();
    }
    let Some(results) = results else {
        drop(runtime);
        drop(load_runtime);
        std::process::exit(130);
    };
    let took = began.elapsed();

    let haproxy = std::process::Command::new("haproxy")
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_default();
    println!(
        "\nCanary judge, A/A and A/B{} — {}, {} cores, {haproxy}; took {:.1} min",
        if config.quick { " (quick)" } else { "" },
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        took.as_secs_f64() / 60.0
    );
    println!(
        "Policy: defaults except interval{}; canary tick {} ms; {} burner thread(s); service {SERVICE}; load per \
         gateway half keep-alive (≤ {CLIENT_RATE} req/s per client), half new connections (Poisson).\n",
        match &config.steps {
            Some(s) => format!(" and steps [{s}]"),
            None => String::new(),
        },
        config.tick_ms,
        config.burners,
    );
    println!(
        "| scenario | traffic, interval | releases | promoted | rolled back | paused | undecided | wrong | decision median / p90 (s) | judged median / p90 (intervals) | caught ≤ 2 intervals | requests (rate) | failed requests | client mean ms baseline / canary |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (level, per_scenario) in &results {
        for (scenario, releases) in scenarios.iter().zip(per_scenario) {
            if !releases.is_empty() {
                println!("{}", row(scenario, level, releases));
            }
        }
    }
    println!();
    for (level, per_scenario) in &results {
        let (mut aa, mut false_rollbacks, mut ab, mut caught) = (0, 0, 0, 0);
        for (scenario, releases) in scenarios.iter().zip(per_scenario) {
            let limit = 2.0 * level.interval_s as f64 + WITHIN_SLACK.as_secs_f64();
            for r in releases {
                let rolled_back = r.outcome == Outcome::RolledBack;
                match scenario.expect {
                    Expect::Promote => {
                        aa += 1;
                        false_rollbacks += usize::from(rolled_back);
                    }
                    Expect::Rollback => {
                        ab += 1;
                        caught += usize::from(rolled_back && r.judging.as_secs_f64() <= limit);
                    }
                }
            }
        }
        if aa > 0 {
            println!(
                "Goal, {} traffic: ≤ 1 false rollback in 100 A/A releases — {false_rollbacks} in {aa} ({})",
                level.name,
                if false_rollbacks * 100 <= aa {
                    "met"
                } else {
                    "not met"
                }
            );
        }
        if ab > 0 && level.name == "high" {
            println!(
                "Goal, {} traffic: every regression caught within two intervals — {caught} of {ab} ({})",
                level.name,
                if caught == ab { "met" } else { "not met" }
            );
        } else if ab > 0 {
            println!(
                "{} traffic (no goal): regressions caught within two intervals — {caught} of {ab}",
                level.name
            );
        }
    }
    println!();
    for (level, per_scenario) in &results {
        for (scenario, releases) in scenarios.iter().zip(per_scenario) {
            let mut tally = Tally::default();
            for r in releases {
                tally.add(&r.tally);
            }
            if !tally.failures.is_empty() {
                let kinds: Vec<String> = tally
                    .failures
                    .iter()
                    .map(|(what, n)| format!("{n} × {what}"))
                    .collect();
                println!(
                    "{} at {} traffic: failed requests other than the canary's own 500s: {}",
                    scenario.name,
                    level.name,
                    kinds.join("; ")
                );
            }
            let wrong: Vec<&Release> = releases
                .iter()
                .filter(|r| match scenario.expect {
                    Expect::Promote => r.outcome == Outcome::RolledBack,
                    Expect::Rollback => r.outcome != Outcome::RolledBack,
                })
                .collect();
            if wrong.is_empty() {
                continue;
            }
            println!(
                "{} at {} traffic: {} wrong; the first reasons:",
                scenario.name,
                level.name,
                wrong.len()
            );
            for r in wrong.iter().take(5) {
                println!("  - {:?}: {}", r.outcome, r.reason);
            }
        }
    }
}
