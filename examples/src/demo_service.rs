//! `vamp-demo-service`: the tiny HTTP service the demo blueprints run with the process driver.
//!
//! ```text
//! vamp-demo-service [--name NAME] [--port PORT] [--host ADDRESS] [--fail-rate SHARE] [--delay-ms MS]
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
//! - with `--delay-ms 50`, the other requests are answered after 50 ms;
//! - `PUT /fault?fail-rate=0.2&delay-ms=300` changes the fail rate and the delay of the running service (either
//!   may be left out; `PUT /fault` alone clears both) and answers with the new values; `GET /fault` shows them.
//!   Tests use it to make a service slow or faulty, and healthy again, without restarting it.
//!
//! It depends on `std` only, so the process driver's tests can build it with a bare `rustc`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How long a kept-alive connection may stay idle.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;

/// What the service answers with.
#[derive(Debug)]
struct Settings {
    name: String,
    /// The fail rate as `f64` bits, so `PUT /fault` can change it.
    fail_rate: AtomicU64,
    delay_ms: AtomicU64,
    requests: AtomicU64,
}

impl Settings {
    fn fail_rate(&self) -> f64 {
        f64::from_bits(self.fail_rate.load(Ordering::Relaxed))
    }

    fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::Relaxed))
    }

    fn fault(&self) -> String {
        format!(
            "fail-rate={} delay-ms={}\n",
            self.fail_rate(),
            self.delay_ms.load(Ordering::Relaxed)
        )
    }

    /// Applies `PUT /fault`'s query: `fail-rate` and `delay-ms`, each reset to 0 when absent.
    fn set_fault(&self, query: &str) -> Result<(), String> {
        let mut fail_rate = 0.0;
        let mut delay_ms = 0;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "fail-rate" => {
                    fail_rate = value
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| format!("fail-rate {value} is not a share between 0 and 1"))?;
                }
                "delay-ms" => {
                    delay_ms = value
                        .parse()
                        .map_err(|_| format!("delay-ms {value} is not a number of milliseconds"))?;
                }
                other => return Err(format!("unknown fault setting {other}")),
            }
        }
        self.fail_rate.store(fail_rate.to_bits(), Ordering::Relaxed);
        self.delay_ms.store(delay_ms, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Debug)]
struct Options {
    name: String,
    ports: Vec<u16>,
    host: IpAddr,
    fail_rate: f64,
    delay_ms: u64,
}

const USAGE: &str = "usage: vamp-demo-service [--name NAME] [--port PORT] [--host ADDRESS] \
                     [--fail-rate SHARE] [--delay-ms MS]\n\
                     Listens on --port or $PORT (and every $PORT_<NAME>); answers every request with 200 and \
                     its name; /health, /env and /status/<code> are special.";

fn parse_options(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    extra_ports: Vec<u16>,
) -> Result<Options, String> {
    let mut name = env("NAME");
    let mut port: Option<String> = None;
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut fail_rate = 0.0;
    let mut delay_ms = 0;
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
            "--fail-rate" => {
                let v = value()?;
                fail_rate = v
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| format!("--fail-rate {v} is not a share between 0 and 1"))?;
            }
            "--delay-ms" => {
                let v = value()?;
                delay_ms = v
                    .parse()
                    .map_err(|_| format!("--delay-ms {v} is not a number of milliseconds"))?;
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
        fail_rate,
        delay_ms,
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
    let settings = Arc::new(Settings {
        name: options.name,
        fail_rate: AtomicU64::new(options.fail_rate.to_bits()),
        delay_ms: AtomicU64::new(options.delay_ms),
        requests: AtomicU64::new(0),
    });
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
    let delay = settings.delay();
    if !delay.is_zero() {
        thread::sleep(delay);
    }
    let n = settings.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if fails(n, settings.fail_rate()) {
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
        Settings {
            name: "svc".into(),
            fail_rate: AtomicU64::new(fail_rate.to_bits()),
            delay_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
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
        assert_eq!(settings.delay(), Duration::from_millis(5));
        assert_eq!(answer(&request("PUT", "/fault?fail-rate=2"), &settings).0, 400);
        assert_eq!(answer(&request("PUT", "/fault?bogus=1"), &settings).0, 400);
        assert_eq!(answer(&request("GET", "/fault"), &settings).1, "fail-rate=1 delay-ms=5\n");
        answer(&request("PUT", "/fault"), &settings);
        assert_eq!(answer(&request("GET", "/x"), &settings).0, 200);
        assert_eq!(settings.delay(), Duration::ZERO);
    }
}
