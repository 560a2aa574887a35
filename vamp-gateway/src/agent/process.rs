//! The HAProxy process the agent runs: master-worker mode (`-W`) as a child of the agent in its own process
//! group, with the master CLI on `<dir>/master.sock`; hitless reloads through that CLI, confirmed with
//! `show proc`; and the whole group killed when the handle is dropped, so no HAProxy outlives its agent. The
//! master also dies when the agent's process dies without cleaning up (SIGKILL, a crash: see
//! [`crate::agent::spawner`]), and a previous HAProxy of the same directory is stopped before a new one starts
//! ([`crate::agent::stale`]).
//!
//! HAProxy gets a minimal environment: the contract's `VAMP_*` variables and a fixed `PATH`, nothing of the
//! agent's own, so a `"${NAME}"` in a configuration can read no secret of the process that runs it.
//!
//! Files in the work directory: `haproxy.cfg` (the configuration), `haproxy.pid`, `master.sock` (master CLI),
//! `log.sock` (the default access-log socket),
//! `haproxy.sock` (the runtime API, where the configuration's `stats socket "${VAMP_RUNTIME_SOCKET-…}"` puts
//! it), and `maps/` (`$VAMP_MAPS_DIR`). HAProxy's own messages (stderr) are logged through `tracing` and the
//! latest are kept for error reports.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStderr, Command};
use vamp_core::{Error, Result};

use crate::agent::{spawner, stale};

/// How many of HAProxy's latest stderr lines are kept for error messages.
const KEPT_LINES: usize = 200;

/// The `PATH` HAProxy runs with (the master re-executes itself on reload).
pub const HAPROXY_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `binary` as an absolute path when it is a bare name found in the agent's `PATH` (HAProxy's own `PATH` is
/// [`HAPROXY_PATH`]); otherwise unchanged.
pub fn resolve_binary(binary: &Path) -> PathBuf {
    if binary.components().count() != 1 || binary.is_absolute() {
        return binary.to_path_buf();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(binary))
        .find(|candidate| {
            std::fs::metadata(candidate).is_ok_and(|m| {
                m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
        .unwrap_or_else(|| binary.to_path_buf())
}

/// How HAProxy is started: binary, work directory and the values of the variables the configuration reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ProcessOptions {
    /// The `haproxy` binary (a path, or a name looked up in `PATH`).
    pub binary: PathBuf,
    /// The work directory: configuration, pid file, sockets, maps.
    pub dir: PathBuf,
    /// `VAMP_LOG_TARGET`: where HAProxy sends access logs: a unix datagram socket path, or a UDP `host:port`
    /// (then see the agent's `log_sources`). Empty (the default): `<dir>/log.sock`, see
    /// [`ProcessOptions::effective_log_target`].
    pub log_target: String,
    /// `VAMP_STATS_BIND`: the stats and `/health` listener.
    pub stats_bind: String,
    /// `VAMP_GATEWAY_BIND`: the address gateway ports bind to.
    pub gateway_bind: String,
    /// `VAMP_VHOST_BIND`: the virtual hosts listener.
    pub vhost_bind: String,
    /// How long a start or a reload may take until the new worker is listed, in milliseconds.
    pub ready_timeout_ms: u64,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            binary: PathBuf::from("haproxy"),
            dir: PathBuf::from("/var/lib/vamp-gateway-agent"),
            log_target: String::new(),
            stats_bind: "0.0.0.0:1988".into(),
            gateway_bind: "0.0.0.0".into(),
            vhost_bind: "0.0.0.0:80".into(),
            ready_timeout_ms: 30_000,
        }
    }
}

impl ProcessOptions {
    /// `<dir>/haproxy.cfg`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("haproxy.cfg")
    }

    /// `<dir>/haproxy.pid`.
    pub fn pid_path(&self) -> PathBuf {
        self.dir.join("haproxy.pid")
    }

    /// `<dir>/master.sock`: the master CLI.
    pub fn master_socket(&self) -> PathBuf {
        self.dir.join("master.sock")
    }

    /// `<dir>/haproxy.sock`: the runtime API (`VAMP_RUNTIME_SOCKET`).
    pub fn runtime_socket(&self) -> PathBuf {
        self.dir.join("haproxy.sock")
    }

    /// `<dir>/log.sock`: the default access-log socket.
    pub fn log_socket(&self) -> PathBuf {
        self.dir.join("log.sock")
    }

    /// The log target HAProxy is given: `log_target`, or [`ProcessOptions::log_socket`] when it is empty.
    pub fn effective_log_target(&self) -> String {
        if self.log_target.trim().is_empty() {
            self.log_socket().display().to_string()
        } else {
            self.log_target.clone()
        }
    }

    /// `<dir>/maps`: the map files (`VAMP_MAPS_DIR`).
    pub fn maps_dir(&self) -> PathBuf {
        self.dir.join("maps")
    }

    /// How long a start or reload may take.
    pub fn ready_timeout(&self) -> Duration {
        Duration::from_millis(self.ready_timeout_ms)
    }

    /// The contract's variables HAProxy gets (contract §3); with [`HAPROXY_PATH`] as `PATH`, its whole
    /// environment.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("VAMP_RUNTIME_SOCKET", self.runtime_socket().display().to_string()),
            ("VAMP_MAPS_DIR", self.maps_dir().display().to_string()),
            ("VAMP_LOG_TARGET", self.effective_log_target()),
            ("VAMP_STATS_BIND", self.stats_bind.clone()),
            ("VAMP_GATEWAY_BIND", self.gateway_bind.clone()),
            ("VAMP_VHOST_BIND", self.vhost_bind.clone()),
        ]
    }
}

/// One process of `show proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessEntry {
    /// The pid.
    pub pid: u32,
    /// How many reloads it has lived through (0 for the newest worker).
    pub reloads: u64,
}

/// The master CLI's `show proc`: the master with its failed-reload count, and the workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessList {
    /// The master; `reloads` counts every reload.
    pub master: ProcessEntry,
    /// Failed reloads since the last successful one.
    pub failed: u64,
    /// Current and old workers.
    pub workers: Vec<ProcessEntry>,
}

impl ProcessList {
    /// Reads the output of `show proc` (HAProxy 2.6: `<pid> master <reloads> [failed: <n>] …`, then
    /// `<pid> worker <reloads> …` lines).
    pub fn parse(text: &str) -> Result<ProcessList> {
        let mut master = None;
        let mut failed = 0;
        let mut workers = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (Some(pid), Some(kind), Some(reloads)) = (words.first(), words.get(1), words.get(2)) else {
                continue;
            };
            let (Ok(pid), Ok(reloads)) = (pid.parse(), reloads.parse()) else {
                continue;
            };
            let entry = ProcessEntry { pid, reloads };
            match *kind {
                "master" => {
                    master = Some(entry);
                    failed = words
                        .iter()
                        .position(|w| *w == "[failed:")
                        .and_then(|i| words.get(i + 1))
                        .and_then(|n| n.trim_end_matches(']').parse().ok())
                        .unwrap_or(0);
                }
                "worker" => workers.push(entry),
                _ => {}
            }
        }
        let master = master.ok_or_else(|| {
            Error::backend(format!(
                "HAProxy's master answered 'show proc' without a master line: '{}'.",
                text.trim()
            ))
        })?;
        Ok(ProcessList {
            master,
            failed,
            workers,
        })
    }

    /// The worker that serves new connections: the one with no reloads.
    pub fn current_worker(&self) -> Option<ProcessEntry> {
        self.workers.iter().copied().find(|w| w.reloads == 0)
    }
}

/// HAProxy's latest stderr lines, numbered, shared with the task that reads them.
#[derive(Debug, Default)]
struct Messages {
    total: u64,
    lines: VecDeque<String>,
}

/// A running HAProxy master and its workers.
#[derive(Debug)]
pub struct Haproxy {
    options: ProcessOptions,
    child: Child,
    pid: u32,
    messages: Arc<Mutex<Messages>>,
}

impl Haproxy {
    /// Starts HAProxy on `<dir>/haproxy.cfg` (which must exist) and waits until its first worker is listed.
    /// A previous HAProxy of the directory is stopped first ([`stale::stop_previous`]); the new one gets the
    /// minimal environment and dies with this process. Fails with `Invalid` quoting HAProxy's alerts when it
    /// exits (a bad configuration), with `Unavailable` when the binary cannot be run or no worker appears in
    /// time.
    pub async fn start(options: ProcessOptions) -> Result<Haproxy> {
        let previous = options.clone();
        let _ = tokio::task::spawn_blocking(move || stale::stop_previous(&previous)).await;
        let _ = tokio::fs::remove_file(options.master_socket()).await;
        let mut command = Command::new(resolve_binary(&options.binary));
        command
            .arg("-W")
            .arg("-f")
            .arg(options.config_path())
            .arg("-p")
            .arg(options.pid_path())
            .arg("-S")
            .arg(format!("{},mode,600", options.master_socket().display()))
            .env_clear()
            .env("PATH", HAPROXY_PATH)
            .envs(options.environment())
            .current_dir(&options.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        spawner::die_with_parent(&mut command);
        let mut child = spawner::spawn(command).await.map_err(|e| {
            Error::unavailable(format!(
                "Cannot run HAProxy '{}': {e}. Install HAProxy 2.6 or point the agent at it (--haproxy).",
                options.binary.display()
            ))
        })?;
        let pid = child.id().unwrap_or_default();
        let messages = Arc::new(Mutex::new(Messages::default()));
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(read_messages(stderr, messages.clone()));
        }
        let mut haproxy = Haproxy {
            options,
            child,
            pid,
            messages,
        };
        let deadline = Instant::now() + haproxy.options.ready_timeout();
        loop {
            if let Ok(Some(status)) = haproxy.child.try_wait() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                return Err(Error::invalid(format!(
                    "HAProxy refused the configuration and exited ({status}): {}",
                    haproxy.alerts_since(0)
                )));
            }
            if let Ok(list) = haproxy.processes().await {
                if list.current_worker().is_some() {
                    tracing::info!(pid, "HAProxy started");
                    return Ok(haproxy);
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::unavailable(format!(
                    "HAProxy did not list a worker within {:?}: {}",
                    haproxy.options.ready_timeout(),
                    haproxy.alerts_since(0)
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The master's pid (also the process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The options HAProxy was started with.
    pub fn options(&self) -> &ProcessOptions {
        &self.options
    }

    /// Whether the master is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends one command to the master CLI and returns its answer.
    pub async fn master_command(&self, command: &str) -> Result<String> {
        master_command(&self.options.master_socket(), command, Duration::from_secs(5)).await
    }

    /// The master's `show proc`.
    pub async fn processes(&self) -> Result<ProcessList> {
        ProcessList::parse(&self.master_command("show proc").await?)
    }

    /// Reloads through the master CLI and waits until a new worker is listed. Fails with `Invalid` quoting
    /// HAProxy's alerts when the master refused the new configuration (its `failed` count grew; the old
    /// workers keep serving), with `Unavailable` when neither happens within the ready timeout.
    pub async fn reload(&self) -> Result<()> {
        let before = self.processes().await?;
        let seen = self.messages_total();
        let old: Vec<u32> = before.workers.iter().map(|w| w.pid).collect();
        self.master_command("reload").await?;
        let deadline = Instant::now() + self.options.ready_timeout();
        let mut delay = Duration::from_millis(1);
        loop {
            if let Ok(now) = self.processes().await {
                if now.current_worker().is_some_and(|w| !old.contains(&w.pid)) {
                    return Ok(());
                }
                if now.master.reloads > before.master.reloads && now.failed > before.failed {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return Err(Error::invalid(format!(
                        "HAProxy refused the new configuration and keeps the running one: {}",
                        self.alerts_since(seen)
                    )));
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::unavailable(format!(
                    "HAProxy's reload did not bring up a new worker within {:?}.",
                    self.options.ready_timeout()
                )));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(4));
        }
    }

    /// Stops HAProxy: SIGTERM to the master (which stops its workers), then SIGKILL to the whole group after
    /// 5 s or when the master is gone.
    pub async fn stop(mut self) {
        signal(&format!("{}", self.pid), "-TERM");
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        self.kill_group();
    }

    fn kill_group(&mut self) {
        if self.pid != 0 {
            signal(&format!("-{}", self.pid), "-KILL");
            let _ = self.child.start_kill();
        }
    }

    fn messages_total(&self) -> u64 {
        self.messages.lock().map(|m| m.total).unwrap_or(0)
    }

    /// HAProxy's ALERT lines (or its last lines when there is none) printed since line number `since`.
    fn alerts_since(&self, since: u64) -> String {
        let Ok(messages) = self.messages.lock() else {
            return String::new();
        };
        let first = messages.total - messages.lines.len() as u64;
        let recent: Vec<&String> = messages
            .lines
            .iter()
            .enumerate()
            .filter(|(i, _)| first + *i as u64 >= since)
            .map(|(_, l)| l)
            .collect();
        let alerts: Vec<&str> = recent
            .iter()
            .filter(|l| l.contains("[ALERT]"))
            .map(|l| l.as_str())
            .collect();
        if alerts.is_empty() {
            recent
                .iter()
                .rev()
                .take(5)
                .rev()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(" / ")
        } else {
            alerts.join(" / ")
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// `kill <signal> -- <target>`: `--` keeps a negative target (a process group) from being read as an option.
fn signal(target: &str, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([signal, "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

async fn read_messages(stderr: ChildStderr, messages: Arc<Mutex<Messages>>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("[ALERT]") {
            tracing::error!(target: "haproxy", "{line}");
        } else if line.contains("[WARNING]") {
            tracing::warn!(target: "haproxy", "{line}");
        } else {
            tracing::info!(target: "haproxy", "{line}");
        }
        if let Ok(mut m) = messages.lock() {
            m.total += 1;
            m.lines.push_back(line);
            while m.lines.len() > KEPT_LINES {
                m.lines.pop_front();
            }
        }
    }
}

/// Sends `command` to the master CLI at `socket` and reads the answer. The write side is shut down after the
/// command: the master keeps the connection open otherwise.
pub async fn master_command(socket: &Path, command: &str, timeout: Duration) -> Result<String> {
    let exchange = async {
        let mut stream = UnixStream::connect(socket).await?;
        stream.write_all(format!("{command}\n").as_bytes()).await?;
        stream.shutdown().await?;
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&out).into_owned())
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(Error::unavailable(format!(
            "Cannot reach HAProxy's master CLI at {}: {e}.",
            socket.display()
        ))),
        Err(_) => Err(Error::unavailable(format!(
            "HAProxy's master CLI at {} did not answer '{command}' within {timeout:?}.",
            socket.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW_PROC: &str = "\
#<PID>          <type>          <reloads>       <uptime>        <version>
1152            master          2 [failed: 1]   0d00h00m16s     2.6.12-1+deb12u4
# workers
1903            worker          0               0d00h00m01s     2.6.12-1+deb12u4
# old workers
1800            worker          1               0d00h00m09s     2.6.12-1+deb12u4
# programs
";

    #[test]
    fn show_proc_lists_master_failures_and_workers() {
        let list = ProcessList::parse(SHOW_PROC).unwrap();
        assert_eq!(
            list.master,
            ProcessEntry {
                pid: 1152,
                reloads: 2
            }
        );
        assert_eq!(list.failed, 1);
        assert_eq!(
            list.workers,
            vec![
                ProcessEntry {
                    pid: 1903,
                    reloads: 0
                },
                ProcessEntry {
                    pid: 1800,
                    reloads: 1
                }
            ]
        );
        assert_eq!(list.current_worker().map(|w| w.pid), Some(1903));
    }

    #[test]
    fn show_proc_without_a_master_is_an_error() {
        assert!(ProcessList::parse("Unknown command.\n").is_err());
    }

    #[test]
    fn haproxy_gets_the_contract_variables() {
        let options = ProcessOptions {
            dir: PathBuf::from("/w"),
            ..ProcessOptions::default()
        };
        let env = options.environment();
        assert!(env.contains(&("VAMP_RUNTIME_SOCKET", "/w/haproxy.sock".into())));
        assert!(env.contains(&("VAMP_MAPS_DIR", "/w/maps".into())));
        assert_eq!(env.len(), 6);
        assert!(
            env.contains(&("VAMP_LOG_TARGET", "/w/log.sock".into())),
            "the default log target is the socket"
        );
    }

    #[test]
    fn a_bare_binary_name_is_resolved_in_path() {
        assert!(resolve_binary(Path::new("sh")).is_absolute());
        assert_eq!(resolve_binary(Path::new("./x")), PathBuf::from("./x"));
        assert_eq!(
            resolve_binary(Path::new("no-such-binary-here")),
            PathBuf::from("no-such-binary-here")
        );
    }
}
