//! Workflows: JavaScript run by an embedded engine (QuickJS), or breeds run as services by the container
//! driver.
//!
//! A workflow whose breed's deployable is `application/javascript` is a script. The workflow loop
//! ([`crate::loops`]) starts a [`scheduler::Scheduler`] for it while its status is `starting`/`running`; the
//! scheduler runs the script on its schedule (`daemon`, `event`, `time`, `cron`), each run in a fresh QuickJS
//! runtime on a blocking thread with a memory limit (`scale.memory`, default 64 MB, within a memory budget
//! shared by all runs going) and a time limit (`VAMP_WORKFLOW_EXECUTION_TIMEOUT` seconds, default and cap
//! from [`WorkflowSettings`]; there is no run without one). The script talks to Vamp
//! through the `vamp` object ([`js_api`]): this server's REST API in-process, events, metrics, logging and
//! HTTP. Every run is recorded with its log lines ([`executions`]), served by `GET
//! /api/v1/workflows/{name}/executions` and streamed live by `GET /api/v1/workflows/{name}/logs`.
//!
//! Any other breed (a docker image, a `process` command) runs as a service of the container driver
//! ([`container`]) while the workflow runs.
//!
//! Modules: [`engine`] (one run), [`js_api`] (the globals), [`host`] (what the calls do), [`environment`]
//! (variables and `$` references), [`resolved`] (breed and scale looked up), [`scheduler`] (triggers),
//! [`throttle`] (rate-limited warnings), [`runtime`] (what runs), [`container`] (breed-based workflows), [`executions`] (history and live logs),
//! [`egress`] (where `vamp.http` may connect), [`settings`].

pub mod container;
pub mod egress;
pub mod engine;
pub mod environment;
pub mod executions;
pub mod host;
pub mod js_api;
pub mod resolved;
pub mod runtime;
pub mod scheduler;
pub mod settings;
pub mod throttle;

pub use executions::{Execution, Executions, LogMessage, Outcome, Trigger};
pub use settings::WorkflowSettings;

#[cfg(test)]
mod tests;
