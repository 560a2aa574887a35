//! A real HAProxy under test: master-worker mode as the agent runs it, the configuration and maps of an envelope
//! written to a temporary directory, every bind on 127.0.0.1 and free ports, and access logs received on a UDP
//! socket. The whole process group is killed on drop.

use std::net::UdpSocket;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vamp_core::testkit::servers::{free_port, wait_until};
use vamp_gateway::haproxy::envelope::Envelope;

use super::{admin, client};

/// The HAProxy binary: `$VAMP_HAPROXY` or `haproxy` on the path. Panics (failing the test loudly) when it
/// cannot be run.
pub fn haproxy_binary() -> PathBuf {
    let binary = PathBuf::from(std::env::var("VAMP_HAPROXY").unwrap_or_else(|_| "haproxy".into()));
    let ok = Command::new(&binary)
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "HAProxy ('{}') cannot be run: these tests need HAProxy 2.6",
        binary.display()
    );
    binary
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory under the system temp dir.
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running HAProxy.
pub struct HaproxyUnderTest {
    child: Child,
    /// The `vamp_stats` listener's port (`/health`, stats page).
    pub stats_port: u16,
    /// The `virtual_hosts` frontend's port.
    pub vhost_port: u16,
    /// Where the access logs arrive.
    pub logs: UdpSocket,
    /// The envelope it runs.
    pub envelope: Envelope,
    dir: TempDir,
}

impl HaproxyUnderTest {
    /// Starts HAProxy on the envelope text `text` and waits (up to 10 s) until `/health` answers 200.
    pub fn start(text: &str) -> HaproxyUnderTest {
        let envelope = Envelope::parse(text).unwrap();
        let dir = TempDir::new("vamp-haproxy-test");
        let maps = dir.0.join("maps");
        std::fs::create_dir_all(&maps).unwrap();
        for (name, content) in &envelope.maps {
            std::fs::write(maps.join(name), content).unwrap();
        }
        let config = dir.0.join("haproxy.cfg");
        std::fs::write(&config, &envelope.config).unwrap();
        let logs = UdpSocket::bind("127.0.0.1:0").unwrap();
        logs.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let (stats_port, vhost_port) = (free_port().unwrap(), free_port().unwrap());
        let child = Command::new(haproxy_binary())
            .arg("-W")
            .arg("-f")
            .arg(&config)
            .arg("-S")
            .arg(format!("{},mode,600", dir.0.join("master.sock").display()))
            .env("VAMP_GATEWAY_BIND", "127.0.0.1")
            .env("VAMP_STATS_BIND", format!("127.0.0.1:{stats_port}"))
            .env("VAMP_VHOST_BIND", format!("127.0.0.1:{vhost_port}"))
            .env("VAMP_LOG_TARGET", logs.local_addr().unwrap().to_string())
            .env("VAMP_RUNTIME_SOCKET", dir.0.join("haproxy.sock"))
            .env("VAMP_MAPS_DIR", &maps)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut haproxy = HaproxyUnderTest {
            child,
            stats_port,
            vhost_port,
            logs,
            envelope,
            dir,
        };
        let ready = wait_until(Duration::from_secs(10), || {
            client::try_get(stats_port, "/health", &[]).is_ok_and(|r| r.status == 200)
        });
        if !ready {
            let _ = haproxy.child.try_wait();
            let mut stderr = String::new();
            haproxy.kill();
            if let Some(mut e) = haproxy.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            panic!(
                "HAProxy did not become healthy:\n{stderr}\n{}",
                haproxy.envelope.config
            );
        }
        haproxy
    }

    /// The admin (runtime API) socket.
    pub fn runtime_socket(&self) -> PathBuf {
        self.dir.0.join("haproxy.sock")
    }

    /// The path HAProxy loaded map `name` from.
    pub fn map_path(&self, name: &str) -> PathBuf {
        self.dir.0.join("maps").join(name)
    }

    /// Replaces map `name` at runtime, atomically, through the admin socket.
    pub fn replace_map(&self, name: &str, content: &str) {
        admin::replace_map(&self.runtime_socket(), &self.map_path(name), content).unwrap();
    }

    /// Access-log datagrams received until `count` arrived or `deadline` passed, as the JSON part of each.
    pub fn access_logs(&self, count: usize, deadline: Duration) -> Vec<String> {
        let end = Instant::now() + deadline;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16384];
        while out.len() < count && Instant::now() < end {
            if let Ok(n) = self.logs.recv(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                if let Some(at) = line.find(": {") {
                    out.push(line[at + 2..].trim_end().to_string());
                }
            }
        }
        out
    }

    fn kill(&mut self) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.wait();
    }

    /// The directory holding configuration, maps and sockets.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }
}

impl Drop for HaproxyUnderTest {
    fn drop(&mut self) {
        self.kill();
    }
}
