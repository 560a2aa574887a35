//! Support for the agent's tests and benchmarks: configurations in the contract's structure (built by hand
//! here, independent of the marshaller, for the agent tests), what the real marshaller publishes for Vamp
//! gateways (for the benchmarks), tiny HTTP backends that answer with their name, a sink that only accepts
//! health-check connections, a plain HTTP client, and scratch directories removed on drop.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use vamp_core::model::{Gateway, Protocol};
use vamp_gateway::agent::process::ProcessOptions;
use vamp_gateway::haproxy::envelope::Envelope;
use vamp_gateway::haproxy::samples;
use vamp_gateway::haproxy::HaproxyMarshaller;

/// A route: its weight in percent and the ports of its instances on 127.0.0.1 (one server each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub weight: u8,
    pub targets: Vec<u16>,
    /// Server weights (100 unless given).
    pub server_weights: Vec<u32>,
}

impl RouteSpec {
    pub fn new(weight: u8, targets: &[u16]) -> Self {
        RouteSpec {
            weight,
            targets: targets.to_vec(),
            server_weights: vec![100; targets.len()],
        }
    }
}

/// A gateway: an id (used as `G`), its port and its routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySpec {
    pub id: String,
    pub port: u16,
    pub routes: Vec<RouteSpec>,
}

/// Options of the generated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    /// `check` on every server.
    pub check: bool,
    /// `balance` of every route backend.
    pub balance: String,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            check: true,
            balance: "roundrobin".into(),
        }
    }
}

/// The number of slot backends of a gateway with `routes` routes (contract §1): always one free slot.
pub fn capacity(routes: usize) -> usize {
    8 * (routes + 1).div_ceil(8)
}

/// The envelope for `gateways`, in the contract's structure.
pub fn envelope(gateways: &[GatewaySpec], style: &Style) -> Envelope {
    let mut config = String::from(
        "global\n\
         \x20   stats socket \"${VAMP_RUNTIME_SOCKET-/var/run/vamp-gateway-agent/haproxy.sock}\" mode 600 level admin expose-fd listeners\n\
         \x20   log \"${VAMP_LOG_TARGET-127.0.0.1:5140}\" len 8192 local0\n\
         \x20   maxconn 4096\n\
         defaults\n\
         \x20   mode http\n\
         \x20   timeout connect 5s\n\
         \x20   timeout client 50s\n\
         \x20   timeout server 50s\n\
         \x20   timeout http-request 5s\n\
         \x20   timeout http-keep-alive 10s\n\
         \x20   option idle-close-on-response\n\
         \x20   option redispatch\n\
         \x20   retries 3\n\
         \x20   option dontlognull\n\
         listen vamp_stats\n\
         \x20   bind \"${VAMP_STATS_BIND-0.0.0.0:1988}\"\n\
         \x20   monitor-uri /health\n\
         \x20   stats enable\n\
         \x20   stats uri /\n",
    );
    let mut result = Envelope::default();
    for gateway in gateways {
        let g = &gateway.id;
        let maps = "${VAMP_MAPS_DIR-/var/lib/vamp-gateway-agent/maps}";
        let _ = write!(
            config,
            "frontend g_{g}\n\
             \x20   bind \"${{VAMP_GATEWAY_BIND-0.0.0.0}}:{port}\"\n\
             \x20   mode http\n\
             \x20   log global\n\
             \x20   http-request set-var(txn.vamp_route) rand(100),map_int(\"{maps}/{g}.weights\") if !{{ var(txn.vamp_route) -m found }}\n\
             \x20   use_backend %[var(txn.vamp_route)]\n\
             \x20   default_backend g_{g}_none\n",
            port = gateway.port
        );
        for k in 0..capacity(gateway.routes.len()) {
            let _ = write!(
                config,
                "backend g_{g}_r{k}\n    mode http\n    balance {}\n    option forwardfor\n",
                style.balance
            );
            if let Some(route) = gateway.routes.get(k) {
                for (i, port) in route.targets.iter().enumerate() {
                    let weight = route.server_weights.get(i).copied().unwrap_or(100);
                    let check = if style.check { " check" } else { "" };
                    let _ = writeln!(
                        config,
                        "    server t_{g}_{k}_{i} 127.0.0.1:{port} weight {weight}{check}"
                    );
                }
            }
        }
        let _ = write!(config, "backend g_{g}_none\n    mode http\n");
        let mut weights = String::new();
        let mut low = 0u32;
        for (k, route) in gateway.routes.iter().enumerate() {
            if route.weight == 0 {
                continue;
            }
            let high = (low + u32::from(route.weight)).min(100) - 1;
            let _ = writeln!(weights, "{low}:{high} g_{g}_r{k}");
            low = high + 1;
        }
        result.maps.insert(format!("{g}.weights"), weights);
        result.gateways.insert(format!("g_{g}"), format!("gateway-{g}"));
        for k in 0..gateway.routes.len() {
            result.routes.insert(
                format!("g_{g}_r{k}"),
                (format!("gateway-{g}"), format!("route-{k}")),
            );
        }
    }
    result.config = config;
    result
}

/// `n` gateways of `m` routes each, ports from `first_port`; route `k` of every gateway has one instance on
/// `targets[k % targets.len()]`, weights spread evenly (the first route takes the remainder).
pub fn uniform(n: usize, m: usize, first_port: u16, targets: &[u16]) -> Vec<GatewaySpec> {
    (0..n)
        .map(|i| GatewaySpec {
            id: format!("gw{i}"),
            port: first_port + i as u16,
            routes: (0..m)
                .map(|k| {
                    let share = (100 / m) as u8;
                    let weight = if k == 0 {
                        100 - share * (m as u8 - 1)
                    } else {
                        share
                    };
                    RouteSpec::new(weight, &[targets[k % targets.len()]])
                })
                .collect(),
        })
        .collect()
}

/// An HTTP gateway `name` on `port` as Vamp models it: one route per `(weight, target port)`, route `k` named
/// `<name>/r<k>/web` with one instance `<name>-r<k>-0` on 127.0.0.1.
pub fn vamp_gateway(name: &str, port: u16, routes: &[(u8, u16)]) -> Gateway {
    let routes = routes
        .iter()
        .enumerate()
        .map(|(k, (weight, target))| {
            let path = format!("{name}/r{k}/web");
            let instance = format!("{name}-r{k}-0");
            samples::route(&path, *weight, &[(instance.as_str(), None, *target)])
        })
        .collect();
    samples::gateway(name, port, Protocol::Http, routes)
}

/// What Vamp publishes for `gateways`: the marshaller's envelope.
pub fn published(gateways: &[Gateway]) -> Envelope {
    HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .envelope(gateways)
        .unwrap()
}

/// What Vamp publishes for `gateways`, as the text written to the key-value store.
pub fn published_text(gateways: &[Gateway]) -> String {
    use vamp_core::gateway::GatewayMarshaller;
    HaproxyMarshaller::new()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true))
        .render(gateways)
        .unwrap()
}

/// `n` different free ports (free now; nothing holds them).
pub fn distinct_ports(n: usize) -> Vec<u16> {
    let mut ports = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let port = vamp_core::testkit::servers::free_port().unwrap();
        if ports.insert(port) {
            out.push(port);
        }
    }
    out
}

/// A loopback TCP listener that accepts connections and closes them at once, on one thread: the instance of
/// routes that get no traffic, so HAProxy's health checks find it up without a thread per check. Stopped on
/// drop.
pub struct Sink {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                drop(stream);
            }
        });
        Sink { port, stop }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A scratch directory under the system temp dir, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "vamp-agent-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Process options for a test HAProxy in `dir`, with the stats listener on `stats_port` and logs sent to a
/// discard port. Fails loudly when `haproxy` is not installed.
pub fn process_options(dir: &Path, stats_port: u16) -> ProcessOptions {
    assert!(
        std::process::Command::new("haproxy")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success()),
        "haproxy is not installed: the agent tests need HAProxy 2.6 (apt install haproxy)"
    );
    let mut options = ProcessOptions::default();
    options.dir = dir.to_path_buf();
    options.stats_bind = format!("127.0.0.1:{stats_port}");
    options.gateway_bind = "127.0.0.1".into();
    options.vhost_bind = "127.0.0.1:1".into();
    options.log_target = "127.0.0.1:9".into();
    options
}

/// A loopback HTTP server answering every request with its name (HTTP/1.1, keep-alive honoured); stopped on
/// drop.
pub struct Backend {
    pub name: String,
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Backend {
    pub fn start(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let answer = name.to_string();
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let answer = answer.clone();
                std::thread::spawn(move || serve(stream, &answer));
            }
        });
        Backend {
            name: name.to_string(),
            port,
            stop,
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, answer: &str) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut close = false;
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if first && line.starts_with("HTTP/1.0") {
                close = true;
            }
            first = false;
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{answer}",
            answer.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if writer.write_all(response.as_bytes()).is_err() || close {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// `GET /` on 127.0.0.1:`port` over a new connection: the status and body, `None` on a connection error.
pub fn get(port: u16) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// The bodies of `n` requests to `port` (`"<status>"` for a non-200 answer, `"error"` for a connection error).
pub fn answers(port: u16, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| match get(port) {
            Some((200, body)) => body,
            Some((status, _)) => status.to_string(),
            None => "error".into(),
        })
        .collect()
}

/// How many of `answers` equal `name`.
pub fn count(answers: &[String], name: &str) -> usize {
    answers.iter().filter(|a| *a == name).count()
}

/// The master's reload count from `show proc` on `<dir>/master.sock`.
pub fn master_reloads(dir: &Path) -> u64 {
    let mut s = std::os::unix::net::UnixStream::connect(dir.join("master.sock")).unwrap();
    s.write_all(b"show proc\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.lines()
        .find(|l| l.contains(" master "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// The `p`-th percentile (0–100) of `samples` in milliseconds, nearest rank.
pub fn percentile(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}
