//! `WorkflowSettings`: the defaults a workflow runs with when its environment does not say (execution period,
//! time limit, memory limit), the bounds no workflow exceeds (longest time limit, largest memory limit, runs
//! and memory across all runs at once), what `vamp.http` may reach, and how much of its execution history the
//! server keeps.
//!
//! Every limit reads 0 as its built-in default, never as "no limit": [`WorkflowSettings::timeout`],
//! [`WorkflowSettings::memory_mb`] and the other accessors apply that rule, so code reads the limits through
//! them, not through the fields.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::egress::HttpAllow;

/// The built-in time limit of one run (60 s).
pub const DEFAULT_EXECUTION_TIMEOUT_MS: u64 = 60_000;
/// The built-in longest time limit a run may have (10 minutes).
pub const DEFAULT_MAX_EXECUTION_TIMEOUT_MS: u64 = 600_000;
/// The built-in memory limit of one run (64 MB, the original's default workflow scale).
pub const DEFAULT_MEMORY_MB: u64 = 64;
/// The built-in largest memory limit of one run (1024 MB).
pub const DEFAULT_MAX_MEMORY_MB: u64 = 1024;
/// The built-in memory all runs going at once may have together (1024 MB).
pub const DEFAULT_MAX_TOTAL_MEMORY_MB: u64 = 1024;
/// The built-in number of runs going at once (64).
pub const DEFAULT_MAX_CONCURRENT_RUNS: usize = 64;

/// How workflows run (`workflows:` in the `vamp serve` configuration, kebab-case, every field optional; a limit
/// of 0 is its default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct WorkflowSettings {
    /// How often a daemon workflow runs when it sets no `VAMP_WORKFLOW_EXECUTION_PERIOD`, in milliseconds
    /// (60 000, the stock workflows' period; 0 = run once).
    pub execution_period_ms: u64,
    /// How long one run may take when the workflow sets no (or a 0) `VAMP_WORKFLOW_EXECUTION_TIMEOUT`, in
    /// milliseconds (60 000; 0 = the default; at most `max-execution-timeout-ms`).
    pub execution_timeout_ms: u64,
    /// The longest time limit a run may have, in milliseconds (600 000; 0 = the default): a larger
    /// `VAMP_WORKFLOW_EXECUTION_TIMEOUT` is cut to it.
    pub max_execution_timeout_ms: u64,
    /// The memory limit of one run when the workflow gives no `scale.memory`, in MB (64; 0 = the default).
    pub memory_mb: u64,
    /// Executions kept per workflow (16, as the workflow agent kept), and as many failed ones besides.
    pub history: usize,
    /// Log lines kept per execution (1000); later lines are counted, not kept.
    pub max_log_lines: usize,
    /// Events an event-scheduled workflow may have waiting while it runs (64); beyond that the oldest waiting
    /// event is dropped with a warning.
    pub max_queued_events: usize,
    /// The largest memory limit a run may have, in MB (1024; 0 = the default): a larger `scale.memory` is cut
    /// to it (and to `max-total-memory-mb`).
    pub max_memory_mb: u64,
    /// The memory limits of all runs going at once may add up to this many MB (1024; 0 = the default): a run
    /// whose limit does not fit into what the runs going leave is skipped (recorded as a `skipped` execution,
    /// at most one per workflow per 10 s, and logged).
    pub max_total_memory_mb: u64,
    /// Script runs going at once across all workflows (64; 0 = the default), so runaway daemons cannot exhaust
    /// the blocking thread pool; a run that finds none free is skipped like one beyond the memory budget.
    pub max_concurrent_runs: usize,
    /// What `vamp.http` may reach besides public addresses (none by default): host names (`metrics.internal`,
    /// `*.svc.cluster.local`), addresses (`10.0.0.7`, `::1`) and networks (`10.0.0.0/8`, `fd00::/8`). Loopback,
    /// link-local, private, shared (CGNAT), unspecified, multicast, reserved and cloud metadata addresses are
    /// refused unless listed.
    pub http_allow: Vec<HttpAllow>,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings {
            execution_period_ms: 60_000,
            execution_timeout_ms: DEFAULT_EXECUTION_TIMEOUT_MS,
            max_execution_timeout_ms: DEFAULT_MAX_EXECUTION_TIMEOUT_MS,
            memory_mb: DEFAULT_MEMORY_MB,
            history: 16,
            max_log_lines: 1000,
            max_queued_events: 64,
            max_memory_mb: DEFAULT_MAX_MEMORY_MB,
            max_total_memory_mb: DEFAULT_MAX_TOTAL_MEMORY_MB,
            max_concurrent_runs: DEFAULT_MAX_CONCURRENT_RUNS,
            http_allow: Vec::new(),
        }
    }
}

fn or_default(value: u64, default: u64) -> u64 {
    if value == 0 {
        default
    } else {
        value
    }
}

impl WorkflowSettings {
    /// The default period of a daemon; `None` = run once.
    pub fn period(&self) -> Option<Duration> {
        (self.execution_period_ms > 0).then(|| Duration::from_millis(self.execution_period_ms))
    }

    /// The longest time limit a run may have (`max-execution-timeout-ms`, 0 = the default).
    pub fn max_timeout(&self) -> Duration {
        Duration::from_millis(or_default(
            self.max_execution_timeout_ms,
            DEFAULT_MAX_EXECUTION_TIMEOUT_MS,
        ))
    }

    /// The default time limit (`execution-timeout-ms`, 0 = the default), at most [`Self::max_timeout`]. Always
    /// a limit: no setting turns time limits off.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(or_default(
            self.execution_timeout_ms,
            DEFAULT_EXECUTION_TIMEOUT_MS,
        ))
        .min(self.max_timeout())
    }

    /// The memory all runs going at once may have, in MB (`max-total-memory-mb`, 0 = the default).
    pub fn total_memory_mb(&self) -> u64 {
        or_default(self.max_total_memory_mb, DEFAULT_MAX_TOTAL_MEMORY_MB)
    }

    /// The largest memory limit of one run, in MB: `max-memory-mb` (0 = the default), at most the total budget.
    pub fn max_run_memory_mb(&self) -> u64 {
        or_default(self.max_memory_mb, DEFAULT_MAX_MEMORY_MB).min(self.total_memory_mb())
    }

    /// The memory limit of a run that gives none, in MB (`memory-mb`, 0 = the default).
    pub fn default_memory_mb(&self) -> u64 {
        or_default(self.memory_mb, DEFAULT_MEMORY_MB)
    }

    /// How many runs may go at once (`max-concurrent-runs`, 0 = the default).
    pub fn concurrent_runs(&self) -> usize {
        if self.max_concurrent_runs == 0 {
            DEFAULT_MAX_CONCURRENT_RUNS
        } else {
            self.max_concurrent_runs
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerSettings;

    #[test]
    fn settings_read_kebab_case_and_keep_defaults() {
        let s: ServerSettings = serde_json::from_value(serde_json::json!({
            "workflows": {"execution-timeout-ms": 5000, "memory-mb": 32}
        }))
        .unwrap();
        assert_eq!(s.workflows.timeout(), Duration::from_secs(5));
        assert_eq!(s.workflows.default_memory_mb(), 32);
        assert_eq!(s.workflows.period(), Some(Duration::from_secs(60)));
        assert_eq!(s.workflows.history, 16);
        assert!(s.workflows.http_allow.is_empty());
        let none: WorkflowSettings =
            serde_json::from_value(serde_json::json!({"execution-period-ms": 0})).unwrap();
        assert_eq!(none.period(), None);
    }

    #[test]
    fn zero_limits_are_the_defaults_never_unlimited() {
        let zero: WorkflowSettings = serde_json::from_value(serde_json::json!({
            "execution-timeout-ms": 0, "max-execution-timeout-ms": 0, "memory-mb": 0, "max-memory-mb": 0,
            "max-total-memory-mb": 0, "max-concurrent-runs": 0
        }))
        .unwrap();
        assert_eq!(
            zero.timeout(),
            Duration::from_millis(DEFAULT_EXECUTION_TIMEOUT_MS)
        );
        assert_eq!(
            zero.max_timeout(),
            Duration::from_millis(DEFAULT_MAX_EXECUTION_TIMEOUT_MS)
        );
        assert_eq!(zero.default_memory_mb(), DEFAULT_MEMORY_MB);
        assert_eq!(zero.max_run_memory_mb(), DEFAULT_MAX_MEMORY_MB);
        assert_eq!(zero.total_memory_mb(), DEFAULT_MAX_TOTAL_MEMORY_MB);
        assert_eq!(zero.concurrent_runs(), DEFAULT_MAX_CONCURRENT_RUNS);
    }

    #[test]
    fn the_default_timeout_and_run_memory_stay_within_their_caps() {
        let s: WorkflowSettings = serde_json::from_value(serde_json::json!({
            "execution-timeout-ms": 7_200_000, "max-execution-timeout-ms": 1000,
            "max-memory-mb": 512, "max-total-memory-mb": 96
        }))
        .unwrap();
        assert_eq!(s.timeout(), Duration::from_secs(1));
        assert_eq!(s.max_run_memory_mb(), 96);
    }

    #[test]
    fn a_bad_allow_entry_is_refused_naming_it() {
        let e =
            serde_json::from_value::<WorkflowSettings>(serde_json::json!({"http-allow": ["10.0.0.0/99"]}))
                .unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/99"), "{e}");
    }
}
