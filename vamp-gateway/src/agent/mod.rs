//! The gateway agent: watches the configuration key, applies it to HAProxy, serves health and metrics.
//!
//! - [`options`]: flags and environment variables.
//! - [`watch`]: the watch-and-apply loop and the agent's status ([`watch::run_apply_loop`]).
//! - [`apply`]: applying one configuration: nothing, runtime API, or reload ([`apply::Applier`]).
//! - [`config_diff`]: which of these a change needs.
//! - [`process`]: the HAProxy master-worker process.
//! - [`spawner`]: starting HAProxy so it dies with the agent's process.
//! - [`stale`]: finding and stopping a previous HAProxy of the agent's directory.
//! - [`work_dir`]: keeping the agent's work directory private.
//! - [`runtime_api`]: the HAProxy admin socket client.
//! - [`signature`]: which values the agent accepts (signed with the shared key, unless explicitly opted out).
//! - [`run`]: the whole agent (logs, HTTP endpoint, apply loop) as one future; the binary calls it.
//! - [`http`]: the agent's health, Prometheus and metrics-window endpoints.
//! - [`metrics_client`]: the server's `MetricsSource` over agents' endpoints.

pub mod apply;
pub mod config_diff;
pub mod http;
pub mod metrics_client;
pub mod options;
pub mod process;
pub mod run;
pub mod runtime_api;
pub mod signature;
pub mod spawner;
pub mod stale;
pub mod watch;
pub mod work_dir;
