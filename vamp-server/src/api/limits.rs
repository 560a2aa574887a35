//! `ApiLimits`: how much work one request and one connection may cost the server — how long and how many request
//! bodies are read at once and how big a read may grow, how long a connection may take to send its headers, stay
//! silent or finish its TLS handshake, how accepting backs off when file descriptors run out, and how many event
//! streams are open at once. Every limit has a safe default; all are set under `api.limits` of the `vamp serve`
//! configuration.

use std::time::{Duration, Instant};

use serde::Deserialize;
use vamp_core::dsl::limits::ReadLimits;
use vamp_core::dsl::node::{MAX_ALIAS_BYTES, MAX_ALIAS_NODES, MAX_NODES};

/// The limits of the REST API. Zero is never "no limit": a zero duration or count means its default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApiLimits {
    /// How long reading one request body (YAML or JSON into artifacts) may take, in milliseconds; longer reads
    /// are answered 413. Default 10 000.
    pub parse_timeout_ms: u64,
    /// How many request bodies are read at once, off the async workers; more wait for a turn (within
    /// `parse_timeout_ms`, then 503). Default: the number of CPUs, at least 2.
    pub parse_concurrency: usize,
    /// Most nodes in one request body, each alias counted with every node it clones. Default 1 000 000.
    pub max_nodes: usize,
    /// Most nodes the aliases of one request body may clone in all. Default 100 000.
    pub max_alias_nodes: usize,
    /// Most bytes of text the aliases of one request body may clone in all. Default 4 MiB.
    pub max_alias_bytes: usize,
    /// The largest body of a request that only reads (`GET`, `HEAD`: an event query), in bytes; larger are 413.
    /// Default 64 KiB.
    pub read_body_limit: usize,
    /// How long a client may take to send a request's headers, in milliseconds, counted from when the server
    /// waits for them: on a kept-alive connection that is also how long it stays open idle between requests.
    /// Default 10 000.
    pub header_read_timeout_ms: u64,
    /// How long a connection may stay silent (no byte read or written) while a request is under way — a stalled
    /// body upload, a client that stopped reading — before it is closed, in seconds. Default 120.
    pub idle_timeout_s: u64,
    /// How long a TLS handshake may take, in milliseconds. Default 10 000.
    pub tls_handshake_timeout_ms: u64,
    /// The longest pause of the accept loop when the process or system runs out of file descriptors (it starts
    /// at 10 ms and doubles), in milliseconds. Default 1 000.
    pub accept_backoff_max_ms: u64,
    /// Most event streams (`/events/stream`, workflow logs) open at once per token (on an open API, all
    /// clients without a token share one allowance); more are 429. Default 32.
    pub streams_per_token: usize,
    /// Most event streams open at once in all; more are 503. Default 512.
    pub streams_total: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            parse_timeout_ms: 10_000,
            parse_concurrency: default_concurrency(),
            max_nodes: MAX_NODES,
            max_alias_nodes: MAX_ALIAS_NODES,
            max_alias_bytes: MAX_ALIAS_BYTES,
            read_body_limit: 64 * 1024,
            header_read_timeout_ms: 10_000,
            idle_timeout_s: 120,
            tls_handshake_timeout_ms: 10_000,
            accept_backoff_max_ms: 1_000,
            streams_per_token: 32,
            streams_total: 512,
        }
    }
}

fn default_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}

fn or(value: u64, default: u64) -> u64 {
    if value == 0 {
        default
    } else {
        value
    }
}

fn or_count(value: usize, default: usize) -> usize {
    if value == 0 {
        default
    } else {
        value
    }
}

impl ApiLimits {
    /// How long a body read may take.
    pub fn parse_timeout(&self) -> Duration {
        Duration::from_millis(or(self.parse_timeout_ms, 10_000))
    }

    /// How many bodies are read at once.
    pub fn parse_concurrency(&self) -> usize {
        or_count(self.parse_concurrency, default_concurrency())
    }

    /// The largest body of a `GET` or `HEAD`.
    pub fn read_body_limit(&self) -> usize {
        or_count(self.read_body_limit, 64 * 1024)
    }

    /// How long a request's headers may take.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(or(self.header_read_timeout_ms, 10_000))
    }

    /// How long a connection may be silent during a request.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(or(self.idle_timeout_s, 120))
    }

    /// How long a TLS handshake may take.
    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_millis(or(self.tls_handshake_timeout_ms, 10_000))
    }

    /// The longest accept pause.
    pub fn accept_backoff_max(&self) -> Duration {
        Duration::from_millis(or(self.accept_backoff_max_ms, 1_000))
    }

    /// Most event streams per token.
    pub fn streams_per_token(&self) -> usize {
        or_count(self.streams_per_token, 32)
    }

    /// Most event streams in all.
    pub fn streams_total(&self) -> usize {
        or_count(self.streams_total, 512)
    }

    /// The DSL's limits of a body read that must end by `deadline`.
    pub fn read_limits(&self, deadline: Instant) -> ReadLimits {
        ReadLimits {
            max_nodes: or_count(self.max_nodes, MAX_NODES),
            max_alias_nodes: or_count(self.max_alias_nodes, MAX_ALIAS_NODES),
            max_alias_bytes: or_count(self.max_alias_bytes, MAX_ALIAS_BYTES),
            deadline: Some(deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_the_default_not_unlimited() {
        let zero = ApiLimits {
            parse_timeout_ms: 0,
            parse_concurrency: 0,
            max_nodes: 0,
            max_alias_nodes: 0,
            max_alias_bytes: 0,
            read_body_limit: 0,
            header_read_timeout_ms: 0,
            idle_timeout_s: 0,
            tls_handshake_timeout_ms: 0,
            accept_backoff_max_ms: 0,
            streams_per_token: 0,
            streams_total: 0,
        };
        let d = ApiLimits::default();
        assert_eq!(zero.parse_timeout(), d.parse_timeout());
        assert_eq!(zero.header_read_timeout(), Duration::from_secs(10));
        assert_eq!(zero.streams_per_token(), 32);
        let now = Instant::now();
        assert_eq!(zero.read_limits(now), d.read_limits(now));
    }
}
