//! What the driver asks the operating system about its instances: whether a pid is still the process it started
//! (`/proc/<pid>/stat`: state and start time, so a reused pid is not mistaken for it), and signals to an
//! instance's process group.
//!
//! Every instance is the leader of a process group of its own (pgid = its pid), so signalling the group reaches
//! whatever it started too. Signals never go to group 0 or 1, nor to the driver's own group: `kill(-1)` would
//! reach every process of the user.

use std::io;

use rustix::process::{Pid, Signal};

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The state letter: `R`, `S`, `D`, `T`, `Z` (zombie: exited, not yet reaped), ….
    pub state: char,
    /// The process group id.
    pub pgrp: i32,
    /// The start time in clock ticks after boot; with the pid, it names one process for good.
    pub start_ticks: u64,
}

impl ProcStat {
    /// Whether the process has exited (a zombie or a dead task).
    pub fn is_exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Reads the fields after the command name (which is in parentheses and may itself contain `)` or spaces).
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// The stat of `pid`, `None` when there is no such process.
pub fn stat(pid: u32) -> Option<ProcStat> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|text| parse_stat(&text))
}

/// Whether the process `pid` with `stat` has ended entirely: a zombie leader whose other threads still run has
/// not (its sockets are still open until the last thread is gone).
fn has_ended(pid: u32, stat: &ProcStat) -> bool {
    stat.is_exited()
        && std::fs::read_dir(format!("/proc/{pid}/task")).map_or(true, |tasks| tasks.count() <= 1)
}

/// Whether `pid` runs and is the process that started at `start_ticks` (any start time when `None`).
pub fn is_alive(pid: u32, start_ticks: Option<u64>) -> bool {
    stat(pid).is_some_and(|s| !has_ended(pid, &s) && start_ticks.is_none_or(|t| t == s.start_ticks))
}

fn group_pid(pgid: u32) -> io::Result<Pid> {
    let raw = i32::try_from(pgid).map_err(|_| io::Error::other("pid out of range"))?;
    let own = rustix::process::getpgrp().as_raw_nonzero().get();
    match Pid::from_raw(raw) {
        Some(pid) if raw > 1 && raw != own => Ok(pid),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal process group {pgid}"),
        )),
    }
}

/// Sends SIGTERM (`kill = false`) or SIGKILL to every process of the group `pgid`. `Ok(false)` when the group
/// has no process left.
pub fn signal_group(pgid: u32, kill: bool) -> io::Result<bool> {
    let signal = if kill { Signal::KILL } else { Signal::TERM };
    match rustix::process::kill_process_group(group_pid(pgid)?, signal) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether a process of the group `pgid` is still running (zombies waiting to be reaped do not count).
pub fn group_is_running(pgid: u32) -> bool {
    let Ok(pid) = group_pid(pgid) else {
        return false;
    };
    if rustix::process::test_kill_process_group(pid).is_err() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| stat(pid).is_some_and(|s| i64::from(s.pgrp) == i64::from(pgid) && !has_ended(pid, &s)))
}

/// A process group leader (pid = pgid) that carries `variable` in its environment, with the variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkedProcess {
    /// Its pid, also its process group id.
    pub pid: u32,
    /// Its start time in clock ticks.
    pub start_ticks: u64,
    /// The value of the variable.
    pub value: String,
}

/// Every running process group leader of this user whose environment (as it was when it started) sets
/// `variable` to a value starting with `prefix`. Processes whose environment cannot be read are left out.
pub fn marked_leaders(variable: &str, prefix: &str) -> Vec<MarkedProcess> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let wanted = format!("{variable}={prefix}");
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = stat(pid).filter(|s| !s.is_exited() && i64::from(s.pgrp) == i64::from(pid))?;
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let value = environ
                .split(|b| *b == 0)
                .find(|entry| entry.starts_with(wanted.as_bytes()))
                .and_then(|entry| std::str::from_utf8(entry.get(variable.len() + 1..)?).ok())?
                .to_string();
            Some(MarkedProcess {
                pid,
                start_ticks: stat.start_ticks,
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let line =
            "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                state: 'S',
                pgrp: 4242,
                start_ticks: 987654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_own_process_is_alive_and_its_start_time_names_it() {
        let me = std::process::id();
        let own = stat(me).unwrap();
        assert!(is_alive(me, Some(own.start_ticks)));
        assert!(
            !is_alive(me, Some(own.start_ticks + 1)),
            "a different start time is another process"
        );
        assert!(is_alive(me, None));
    }

    #[test]
    fn the_own_group_and_group_one_are_never_signalled() {
        let own = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
        assert!(signal_group(own, false).is_err());
        assert!(signal_group(1, false).is_err());
        assert!(signal_group(0, false).is_err());
    }

    #[test]
    fn a_group_without_processes_is_not_running() {
        assert!(!group_is_running(u32::MAX / 2));
        assert_eq!(signal_group(u32::MAX / 2, true).ok(), Some(false));
    }

    /// Polls: until the child has called `exec`, `/proc/<pid>/environ` still shows the parent's environment.
    #[test]
    fn marked_group_leaders_are_found_by_their_environment() {
        let marker = format!("vamp-os-test-{}", std::process::id());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("VAMP_TEST_MARK", format!("{marker}:7"))
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut found = marked_leaders("VAMP_TEST_MARK", &marker);
        while found.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            found = marked_leaders("VAMP_TEST_MARK", &marker);
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, pid);
        assert_eq!(found[0].value, format!("{marker}:7"));
        assert!(marked_leaders("VAMP_TEST_MARK", &format!("{marker}x")).is_empty());
    }
}
