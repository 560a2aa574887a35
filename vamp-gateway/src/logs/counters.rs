//! Counters of the log pipeline itself, exposed as Prometheus metrics: what arrived, what could not be parsed,
//! what belonged to no gateway, what came from a source that may not send logs.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters shared by the receiver and the pipeline (`Arc<LogCounters>`).
#[derive(Debug, Default)]
pub struct LogCounters {
    received: AtomicU64,
    receive_errors: AtomicU64,
    parse_errors: AtomicU64,
    unknown_frontend: AtomicU64,
    refused_sources: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CountersSnapshot {
    /// Datagrams received.
    pub received: u64,
    /// Failed reads from the log socket.
    pub receive_errors: u64,
    /// Lines whose message is not an access log of the contract's format (still forwarded).
    pub parse_errors: u64,
    /// Access logs of frontends that serve no known gateway (stats, virtual hosts; still forwarded).
    pub unknown_frontend: u64,
    /// UDP datagrams from a source address that is not an accepted log source (dropped unread).
    pub refused_sources: u64,
}

impl LogCounters {
    /// All zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one received datagram.
    pub fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failed socket read.
    pub fn receive_error(&self) {
        self.receive_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one line that is not an access log.
    pub fn parse_error(&self) {
        self.parse_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one access log of an unknown frontend.
    pub fn unknown_frontend(&self) {
        self.unknown_frontend.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one datagram dropped for its source address.
    pub fn refused_source(&self) {
        self.refused_sources.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            received: self.received.load(Ordering::Relaxed),
            receive_errors: self.receive_errors.load(Ordering::Relaxed),
            parse_errors: self.parse_errors.load(Ordering::Relaxed),
            unknown_frontend: self.unknown_frontend.load(Ordering::Relaxed),
            refused_sources: self.refused_sources.load(Ordering::Relaxed),
        }
    }
}
