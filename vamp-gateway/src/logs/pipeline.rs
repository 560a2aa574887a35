//! `LogPipeline`: every received datagram is forwarded as it is, parsed, resolved to a gateway and route, and
//! recorded in the aggregator.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::access_log::AccessLog;
use super::aggregator::Aggregator;
use super::counters::LogCounters;
use super::forward::{Forwarder, LogLine};
use super::names::Names;
use super::prometheus::{self, Snapshot};
use super::receiver::LogReceiver;
use super::syslog;

/// The parts of the log pipeline, shared (cheap to clone) between the receive loop, the agent's apply loop
/// (which updates [`LogPipeline::names`]) and the HTTP endpoints.
#[derive(Debug, Clone)]
pub struct LogPipeline {
    names: Names,
    aggregator: Arc<Aggregator>,
    counters: Arc<LogCounters>,
    forwarder: Arc<Forwarder>,
}

/// What became of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// An access log of a known gateway, recorded.
    Recorded,
    /// An access log of a frontend that serves no known gateway.
    UnknownFrontend,
    /// An access log the aggregator refused (too many series).
    Refused,
    /// Not an access log of the contract's format.
    NotAnAccessLog,
}

impl LogPipeline {
    /// A pipeline over these parts, with fresh counters.
    pub fn new(names: Names, aggregator: Arc<Aggregator>, forwarder: Forwarder) -> Self {
        LogPipeline {
            names,
            aggregator,
            counters: Arc::new(LogCounters::new()),
            forwarder: Arc::new(forwarder),
        }
    }

    /// The name table to update from each applied envelope.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The aggregator, which is also the agent's [`vamp_core::metrics::MetricsSource`].
    pub fn aggregator(&self) -> &Arc<Aggregator> {
        &self.aggregator
    }

    /// The pipeline's counters (give them to [`LogReceiver::bind`]).
    pub fn counters(&self) -> &Arc<LogCounters> {
        &self.counters
    }

    /// The forwarder.
    pub fn forwarder(&self) -> &Arc<Forwarder> {
        &self.forwarder
    }

    /// Forwards, parses and records one datagram received now.
    pub fn handle(&self, datagram: &[u8]) -> Handled {
        let text = String::from_utf8_lossy(datagram);
        let now = Utc::now();
        if !self.forwarder.is_empty() {
            self.forwarder.forward(&LogLine {
                received_at: now,
                raw: Arc::from(text.as_ref()),
            });
        }
        let message = syslog::parse(&text).message;
        let log = match AccessLog::parse(message) {
            Ok(log) => log,
            Err(e) => {
                self.counters.parse_error();
                tracing::debug!(error = %e, "a log line that is not an access log");
                return Handled::NotAnAccessLog;
            }
        };
        let Some(resolved) = self.names.resolve(&log.frontend, &log.backend) else {
            self.counters.unknown_frontend();
            return Handled::UnknownFrontend;
        };
        let latency = log.latency_ms().unwrap_or(0.0);
        let recorded = self.aggregator.record(
            &resolved.gateway,
            resolved.route.as_deref(),
            log.status.unwrap_or(0),
            latency,
            now,
        );
        if recorded {
            Handled::Recorded
        } else {
            Handled::Refused
        }
    }

    /// Handles datagrams from `receiver` forever. A failed read is counted and retried after a short pause.
    pub async fn run(self, mut receiver: LogReceiver) {
        loop {
            match receiver.recv().await {
                Ok(datagram) => {
                    self.handle(datagram);
                }
                Err(e) => {
                    tracing::warn!(error = %e, target = ?receiver.target(), "reading the log socket failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// The Prometheus exposition of the aggregator, the counters and the sinks.
    pub fn prometheus(&self) -> String {
        prometheus::render(&Snapshot {
            series: self.aggregator.totals(),
            counters: self.counters.snapshot(),
            refused: self.aggregator.refused(),
            sinks: self.forwarder.snapshot(),
        })
    }
}
