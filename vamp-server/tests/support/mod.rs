//! Shared by the core's tests with real processes: the demo service built with a bare `rustc`, temporary data
//! directories removed on drop, free ports, plain HTTP requests, and a guard that stops every process a test's
//! process driver started, even when the test fails.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use vamp_core::ops::gateways::PortRange;
use vamp_drivers::process::{ProcessConfig, ProcessDriver};
use vamp_server::agent::process_config;
use vamp_server::ServerSettings;

/// The demo service's source.
const DEMO_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/src/demo_service.rs");
/// The demo binary's name.
pub const DEMO_NAME: &str = "vamp-demo-service";

/// The directory holding a freshly built `vamp-demo-service` (built once per source change, into cargo's
/// temporary directory for tests: `CARGO_BIN_EXE_*` only names binaries of this package).
pub fn demo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match build_demo() {
        Ok(dir) => dir,
        Err(e) => panic!("cannot build {DEMO_NAME} from {DEMO_SOURCE}: {e}"),
    })
}

fn build_demo() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("server-demo-service");
    let binary = dir.join(DEMO_NAME);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let source_time = modified(Path::new(DEMO_SOURCE)).ok_or("the source is missing")?;
    if modified(&binary).is_some_and(|t| t >= source_time) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let partial = dir.join(format!("{DEMO_NAME}.{}", std::process::id()));
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = std::process::Command::new(rustc)
        .args(["--edition", "2021", "-C", "opt-level=1", "-o"])
        .arg(&partial)
        .arg(DEMO_SOURCE)
        .output()
        .map_err(|e| format!("rustc did not run: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    std::fs::rename(&partial, &binary).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let dir = std::env::temp_dir().join(vamp_core::testkit::unique(prefix));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    vamp_core::testkit::servers::free_port().unwrap()
}

/// `count` consecutive loopback ports that are all free right now; the first of them. They are drawn from
/// 20000-32000, below Linux's ephemeral range, so client connections of concurrent tests do not take them.
pub fn free_range(count: u16) -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..500 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let base = 20_000 + (h.finish() % 12_000) as u16;
        let listeners: Vec<_> = (base..base + count)
            .map_while(|p| TcpListener::bind(("127.0.0.1", p)).ok())
            .collect();
        if listeners.len() == usize::from(count) {
            return base;
        }
    }
    panic!("no {count} consecutive free ports found in 20000-32000")
}

/// `GET /` on 127.0.0.1:`port` over a fresh connection; the status and body, or `None` when nothing answers.
pub fn get(port: u16) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .ok()?;
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// Stops every process of the process driver state in `state_dir` on drop: a driver with `stop_on_drop`
/// re-adopts them and is dropped at once. Keeps a failing test from leaving demo services behind.
pub struct ProcessCleanup(pub ProcessConfig);

impl Drop for ProcessCleanup {
    fn drop(&mut self) {
        let mut config = self.0.clone();
        config.stop_on_drop = true;
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                if let Ok(driver) = ProcessDriver::new(config).await {
                    drop(driver);
                }
            });
        })
        .join();
    }
}

/// Settings of an embedded Vamp driving the real `haproxy`: `ports` gateway ports from a free block, free binds
/// for the virtual hosts and the agent's stats and HTTP, quick polling while converging. Fails the test loudly
/// when `haproxy` is not on PATH (`what` says which test needs it).
pub fn haproxy_settings(ports: u16, what: &str) -> ServerSettings {
    assert!(
        std::process::Command::new("haproxy")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success()),
        "haproxy is not on PATH: {what} needs a real HAProxy"
    );
    let base = free_range(ports);
    let mut s = ServerSettings::default();
    s.synchronization.busy_period_ms = 100;
    s.gateways.port_range = PortRange::new(base, base + ports - 1).unwrap();
    s.gateways.vhost_bind = format!("127.0.0.1:{}", free_port());
    s.agent.stats_bind = format!("127.0.0.1:{}", free_port());
    s.agent.http_bind = format!("127.0.0.1:{}", free_port());
    s
}

/// The process driver of the embedded default under `data`, running the freshly built `vamp-demo-service` with
/// quick restarts and polling; `stop_on_drop` stops its processes when the driver is dropped.
pub fn demo_processes(data: &Path, stop_on_drop: bool) -> ProcessConfig {
    let mut config = process_config(data);
    config.search_path = vec![demo_dir().to_path_buf()];
    config.restart_backoff_min = Duration::from_millis(100);
    config.restart_backoff_max = Duration::from_secs(2);
    config.stop_grace = Duration::from_secs(5);
    config.poll_interval = Duration::from_millis(100);
    config.stop_on_drop = stop_on_drop;
    config
}
