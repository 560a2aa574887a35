//! `LogReceiver`: the socket HAProxy sends its log datagrams to — a unix datagram socket (`log /path/to/socket`,
//! the agent's default) or UDP (HAProxy's `log 127.0.0.1:<port>`). HAProxy never waits for it: when the socket
//! buffer is full the kernel drops datagrams, so the receiver asks for a large receive buffer (4 MiB; the kernel
//! caps it at `net.core.rmem_max`).
//!
//! Access logs become the health and metrics SLAs and canary releases act on, so only HAProxy may send them: a
//! unix socket is owner-only ([`UNIX_SOCKET_MODE`], in the agent's owner-only directory); a UDP socket reads only
//! datagrams whose source address is an accepted source ([`LogReceiver::accept_from`], loopback by default) and
//! drops and counts the rest. A source address is no proof of the sender on a shared host: prefer the socket.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::{UdpSocket, UnixDatagram};
use vamp_core::{Error, Result};

use super::counters::LogCounters;

/// The receive buffer the receiver asks the kernel for.
pub const RECEIVE_BUFFER_BYTES: usize = 4 * 1024 * 1024;
/// The largest datagram read whole; longer ones are truncated (HAProxy's `len` is 8192 in the contract).
pub const MAX_DATAGRAM: usize = 64 * 1024;
/// The file mode of a unix log socket: only its owner (the agent's user, which HAProxy runs as) may write.
pub const UNIX_SOCKET_MODE: u32 = 0o600;

/// The sources a UDP receiver accepts unless told otherwise: the loopback addresses.
pub const DEFAULT_UDP_SOURCES: [IpAddr; 2] = [
    IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
];

/// Reads a list of accepted UDP log sources: IP addresses separated by commas or whitespace. Fails with
/// `Invalid` naming the entry that is not an IP address, and for an empty list.
pub fn parse_sources(text: &str) -> Result<Vec<IpAddr>> {
    let sources = text
        .split([',', ' ', '\t', '\n'])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>().map_err(|_| {
                Error::invalid(format!(
                    "The log source '{s}' is not an IP address; list the addresses HAProxy sends its logs from, \
                     as in '127.0.0.1,10.0.0.5'."
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if sources.is_empty() {
        return Err(Error::invalid(
            "The list of log sources is empty; name at least one IP address HAProxy sends its logs from.",
        ));
    }
    Ok(sources)
}

/// Where HAProxy sends logs and the agent listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// A UDP address; only datagrams from the receiver's accepted sources are read.
    Udp(SocketAddr),
    /// An absolute path of a unix datagram socket.
    Unix(PathBuf),
}

impl LogTarget {
    /// `host:port` (an IP address, port 0 picks a free one at bind) or an absolute path (also as
    /// `unix:/path` or `unix@/path`). Fails with `Invalid` otherwise.
    pub fn parse(text: &str) -> Result<LogTarget> {
        let path = text
            .strip_prefix("unix:")
            .or_else(|| text.strip_prefix("unix@"))
            .unwrap_or(text);
        if path.starts_with('/') {
            return Ok(LogTarget::Unix(PathBuf::from(path)));
        }
        text.parse::<SocketAddr>().map(LogTarget::Udp).map_err(|_| {
            Error::invalid(format!(
                "The log target '{text}' is neither an IP address with port (127.0.0.1:5140) nor an absolute \
                 path of a unix socket."
            ))
        })
    }

    /// The address to give HAProxy's `log` directive (`VAMP_LOG_TARGET`).
    pub fn haproxy_address(&self) -> String {
        match self {
            LogTarget::Udp(addr) => addr.to_string(),
            LogTarget::Unix(path) => path.display().to_string(),
        }
    }
}

enum Inner {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

/// A bound log socket. Dropping it removes a unix socket file.
pub struct LogReceiver {
    inner: Inner,
    target: LogTarget,
    sources: Vec<IpAddr>,
    counters: Arc<LogCounters>,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for LogReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReceiver")
            .field("target", &self.target)
            .field("sources", &self.sources)
            .finish()
    }
}

fn io_error(target: &LogTarget, e: std::io::Error) -> Error {
    Error::unavailable(format!(
        "Cannot listen for HAProxy logs on {}: {e}.",
        target.haproxy_address()
    ))
    .with_source(e)
}

/// Removes a stale socket file at `path`; refuses to touch anything that is not a socket.
fn remove_stale_socket(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path).map_err(|e| {
            Error::unavailable(format!(
                "Cannot remove the stale log socket {}: {e}.",
                path.display()
            ))
        }),
        Ok(_) => Err(Error::invalid(format!(
            "The log socket path {} exists and is not a socket; it is left alone.",
            path.display()
        ))),
        Err(_) => Ok(()),
    }
}

impl LogReceiver {
    /// Binds `target` (a unix socket: removing a stale socket file first, then mode [`UNIX_SOCKET_MODE`]; UDP:
    /// accepting [`DEFAULT_UDP_SOURCES`] until [`LogReceiver::accept_from`] says otherwise).
    /// Must be called inside a tokio runtime. Fails with `Unavailable` when the socket cannot be bound, and
    /// `Invalid` when a unix path is taken by something other than a socket.
    pub fn bind(target: &LogTarget, counters: Arc<LogCounters>) -> Result<LogReceiver> {
        let (inner, bound) = match target {
            LogTarget::Udp(addr) => {
                let socket = Socket::new(Domain::for_address(*addr), Type::DGRAM, None)
                    .map_err(|e| io_error(target, e))?;
                let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES);
                socket
                    .bind(&SockAddr::from(*addr))
                    .map_err(|e| io_error(target, e))?;
                socket.set_nonblocking(true).map_err(|e| io_error(target, e))?;
                let udp = UdpSocket::from_std(std::net::UdpSocket::from(socket))
                    .map_err(|e| io_error(target, e))?;
                let local = udp.local_addr().map_err(|e| io_error(target, e))?;
                (Inner::Udp(udp), LogTarget::Udp(local))
            }
            LogTarget::Unix(path) => {
                remove_stale_socket(path)?;
                let socket = Socket::new(Domain::UNIX, Type::DGRAM, None).map_err(|e| io_error(target, e))?;
                let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES);
                let address = SockAddr::unix(path).map_err(|e| io_error(target, e))?;
                socket.bind(&address).map_err(|e| io_error(target, e))?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(UNIX_SOCKET_MODE))
                    .map_err(|e| io_error(target, e))?;
                socket.set_nonblocking(true).map_err(|e| io_error(target, e))?;
                let unix = UnixDatagram::from_std(std::os::unix::net::UnixDatagram::from(socket))
                    .map_err(|e| io_error(target, e))?;
                (Inner::Unix(unix), target.clone())
            }
        };
        Ok(LogReceiver {
            inner,
            target: bound,
            sources: DEFAULT_UDP_SOURCES.to_vec(),
            counters,
            buffer: vec![0; MAX_DATAGRAM],
        })
    }

    /// Accepts UDP datagrams only from `sources` (compared without port; an IPv4-mapped IPv6 source counts as
    /// its IPv4 address). Has no effect on a unix socket, which its file mode guards.
    pub fn accept_from(mut self, sources: Vec<IpAddr>) -> Self {
        self.sources = sources.into_iter().map(|ip| ip.to_canonical()).collect();
        self
    }

    /// The accepted UDP sources.
    pub fn sources(&self) -> &[IpAddr] {
        &self.sources
    }

    /// The bound target (with the port the system picked for port 0).
    pub fn target(&self) -> &LogTarget {
        &self.target
    }

    /// The next datagram from an accepted source. Counts received datagrams, failed reads and datagrams dropped
    /// for their source.
    pub async fn recv(&mut self) -> std::io::Result<&[u8]> {
        let read = match &self.inner {
            Inner::Udp(s) => loop {
                match s.recv_from(&mut self.buffer).await {
                    Ok((_, from)) if !self.sources.contains(&from.ip().to_canonical()) => {
                        self.counters.refused_source();
                        tracing::debug!(%from, "a log datagram from a source that may not send logs was dropped");
                    }
                    Ok((n, _)) => break Ok(n),
                    Err(e) => break Err(e),
                }
            },
            Inner::Unix(s) => s.recv(&mut self.buffer).await,
        };
        match read {
            Ok(n) => {
                self.counters.received();
                Ok(self.buffer.get(..n).unwrap_or_default())
            }
            Err(e) => {
                self.counters.receive_error();
                Err(e)
            }
        }
    }
}

impl Drop for LogReceiver {
    fn drop(&mut self) {
        if let LogTarget::Unix(path) = &self.target {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_addresses_or_absolute_paths() {
        assert_eq!(
            LogTarget::parse("127.0.0.1:5140").unwrap(),
            LogTarget::Udp("127.0.0.1:5140".parse().unwrap())
        );
        assert_eq!(
            LogTarget::parse("unix:/run/vga/log.sock").unwrap(),
            LogTarget::Unix("/run/vga/log.sock".into())
        );
        assert_eq!(LogTarget::parse("/x").unwrap().haproxy_address(), "/x");
        assert!(LogTarget::parse("localhost:5140").is_err());
        assert!(LogTarget::parse("relative/path").is_err());
    }

    #[test]
    fn sources_are_ip_addresses() {
        assert_eq!(
            parse_sources("127.0.0.1, ::1").unwrap(),
            vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
            ]
        );
        assert!(parse_sources("localhost")
            .unwrap_err()
            .message()
            .contains("'localhost'"));
        assert!(parse_sources(" ,").is_err());
    }

    #[tokio::test]
    async fn udp_datagrams_from_other_sources_are_dropped_and_counted() {
        let counters = Arc::new(LogCounters::new());
        let target = LogTarget::Udp("127.0.0.1:0".parse().unwrap());
        let mut receiver = LogReceiver::bind(&target, counters.clone())
            .unwrap()
            .accept_from(vec![IpAddr::from([127, 0, 0, 1])]);
        let LogTarget::Udp(addr) = receiver.target().clone() else {
            panic!("a UDP target")
        };
        let forger = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
        for _ in 0..3 {
            forger.send_to(b"forged", addr).unwrap();
        }
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"real", addr).unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), receiver.recv())
            .await
            .unwrap()
            .unwrap()
            .to_vec();
        assert_eq!(got, b"real");
        let seen = counters.snapshot();
        assert_eq!((seen.refused_sources, seen.received), (3, 1));
    }
}
