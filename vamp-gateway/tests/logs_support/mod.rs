//! Shared pieces of the log tests: temp dirs, a real HAProxy child process, a tiny HTTP backend, polling with
//! deadlines, lines captured from HAProxy 2.6.12, and an Elasticsearch bulk-API double ([`es_double`]).

#![allow(dead_code)]

pub mod es_double;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, Uri};
use axum::Router;
use tokio::task::JoinHandle;

/// Lines HAProxy 2.6.12 sent with the contract's log formats (HTTP and TCP; `%t` in TCP, see DOC-logs.md),
/// captured over UDP and a unix socket: a `return` answer, 503s after connect failures, bad requests, a TCP
/// connection, and request lines with `"`, `\` and `]` in them.
pub const CAPTURED_LINES: &str = include_str!("haproxy-2.6.12-lines.txt");

/// The contract's HTTP log format (§4).
#[allow(unused_imports)]
pub use vamp_gateway::haproxy::model::{HTTP_LOG_FORMAT, HTTP_START_RULE};

/// The contract's TCP log format (§4) with `%t` for `%tr`, which HAProxy 2.6 refuses outside HTTP mode.
pub const TCP_LOG_FORMAT: &str = r#"{"ci":"%ci","cp":%cp,"t":"%t","ft":"%f","b":"%b","s":"%s","Tw":%Tw,"Tc":%Tc,"Tt":%Tt,"B":%B,"ts":"%ts","ac":%ac,"fc":%fc,"bc":%bc,"sc":%sc,"rc":%rc,"sq":%sq,"bq":%bq}"#;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "vamp-{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
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

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    vamp_core::testkit::servers::free_port().unwrap()
}

/// Polls `ready` every 20 ms until it holds; fails the test naming `what` after `deadline`.
pub async fn eventually(deadline: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !ready() {
        assert!(Instant::now() < end, "{what}: not within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// HAProxy in the foreground (`-db`) as a child process, killed on drop.
pub struct Haproxy {
    child: Child,
    pub dir: TempDir,
}

impl Haproxy {
    /// Writes `config` to `<dir>/haproxy.cfg`, starts HAProxy and waits until every port in `ports` accepts
    /// connections. A missing `haproxy` binary fails the test.
    pub async fn start(config: &str, dir: TempDir, ports: &[u16]) -> Haproxy {
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, config).unwrap();
        let check = Command::new("haproxy").arg("-c").arg("-f").arg(&cfg).output();
        let check = match check {
            Ok(out) => out,
            Err(e) => panic!("the haproxy binary is needed for this test and cannot be run: {e}"),
        };
        assert!(
            check.status.success(),
            "haproxy refuses the test config: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut haproxy = Haproxy { child, dir };
        for port in ports {
            let port = *port;
            eventually(Duration::from_secs(10), "haproxy listening", || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            })
            .await;
        }
        assert!(haproxy.child.try_wait().unwrap().is_none(), "haproxy exited");
        haproxy
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP backend on loopback: a path ending in `/status/<code>` answers `<code>`, every other path 200.
pub struct Backend {
    pub port: u16,
    task: JoinHandle<()>,
}

impl Backend {
    pub async fn start() -> Backend {
        async fn answer(uri: Uri) -> StatusCode {
            uri.path()
                .rsplit_once("/status/")
                .and_then(|(_, code)| code.parse::<u16>().ok())
                .and_then(|code| StatusCode::from_u16(code).ok())
                .unwrap_or(StatusCode::OK)
        }
        let app = Router::new().fallback(answer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Backend { port, task }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}
