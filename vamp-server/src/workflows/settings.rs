//! `WorkflowSettings`: the defaults a workflow runs with when its environment does not say (execution period,
//! time limit, memory limit) and how much of its execution history the server keeps.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How workflows run (`workflows:` in the `vamp serve` configuration, kebab-case, every field optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct WorkflowSettings {
    /// How often a daemon workflow runs when it sets no `VAMP_WORKFLOW_EXECUTION_PERIOD`, in milliseconds
    /// (60 000, the stock workflows' period; 0 = run once).
    pub execution_period_ms: u64,
    /// How long one run may take when the workflow sets no `VAMP_WORKFLOW_EXECUTION_TIMEOUT`, in milliseconds
    /// (60 000; 0 = no limit).
    pub execution_timeout_ms: u64,
    /// The memory limit of one run when the workflow gives no `scale.memory`, in MB (64, the original's default
    /// workflow scale).
    pub memory_mb: u64,
    /// Executions kept per workflow (16, as the workflow agent kept), and as many failed ones besides.
    pub history: usize,
    /// Log lines kept per execution (1000); later lines are counted, not kept.
    pub max_log_lines: usize,
    /// Events an event-scheduled workflow may have waiting while it runs (64); beyond that the oldest waiting
    /// event is dropped with a warning.
    pub max_queued_events: usize,
    /// The largest memory limit a run may have, in MB (1024): a larger `scale.memory` is cut to it.
    pub max_memory_mb: u64,
    /// Script runs going at once across all workflows (64), so runaway daemons cannot exhaust the blocking
    /// thread pool; a tick that finds none free is skipped.
    pub max_concurrent_runs: usize,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings {
            execution_period_ms: 60_000,
            execution_timeout_ms: 60_000,
            memory_mb: 64,
            history: 16,
            max_log_lines: 1000,
            max_queued_events: 64,
            max_memory_mb: 1024,
            max_concurrent_runs: 64,
        }
    }
}

impl WorkflowSettings {
    /// The default period of a daemon; `None` = run once.
    pub fn period(&self) -> Option<Duration> {
        (self.execution_period_ms > 0).then(|| Duration::from_millis(self.execution_period_ms))
    }

    /// The default time limit; `None` = none.
    pub fn timeout(&self) -> Option<Duration> {
        (self.execution_timeout_ms > 0).then(|| Duration::from_millis(self.execution_timeout_ms))
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
        assert_eq!(s.workflows.timeout(), Some(Duration::from_secs(5)));
        assert_eq!(s.workflows.memory_mb, 32);
        assert_eq!(s.workflows.period(), Some(Duration::from_secs(60)));
        assert_eq!(s.workflows.history, 16);
        let none: WorkflowSettings =
            serde_json::from_value(serde_json::json!({"execution-period-ms": 0, "execution-timeout-ms": 0}))
                .unwrap();
        assert_eq!((none.period(), none.timeout()), (None, None));
    }
}
