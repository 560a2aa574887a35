//! `vamp-demo-service`: the tiny HTTP service the demo blueprints run with the process driver.
//!
//! ```text
//! vamp-demo-service [--name NAME] [--port PORT] [--host ADDRESS] [--fail-rate SHARE] [--delay-ms MS]
//!                   [--jitter-ms MS] [--stall-rate SHARE --stall-ms MIN-MAX] [--slow-rate SHARE --slow-ms MS]
//! ```
//!
//! It listens on `--port`, else `$PORT`, and also on every other port given as `$PORT_<NAME>` (the process
//! driver passes one per breed port), on `--host` (default 127.0.0.1). HTTP/1.1 with keep-alive, one thread per
//! connection. Every request is answered with 200 and a body naming the service (`--name`, else `$NAME`, else
//! `vamp-demo-service`), except:
//!
//! - `GET /health` → 200 `ok`, never delayed nor failed;
//! - `GET /env` → 200 with the service's environment, one `NAME=value` per line, sorted;
//! - `GET /status/<code>` → an empty answer with that status;
//! - with `--fail-rate 0.2`, every fifth of the other requests (spread evenly, not at random) gets 500;
//! - the other requests are answered after a delay, the sum of (all off by default):
//!   - `--delay-ms 50`: 50 ms on every request;
//!   - `--jitter-ms 20`: a uniformly random 0–20 ms on every request (microsecond resolution);
//!   - `--stall-rate 0.03 --stall-ms 40-50`: a share of 3% of the requests, chosen at random, stalls a uniformly
//!     random 40–50 ms more (`--stall-ms 45` for exactly 45 ms) — the rare outliers real services have
//!     (a collection pause, a slow disk, a descheduled thread);
//!   - `--slow-rate 0.5 --slow-ms 50`: a share of 50% of the requests, chosen at random, takes 50 ms more (a
//!     regression on one code path: "+50 ms on half the requests").
//!
//!   The random choices come from a small pseudo-random generator (SplitMix64) seeded from the clock and the
//!   process id, so two instances with the same options have the same latency distribution but not the same
//!   sequence;
//! - `PUT /fault?fail-rate=0.2&delay-ms=300` changes the behaviour of the running service and answers with the
//!   new values; `GET /fault` shows them. It takes the same settings as the flags, without the dashes:
//!   `fail-rate`, `delay-ms`, `jitter-ms`, `stall-rate`, `stall-ms`, `slow-rate`, `slow-ms`. It sets them all:
//!   any left out is off (`PUT /fault` alone clears everything). Tests use it to make a service slow or
//!   faulty, and healthy again, without restarting it.
//!
//! It depends on `std` only, so the process driver's tests can build it with a bare `rustc`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a kept-alive connection may stay idle.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;

/// How the service fails and how slow it is: the flags, and what `PUT /fault` sets.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Fault {
    /// The share of requests answered with 500, spread evenly.
    fail_rate: f64,
    /// Milliseconds every request waits.
    delay_ms: u64,
    /// Every request waits a uniformly random 0..=`jitter_ms` more.
    jitter_ms: u64,
    /// The share of requests, chosen at random, that stall …
    stall_rate: f64,
    /// … a uniformly random `stall_ms.0..=stall_ms.1` milliseconds more.
    stall_ms: (u64, u64),
    /// The share of requests, chosen at random, that take …
    slow_rate: f64,
    /// … this many milliseconds more.
    slow_ms: u64,
}

impl Fault {
    /// Sets one setting by its name (a flag without the dashes, a `PUT /fault` key).
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let share = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("{key} {value} is not a share between 0 and 1"))
        };
        let millis = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{key} {value} is not a number of milliseconds"))
        };
        match key {
            "fail-rate" => self.fail_rate = share()?,
            "delay-ms" => self.delay_ms = millis(value)?,
            "jitter-ms" => self.jitter_ms = millis(value)?,
            "stall-rate" => self.stall_rate = share()?,
            "stall-ms" => {
                let (low, high) = match value.split_once('-') {
                    Some((low, high)) => (millis(low)?, millis(high)?),
                    None => (millis(value)?, millis(value)?),
                };
                if low > high {
                    return Err(format!("{key} {value} is not a range MIN-MAX with MIN <= MAX"));
                }
                self.stall_ms = (low, high);
            }
            "slow-rate" => self.slow_rate = share()?,
            "slow-ms" => self.slow_ms = millis(value)?,
            other => return Err(format!("unknown fault setting {other}")),
        }
        Ok(())
    }

    /// The settings as `GET /fault` shows them: the fail rate and the delay always, the others when on.
    fn show(&self) -> String {
        let mut out = format!("fail-rate={} delay-ms={}", self.fail_rate, self.delay_ms);
        if self.jitter_ms > 0 {
            let _ = write!(out, " jitter-ms={}", self.jitter_ms);
        }
        if self.stall_rate > 0.0 {
            let (low, high) = self.stall_ms;
            let _ = write!(out, " stall-rate={} stall-ms={low}-{high}", self.stall_rate);
        }
        if self.slow_rate > 0.0 {
            let _ = write!(out, " slow-rate={} slow-ms={}", self.slow_rate, self.slow_ms);
        }
        out.push('\n');
        out
    }

    /// How long one request waits: the delay, the jitter, and a stall or a slow path when chosen.
    fn latency(&self, random: &Random) -> Duration {
        let mut micros = self.delay_ms.saturating_mul(1000);
        if self.jitter_ms > 0 {
            micros += random.below(self.jitter_ms * 1000 + 1);
        }
        if self.stall_rate > 0.0 && random.unit() < self.stall_rate {
            let (low, high) = self.stall_ms;
            micros += low * 1000 + random.below((high - low) * 1000 + 1);
        }
        if self.slow_rate > 0.0 && random.unit() < self.slow_rate {
            micros += self.slow_ms.saturating_mul(1000);
        }
        Duration::from_micros(micros)
    }
}

/// A small pseudo-random generator shared by the connection threads: SplitMix64 over an atomic counter.
#[derive(Debug)]
struct Random(AtomicU64);

impl Random {
    /// Seeded from the clock and the process id.
    fn from_entropy() -> Random {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Random::seeded(nanos ^ (u64::from(std::process::id()) << 32))
    }

    fn seeded(seed: u64) -> Random {
        Random(AtomicU64::new(seed))
    }

    fn next(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..`n` (`n` > 0; the modulo bias is below 2^-40 for the ranges used here).
    fn below(&self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What the service answers with.
#[derive(Debug)]
struct Settings {
    name: String,
    /// Changed by `PUT /fault`.
    fault: Mutex<Fault>,
    requests: AtomicU64,
    random: Random,
}

impl Settings {
    fn new(name: String, fault: Fault) -> Settings {
        Settings {
            name,
            fault: Mutex::new(fault),
            requests: AtomicU64::new(0),
            random: Random::from_entropy(),
        }
    }

    fn current(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fault(&self) -> String {
        self.current().show()
    }

    /// Applies `PUT /fault`'s query: every setting it names, every other one off.
    fn set_fault(&self, query: &str) -> Result<(), String> {
        let mut fault = Fault::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            fault.set(key, value)?;
        }
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
        Ok(())
    }
}

#[derive(Debug)]
struct Options {
    name: String,
    ports: Vec<u16>,
    host: IpAddr,
    fault: Fault,
}

const USAGE: &str = "usage: vamp-demo-service [--name NAME] [--port PORT] [--host ADDRESS] \
                     [--fail-rate SHARE] [--delay-ms MS] [--jitter-ms MS] [--stall-rate SHARE --stall-ms MIN-MAX] \
                     [--slow-rate SHARE --slow-ms MS]\n\
                     Listens on --port or $PORT (and every $PORT_<NAME>); answers every request with 200 and \
                     its name; /health, /env, /status/<code> and /fault are special.";

fn parse_options(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    extra_ports: Vec<u16>,
) -> Result<Options, String> {
    let mut name = env("NAME");
    let mut port: Option<String> = None;
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut fault = Fault::default();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--name" => name = Some(value()?),
            "--port" => port = Some(value()?),
            "--host" => {
                let v = value()?;
                host = v
                    .parse()
                    .map_err(|_| format!("--host {v} is not an IP address"))?;
            }
            "--fail-rate" | "--delay-ms" | "--jitter-ms" | "--stall-rate" | "--stall-ms" | "--slow-rate"
            | "--slow-ms" => {
                let v = value()?;
                fault.set(&flag[2..], &v).map_err(|e| format!("--{e}"))?;
            }
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let port = port
        .or_else(|| env("PORT"))
        .ok_or("no port: give --port or set PORT")?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("the port {port} is not a number from 1 to 65535"))?;
    let mut ports = vec![port];
    for extra in extra_ports {
        if !ports.contains(&extra) {
            ports.push(extra);
        }
    }
    Ok(Options {
        name: name.unwrap_or_else(|| "vamp-demo-service".to_string()),
        ports,
        host,
        fault,
    })
}

/// The ports of `PORT_<NAME>` variables, in name order.
fn named_ports() -> Vec<u16> {
    let mut ports: Vec<(String, u16)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("PORT_"))
        .filter_map(|(k, v)| Some((k, v.parse().ok().filter(|p| *p > 0)?)))
        .collect();
    ports.sort();
    ports.into_iter().map(|(_, p)| p).collect()
}

fn main() -> ExitCode {
    run(std::env::args().skip(1).collect())
}

/// Runs the service with `args` (the command line without the program name) until it is killed. The `vamp`
/// binary includes this file and calls it for its `vamp demo-service` subcommand, so `vamp serve --demo` needs
/// no other binary.
pub fn run(args: Vec<String>) -> ExitCode {
    let options = match parse_options(&args, &|k| std::env::var(k).ok(), named_ports()) {
        Ok(options) => options,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("vamp-demo-service: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let settings = Arc::new(Settings::new(options.name, options.fault));
    let mut listeners = Vec::new();
    for port in &options.ports {
        let address = SocketAddr::new(options.host, *port);
        match TcpListener::bind(address) {
            Ok(listener) => listeners.push(listener),
            Err(e) => {
                eprintln!("vamp-demo-service: cannot listen on {address}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    println!(
        "vamp-demo-service '{}' listening on {} port(s) {:?}",
        settings.name, options.host, options.ports
    );
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let settings = settings.clone();
            thread::spawn(move || accept(listener, settings))
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    ExitCode::from(1)
}

fn accept(listener: TcpListener, settings: Arc<Settings>) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let settings = settings.clone();
                thread::spawn(move || {
                    let _ = serve(stream, &settings);
                });
            }
            Err(e) => eprintln!("vamp-demo-service: accept failed: {e}"),
        }
    }
}

/// A request head as far as the service cares.
#[derive(Debug, PartialEq)]
struct Request {
    method: String,
    path: String,
    keep_alive: bool,
    content_length: usize,
}

/// Reads one request head; `Ok(None)` when the client closed the connection between requests.
fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid("bad request line"));
    };
    let mut request = Request {
        method: method.to_string(),
        path: path.to_string(),
        keep_alive: version == "HTTP/1.1",
        content_length: 0,
    };
    let mut size = line.len();
    loop {
        let mut header = String::new();
        let n = reader.read_line(&mut header)?;
        size += n;
        if n == 0 || size > MAX_HEAD {
            return Err(invalid("incomplete or oversized request head"));
        }
        let header = header.trim_end();
        if header.is_empty() {
            return Ok(Some(request));
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(invalid("bad header"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "connection" if value.eq_ignore_ascii_case("close") => request.keep_alive = false,
            "connection" if value.eq_ignore_ascii_case("keep-alive") => request.keep_alive = true,
            "content-length" => {
                request.content_length = value.parse().map_err(|_| invalid("bad content length"))?;
            }
            "transfer-encoding" => return Err(invalid("chunked request bodies are not supported")),
            _ => {}
        }
    }
}

/// Whether the `n`th request (from 1) is one of the `rate` share that fails: evenly spread, so exactly
/// `floor(n * rate)` of the first `n` requests fail.
fn fails(n: u64, rate: f64) -> bool {
    let due = |k: u64| (k as f64 * rate).floor() as u64;
    due(n) > due(n.saturating_sub(1))
}

/// The status and body of the answer to `request`.
fn answer(request: &Request, settings: &Settings) -> (u16, String) {
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    if path == "/fault" {
        if request.method == "PUT" || request.method == "POST" {
            if let Err(e) = settings.set_fault(query) {
                return (400, format!("{e}\n"));
            }
        }
        return (200, settings.fault());
    }
    if path == "/health" {
        return (200, "ok\n".to_string());
    }
    if path == "/env" {
        let lines: BTreeSet<String> = std::env::vars().map(|(k, v)| format!("{k}={v}\n")).collect();
        return (200, lines.into_iter().collect());
    }
    if let Some(code) = path.strip_prefix("/status/") {
        return match code.parse::<u16>() {
            Ok(code) if (200..600).contains(&code) => (code, String::new()),
            _ => (400, "give a status code from 200 to 599\n".to_string()),
        };
    }
    let fault = settings.current();
    let delay = fault.latency(&settings.random);
    if !delay.is_zero() {
        thread::sleep(delay);
    }
    let n = settings.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if fails(n, fault.fail_rate) {
        return (500, format!("{} failed this request on purpose\n", settings.name));
    }
    (200, format!("{}\n", settings.name))
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn serve(stream: TcpStream, settings: &Settings) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader)? {
        std::io::copy(
            &mut (&mut reader).take(request.content_length as u64),
            &mut std::io::sink(),
        )?;
        let (code, body) = answer(&request, settings);
        let body = if request.method == "HEAD" {
            String::new()
        } else {
            body
        };
        let response = format!(
            "HTTP/1.1 {code} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
             X-Served-By: {}\r\nConnection: {}\r\n\r\n{body}",
            reason(code),
            body.len(),
            settings.name,
            if request.keep_alive { "keep-alive" } else { "close" },
        );
        writer.write_all(response.as_bytes())?;
        writer.flush()?;
        if !request.keep_alive {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = env_of(&[("PORT", "8080"), ("NAME", "from-env")]);
        let options = parse_options(&strings(&["--name", "x", "--port", "9090"]), &env, vec![]).unwrap();
        assert_eq!(
            (options.name.as_str(), options.ports.as_slice()),
            ("x", &[9090][..])
        );
        let options = parse_options(&[], &env, vec![8080, 7070]).unwrap();
        assert_eq!(
            (options.name.as_str(), options.ports.as_slice()),
            ("from-env", &[8080, 7070][..])
        );
    }

    #[test]
    fn a_port_is_required_and_shares_are_checked() {
        let env = env_of(&[]);
        assert!(parse_options(&[], &env, vec![]).unwrap_err().contains("no port"));
        let bad_rate = strings(&["--port", "1", "--fail-rate", "1.5"]);
        assert!(parse_options(&bad_rate, &env, vec![])
            .unwrap_err()
            .contains("share"));
        assert!(parse_options(&strings(&["--bogus"]), &env, vec![]).is_err());
    }

    #[test]
    fn the_fail_rate_is_spread_evenly() {
        let failed = (1..=100).filter(|n| fails(*n, 0.2)).count();
        assert_eq!(failed, 20);
        assert!(!(1..=100).any(|n| fails(n, 0.0)));
        assert!((1..=10).all(|n| fails(n, 1.0)));
    }

    #[test]
    fn requests_are_read_with_keep_alive_by_version_and_header() {
        let mut input: &[u8] =
            b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.0\r\n\r\n";
        let first = read_request(&mut input).unwrap().unwrap();
        assert_eq!(
            first,
            Request {
                method: "GET".into(),
                path: "/a".into(),
                keep_alive: true,
                content_length: 3
            }
        );
        input = &input[3..];
        let second = read_request(&mut input).unwrap().unwrap();
        assert!(!second.keep_alive);
        assert!(read_request(&mut input).unwrap().is_none());
    }

    #[test]
    fn health_and_status_paths_answer_as_documented() {
        let settings = settings(1.0);
        assert_eq!(answer(&request("GET", "/health"), &settings).0, 200);
        assert_eq!(answer(&request("GET", "/status/503"), &settings).0, 503);
        assert_eq!(answer(&request("GET", "/anything"), &settings).0, 500);
        assert!(answer(&request("GET", "/env"), &settings).1.contains('='));
    }

    fn settings(fail_rate: f64) -> Settings {
        Settings::new(
            "svc".into(),
            Fault {
                fail_rate,
                ..Fault::default()
            },
        )
    }

    fn request(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            keep_alive: true,
            content_length: 0,
        }
    }

    #[test]
    fn faults_change_at_runtime_and_clear() {
        let settings = settings(0.0);
        assert_eq!(answer(&request("GET", "/x"), &settings).0, 200);
        let set = answer(&request("PUT", "/fault?fail-rate=1&delay-ms=5"), &settings);
        assert_eq!(set, (200, "fail-rate=1 delay-ms=5\n".to_string()));
        assert_eq!(answer(&request("GET", "/x"), &settings).0, 500);
        assert_eq!(settings.current().delay_ms, 5);
        assert_eq!(answer(&request("PUT", "/fault?fail-rate=2"), &settings).0, 400);
        assert_eq!(answer(&request("PUT", "/fault?bogus=1"), &settings).0, 400);
        assert_eq!(
            answer(&request("GET", "/fault"), &settings).1,
            "fail-rate=1 delay-ms=5\n"
        );
        answer(&request("PUT", "/fault"), &settings);
        assert_eq!(answer(&request("GET", "/x"), &settings).0, 200);
        assert_eq!(settings.current(), Fault::default());
    }

    #[test]
    fn latency_options_are_flags_and_fault_settings() {
        let env = env_of(&[]);
        let args = strings(&[
            "--port",
            "1",
            "--delay-ms",
            "100",
            "--jitter-ms",
            "20",
            "--stall-rate",
            "0.03",
            "--stall-ms",
            "40-50",
            "--slow-rate",
            "0.5",
            "--slow-ms",
            "50",
        ]);
        let fault = parse_options(&args, &env, vec![]).unwrap().fault;
        let expected = Fault {
            fail_rate: 0.0,
            delay_ms: 100,
            jitter_ms: 20,
            stall_rate: 0.03,
            stall_ms: (40, 50),
            slow_rate: 0.5,
            slow_ms: 50,
        };
        assert_eq!(fault, expected);
        let shown =
            "fail-rate=0 delay-ms=100 jitter-ms=20 stall-rate=0.03 stall-ms=40-50 slow-rate=0.5 slow-ms=50\n";
        assert_eq!(fault.show(), shown);
        let settings = settings(0.0);
        let query =
            "/fault?delay-ms=100&jitter-ms=20&stall-rate=0.03&stall-ms=40-50&slow-rate=0.5&slow-ms=50";
        assert_eq!(
            answer(&request("PUT", query), &settings),
            (200, shown.to_string())
        );
        assert_eq!(settings.current(), expected);
        answer(&request("PUT", "/fault?stall-rate=0.1&stall-ms=45"), &settings);
        assert_eq!(settings.current().stall_ms, (45, 45));
        assert_eq!(settings.current().delay_ms, 0, "a PUT sets every setting");
        for bad in ["stall-ms=50-40", "stall-ms=x", "slow-rate=2", "jitter-ms=-1"] {
            let path = format!("/fault?{bad}");
            assert_eq!(answer(&request("PUT", &path), &settings).0, 400, "{bad}");
        }
        let bad = strings(&["--port", "1", "--stall-ms", "9-1"]);
        assert!(parse_options(&bad, &env, vec![])
            .unwrap_err()
            .starts_with("--stall-ms"));
    }

    #[test]
    fn latencies_follow_the_settings() {
        let random = Random::seeded(7);
        let fault = Fault {
            delay_ms: 100,
            jitter_ms: 20,
            stall_rate: 0.03,
            stall_ms: (40, 50),
            ..Fault::default()
        };
        let n = 20_000;
        let latencies: Vec<u64> = (0..n)
            .map(|_| fault.latency(&random).as_micros() as u64)
            .collect();
        let plain = latencies.iter().filter(|l| **l <= 120_000).count();
        let stalled = latencies.iter().filter(|l| **l >= 140_000).count();
        assert_eq!(
            plain + stalled,
            n,
            "every latency is 100-120 ms, or 140-170 ms when stalled"
        );
        assert!(latencies.iter().all(|l| (100_000..=170_000).contains(l)));
        assert!((450..=750).contains(&stalled), "about 3% stalled: {stalled}");
        let mean = latencies.iter().sum::<u64>() as f64 / n as f64 / 1000.0;
        assert!(
            (110.5..112.2).contains(&mean),
            "mean {mean} ms, expected 100 + 10 + 0.03 × 45"
        );
        let slow = Fault {
            slow_rate: 0.5,
            slow_ms: 50,
            ..Fault::default()
        };
        let slowed = (0..n)
            .filter(|_| slow.latency(&random) == Duration::from_millis(50))
            .count();
        assert!((9_500..=10_500).contains(&slowed), "about half slowed: {slowed}");
        assert_eq!(Fault::default().latency(&random), Duration::ZERO);
    }
}
