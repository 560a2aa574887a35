//! Forwarding raw access-log lines to log stores for people who keep their own dashboards: Logstash over UDP
//! ([`logstash`], the original agent up to 0.9.2) and Elasticsearch daily indices ([`elasticsearch`], Filebeat
//! from 0.9.3). Each sink has its own [`queue::BoundedQueue`], so a slow or absent sink never blocks HAProxy,
//! the pipeline or the other sinks: it loses its oldest lines, counted.

pub mod elasticsearch;
pub mod logstash;
pub mod queue;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use vamp_core::Result;

pub use elasticsearch::ElasticsearchOptions;
pub use logstash::LogstashOptions;
use queue::BoundedQueue;

/// One received log line: the raw syslog datagram text and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the agent received it.
    pub received_at: DateTime<Utc>,
    /// The datagram as received (lossily decoded as UTF-8).
    pub raw: Arc<str>,
}

impl LogLine {
    /// A line received now.
    pub fn now(raw: &str) -> Self {
        LogLine {
            received_at: Utc::now(),
            raw: Arc::from(raw),
        }
    }
}

/// A sink to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    /// Logstash UDP input.
    Logstash(LogstashOptions),
    /// Elasticsearch bulk API.
    Elasticsearch(ElasticsearchOptions),
}

/// Counters of one sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    forwarded: AtomicU64,
    failed: AtomicU64,
}

impl SinkStats {
    fn forwarded(&self, n: u64) {
        self.forwarded.fetch_add(n, Ordering::Relaxed);
    }

    fn failed(&self, n: u64) {
        self.failed.fetch_add(n, Ordering::Relaxed);
    }
}

/// The state of one sink at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSnapshot {
    /// `logstash` or `elasticsearch`.
    pub kind: &'static str,
    /// Where it sends (address or URL without credentials).
    pub target: String,
    /// Lines delivered (sent, for UDP).
    pub forwarded: u64,
    /// Lines dropped from the full queue, oldest first.
    pub dropped: u64,
    /// Lines lost because sending failed (after retries, for Elasticsearch).
    pub failed: u64,
    /// Lines waiting in the queue.
    pub queued: usize,
}

struct Sink {
    kind: &'static str,
    target: String,
    queue: Arc<BoundedQueue<LogLine>>,
    stats: Arc<SinkStats>,
    task: JoinHandle<()>,
}

/// Fans lines out to the configured sinks. Dropping it stops them (lines still queued are lost).
#[derive(Default)]
pub struct Forwarder {
    sinks: Vec<Sink>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.snapshot()).finish()
    }
}

impl Forwarder {
    /// A forwarder with no sinks: lines go nowhere.
    pub fn none() -> Self {
        Self::default()
    }

    /// Starts one task per sink on the current tokio runtime. Fails with `Invalid` for an unusable
    /// Elasticsearch URL or namespace; nothing is contacted here.
    pub fn start(configs: Vec<SinkConfig>) -> Result<Forwarder> {
        let mut sinks = Vec::with_capacity(configs.len());
        for config in configs {
            let stats = Arc::new(SinkStats::default());
            let sink = match config {
                SinkConfig::Logstash(options) => {
                    let queue = Arc::new(BoundedQueue::new(options.queue_capacity));
                    let target = options.address.clone();
                    let task = tokio::spawn(logstash::run(options, queue.clone(), stats.clone()));
                    Sink {
                        kind: "logstash",
                        target,
                        queue,
                        stats,
                        task,
                    }
                }
                SinkConfig::Elasticsearch(options) => {
                    let target = elasticsearch::Target::new(&options)?;
                    let display = target.display();
                    let queue = Arc::new(BoundedQueue::new(options.queue_capacity));
                    let task =
                        tokio::spawn(elasticsearch::run(options, target, queue.clone(), stats.clone()));
                    Sink {
                        kind: "elasticsearch",
                        target: display,
                        queue,
                        stats,
                        task,
                    }
                }
            };
            sinks.push(sink);
        }
        Ok(Forwarder { sinks })
    }

    /// Queues `line` for every sink; never waits.
    pub fn forward(&self, line: &LogLine) {
        for sink in &self.sinks {
            sink.queue.push(line.clone());
        }
    }

    /// Whether any sink is configured.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// The counters of every sink, in configuration order.
    pub fn snapshot(&self) -> Vec<SinkSnapshot> {
        self.sinks
            .iter()
            .map(|s| SinkSnapshot {
                kind: s.kind,
                target: s.target.clone(),
                forwarded: s.stats.forwarded.load(Ordering::Relaxed),
                dropped: s.queue.dropped(),
                failed: s.stats.failed.load(Ordering::Relaxed),
                queued: s.queue.len(),
            })
            .collect()
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        for sink in &self.sinks {
            sink.queue.close();
            sink.task.abort();
        }
    }
}
