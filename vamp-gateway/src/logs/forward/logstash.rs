//! `LogstashSink`: each raw syslog line as one UDP datagram to a Logstash `udp` input, as the original agent
//! (0.9.2) did. A send that fails loses that line (counted as failed) and the sink re-resolves the address
//! after a pause.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use super::queue::BoundedQueue;
use super::{LogLine, SinkStats};

/// Where and how to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogstashOptions {
    /// `host:port` of the Logstash UDP input.
    pub address: String,
    /// Lines buffered while sending is slow or failing; the oldest are dropped beyond it.
    pub queue_capacity: usize,
    /// The pause after a failed send before the next attempt (with a fresh socket and name resolution).
    pub retry: Duration,
}

impl LogstashOptions {
    /// Options for `address` with a 4096-line queue (the original's) and a 1 s retry pause.
    pub fn new(address: impl Into<String>) -> Self {
        LogstashOptions {
            address: address.into(),
            queue_capacity: 4096,
            retry: Duration::from_secs(1),
        }
    }
}

async fn connect(address: &str) -> std::io::Result<UdpSocket> {
    let target = tokio::net::lookup_host(address)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
    let local = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(target).await?;
    Ok(socket)
}

/// Sends lines from `queue` until it is closed.
pub(super) async fn run(options: LogstashOptions, queue: Arc<BoundedQueue<LogLine>>, stats: Arc<SinkStats>) {
    let mut socket: Option<UdpSocket> = None;
    let mut failing = false;
    while let Some(line) = queue.pop().await {
        if socket.is_none() {
            match connect(&options.address).await {
                Ok(s) => socket = Some(s),
                Err(e) => {
                    stats.failed(1);
                    if !failing {
                        tracing::warn!(address = %options.address, error = %e, "Logstash is unreachable; retrying");
                        failing = true;
                    }
                    tokio::time::sleep(options.retry).await;
                    continue;
                }
            }
        }
        let Some(s) = &socket else { continue };
        match s.send(line.raw.as_bytes()).await {
            Ok(_) => {
                stats.forwarded(1);
                if failing {
                    tracing::info!(address = %options.address, "Logstash is reachable again");
                    failing = false;
                }
            }
            Err(e) => {
                stats.failed(1);
                socket = None;
                if !failing {
                    tracing::warn!(address = %options.address, error = %e, "sending to Logstash failed; retrying");
                    failing = true;
                }
                tokio::time::sleep(options.retry).await;
            }
        }
    }
}
