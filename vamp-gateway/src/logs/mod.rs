//! HAProxy access logs: receiving, parsing, aggregating into metrics, and forwarding.
//!
//! HAProxy sends one syslog datagram per request ([`receiver`]) whose message is a JSON object in the log
//! format of the gateway contract ([`syslog`], [`access_log`]). The frontend and backend identifiers are turned
//! back into gateway and route names through the [`names::Names`] table the agent keeps from each applied
//! configuration. Requests are summed per gateway and route in time buckets ([`aggregator`]), read back as
//! [`vamp_core::metrics::MetricsWindow`]s and as Prometheus text ([`prometheus`]). The raw lines are forwarded
//! to Logstash and/or Elasticsearch through bounded drop-oldest queues ([`forward`]); [`pipeline`] ties it all
//! together.

pub mod access_log;
pub mod aggregator;
pub mod counters;
pub mod forward;
pub mod names;
pub mod pipeline;
pub mod prometheus;
pub mod receiver;
pub mod syslog;
