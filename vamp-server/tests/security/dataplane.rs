//! What the data-plane attacks (processes, logs) share: a real `vamp serve` process with the embedded agent and an
//! admin token, a plain HTTP backend, API calls, and the HAProxy processes of a data directory.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use vamp_core::testkit::servers::wait_until;

use crate::support::{free_range, TempDir};

/// The admin token every test server gets.
pub const TOKEN: &str = "dataplane-security-test-token";

/// A running `vamp serve` with the embedded agent; SIGTERM then SIGKILL on drop.
pub struct Serve {
    pub child: Child,
    pub port: u16,
    pub data: PathBuf,
    pub agent_http: u16,
}

/// Options of [`Serve::start`].
#[derive(Default)]
pub struct ServeOptions<'a> {
    /// More arguments after `serve`.
    pub args: Vec<String>,
    /// More environment variables.
    pub env: Vec<(&'a str, &'a str)>,
}

impl Serve {
    /// Starts `vamp serve` on `data` (free ports for the API, stats, agent HTTP and virtual hosts) and waits up to
    /// 60 s for `/api/v1/health`. Panics with the server's stderr when it does not come up.
    pub fn start(data: &Path, options: ServeOptions<'_>) -> Serve {
        let port = free_port();
        let agent_http = free_port();
        std::fs::create_dir_all(data).unwrap();
        let config = data.with_extension("yml");
        std::fs::write(
            &config,
            format!(
                "agent:\n  stats-bind: 127.0.0.1:{}\n  http-bind: 127.0.0.1:{agent_http}\ngateways:\n  vhost-bind: \
                 127.0.0.1:{}\nsynchronization:\n  busy-period-ms: 100\n",
                free_port(),
                free_port()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vamp"));
        cmd.arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(&config)
            .args(["--api-token", TOKEN])
            .args(&options.args);
        for (k, _) in std::env::vars() {
            if k.starts_with("VAMP_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(options.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut serve = Serve {
            child: cmd.spawn().unwrap(),
            port,
            data: data.to_path_buf(),
            agent_http,
        };
        if !wait_until(Duration::from_secs(60), || {
            serve
                .request("GET", "/api/v1/health", None)
                .is_some_and(|(code, _)| code == 200)
        }) {
            let err = serve.stop_and_stderr();
            panic!("vamp serve did not answer /api/v1/health:\n{err}");
        }
        serve
    }

    /// The agent's work directory.
    pub fn agent_dir(&self) -> PathBuf {
        self.data.join("agent")
    }

    /// One HTTP/1.1 exchange with the API (admin token; a body is sent as YAML): status and body.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
        let body = body.unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: \
             application/x-yaml\r\nAccept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        exchange(self.port, format!("{head}{body}").as_bytes())
    }

    /// `GET` of an API path answering a number (health, metrics), `None` when it does not answer 200.
    pub fn number(&self, path: &str) -> Option<f64> {
        let (code, body) = self.request("GET", path, None)?;
        (code == 200).then(|| body.trim().parse().ok()).flatten()
    }

    /// Creates the gateway `name` on `port` routing everything to `127.0.0.1:<backend>`; panics unless accepted.
    pub fn create_gateway(&self, name: &str, port: u16, backend: u16) {
        let yaml = format!(
            "name: {name}\nport: {port}/http\nroutes:\n  '[127.0.0.1:{backend}]': {{weight: 100%}}\n"
        );
        let (code, body) = self.request("POST", "/api/v1/gateways", Some(&yaml)).unwrap();
        assert!(
            (200..300).contains(&code),
            "creating gateway {name}: {code} {body}"
        );
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, waits up to 30 s, then SIGKILL; the server's stderr.
    pub fn stop_and_stderr(&mut self) -> String {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            wait_until(Duration::from_secs(30), || {
                self.child.try_wait().ok().flatten().is_some()
            });
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.stop_and_stderr();
    }
}

/// Sends `request` to 127.0.0.1:`port` and reads the answer to the end: status and body.
pub fn exchange(port: u16, request: &[u8]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(request).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((code, body))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// `GET /` through 127.0.0.1:`port` (a gateway): status and body.
pub fn get(port: u16) -> Option<(u16, String)> {
    exchange(port, b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
}

/// A loopback HTTP server answering every request `200 <name>`; stopped on drop.
pub struct Backend {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Backend {
    pub fn start(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let body = name.to_string();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                        let mut buf = [0u8; 4096];
                        let mut seen = Vec::new();
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => seen.extend_from_slice(&buf[..n]),
                            }
                        }
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = s.shutdown(Shutdown::Both);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Backend { port, stop }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A loopback port nothing listens on, below the ephemeral range (so no client connection takes it meanwhile).
pub fn free_port() -> u16 {
    free_range(1)
}

/// Whether `pid` runs (exists and is no zombie).
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| !matches!(state, "Z" | "X" | "x"))
    })
}

/// The running HAProxy processes (master and workers) whose command line mentions `dir`.
pub fn haproxy_of(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "haproxy")
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
                && is_running(*pid)
        })
        .collect()
}

/// Kills, on drop, every HAProxy of a directory (what a failed test left behind).
pub struct KillHaproxyOf(pub PathBuf);

impl Drop for KillHaproxyOf {
    fn drop(&mut self) {
        for pid in haproxy_of(&self.0) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

/// A data directory for one test, with its leftovers killed and removed on drop.
pub struct DataDir {
    _kill: KillHaproxyOf,
    dir: TempDir,
}

impl DataDir {
    pub fn new(prefix: &str) -> DataDir {
        let dir = TempDir::new(prefix);
        DataDir {
            _kill: KillHaproxyOf(dir.path().to_path_buf()),
            dir,
        }
    }

    /// The server's data directory inside it.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// Waits up to 60 s until the gateway on `port` answers `200 <name>` through HAProxy.
pub fn wait_for_traffic(port: u16, name: &str) -> bool {
    wait_until(Duration::from_secs(60), || {
        get(port).is_some_and(|(code, body)| code == 200 && body == name)
    })
}
