//! Pulse: health and metrics of gateways, routes, services, clusters and deployments, computed live from the
//! metrics source (the embedded agent's access-log aggregator by default) with `vamp_core::ops::health`.
//!
//! - [`figures`]: the figures of each level and [`Vamp::pulse`](crate::Vamp::pulse), everything at once;
//! - [`allocation`]: CPU, memory and instances per deployment;
//! - [`events`] and [`publisher`]: the events the pulse loop publishes every `pulse.period-ms`, with the
//!   original's tags;
//! - [`prometheus`]: the same figures as Prometheus gauges;
//! - [`settings`]: the period and the windows.
//!
//! The API (`/api/v1/health/…`, `/api/v1/metrics/…`) is `crate::api::pulse`.

pub mod allocation;
pub mod events;
pub mod figures;
pub mod prometheus;
pub mod publisher;
pub mod settings;

pub use allocation::Allocation;
pub use figures::{
    ClusterFigures, DeploymentFigures, GatewayFigures, Pulse, RouteFigures, ServiceFigures, Windows,
};
pub use settings::PulseSettings;
