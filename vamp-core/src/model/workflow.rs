//! Workflow: a script or container run as a daemon, on events or on a time schedule.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::breed::Breed;
use super::health_check::HealthCheck;
use super::scale::Scale;
use super::traits::{arguments_as_list, env_as_map, Argument, EnvironmentVariable};
use super::{is_empty_map, Dialects, Metadata, Ref};

/// When a workflow runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Continuously.
    Daemon,
    /// On every event carrying all of these tags.
    Event {
        /// The tags.
        tags: Vec<String>,
    },
    /// Every ISO-8601 `period`, from `start` (`now` when absent), `repeat` times (forever when absent).
    Time {
        /// ISO-8601 period, e.g. `PT1M`.
        period: String,
        /// `now` or an ISO-8601 date-time.
        start: Option<String>,
        /// Number of runs.
        repeat: Option<u32>,
    },
    /// At every instant a cron expression matches, in UTC: `[second] minute hour day-of-month month
    /// day-of-week [year]` (seconds optional, Sunday = 0 or 7, `L`, `W` and `#` as in Vixie cron extensions).
    /// Written `{time: {cron: "*/5 * * * * *"}}` or `{cron: …}`; checked when read
    /// ([`crate::ops::workflow_schedule::CronSchedule`]).
    Cron {
        /// The cron expression as written.
        expression: String,
    },
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Schedule::Daemon => s.serialize_str("daemon"),
            Schedule::Event { tags } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("event", &serde_json::json!({ "tags": tags }))?;
                m.end()
            }
            Schedule::Time {
                period,
                start,
                repeat,
            } => {
                let mut t = serde_json::Map::new();
                t.insert("period".into(), period.clone().into());
                if let Some(st) = start {
                    t.insert("start".into(), st.clone().into());
                }
                if let Some(r) = repeat {
                    t.insert("repeat".into(), (*r).into());
                }
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("time", &t)?;
                m.end()
            }
            Schedule::Cron { expression } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("time", &serde_json::json!({ "cron": expression }))?;
                m.end()
            }
        }
    }
}

/// A workflow's status, which a user sets to start, stop, suspend or restart it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowStatus {
    /// Asked to run.
    #[default]
    Starting,
    /// Running.
    Running,
    /// Asked to stop and be removed.
    Stopping,
    /// Asked to suspend.
    Suspending,
    /// Not running; may be updated.
    Suspended,
    /// Asked to restart.
    Restarting,
}

impl WorkflowStatus {
    /// Parses the lower-case status names.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "starting" => WorkflowStatus::Starting,
            "running" => WorkflowStatus::Running,
            "stopping" => WorkflowStatus::Stopping,
            "suspending" => WorkflowStatus::Suspending,
            "suspended" => WorkflowStatus::Suspended,
            "restarting" => WorkflowStatus::Restarting,
            _ => return None,
        })
    }
}

/// A workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workflow {
    /// The workflow's name.
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// What runs: a JavaScript breed or a container breed.
    pub breed: Ref<Breed>,
    /// Its status.
    pub status: WorkflowStatus,
    /// When it runs.
    pub schedule: Schedule,
    /// Scale of its container, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<Ref<Scale>>,
    /// Environment overrides; each must exist in the breed.
    #[serde(serialize_with = "env_as_map", skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Container arguments.
    #[serde(serialize_with = "arguments_as_list", skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<Argument>,
    /// Container network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Health checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_checks: Option<Vec<HealthCheck>>,
    /// Driver-specific settings.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub dialects: Dialects,
}
