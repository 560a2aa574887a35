//! Attacks: bounds (see docs/security.md). Each runs against a real `vamp serve` process over TCP: slow and
//! hostile bodies must not stall `/health`, an 80k-key body is read quickly, an anchor bomb is refused without
//! the server's memory growing, a big body on a read-only `GET` is refused, half-sent headers are closed after
//! the header-read timeout, event streams over the per-token cap are 429, and running out of file descriptors
//! does not spin the accept loop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vamp_core::testkit::servers::wait_until;

use crate::support::{free_port, TempDir};

const ADMIN: &str = "bounds-admin-token";
const READER: &str = "bounds-read-token";

/// A `vamp serve` child with memory backends and no gateway agent; killed on drop.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Serve {
    /// Starts `vamp serve` with `args` (after `ulimit -n <fds>` when given) and waits for `/health`.
    fn start(args: &[&str], fds: Option<u32>) -> Serve {
        Serve::launch(args, fds, |server| {
            server.health(Duration::from_secs(5)).is_some()
        })
    }

    /// Starts `vamp serve` and waits until `ready` says it is.
    fn launch(args: &[&str], fds: Option<u32>, ready: impl Fn(&Serve) -> bool) -> Serve {
        let dir = TempDir::new("sec-bounds");
        let port = free_port();
        let log = dir.path().join("serve.log");
        let listen = format!("127.0.0.1:{port}");
        let data = dir.path().join("data");
        let mut all: Vec<String> = [
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
            "--persistence",
            "memory://",
            "--driver",
            "memory://",
            "--embedded-agent",
            "false",
            "--api-token",
            ADMIN,
            "--api-read-token",
            READER,
            "--log-level",
            "warn",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        all.extend(args.iter().map(|s| s.to_string()));
        let binary = env!("CARGO_BIN_EXE_vamp");
        let mut cmd = match fds {
            None => {
                let mut c = Command::new(binary);
                c.args(&all);
                c
            }
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(binary)
                    .args(&all);
                c
            }
        };
        for (k, _) in std::env::vars() {
            if k.starts_with("VAMP_") {
                cmd.env_remove(k);
            }
        }
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut server = Serve {
            child: cmd.spawn().unwrap(),
            port,
            log,
            _dir: dir,
        };
        let up = wait_until(Duration::from_secs(60), || {
            server.child.try_wait().ok().flatten().is_none() && ready(&server)
        });
        assert!(up, "vamp serve did not answer /health: {}", server.log_text());
        server
    }

    /// Starts `vamp serve` with TLS (`args` name the files) and waits until its port accepts connections.
    fn start_tls(args: &[&str]) -> Serve {
        Serve::launch(args, None, |server| {
            TcpStream::connect(("127.0.0.1", server.port)).is_ok()
        })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How long `GET /api/v1/health` took to answer 200, or `None` when it did not within `limit`.
    fn health(&self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        let (status, _) = self.request("GET", "/api/v1/health", READER, None, &[], limit)?;
        (status == 200).then(|| start.elapsed())
    }

    /// One request over a fresh connection: the status and body, or `None` when there is no answer within
    /// `limit`.
    fn request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        body: &[u8],
        limit: Duration,
    ) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(limit)).ok()?;
        s.set_write_timeout(Some(limit)).ok()?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\n\
             Accept: application/json\r\nConnection: close\r\n",
            self.port
        );
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if !body.is_empty() {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).ok()?;
        let _ = s.write_all(body);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        parse_response(&out)
    }

    /// Opens an event stream with `token` on `path`; the connection when it answered 200, else the status and
    /// body.
    fn open_stream(&self, path: &str, token: &str) -> Result<TcpStream, (u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\n\
             Accept: text/event-stream\r\nConnection: close\r\n\r\n",
            self.port
        );
        s.write_all(head.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !contains(&got, b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&got).into_owned();
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if status == 200 {
            return Ok(s);
        }
        let _ = s.read_to_end(&mut got);
        let full = String::from_utf8_lossy(&got).into_owned();
        let body = full
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Err((status, body))
    }

    /// The server's resident memory in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    /// The CPU time the server has used, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The status and body of a raw HTTP/1.1 response (a chunked body is left as sent: only its text matters).
fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A breed-shaped YAML body of about `bytes` whose one flow collection spans a single line with continuation
/// lines at the key's indentation: the text the lenient re-indent reads.
fn long_line_body(bytes: usize) -> String {
    format!(
        "name: long\ndeployable: x\nports: [\n{}\n]\n",
        "ab, ".repeat(bytes / 4)
    )
}

/// A body with `n` distinct top-level keys.
fn many_keys_body(n: usize) -> String {
    (0..n).map(|i| format!("key{i:07}: {i}\n")).collect()
}

#[test]
fn two_slow_bodies_in_parallel_do_not_stall_health() {
    let server = Serve::start(&[], None);
    let bodies = [long_line_body(900_000), many_keys_body(60_000)];
    std::thread::scope(|scope| {
        let attacks: Vec<_> = bodies
            .iter()
            .map(|body| {
                let server = &server;
                scope.spawn(move || {
                    server.request(
                        "POST",
                        "/api/v1/breeds",
                        ADMIN,
                        Some("application/x-yaml"),
                        body.as_bytes(),
                        Duration::from_secs(120),
                    )
                })
            })
            .collect();
        let mut slowest = Duration::ZERO;
        while !attacks.iter().all(|a| a.is_finished()) {
            let took = server
                .health(Duration::from_secs(10))
                .expect("/health did not answer while the bodies were read");
            slowest = slowest.max(took);
        }
        assert!(
            slowest < Duration::from_secs(2),
            "/health took {slowest:?} while two big bodies were read"
        );
        for attack in attacks {
            let (status, body) = attack.join().unwrap().expect("the attack got no answer");
            assert!(
                (400..500).contains(&status),
                "a pathological body was answered {status}: {body}"
            );
        }
    });
}

#[test]
fn an_80k_key_body_is_answered_quickly() {
    let server = Serve::start(&[], None);
    let body = many_keys_body(80_000);
    assert!(body.len() > 1_000_000);
    let start = Instant::now();
    let (status, message) = server
        .request(
            "POST",
            "/api/v1/breeds",
            ADMIN,
            Some("application/x-yaml"),
            body.as_bytes(),
            Duration::from_secs(60),
        )
        .expect("no answer to the 80k-key body");
    let took = start.elapsed();
    assert_eq!(status, 400, "{message}");
    assert!(
        took < Duration::from_secs(15),
        "the 80k-key body took {took:?} (39 s in a debug build when the key check was quadratic)"
    );
}

#[test]
fn an_anchor_bomb_is_refused_without_memory_blow_up() {
    let server = Serve::start(&[], None);
    let before = server.rss_kib();
    let mut text = format!(
        "name: bomb\ndeployable: x\nlabels: &a '{}'\nenvironment_variables: [",
        "x".repeat(100_000)
    );
    text.push_str(&["*a"; 75_000].join(", "));
    text.push_str("]\n");
    assert!((350_000..450_000).contains(&text.len()));
    let (status, message) = server
        .request(
            "POST",
            "/api/v1/breeds",
            ADMIN,
            Some("application/x-yaml"),
            text.as_bytes(),
            Duration::from_secs(60),
        )
        .expect("no answer to the anchor bomb");
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("aliases repeat more than"), "{message}");
    let mut nested = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..7 {
        let prev = format!("*a{}", i - 1);
        nested.push_str(&format!("a{i}: &a{i} [{}]\n", [prev.as_str(); 10].join(", ")));
    }
    let (status, message) = server
        .request(
            "POST",
            "/api/v1/breeds",
            ADMIN,
            Some("application/x-yaml"),
            nested.as_bytes(),
            Duration::from_secs(60),
        )
        .expect("no answer to the nested anchor bomb");
    assert_eq!(status, 400, "{message}");
    let grown_mib = server.rss_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 100, "the server's memory grew by {grown_mib} MiB");
    assert!(server.health(Duration::from_secs(5)).is_some());
}

#[test]
fn a_read_only_get_with_a_big_body_is_refused_unread() {
    let server = Serve::start(&[], None);
    let body = many_keys_body(60_000);
    let (status, message) = server
        .request(
            "GET",
            "/api/v1/events",
            READER,
            Some("application/x-yaml"),
            body.as_bytes(),
            Duration::from_secs(30),
        )
        .expect("no answer to the GET with a body");
    assert_eq!(status, 413, "{message}");
    assert!(message.contains("read-body-limit"), "{message}");
    let query = "tags: [a, b]\n";
    let (status, message) = server
        .request(
            "GET",
            "/api/v1/events",
            READER,
            Some("application/x-yaml"),
            query.as_bytes(),
            Duration::from_secs(30),
        )
        .unwrap();
    assert_eq!(status, 200, "an event query body still works: {message}");
}

#[test]
fn half_sent_headers_are_closed_after_the_header_timeout() {
    let server = Serve::start(&["--api-header-read-timeout-ms", "1000"], None);
    let mut held: Vec<TcpStream> = (0..500)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            s
        })
        .collect();
    let took = server
        .health(Duration::from_secs(10))
        .expect("/health did not answer beside 500 half-sent requests");
    assert!(took < Duration::from_secs(2), "/health took {took:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut open = 0;
    for s in &mut held {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10));
        s.set_read_timeout(Some(left)).unwrap();
        let mut buf = [0u8; 512];
        let closed = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break false
                }
                Err(_) => break true,
            }
        };
        if !closed {
            open += 1;
        }
    }
    assert_eq!(
        open, 0,
        "{open} of 500 half-sent connections were still open 20 s later"
    );
    assert!(server.health(Duration::from_secs(5)).is_some());
}

#[test]
fn event_streams_over_the_per_token_cap_are_refused_with_429() {
    let server = Serve::start(&["--api-streams-per-token", "3"], None);
    let mut streams: Vec<TcpStream> = (0..3)
        .map(|i| {
            server
                .open_stream("/api/v1/events/stream", READER)
                .unwrap_or_else(|e| panic!("stream {i} refused: {e:?}"))
        })
        .collect();
    let (status, message) = server
        .open_stream("/api/v1/events/stream", READER)
        .expect_err("a fourth stream of the same token was opened");
    assert_eq!(status, 429, "{message}");
    assert!(message.contains("streams-per-token"), "{message}");
    let (status, _) = server
        .open_stream("/api/v1/workflows/none/logs", READER)
        .expect_err("a workflow log stream over the cap was opened");
    assert_eq!(status, 429);
    let other = server.open_stream("/api/v1/events/stream", ADMIN);
    assert!(
        other.is_ok(),
        "another token's stream was refused: {:?}",
        other.err()
    );
    drop(streams.pop());
    let reopened = wait_until(Duration::from_secs(30), || {
        let _ = server.request(
            "POST",
            "/api/v1/events",
            ADMIN,
            Some("application/json"),
            br#"{"tags": ["bounds"], "value": "x"}"#,
            Duration::from_secs(5),
        );
        match server.open_stream("/api/v1/events/stream", READER) {
            Ok(s) => {
                streams.push(s);
                true
            }
            Err(_) => false,
        }
    });
    assert!(reopened, "a closed stream's slot was not given back");
}

#[test]
fn running_out_of_file_descriptors_does_not_spin_the_accept_loop() {
    let server = Serve::start(&["--api-header-read-timeout-ms", "60000"], Some(64));
    let clients: Vec<TcpStream> = (0..120)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", server.port)).ok())
        .collect();
    assert!(
        clients.len() > 64,
        "only {} connections could be made",
        clients.len()
    );
    let exhausted = wait_until(Duration::from_secs(20), || {
        server.log_text().contains("accepting connections failed")
    });
    assert!(
        exhausted,
        "the server never ran out of file descriptors: {}",
        server.log_text()
    );
    let log_before = server.log_text().matches("accepting connections failed").count();
    let (cpu_before, start) = (server.cpu_ticks(), Instant::now());
    wait_until(Duration::from_secs(3), || false);
    let cpu = (server.cpu_ticks() - cpu_before) as f64 / 100.0;
    let wall = start.elapsed().as_secs_f64();
    let warnings = server.log_text().matches("accepting connections failed").count() - log_before;
    assert!(
        cpu < 0.3 * wall,
        "the server used {cpu:.2} s of CPU in {wall:.1} s while out of file descriptors"
    );
    assert!(warnings <= 1, "{warnings} warnings in {wall:.1} s");
    drop(clients);
    let back = wait_until(Duration::from_secs(20), || {
        server.health(Duration::from_secs(2)).is_some()
    });
    assert!(
        back,
        "the server did not answer again once connections were closed"
    );
}

#[test]
fn silent_tls_clients_are_closed_after_the_handshake_timeout() {
    let pem = |name: &str| format!("{}/tests/api_support/{name}", env!("CARGO_MANIFEST_DIR"));
    let (cert, key) = (pem("test-cert.pem"), pem("test-key.pem"));
    let server = Serve::start_tls(&[
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--api-tls-handshake-timeout-ms",
        "1000",
    ]);
    let mut silent: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap())
        .collect();
    let start = Instant::now();
    for s in &mut silent {
        let left = Duration::from_secs(20)
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(10));
        s.set_read_timeout(Some(left)).unwrap();
        let mut buf = [0u8; 64];
        let closed = matches!(s.read(&mut buf), Ok(0) | Err(_)) && start.elapsed() < Duration::from_secs(20);
        assert!(
            closed,
            "a silent TLS client was still connected after {:?}",
            start.elapsed()
        );
    }
}
