//! `ProcessConfig`: where the process driver keeps its state, where instances listen, how executables are
//! found, and the timings of restarts, stops and rolling restarts.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vamp_core::{Error, Result};

/// The state directory `process://` uses when the URL names none.
pub const DEFAULT_STATE_DIR: &str = "./vamp-data/processes";

/// Settings of a [`ProcessDriver`](super::ProcessDriver). `Default` gives the embedded server's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ProcessConfig {
    /// Where the driver keeps one JSON file per service (spec, ports, pids, start times) and one log file per
    /// instance; a new driver on the same directory re-adopts what the previous one started. Created if missing.
    pub state_dir: PathBuf,
    /// The address instances are reached on: reported as every instance's host, and the address a port must be
    /// free on to be handed out. Instances are told their ports, not this address; the demo service listens on
    /// 127.0.0.1.
    pub host: IpAddr,
    /// Instance ports are drawn from this range (kept below the kernel's ephemeral range, so a port handed out
    /// is not taken meanwhile by an outgoing connection).
    pub port_range: RangeInclusive<u16>,
    /// The working directory of every instance, and the first place a relative executable path (one with a `/`,
    /// like `./server`) is looked up in.
    pub working_dir: PathBuf,
    /// Directories searched, in order, for an executable named without a `/` before the driver's own `PATH`, and
    /// after `working_dir` for a relative path with a `/`. By default the directory of the running executable,
    /// so the demo service built next to the server is found.
    pub search_path: Vec<PathBuf>,
    /// The driver's own environment variables passed through to instances; instances get nothing else from the
    /// driver's environment (so its secrets stay out of services), only these, the spec's variables and the
    /// port variables.
    pub pass_env: Vec<String>,
    /// The delay before restarting an instance that exited after a stable run; doubled for every exit that
    /// follows a short run.
    pub restart_backoff_min: Duration,
    /// The longest delay between restarts of a crashing instance.
    pub restart_backoff_max: Duration,
    /// How long an instance must run for its next exit to count as a fresh failure (the backoff starts over).
    pub stable_after: Duration,
    /// How long an instance has to exit after SIGTERM before its process group gets SIGKILL.
    pub stop_grace: Duration,
    /// During a rolling restart, how long a restarted instance has to accept connections before the rollout
    /// halts (the remaining instances keep running the previous command until the next deploy).
    pub rollout_step_timeout: Duration,
    /// How often the liveness of instances the driver did not start itself (re-adopted ones) is checked.
    pub poll_interval: Duration,
    /// Whether dropping the driver kills (SIGKILL) every instance's process group. Off by default: a server that
    /// stops leaves its instances running for the next one to re-adopt. Tests and embedders that must leave no
    /// processes behind turn it on.
    pub stop_on_drop: bool,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_range: 20000..=29999,
            working_dir: PathBuf::from("."),
            search_path: std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_path_buf))
                .into_iter()
                .collect(),
            pass_env: [
                "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR",
            ]
            .iter()
            .map(|name| name.to_string())
            .collect(),
            restart_backoff_min: Duration::from_millis(200),
            restart_backoff_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
            stop_grace: Duration::from_secs(10),
            rollout_step_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            stop_on_drop: false,
        }
    }
}

impl ProcessConfig {
    /// The default settings with `state_dir` as the state directory.
    pub fn in_dir(state_dir: impl Into<PathBuf>) -> Self {
        ProcessConfig {
            state_dir: state_dir.into(),
            ..ProcessConfig::default()
        }
    }

    /// Checks the settings and makes `state_dir` and `working_dir` absolute (against the current directory), so
    /// instances and state files do not depend on where the server is started from later.
    pub(crate) fn checked(mut self) -> Result<Self> {
        let bad = |why: &str| Error::invalid(format!("The process driver's configuration {why}"));
        if self.port_range.is_empty() || *self.port_range.start() == 0 {
            return Err(bad(
                "has an empty port range or one starting at 0; give a range like 20000..=29999.",
            ));
        }
        if self.restart_backoff_min.is_zero() || self.restart_backoff_min > self.restart_backoff_max {
            return Err(bad(
                "has a restart backoff minimum of zero or above the maximum; give 0 < min <= max.",
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(bad("has a poll interval of zero; give a positive interval."));
        }
        let cwd = std::env::current_dir().map_err(|e| {
            Error::backend(format!(
                "The process driver cannot read the current directory to resolve its paths: {e}"
            ))
        })?;
        self.state_dir = cwd.join(&self.state_dir);
        self.working_dir = cwd.join(&self.working_dir);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    #[test]
    fn defaults_listen_on_loopback_and_keep_state_under_vamp_data() {
        let config = ProcessConfig::default();
        assert_eq!(config.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(config.state_dir, PathBuf::from("./vamp-data/processes"));
        assert!(config.restart_backoff_min < config.restart_backoff_max);
        assert!(config.pass_env.iter().any(|v| v == "PATH"));
    }

    #[test]
    fn an_inverted_backoff_is_invalid() {
        let config = ProcessConfig {
            restart_backoff_min: Duration::from_secs(5),
            restart_backoff_max: Duration::from_secs(1),
            ..ProcessConfig::default()
        };
        assert_eq!(config.checked().unwrap_err().kind(), ErrorKind::Invalid);
    }

    #[test]
    fn checked_paths_are_absolute() {
        let config = ProcessConfig::in_dir("rel/state").checked().unwrap();
        assert!(config.state_dir.is_absolute());
        assert!(config.state_dir.ends_with("rel/state"));
        assert!(config.working_dir.is_absolute());
    }

    #[test]
    fn config_reads_from_json_with_defaults_for_what_is_left_out() {
        let config: ProcessConfig =
            serde_json::from_str(r#"{"state_dir": "/var/lib/vamp", "stop_on_drop": true}"#).unwrap();
        assert_eq!(config.state_dir, PathBuf::from("/var/lib/vamp"));
        assert!(config.stop_on_drop);
        assert_eq!(config.port_range, ProcessConfig::default().port_range);
    }
}
