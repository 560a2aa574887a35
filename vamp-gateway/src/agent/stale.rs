//! A previous HAProxy of the agent's own work directory: one left running by an agent that was killed, or
//! started by hand on the directory's configuration. Two HAProxy processes binding the same ports with
//! `SO_REUSEPORT` split the traffic between them, and a stale one keeps logging into the directory's log socket,
//! so a starting agent stops them before it binds anything.
//!
//! A process is a previous HAProxy of the directory when its program is HAProxy (its executable's or `argv[0]`'s
//! file name starts with `haproxy`, or equals the configured binary's) and its command line loads the
//! directory's configuration (`-f <dir>/haproxy.cfg`, a relative path read from the process's working
//! directory). The pid in `<dir>/haproxy.pid` is checked the same way, so a reused pid is never signalled.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::agent::process::ProcessOptions;

/// How long a previous HAProxy gets to stop after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// What `/proc/<pid>/cmdline` and its neighbours say about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessView {
    /// Its arguments, `argv[0]` first.
    pub args: Vec<String>,
    /// The file its `/proc/<pid>/exe` points at, when readable.
    pub exe: Option<PathBuf>,
    /// Its working directory, when readable (relative `-f` paths are read from it).
    pub cwd: Option<PathBuf>,
}

impl ProcessView {
    /// The view of `pid`, `None` when it is gone or its command line cannot be read.
    pub fn of(pid: u32) -> Option<ProcessView> {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        Some(ProcessView {
            args,
            exe: std::fs::read_link(format!("/proc/{pid}/exe")).ok(),
            cwd: std::fs::read_link(format!("/proc/{pid}/cwd")).ok(),
        })
    }

    /// Whether this is HAProxy (see the module's contract) running the configuration at `config` (absolute,
    /// with symbolic links resolved).
    pub fn runs_config(&self, binary: &Path, config: &Path) -> bool {
        let named = |path: &Path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("haproxy") || binary.file_name().is_some_and(|b| b == n))
        };
        let is_haproxy =
            self.exe.as_deref().is_some_and(named) || self.args.first().is_some_and(|a| named(Path::new(a)));
        is_haproxy && self.config_files().iter().any(|file| same_file(file, config))
    }

    /// The files of its `-f <file>` and `-f<file>` arguments, made absolute against its working directory.
    fn config_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut args = self.args.iter().skip(1);
        while let Some(arg) = args.next() {
            let file = match arg.strip_prefix("-f") {
                Some("") => args.next().map(String::as_str),
                Some(rest) => Some(rest),
                None => None,
            };
            if let Some(file) = file {
                let path = Path::new(file);
                files.push(match &self.cwd {
                    Some(cwd) if path.is_relative() => cwd.join(path),
                    _ => path.to_path_buf(),
                });
            }
        }
        files
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || std::fs::canonicalize(a).is_ok_and(|a| a == b)
}

/// `<dir>/haproxy.cfg` with the directory's symbolic links resolved (the file itself need not exist).
fn canonical_config(options: &ProcessOptions) -> PathBuf {
    let dir = std::fs::canonicalize(&options.dir).unwrap_or_else(|_| options.dir.clone());
    dir.join(
        options
            .config_path()
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default(),
    )
}

/// The pids of every running previous HAProxy of `options.dir` (the pid file's and any other), never this
/// process.
pub fn find(options: &ProcessOptions) -> Vec<u32> {
    let config = canonical_config(options);
    let own = std::process::id();
    let mut candidates: Vec<u32> = std::fs::read_to_string(options.pid_path())
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse().ok())
        .into_iter()
        .collect();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        candidates.extend(entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()));
    }
    candidates.sort_unstable();
    candidates.dedup();
    candidates
        .into_iter()
        .filter(|pid| *pid != own && *pid > 1 && is_running(*pid))
        .filter(|pid| ProcessView::of(*pid).is_some_and(|v| v.runs_config(&options.binary, &config)))
        .collect()
}

/// Whether `pid` exists and has not exited (a zombie has).
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|text| {
            let (_, rest) = text.rsplit_once(')')?;
            rest.split_whitespace()
                .next()
                .map(|state| !matches!(state, "Z" | "X" | "x"))
        })
        .unwrap_or(false)
}

fn send(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Stops every previous HAProxy of `options.dir`: SIGTERM, then SIGKILL to those still running after
/// [`STOP_GRACE`]. Returns the pids found. Blocks while it waits: call it off the async workers or before they
/// serve anything. A process this user may not signal is reported as still running.
pub fn stop_previous(options: &ProcessOptions) -> Vec<u32> {
    let found = find(options);
    if found.is_empty() {
        return found;
    }
    tracing::warn!(pids = ?found, dir = %options.dir.display(), "stopping a previous HAProxy of this directory");
    for pid in &found {
        send(*pid, Signal::TERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while found.iter().any(|pid| is_running(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in found.iter().filter(|pid| is_running(**pid)) {
        send(*pid, Signal::KILL);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while found.iter().any(|pid| is_running(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(pid) = found.iter().find(|pid| is_running(**pid)) {
        tracing::error!(pid, "a previous HAProxy of this directory could not be stopped");
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(args: &[&str], exe: Option<&str>, cwd: Option<&str>) -> ProcessView {
        ProcessView {
            args: args.iter().map(|a| a.to_string()).collect(),
            exe: exe.map(PathBuf::from),
            cwd: cwd.map(PathBuf::from),
        }
    }

    const CONFIG: &str = "/w/agent/haproxy.cfg";

    #[test]
    fn haproxy_on_the_directory_configuration_is_found() {
        let v = view(
            &[
                "/usr/sbin/haproxy",
                "-W",
                "-f",
                CONFIG,
                "-p",
                "/w/agent/haproxy.pid",
            ],
            Some("/usr/sbin/haproxy"),
            None,
        );
        assert!(v.runs_config(Path::new("haproxy"), Path::new(CONFIG)));
        let joined = view(&["haproxy", "-f/w/agent/haproxy.cfg"], None, None);
        assert!(joined.runs_config(Path::new("haproxy"), Path::new(CONFIG)));
    }

    #[test]
    fn a_relative_configuration_is_read_from_the_working_directory() {
        let v = view(&["haproxy", "-f", "haproxy.cfg"], None, Some("/w/agent"));
        assert!(v.runs_config(Path::new("haproxy"), Path::new(CONFIG)));
        let elsewhere = view(&["haproxy", "-f", "haproxy.cfg"], None, Some("/other"));
        assert!(!elsewhere.runs_config(Path::new("haproxy"), Path::new(CONFIG)));
    }

    #[test]
    fn other_programs_and_other_directories_are_left_alone() {
        let tail = view(&["tail", "-f", CONFIG], Some("/usr/bin/tail"), None);
        assert!(!tail.runs_config(Path::new("haproxy"), Path::new(CONFIG)));
        let other = view(&["haproxy", "-f", "/x/haproxy.cfg"], None, None);
        assert!(!other.runs_config(Path::new("haproxy"), Path::new(CONFIG)));
        let custom = view(&["/opt/lb", "-f", CONFIG], Some("/opt/lb"), None);
        assert!(custom.runs_config(Path::new("/opt/lb"), Path::new(CONFIG)));
    }

    #[test]
    fn a_directory_without_haproxy_has_nothing_to_stop() {
        let dir = std::env::temp_dir().join(vamp_core::testkit::unique("stale-none"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("haproxy.pid"), format!("{}\n", std::process::id())).unwrap();
        let options = ProcessOptions {
            dir: dir.clone(),
            ..ProcessOptions::default()
        };
        assert!(
            stop_previous(&options).is_empty(),
            "the own pid in the pid file is never signalled"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
