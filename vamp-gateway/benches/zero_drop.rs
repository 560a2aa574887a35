//! Zero drop: a loopback load generator (16 clients; a new connection per request, and separately keep-alive)
//! runs through 200 consecutive changes of what the marshaller publishes, applied by the agent: half of them
//! reloads (a second gateway's listener comes and goes) and half runtime weight changes; failed requests and
//! connection errors are counted. In the same run, the same load through 100 plain `haproxy -D -sf <pid>`
//! reloads of the same configurations without socket hand-over, for comparison.
//!
//! `cargo bench -p vamp-gateway --bench zero_drop`

#[path = "../tests/agent_support/mod.rs"]
mod agent_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_support::*;
use vamp_core::model::Gateway;
use vamp_core::testkit::servers::wait_until;
use vamp_gateway::agent::apply::{Applied, Applier};
use vamp_gateway::agent::process::ProcessOptions;

const CHANGES: usize = 200;
const CLIENTS: usize = 16;
const PAUSE: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Keep-alive only: a reused connection closed before any byte of the response (a client retries these).
    idle_closed: AtomicU64,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    println!("zero drop: {CLIENTS} loopback clients through {CHANGES} agent changes (half reloads) / {} plain -sf reloads", CHANGES / 2);
    println!("| reload technique | connections | requests ok | failed | reused connection closed before the response | req/s |");
    println!("|---|---|---|---|---|---|");
    for keep_alive in [false, true] {
        let mode = if keep_alive {
            "keep-alive"
        } else {
            "new per request"
        };
        let (counts, elapsed, reloads) = runtime.block_on(agent_run(&a, &b, keep_alive));
        print_row(
            &format!("agent: master-worker, {reloads} reloads + runtime API"),
            mode,
            &counts,
            elapsed,
        );
        let (counts, elapsed) = plain_run(&a, &b, keep_alive);
        print_row(
            &format!("plain `haproxy -D -sf`, {} reloads", CHANGES / 2),
            mode,
            &counts,
            elapsed,
        );
    }
}

fn print_row(name: &str, mode: &str, counts: &Counts, elapsed: Duration) {
    let ok = counts.ok.load(Ordering::Relaxed);
    println!(
        "| {name} | {mode} | {ok} | {} | {} | {:.0} |",
        counts.failed.load(Ordering::Relaxed),
        counts.idle_closed.load(Ordering::Relaxed),
        ok as f64 / elapsed.as_secs_f64()
    );
}

/// The gateway under load (`shop/web`, 90/10 over backends `a` and `b`, or 10/90) and, when `second` is given,
/// a second gateway on that port.
fn gateways(port: u16, second: Option<u16>, a: u16, b: u16, to_b: bool) -> Vec<Gateway> {
    let mut g = vec![vamp_gateway(
        "shop/web",
        port,
        &[(if to_b { 10 } else { 90 }, a), (if to_b { 90 } else { 10 }, b)],
    )];
    if let Some(port) = second {
        g.push(vamp_gateway("blog/web", port, &[(100, a)]));
    }
    g
}

struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    threads: Vec<std::thread::JoinHandle<()>>,
    started: Instant,
}

impl Load {
    fn start(port: u16, keep_alive: bool) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let threads = (0..CLIENTS)
            .map(|_| {
                let (stop, counts) = (stop.clone(), counts.clone());
                std::thread::spawn(move || client(port, keep_alive, &stop, &counts))
            })
            .collect();
        Load {
            stop,
            counts,
            threads,
            started: Instant::now(),
        }
    }

    fn finish(self) -> (Arc<Counts>, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        (self.counts, self.started.elapsed())
    }
}

enum Outcome {
    Ok { close: bool },
    Failed,
    ClosedBeforeResponse,
}

fn exchange(conn: &mut BufReader<TcpStream>, keep_alive: bool) -> Outcome {
    let request: &[u8] = if keep_alive {
        b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    };
    if conn.get_mut().write_all(request).is_err() {
        return Outcome::ClosedBeforeResponse;
    }
    let mut line = String::new();
    match conn.read_line(&mut line) {
        Ok(0) | Err(_) => return Outcome::ClosedBeforeResponse,
        Ok(_) => {}
    }
    if !line.starts_with("HTTP/1.1 200") {
        return Outcome::Failed;
    }
    let (mut length, mut close) = (0usize, !keep_alive);
    loop {
        line.clear();
        match conn.read_line(&mut line) {
            Ok(0) | Err(_) => return Outcome::Failed,
            Ok(_) => {}
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") && lower.contains("close") {
            close = true;
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    if conn.read_exact(&mut body).is_err() {
        return Outcome::Failed;
    }
    Outcome::Ok { close }
}

fn client(port: u16, keep_alive: bool, stop: &AtomicBool, counts: &Counts) {
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut reused = false;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = s.set_nodelay(true);
                    conn = Some(BufReader::new(s));
                    reused = false;
                }
                Err(_) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match exchange(c, keep_alive) {
            Outcome::Ok { close } => {
                counts.ok.fetch_add(1, Ordering::Relaxed);
                if close || !keep_alive {
                    conn = None;
                } else {
                    reused = true;
                }
            }
            Outcome::ClosedBeforeResponse if reused => {
                counts.idle_closed.fetch_add(1, Ordering::Relaxed);
                conn = None;
            }
            _ => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                conn = None;
            }
        }
    }
}

async fn agent_run(a: &Backend, b: &Backend, keep_alive: bool) -> (Arc<Counts>, Duration, usize) {
    let scratch = Scratch::new("bench-zero-drop");
    let ports = distinct_ports(3);
    let (port, second) = (ports[0], ports[1]);
    let mut applier = Applier::new(process_options(scratch.path(), ports[2])).unwrap();
    applier
        .apply_text(&published_text(&gateways(port, None, a.port, b.port, false)))
        .await
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || get(port)
        .is_some_and(|(s, _)| s == 200)));
    let load = Load::start(port, keep_alive);
    let mut reloads = 0;
    for i in 0..CHANGES {
        let listener = (i / 2) % 2 == 0;
        let to_b = i % 2 == 0;
        let text = published_text(&gateways(port, listener.then_some(second), a.port, b.port, to_b));
        let applied = applier.apply_text(&text).await.unwrap();
        if matches!(applied, Applied::Reloaded { .. }) {
            reloads += 1;
        }
        tokio::time::sleep(PAUSE).await;
    }
    let (counts, elapsed) = load.finish();
    applier.shutdown().await;
    (counts, elapsed, reloads)
}

/// The same load through plain `haproxy -D -sf <old pid>` reloads (no `-x`: no socket hand-over).
fn plain_run(a: &Backend, b: &Backend, keep_alive: bool) -> (Arc<Counts>, Duration) {
    let scratch = Scratch::new("bench-plain-sf");
    let dir = scratch.path();
    let ports = distinct_ports(3);
    let mut options = process_options(dir, ports[2]);
    options.dir = dir.to_path_buf();
    let (port, second) = (ports[0], ports[1]);
    let maps = dir.join("maps");
    std::fs::create_dir_all(&maps).unwrap();
    let write = |listener: bool, to_b: bool| {
        let e = published(&gateways(port, listener.then_some(second), a.port, b.port, to_b));
        for (name, content) in &e.maps {
            std::fs::write(maps.join(name), content).unwrap();
        }
        std::fs::write(dir.join("haproxy.cfg"), &e.config).unwrap();
    };
    let mut pids = Vec::new();
    write(false, false);
    plain_haproxy(&options, None, &mut pids);
    assert!(wait_until(Duration::from_secs(10), || get(port)
        .is_some_and(|(s, _)| s == 200)));
    let load = Load::start(port, keep_alive);
    for i in 0..CHANGES / 2 {
        write(i % 2 == 0, i % 2 == 0);
        let old = pids.last().copied();
        plain_haproxy(&options, old, &mut pids);
        std::thread::sleep(PAUSE * 2);
    }
    let result = load.finish();
    for pid in pids {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
    result
}

fn plain_haproxy(options: &ProcessOptions, old: Option<u32>, pids: &mut Vec<u32>) {
    let mut command = std::process::Command::new("haproxy");
    command
        .arg("-D")
        .arg("-f")
        .arg(options.config_path())
        .arg("-p")
        .arg(options.pid_path())
        .envs(options.environment())
        .stderr(std::process::Stdio::null());
    if let Some(old) = old {
        command.arg("-sf").arg(old.to_string());
    }
    assert!(
        command.status().unwrap().success(),
        "plain haproxy refused to start"
    );
    pids.push(read_pid(&options.pid_path()));
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}
