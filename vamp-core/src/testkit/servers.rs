//! Real servers for backend tests: etcd, ZooKeeper, Redis, PostgreSQL and two Docker API servers (`dockerd`, and
//! Podman's Docker-compatible `podman system service`) started from the binaries the test command installs
//! (`.ci/test`), each on free loopback ports (the Docker APIs: a Unix socket in their own directory) with its own
//! data directory, ready when it answers its protocol (waited for with a deadline,
//! never a fixed sleep), stoppable and restartable on the same ports and data for fault tests, and killed with its
//! whole process group when dropped.
//!
//! A server that cannot be started is an error that says what is missing: a backend test unwraps it and fails.
//!
//! A test binary shares one dockerd between its tests (see the Docker tests of `vamp-drivers`), each of which
//! would otherwise pay its start; [`build_busybox_image`] gives it an image to run, since nothing can be pulled
//! in tests.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::testkit::certs::TestCerts;

/// How long a server may take to answer after it is started.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// A loopback port nothing listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Polls `ready` every 20 ms until it is true or `deadline` passes.
pub fn wait_until(deadline: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `request` to `127.0.0.1:port` and returns what the server answers before closing or 2 s pass.
pub fn exchange(port: u16, request: &[u8]) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(request).ok()?;
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.len() > 1 << 20 {
            break;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The root password of [`TestServer::etcd_secured`] and the password of the ACL user of
/// [`TestServer::redis_with_acl`].
pub const TEST_PASSWORD: &str = "vamp-test-password";

/// The ACL user of [`TestServer::redis_with_acl`].
pub const REDIS_TEST_USER: &str = "vamp";

/// TLS and authentication of a secured etcd.
#[derive(Debug, Clone)]
struct EtcdSecurity {
    metrics_port: u16,
    certs: TestCerts,
}

/// Which server, with what it needs to start again on the same ports and data.
#[derive(Debug, Clone)]
enum Recipe {
    Etcd {
        peer_port: u16,
        secured: Option<EtcdSecurity>,
    },
    Zookeeper,
    Redis {
        acl: bool,
    },
    Postgres,
    Dockerd,
    Podman,
}

/// A running (or stopped) test server.
#[derive(Debug)]
pub struct TestServer {
    name: &'static str,
    recipe: Recipe,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn scratch_dir(name: &str) -> std::io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vamp-test-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn missing(name: &str, binary: &str) -> String {
    format!("{name} cannot be started: '{binary}' is not installed (the test command `bash .ci/test` installs it)")
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

fn postgres_bin(tool: &str) -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|v| v.join("bin").join(tool))
        .find(|p| p.exists())
}

impl TestServer {
    /// An etcd server (v3 API, v2 enabled) on a free client port.
    pub fn etcd() -> Result<Self, String> {
        let peer_port = free_port().map_err(|e| e.to_string())?;
        Self::create(
            "etcd",
            Recipe::Etcd {
                peer_port,
                secured: None,
            },
        )
    }

    /// An etcd server that takes only TLS clients presenting a certificate of its CA (`https://`, client
    /// certificate authentication) and has authentication enabled with the user `root` (password
    /// [`TEST_PASSWORD`]). The CA, server and client files are [`TestServer::certs`]; readiness is checked on a
    /// plain-HTTP metrics port.
    pub fn etcd_secured() -> Result<Self, String> {
        let peer_port = free_port().map_err(|e| e.to_string())?;
        let metrics_port = free_port().map_err(|e| e.to_string())?;
        let certs = TestCerts::create(&scratch_dir("etcd-certs").map_err(|e| e.to_string())?)?;
        Self::create(
            "etcd",
            Recipe::Etcd {
                peer_port,
                secured: Some(EtcdSecurity { metrics_port, certs }),
            },
        )
    }

    /// The certificates of a secured server ([`TestServer::etcd_secured`]); `None` for others.
    pub fn certs(&self) -> Option<&TestCerts> {
        match &self.recipe {
            Recipe::Etcd {
                secured: Some(secured),
                ..
            } => Some(&secured.certs),
            _ => None,
        }
    }

    /// A standalone ZooKeeper server on a free client port.
    pub fn zookeeper() -> Result<Self, String> {
        Self::create("zookeeper", Recipe::Zookeeper)
    }

    /// A Redis server without persistence on a free port.
    pub fn redis() -> Result<Self, String> {
        Self::create("redis", Recipe::Redis { acl: false })
    }

    /// A Redis server whose `default` user is off: only the ACL user [`REDIS_TEST_USER`] with the password
    /// [`TEST_PASSWORD`] gets in.
    pub fn redis_with_acl() -> Result<Self, String> {
        Self::create("redis", Recipe::Redis { acl: true })
    }

    /// A PostgreSQL server (database `postgres`, user `postgres`, trust authentication on loopback) on a free
    /// port.
    pub fn postgres() -> Result<Self, String> {
        Self::create("postgres", Recipe::Postgres)
    }

    /// A Docker engine listening on `<dir>/docker.sock` ([`TestServer::docker_host`]) with its data root, exec
    /// root and pid file in its own directory; ready when `GET /_ping` answers `OK`. Needs root. Its containers
    /// use a bridge of its own (`vampbr<n>`, made before it starts and deleted by [`TestServer::stop`]) and it
    /// leaves iptables alone (`--iptables=false`: published ports are served by `docker-proxy`), so it neither
    /// touches nor needs `docker0`. Dropping it removes every container first, so no container outlives it.
    pub fn dockerd() -> Result<Self, String> {
        Self::create("dockerd", Recipe::Dockerd)
    }

    /// Podman's Docker-compatible API (`podman system service`, rootful) on `<dir>/podman.sock`
    /// ([`TestServer::docker_host`]), with its storage root, run root and temporary directory in its own
    /// directory and its own `containers.conf` (cgroupfs, file events, and the `nofile`/`nproc` limits a machine
    /// without `CAP_SYS_RESOURCE` accepts). Podman's containers outlive the service (conmon runs them), so
    /// dropping it removes every container first; [`TestServer::stop`] deletes the `cni-podman0` bridge.
    pub fn podman() -> Result<Self, String> {
        Self::create("podman", Recipe::Podman)
    }

    fn create(name: &'static str, recipe: Recipe) -> Result<Self, String> {
        let port = free_port().map_err(|e| e.to_string())?;
        let dir = scratch_dir(name).map_err(|e| format!("{name}: cannot create a data directory: {e}"))?;
        let mut server = TestServer {
            name,
            recipe,
            port,
            dir,
            child: None,
        };
        server.prepare()?;
        server.start()?;
        server.after_first_start()?;
        Ok(server)
    }

    /// What a server needs once, after its first start: a secured etcd gets its root user and authentication.
    fn after_first_start(&self) -> Result<(), String> {
        let Recipe::Etcd {
            secured: Some(secured),
            ..
        } = &self.recipe
        else {
            return Ok(());
        };
        let certs = &secured.certs;
        let endpoint = format!("https://127.0.0.1:{}", self.port);
        let etcdctl = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &endpoint, "--cacert"])
                .arg(&certs.ca)
                .arg("--cert")
                .arg(&certs.client_cert)
                .arg("--key")
                .arg(&certs.client_key)
                .args(args)
                .output()
                .map_err(|e| format!("etcdctl cannot be run: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "etcdctl {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        etcdctl(&[
            "user",
            "add",
            "root",
            &format!("--new-user-password={TEST_PASSWORD}"),
        ])?;
        etcdctl(&["auth", "enable"])
    }

    /// The client port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's scratch directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `unix://<dir>/docker.sock` for a dockerd, `unix://<dir>/podman.sock` for Podman (the form of
    /// `DOCKER_HOST`); `None` for other servers.
    pub fn docker_host(&self) -> Option<String> {
        self.docker_api()
            .then(|| format!("unix://{}", self.docker_socket().display()))
    }

    /// The Linux bridge a dockerd attaches containers to: its own (`vampbr<port>`, 10.213.<port % 256>.1/24),
    /// so a dockerd the machine runs keeps `docker0` and its iptables rules to itself.
    fn bridge(&self) -> String {
        match self.recipe {
            Recipe::Podman => "cni-podman0".to_string(),
            _ => format!("vampbr{}", self.port),
        }
    }

    fn create_bridge(&self) -> Result<(), String> {
        let bridge = self.bridge();
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ip(&["link", "show", &bridge]) {
            let address = format!("10.213.{}.1/24", self.port % 256);
            let made = ip(&["link", "add", "name", &bridge, "type", "bridge"])
                && ip(&["addr", "add", &address, "dev", &bridge])
                && ip(&["link", "set", &bridge, "up"]);
            if !made {
                ip(&["link", "delete", &bridge]);
                return Err(format!(
                    "dockerd: cannot create the bridge {bridge} ({address}); the Docker tests run as root"
                ));
            }
        }
        Ok(())
    }

    fn docker_api(&self) -> bool {
        matches!(self.recipe, Recipe::Dockerd | Recipe::Podman)
    }

    fn docker_socket(&self) -> PathBuf {
        match self.recipe {
            Recipe::Podman => self.dir.join("podman.sock"),
            _ => self.dir.join("docker.sock"),
        }
    }

    fn prepare(&mut self) -> Result<(), String> {
        match self.recipe {
            Recipe::Zookeeper => {
                std::fs::create_dir_all(self.dir.join("data")).map_err(|e| e.to_string())?;
                let cfg = format!(
                    "tickTime=2000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,stat,mntr\nmaxClientCnxns=0\njute.maxbuffer=4194304\n",
                    self.dir.join("data").display(),
                    self.port
                );
                std::fs::write(self.dir.join("zoo.cfg"), cfg).map_err(|e| e.to_string())
            }
            Recipe::Redis { acl: true } => std::fs::write(
                self.dir.join("users.acl"),
                format!("user default off\nuser {REDIS_TEST_USER} on >{TEST_PASSWORD} ~* &* +@all\n"),
            )
            .map_err(|e| e.to_string()),
            Recipe::Podman => std::fs::write(
                self.dir.join("containers.conf"),
                "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
            )
            .map_err(|e| e.to_string()),
            Recipe::Postgres => {
                let initdb =
                    postgres_bin("initdb").ok_or_else(|| missing(self.name, "initdb (postgresql)"))?;
                let data = self.dir.join("data");
                let status = Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&self.dir)
                    .status()
                    .map_err(|e| e.to_string())?;
                if !status.success() {
                    return Err("postgres: cannot give the data directory to user postgres".into());
                }
                let out = Command::new("setpriv")
                    .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
                    .arg(initdb)
                    .args(["-D"])
                    .arg(&data)
                    .args(["-A", "trust", "-U", "postgres", "--no-sync"])
                    .output()
                    .map_err(|e| format!("postgres: initdb failed to run: {e}"))?;
                if !out.status.success() {
                    return Err(format!(
                        "postgres: initdb failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn command(&self) -> Result<Command, String> {
        let log = std::fs::File::create(self.dir.join("server.log")).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = match &self.recipe {
            Recipe::Etcd { peer_port, secured } => {
                let bin = find(&["/usr/bin/etcd", "/usr/local/bin/etcd"])
                    .ok_or_else(|| missing(self.name, "etcd"))?;
                let mut c = Command::new(bin);
                let scheme = if secured.is_some() { "https" } else { "http" };
                let client = format!("{scheme}://127.0.0.1:{}", self.port);
                if let Some(secured) = secured {
                    let certs = &secured.certs;
                    c.arg("--cert-file")
                        .arg(&certs.server_cert)
                        .arg("--key-file")
                        .arg(&certs.server_key)
                        .arg("--trusted-ca-file")
                        .arg(&certs.ca)
                        .args(["--client-cert-auth=true"])
                        .arg("--listen-metrics-urls")
                        .arg(format!("http://127.0.0.1:{}", secured.metrics_port));
                }
                let peer = format!("http://127.0.0.1:{peer_port}");
                c.args(["--name", "vamp-test", "--data-dir"])
                    .arg(self.dir.join("data"))
                    .args([
                        "--listen-client-urls",
                        &client,
                        "--advertise-client-urls",
                        &client,
                    ])
                    .args([
                        "--listen-peer-urls",
                        &peer,
                        "--initial-advertise-peer-urls",
                        &peer,
                    ])
                    .args(["--initial-cluster", &format!("vamp-test={peer}")])
                    .args([
                        "--enable-v2=true",
                        "--log-level",
                        "warn",
                        "--max-request-bytes",
                        "1572864",
                    ]);
                c
            }
            Recipe::Zookeeper => {
                let jar = find(&["/usr/share/java/zookeeper.jar"])
                    .ok_or_else(|| missing(self.name, "zookeeper"))?;
                let mut c = Command::new("java");
                c.arg("-cp")
                    .arg(format!("/etc/zookeeper/conf:{}", jar.display()))
                    .arg("-Djute.maxbuffer=4194304")
                    .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                    .arg(self.dir.join("zoo.cfg"));
                c
            }
            Recipe::Redis { acl } => {
                let bin = find(&["/usr/bin/redis-server", "/usr/local/bin/redis-server"])
                    .ok_or_else(|| missing(self.name, "redis-server"))?;
                let mut c = Command::new(bin);
                if *acl {
                    c.arg("--aclfile").arg(self.dir.join("users.acl"));
                }
                c.args([
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &self.port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--dir")
                .arg(&self.dir);
                c
            }
            Recipe::Postgres => {
                let bin = postgres_bin("postgres").ok_or_else(|| missing(self.name, "postgres"))?;
                let mut c = Command::new("setpriv");
                c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
                    .arg(bin)
                    .arg("-D")
                    .arg(self.dir.join("data"))
                    .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1"])
                    .arg("-c")
                    .arg(format!("unix_socket_directories={}", self.dir.display()))
                    .args(["-c", "max_connections=200"]);
                c
            }
            Recipe::Dockerd => {
                let bin = find(&["/usr/sbin/dockerd", "/usr/bin/dockerd", "/usr/local/bin/dockerd"])
                    .ok_or_else(|| missing(self.name, "dockerd (docker.io)"))?;
                let mut c = Command::new(bin);
                c.arg("--host")
                    .arg(format!("unix://{}", self.docker_socket().display()))
                    .arg("--data-root")
                    .arg(self.dir.join("data"))
                    .arg("--exec-root")
                    .arg(self.dir.join("exec"))
                    .arg("--pidfile")
                    .arg(self.dir.join("dockerd.pid"))
                    .args([
                        "--bridge",
                        &self.bridge(),
                        "--iptables=false",
                        "--log-level",
                        "warn",
                    ]);
                c
            }
            Recipe::Podman => {
                let bin = find(&["/usr/bin/podman", "/usr/local/bin/podman"])
                    .ok_or_else(|| missing(self.name, "podman"))?;
                let mut c = Command::new(bin);
                c.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
                    .arg("--root")
                    .arg(self.dir.join("root"))
                    .arg("--runroot")
                    .arg(self.dir.join("runroot"))
                    .arg("--tmpdir")
                    .arg(self.dir.join("tmp"))
                    .args(["system", "service", "--time=0"])
                    .arg(format!("unix://{}", self.docker_socket().display()));
                c
            }
        };
        cmd.stdin(Stdio::null()).stdout(log).stderr(err).process_group(0);
        Ok(cmd)
    }

    fn answers(&self) -> bool {
        match &self.recipe {
            Recipe::Etcd { secured, .. } => {
                let port = secured.as_ref().map_or(self.port, |s| s.metrics_port);
                exchange(port, b"GET /health HTTP/1.0\r\n\r\n")
                    .is_some_and(|r| r.contains("\"health\":\"true\"") || r.contains("\"health\": \"true\""))
            }
            Recipe::Zookeeper => {
                exchange(self.port, b"srvr").is_some_and(|r| r.starts_with("Zookeeper version"))
            }
            Recipe::Redis { acl: false } => {
                exchange(self.port, b"PING\r\n").is_some_and(|r| r.starts_with("+PONG"))
            }
            Recipe::Redis { acl: true } => exchange(
                self.port,
                format!("AUTH {REDIS_TEST_USER} {TEST_PASSWORD}\r\nPING\r\n").as_bytes(),
            )
            .is_some_and(|r| r.contains("+PONG")),
            Recipe::Postgres => postgres_bin("pg_isready").is_some_and(|bin| {
                Command::new(bin)
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &self.port.to_string(),
                        "-U",
                        "postgres",
                        "-t",
                        "1",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            }),
            Recipe::Dockerd | Recipe::Podman => docker_request(&self.docker_socket(), "GET", "/_ping", &[])
                .is_some_and(|(status, body)| status == 200 && body == b"OK"),
        }
    }

    /// Starts the server (again) on its ports and data, and waits until it answers.
    pub fn start(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Ok(());
        }
        if matches!(self.recipe, Recipe::Dockerd) {
            self.create_bridge()?;
        }
        let child = self
            .command()?
            .spawn()
            .map_err(|e| format!("{}: cannot start: {e}", self.name))?;
        self.child = Some(child);
        if wait_until(START_DEADLINE, || self.answers()) {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            self.stop();
            Err(format!(
                "{} did not answer within {:?}; its log:\n{log}",
                self.name, START_DEADLINE
            ))
        }
    }

    /// Stops the server (its whole process group) and waits until its port no longer answers.
    ///
    /// A dockerd is first asked to shut down (SIGTERM, which stops its containers and its containerd) and given
    /// 20 s before it is killed; then its bridge is deleted. Its containers stay in its data
    /// root, stopped, for [`TestServer::start`]. Podman's service is stopped the same way; its containers keep
    /// running, and the `cni-podman0` bridge is deleted.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let docker_api = self.docker_api();
            if docker_api {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                wait_until(Duration::from_secs(20), || {
                    child.try_wait().is_ok_and(|exited| exited.is_some())
                });
            }
            // `--` matters: procps-ng 4.0's kill reads `kill -KILL -<pgid>` as `kill(-1)`, every process.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            if docker_api {
                wait_until(Duration::from_secs(10), || !self.answers());
                let _ = Command::new("ip")
                    .args(["link", "delete", &self.bridge()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            } else {
                wait_until(Duration::from_secs(10), || {
                    TcpStream::connect(("127.0.0.1", self.port)).is_err()
                });
            }
        }
    }

    /// Force-removes every container of a running dockerd or Podman service (with its anonymous volumes);
    /// nothing for other servers. Returns how many were removed.
    pub fn remove_all_containers(&self) -> usize {
        if !self.docker_api() || self.child.is_none() {
            return 0;
        }
        let socket = self.docker_socket();
        let Some((200, body)) = docker_request(&socket, "GET", "/containers/json?all=1", &[]) else {
            return 0;
        };
        let ids: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&body)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.get("Id").and_then(|id| id.as_str()).map(str::to_string))
            .collect();
        ids.iter()
            .filter(|id| {
                docker_request(&socket, "DELETE", &format!("/containers/{id}?force=1&v=1"), &[])
                    .is_some_and(|(status, _)| status == 204 || status == 404)
            })
            .count()
    }

    /// Whether the server process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.remove_all_containers();
        self.stop();
        if self.docker_api() {
            unmount_under(&self.dir);
        }
        if let Some(certs) = self.certs().and_then(|c| c.ca.parent()) {
            let _ = std::fs::remove_dir_all(certs);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The image [`build_busybox_image`] builds.
pub const BUSYBOX_TEST_IMAGE: &str = "vamp-test/busybox:1";
/// The port its `busybox httpd` listens on unless the container's `PORT` variable says otherwise.
pub const BUSYBOX_TEST_PORT: u16 = 8080;

/// Sends one HTTP/1.0 request to the Docker API on `socket` and returns the status and body of the answer;
/// `None` when nothing answers within 60 s.
pub fn docker_request(socket: &Path, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/x-tar\r\n"
    };
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: docker\r\n{content_type}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = String::from_utf8_lossy(out.get(..split)?)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, out.get(split + 4..)?.to_vec()))
}

/// Builds [`BUSYBOX_TEST_IMAGE`] on the dockerd or Podman service at `docker_host` (`unix://<socket>`) by importing a root file
/// system made of the static `/bin/busybox` (apt `busybox-static`): `sh`, `wget` and `nc` linked to it, `/www`
/// with `index.html` ("hello from vamp-test") and a CGI script `/cgi-bin/env` that prints the container's
/// environment. Its command serves `/www` with `busybox httpd` on `$PORT` (default [`BUSYBOX_TEST_PORT`]) and
/// exits at once on SIGTERM, so containers stop without waiting for their stop timeout.
pub fn build_busybox_image(docker_host: &str) -> Result<(), String> {
    let socket = docker_host
        .strip_prefix("unix://")
        .ok_or_else(|| format!("'{docker_host}' is not a unix:// Docker host"))?;
    let busybox = Path::new("/bin/busybox");
    let binary = std::fs::read(busybox).map_err(|_| missing("the busybox test image", "busybox-static"))?;
    if binary
        .get(..4096)
        .unwrap_or(&binary)
        .windows(8)
        .any(|w| w == b"ld-linux")
    {
        return Err(
            "the busybox test image needs a static /bin/busybox; install busybox-static instead of busybox"
                .into(),
        );
    }
    let root = scratch_dir("busybox-root").map_err(|e| e.to_string())?;
    let result = (|| {
        let io = |e: std::io::Error| format!("building the busybox root: {e}");
        for dir in ["bin", "www/cgi-bin", "tmp"] {
            std::fs::create_dir_all(root.join(dir)).map_err(io)?;
        }
        std::fs::write(root.join("bin/busybox"), &binary).map_err(io)?;
        for applet in ["sh", "wget", "nc"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).map_err(io)?;
        }
        std::fs::write(root.join("www/index.html"), "hello from vamp-test\n").map_err(io)?;
        std::fs::write(
            root.join("www/cgi-bin/env"),
            "#!/bin/sh\necho 'Content-Type: text/plain'\necho\nenv\n",
        )
        .map_err(io)?;
        let status = Command::new("chmod")
            .args(["-R", "a+rx"])
            .arg(&root)
            .status()
            .map_err(io)?;
        if !status.success() {
            return Err("building the busybox root: chmod failed".to_string());
        }
        let tar = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["--owner=0", "--group=0", "-c", "."])
            .output()
            .map_err(|e| format!("tar of the busybox root failed to run: {e}"))?;
        if !tar.status.success() {
            return Err(format!(
                "tar of the busybox root failed: {}",
                String::from_utf8_lossy(&tar.stderr)
            ));
        }
        let cmd = format!(
            "CMD [\"/bin/sh\",\"-c\",\"trap 'exit 0' TERM; /bin/busybox httpd -f -p ${{PORT:-{BUSYBOX_TEST_PORT}}} -h /www & wait\"]"
        );
        let path = format!(
            "/images/create?fromSrc=-&repo={}&changes={}",
            percent_encode(BUSYBOX_TEST_IMAGE),
            percent_encode(&cmd)
        );
        match docker_request(Path::new(socket), "POST", &path, &tar.stdout) {
            Some((200, body)) if !String::from_utf8_lossy(&body).contains("\"error") => Ok(()),
            Some((status, body)) => Err(format!(
                "docker import of {BUSYBOX_TEST_IMAGE} failed with {status}: {}",
                String::from_utf8_lossy(&body)
            )),
            None => Err(format!(
                "docker import of {BUSYBOX_TEST_IMAGE}: no answer from {docker_host}"
            )),
        }
    })();
    let _ = std::fs::remove_dir_all(&root);
    result
}

/// Unmounts what a server left mounted under `dir` (Podman keeps its overlay store bind-mounted), deepest first.
fn unmount_under(dir: &Path) {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<&str> = table
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = Command::new("umount")
            .arg(point)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
