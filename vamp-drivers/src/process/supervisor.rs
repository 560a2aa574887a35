//! The supervisor of one instance slot: starts its process, restarts it with exponential backoff when it exits
//! or fails its health checks, replaces it when handed a plan of another generation, and stops it (SIGTERM to
//! its process group, the grace period, then SIGKILL) when told to.
//!
//! A supervisor ends when told to stop, or is aborted when the driver is dropped; aborting leaves the process
//! running, for the next driver on the same state directory to adopt.

use std::fs::OpenOptions;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use tokio::sync::watch;
use vamp_core::model::HealthCheck;

use super::command::resolve_program;
use super::ports::port_environment;
use super::report::ProcessEventKind;
use super::service::{Command, Plan, Probed, Service, SlotStatus};
use super::{lock, os, probe, Shared};

/// How long a killed process group may take to disappear before the supervisor goes on anyway.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How often a process group is checked while waiting for it to disappear.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// How a supervisor begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Start a process.
    Fresh,
    /// Supervise a running process a previous driver started.
    Adopt {
        /// Its pid.
        pid: u32,
        /// Its start time in clock ticks.
        start_ticks: Option<u64>,
    },
}

/// What a supervisor works with.
pub struct SlotContext {
    /// The driver.
    pub shared: Arc<Shared>,
    /// The service of the slot.
    pub service: Arc<Service>,
    /// The slot's index.
    pub index: u32,
    /// Where the supervisor publishes what it runs.
    pub status: Arc<Mutex<SlotStatus>>,
}

/// A process the supervisor watches.
struct Running {
    pid: u32,
    start_ticks: Option<u64>,
    started: Instant,
    /// The child handle when this driver started it; `None` for an adopted process, whose exit is polled.
    child: Option<tokio::process::Child>,
    checks: Vec<CheckState>,
}

/// The schedule and recent results of one health check of a running process.
struct CheckState {
    check: HealthCheck,
    next: Instant,
    failures_in_a_row: u32,
    last: Option<bool>,
}

impl CheckState {
    fn schedule(checks: &[HealthCheck], started: Instant) -> Vec<CheckState> {
        checks
            .iter()
            .map(|check| CheckState {
                check: check.clone(),
                next: started + Duration::from_secs(check.initial_delay.0),
                failures_in_a_row: 0,
                last: None,
            })
            .collect()
    }
}

/// Why the supervisor woke up.
enum Wake {
    Exited(String),
    Changed,
    Orphaned,
    ProbeDue,
}

/// Runs the slot until told to stop.
pub async fn supervise(ctx: SlotContext, mut control: watch::Receiver<Command>, start: Start) {
    let config = &ctx.shared.config;
    let mut running = match start {
        Start::Adopt { pid, start_ticks } if os::is_alive(pid, start_ticks) => {
            ctx.emit(ProcessEventKind::Adopted { pid });
            Some(Running {
                pid,
                start_ticks,
                started: Instant::now(),
                child: None,
                checks: Vec::new(),
            })
        }
        _ => None,
    };
    let mut backoff = config.restart_backoff_min;
    let mut restart_at: Option<Instant> = None;
    let mut generation = lock(&ctx.status).generation;
    loop {
        let command = control.borrow_and_update().clone();
        let plan = match command {
            Command::Stop => {
                if let Some(mut process) = running.take() {
                    ctx.stop(&mut process).await;
                }
                ctx.finish().await;
                return;
            }
            Command::Run(plan) => plan,
        };
        if plan.generation != generation {
            if let Some(mut process) = running.take() {
                ctx.stop(&mut process).await;
            }
            generation = plan.generation;
            backoff = config.restart_backoff_min;
            restart_at = None;
        }
        let Some(process) = running.as_mut() else {
            if let Some(at) = restart_at.filter(|at| *at > Instant::now()) {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => restart_at = None,
                    changed = control.changed() => if changed.is_err() { return; },
                }
                continue;
            }
            restart_at = None;
            match ctx.spawn(&plan).await {
                Ok(process) => running = Some(process),
                Err(error) => {
                    let delay = next_delay(&mut backoff, config.restart_backoff_max);
                    restart_at = Some(Instant::now() + delay);
                    lock(&ctx.status).last_exit = Some(error.clone());
                    ctx.emit(ProcessEventKind::SpawnFailed {
                        error,
                        retry_in: delay,
                    });
                    let _ = ctx.service.persist().await;
                }
            }
            continue;
        };
        if process
            .checks
            .iter()
            .map(|c| &c.check)
            .ne(plan.health_checks.iter())
        {
            process.checks = CheckState::schedule(&plan.health_checks, process.started);
            lock(&ctx.status).probed = Probed::Unknown;
        }
        let next_probe = process.checks.iter().map(|c| c.next).min();
        let wake = tokio::select! {
            exit = wait_exit(process, config.poll_interval) => Wake::Exited(exit),
            changed = control.changed() => if changed.is_err() { Wake::Orphaned } else { Wake::Changed },
            _ = sleep_until(next_probe), if next_probe.is_some() => Wake::ProbeDue,
        };
        match wake {
            Wake::Changed => {}
            Wake::Orphaned => return,
            Wake::Exited(how) => {
                let pid = process.pid;
                let stable = process.started.elapsed() >= config.stable_after;
                running = None;
                kill_leftovers(pid).await;
                if stable {
                    backoff = config.restart_backoff_min;
                }
                let delay = next_delay(&mut backoff, config.restart_backoff_max);
                restart_at = Some(Instant::now() + delay);
                ctx.record_exit(how.clone());
                ctx.emit(ProcessEventKind::Exited {
                    pid,
                    status: how,
                    restart_in: delay,
                });
                let _ = ctx.service.persist().await;
            }
            Wake::ProbeDue => {
                if let Some(failed) = ctx.probe(process).await {
                    let pid = process.pid;
                    ctx.emit(ProcessEventKind::Unhealthy {
                        pid,
                        check: failed.clone(),
                    });
                    ctx.terminate(process).await;
                    running = None;
                    let delay = next_delay(&mut backoff, config.restart_backoff_max);
                    restart_at = Some(Instant::now() + delay);
                    ctx.record_exit(format!("failed the health check {failed}"));
                    let _ = ctx.service.persist().await;
                }
            }
        }
    }
}

/// The delay before the next restart, doubling `backoff` up to `max` for the one after.
fn next_delay(backoff: &mut Duration, max: Duration) -> Duration {
    let delay = *backoff;
    *backoff = backoff.saturating_mul(2).min(max);
    delay
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Waits until the process exits and says how: through the child handle when this driver started it, by
/// polling `/proc` when it was adopted.
async fn wait_exit(process: &mut Running, poll: Duration) -> String {
    match process.child.as_mut() {
        Some(child) => match child.wait().await {
            Ok(status) => status.to_string(),
            Err(e) => format!("lost track of it: {e}"),
        },
        None => {
            while os::is_alive(process.pid, process.start_ticks) {
                tokio::time::sleep(poll).await;
            }
            "gone".to_string()
        }
    }
}

/// Waits until no process of the group runs any more (the leader first).
async fn wait_group_gone(process: &mut Running, poll: Duration) {
    wait_exit(process, poll.min(GROUP_POLL)).await;
    while os::group_is_running(process.pid) {
        tokio::time::sleep(GROUP_POLL).await;
    }
}

/// Kills what an exited process left in its group, so a restart finds its ports free.
async fn kill_leftovers(pgid: u32) {
    if os::group_is_running(pgid) {
        let _ = os::signal_group(pgid, true);
        let deadline = Instant::now() + KILL_WAIT;
        while os::group_is_running(pgid) && Instant::now() < deadline {
            tokio::time::sleep(GROUP_POLL).await;
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SlotContext {
    fn emit(&self, kind: ProcessEventKind) {
        self.shared.emit(&self.service.id, self.index, kind);
    }

    fn record_exit(&self, how: String) {
        let mut status = lock(&self.status);
        status.pid = None;
        status.start_ticks = None;
        status.restarts = status.restarts.saturating_add(1);
        status.last_exit = Some(how);
        status.probed = Probed::Unknown;
    }

    /// Stops the process on request: SIGTERM, the grace period, SIGKILL; reports it.
    async fn stop(&self, process: &mut Running) {
        let forced = self.terminate(process).await;
        {
            let mut status = lock(&self.status);
            status.pid = None;
            status.start_ticks = None;
            status.probed = Probed::Unknown;
        }
        self.emit(ProcessEventKind::Stopped {
            pid: process.pid,
            forced,
        });
        let _ = self.service.persist().await;
    }

    /// SIGTERM to the process group; SIGKILL when something of it still runs after the grace period. Says
    /// whether SIGKILL was needed.
    async fn terminate(&self, process: &mut Running) -> bool {
        let poll = self.shared.config.poll_interval;
        if !matches!(os::signal_group(process.pid, false), Ok(true)) {
            let _ = tokio::time::timeout(KILL_WAIT, wait_group_gone(process, poll)).await;
            return false;
        }
        let grace = self.shared.config.stop_grace;
        if tokio::time::timeout(grace, wait_group_gone(process, poll))
            .await
            .is_ok()
        {
            return false;
        }
        let _ = os::signal_group(process.pid, true);
        let _ = tokio::time::timeout(KILL_WAIT, wait_group_gone(process, poll)).await;
        true
    }

    /// Ends a stopped slot: removes it from its service, gives its ports back and removes its log file, unless
    /// the whole service is being undeployed (undeploy does that).
    async fn finish(&self) {
        let ports = {
            let mut st = lock(&self.service.state);
            if st.removed {
                return;
            }
            st.slots.remove(&self.index);
            let ports: Vec<u16> = lock(&self.status).ports.values().copied().collect();
            ports
        };
        ports.iter().for_each(|p| self.shared.ports.release(*p));
        let _ = tokio::fs::remove_file(self.shared.log_file(&self.service.file, self.index)).await;
        let _ = self.service.persist().await;
    }

    /// Gives the slot a port for every port name of `plan`: keeps the ports it has where they are still free,
    /// hands out new ones otherwise, and gives back the ports of names the plan no longer has.
    fn settle_ports(&self, plan: &Plan) -> Result<IndexMap<String, u16>, String> {
        let old = lock(&self.status).ports.clone();
        let allocator = &self.shared.ports;
        let mut ports = IndexMap::new();
        for name in &plan.port_names {
            let kept = old.get(name).copied().filter(|p| allocator.is_free(*p));
            let port = match kept {
                Some(port) => port,
                None => allocator.allocate().ok_or_else(|| {
                    format!(
                        "no free port left in {:?} for port '{name}'",
                        self.shared.config.port_range
                    )
                })?,
            };
            ports.insert(name.clone(), port);
        }
        for port in old.values() {
            if !ports.values().any(|p| p == port) {
                allocator.release(*port);
            }
        }
        lock(&self.status).ports = ports.clone();
        Ok(ports)
    }

    /// Starts a process of `plan`: its own process group, the working directory, the passed-through, spec and
    /// port variables, stdin from /dev/null, stdout and stderr appended to the slot's log file.
    async fn spawn(&self, plan: &Plan) -> Result<Running, String> {
        let config = &self.shared.config;
        let ports = self.settle_ports(plan)?;
        let program_word = plan.words.first().ok_or("the command line is empty")?;
        let program = resolve_program(
            program_word,
            &config.working_dir,
            &config.search_path,
            std::env::var_os("PATH").as_deref(),
        )?;
        let log_path = self.shared.log_file(&self.service.file, self.index);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open the log file {}: {e}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot share the log file {}: {e}", log_path.display()))?;
        let mut command = tokio::process::Command::new(&program);
        command
            .args(plan.words.iter().skip(1))
            .current_dir(&config.working_dir)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0)
            .kill_on_drop(false);
        for name in &config.pass_env {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(&plan.environment);
        command.envs(port_environment(&ports));
        command.env(
            super::INSTANCE_VARIABLE,
            self.shared.marker(&self.service.file, self.index),
        );
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let pid = child.id().ok_or("the process exited as it started")?;
        let start_ticks = os::stat(pid).map(|s| s.start_ticks);
        let started = Instant::now();
        {
            let mut status = lock(&self.status);
            status.pid = Some(pid);
            status.start_ticks = start_ticks;
            status.started_at_ms = Some(now_ms());
            status.generation = plan.generation;
            status.probed = Probed::Unknown;
        }
        self.emit(ProcessEventKind::Started {
            pid,
            generation: plan.generation,
        });
        let _ = self.service.persist().await;
        Ok(Running {
            pid,
            start_ticks,
            started,
            child: Some(child),
            checks: CheckState::schedule(&plan.health_checks, started),
        })
    }

    /// Runs the checks that are due and publishes the verdict. Returns the check that failed as often in a row
    /// as it tolerates, if one did.
    async fn probe(&self, process: &mut Running) -> Option<String> {
        let host = self.shared.config.host;
        let ports = lock(&self.status).ports.clone();
        let now = Instant::now();
        let mut exhausted = None;
        for state in process.checks.iter_mut().filter(|c| c.next <= now) {
            let check = &state.check;
            let timeout = Duration::from_secs(check.timeout.0.max(1));
            let passed = match ports.get(&check.port) {
                Some(port) if check.protocol.eq_ignore_ascii_case("tcp") => {
                    probe::accepts(host, *port, timeout).await
                }
                Some(port) => probe::http_ok(host, *port, &check.path, timeout).await,
                None => false,
            };
            state.last = Some(passed);
            state.failures_in_a_row = if passed { 0 } else { state.failures_in_a_row + 1 };
            state.next = Instant::now() + Duration::from_secs(check.interval.0.max(1));
            if state.failures_in_a_row >= check.failures.max(1) {
                exhausted = Some(format!("{} {} {}", check.protocol, check.port, check.path));
            }
        }
        let probed = if process.checks.iter().any(|c| c.last == Some(false)) {
            Probed::Failing
        } else if process.checks.iter().all(|c| c.last == Some(true)) {
            Probed::Passing
        } else {
            Probed::Unknown
        };
        lock(&self.status).probed = probed;
        exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let mut backoff = Duration::from_millis(100);
        let max = Duration::from_millis(500);
        let delays: Vec<u128> = (0..5)
            .map(|_| next_delay(&mut backoff, max).as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
    }
}
