//! Shared by the process driver's tests and benchmark: the demo service binary, driver settings for tests,
//! HTTP requests, deadlines, and checks that no process outlives a test.
//!
//! The demo service lives in the `vamp-examples` package, whose binaries cargo does not build for this
//! package's tests (`CARGO_BIN_EXE_*` only names binaries of the same package). It is `std`-only, so it is
//! built here with a bare `rustc` into cargo's temporary directory for tests, once per source change.

#![allow(dead_code)]

use std::future::Future;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use vamp_drivers::process::{ProcessConfig, ProcessDriver, ProcessEvent, ProcessEventKind};

/// The demo service's source.
const DEMO_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/src/demo_service.rs");
/// The demo binary's name.
pub const DEMO_NAME: &str = "vamp-demo-service";

/// The directory holding a freshly built `vamp-demo-service`.
pub fn demo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match build_demo() {
        Ok(dir) => dir,
        Err(e) => panic!("cannot build {DEMO_NAME} from {DEMO_SOURCE}: {e}"),
    })
}

fn build_demo() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-service");
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

/// A fresh, empty state directory under cargo's temporary directory for tests.
pub fn state_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("process-driver")
        .join(vamp_core::testkit::unique("s"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    dir
}

/// Test settings on `state_dir`: the demo service on the search path, quick restarts, a short grace period,
/// and every process killed when the driver is dropped (so a failing test leaves none behind).
pub fn config(state_dir: &Path) -> ProcessConfig {
    ProcessConfig {
        state_dir: state_dir.to_path_buf(),
        working_dir: state_dir.to_path_buf(),
        search_path: vec![demo_dir().to_path_buf()],
        restart_backoff_min: Duration::from_millis(100),
        restart_backoff_max: Duration::from_secs(2),
        stable_after: Duration::from_secs(5),
        stop_grace: Duration::from_secs(5),
        rollout_step_timeout: Duration::from_secs(20),
        poll_interval: Duration::from_millis(100),
        stop_on_drop: true,
        ..ProcessConfig::default()
    }
}

/// A driver with `config`.
pub async fn driver(config: ProcessConfig) -> ProcessDriver {
    match ProcessDriver::new(config).await {
        Ok(driver) => driver,
        Err(e) => panic!("the process driver does not start: {e}"),
    }
}

/// `GET path` on 127.0.0.1:`port` over a fresh connection: the status and the body.
pub async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n")?;
        let code = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((code, body.to_string()))
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}

/// Polls `check` every 50 ms until it gives `Some`, failing the test naming `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("{what} did not happen within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next event of `kind` (as told by `pick`) within `limit`.
pub async fn next_event<T>(
    events: &mut broadcast::Receiver<ProcessEvent>,
    limit: Duration,
    what: &str,
    mut pick: impl FnMut(&ProcessEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) => {
                if let Some(value) = pick(&event) {
                    return value;
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => panic!("{what}: the event stream ended"),
            Err(_) => panic!("{what}: no such event within {limit:?}"),
        }
    }
}

/// Whether `pid` no longer runs: gone, or a zombie waiting to be reaped whose threads have all ended.
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let zombie = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state == "Z" || state == "X");
            zombie && threads(pid) <= 1
        }
    }
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |tasks| tasks.count())
}

/// The running (non-zombie) processes of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let (_, rest) = stat.rsplit_once(')')?;
                    let fields: Vec<&str> = rest.split_whitespace().collect();
                    let running = fields.first()? != &"Z" || threads(*pid) > 1;
                    Some(running && fields.get(2)?.parse::<u32>().ok()? == pgid)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Every pid the driver started or adopted, from the events received so far.
pub fn pids_seen(events: &mut broadcast::Receiver<ProcessEvent>, into: &mut Vec<u32>) {
    while let Ok(event) = events.try_recv() {
        match event.kind {
            ProcessEventKind::Started { pid, .. } | ProcessEventKind::Adopted { pid } => into.push(pid),
            _ => {}
        }
    }
}

/// Fails the test when one of `pids`, or a process of its group, still runs (after a short grace, since a
/// killed process takes a moment to go).
pub async fn assert_no_leftovers(pids: &[u32]) {
    eventually(
        Duration::from_secs(10),
        "every instance process ending",
        || async {
            pids.iter()
                .all(|pid| process_gone(*pid) && group_members(*pid).is_empty())
                .then_some(())
        },
    )
    .await;
}

/// Kills `pid` with SIGKILL, as a crash would.
pub fn kill_hard(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    assert!(status.is_ok_and(|s| s.success()), "kill -KILL {pid} failed");
}
