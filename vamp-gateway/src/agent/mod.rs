//! The gateway agent: watches the configuration key, applies it to HAProxy, serves health and metrics.

pub mod http;
pub mod metrics_client;
