//! `LogReceiver`: the socket HAProxy sends its log datagrams to — UDP (HAProxy's `log 127.0.0.1:<port>`) or a
//! unix datagram socket (`log /path/to/socket`). HAProxy never waits for it: when the socket buffer is full the
//! kernel drops datagrams, so the receiver asks for a large receive buffer (4 MiB; the kernel caps it at
//! `net.core.rmem_max`).

use std::net::SocketAddr;
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
/// The file mode of a unix log socket: owner and group may write (HAProxy runs as the agent's user or group).
pub const UNIX_SOCKET_MODE: u32 = 0o660;

/// Where HAProxy sends logs and the agent listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// A UDP address; keep it on loopback, anyone who can reach it can feed the metrics.
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
    counters: Arc<LogCounters>,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for LogReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReceiver")
            .field("target", &self.target)
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
    /// Binds `target` (a unix socket: removing a stale socket file first, then mode [`UNIX_SOCKET_MODE`]).
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
            counters,
            buffer: vec![0; MAX_DATAGRAM],
        })
    }

    /// The bound target (with the port the system picked for port 0).
    pub fn target(&self) -> &LogTarget {
        &self.target
    }

    /// The next datagram. Counts received datagrams and failed reads.
    pub async fn recv(&mut self) -> std::io::Result<&[u8]> {
        let read = match &self.inner {
            Inner::Udp(s) => s.recv(&mut self.buffer).await,
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
}
