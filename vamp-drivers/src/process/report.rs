//! What the process driver reports beyond `list`: events about instance processes (started, adopted, exited
//! and when they restart, failed health checks, stopped) and the status of each instance (pid, restarts).

use std::time::{Duration, Instant};

use indexmap::IndexMap;
use vamp_core::driver::ServiceId;

/// Something that happened to one instance of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessEvent {
    /// The service.
    pub id: ServiceId,
    /// The instance's index within it.
    pub instance: u32,
    /// When the driver saw it happen.
    pub at: Instant,
    /// What happened.
    pub kind: ProcessEventKind,
}

/// What happened to an instance.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProcessEventKind {
    /// The driver started a process for the instance, running the spec of `generation`.
    Started {
        /// The process id (also its process group id).
        pid: u32,
        /// Counts the deploys of the service that needed a restart.
        generation: u64,
    },
    /// A new driver found the instance's process still running and supervises it from now on.
    Adopted {
        /// The process id.
        pid: u32,
    },
    /// The process exited without being asked to; it is restarted after `restart_in`.
    Exited {
        /// The process id it had.
        pid: u32,
        /// How it ended (`exit status: 3`, `signal: 9 (SIGKILL)`, `gone` for an adopted process).
        status: String,
        /// The backoff before the restart.
        restart_in: Duration,
    },
    /// Starting a process failed (e.g. the executable is gone); tried again after `retry_in`.
    SpawnFailed {
        /// Why.
        error: String,
        /// The backoff before the next attempt.
        retry_in: Duration,
    },
    /// A health check failed as often in a row as it tolerates; the process is stopped and restarted.
    Unhealthy {
        /// The process id.
        pid: u32,
        /// The check, as `PROTOCOL port path`.
        check: String,
    },
    /// The process was stopped on request (undeploy, scale down, rolling restart).
    Stopped {
        /// The process id it had.
        pid: u32,
        /// Whether it had to be killed (SIGKILL) because it outlived the grace period after SIGTERM.
        forced: bool,
    },
}

/// One instance of a service as the driver supervises it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceStatus {
    /// Its index within the service.
    pub index: u32,
    /// Its name as `list` reports it.
    pub name: String,
    /// Breed port name → the port handed out to it.
    pub ports: IndexMap<String, u16>,
    /// The pid of its current process; `None` between an exit and the restart.
    pub pid: Option<u32>,
    /// The generation of the spec its current (or last) process runs.
    pub generation: u64,
    /// How often it was restarted after exiting or failing health checks.
    pub restarts: u32,
    /// How its last process ended, or why the last start failed.
    pub last_exit: Option<String>,
    /// `Some(true)` when every health check passed its last probe, `Some(false)` when one failed it, `None`
    /// without checks or before the first probe.
    pub healthy: Option<bool>,
    /// Whether it is being stopped (scaled away or undeployed).
    pub stopping: bool,
}
