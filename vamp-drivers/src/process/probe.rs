//! Probes of an instance's port: does it accept TCP connections (readiness, TCP health checks), does an HTTP
//! `GET` answer with a 2xx or 3xx status (HTTP health checks).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a readiness probe waits for a connection.
pub const READY_TIMEOUT: Duration = Duration::from_millis(250);

/// Whether `host:port` accepts a TCP connection within `timeout`.
pub async fn accepts(host: IpAddr, port: u16, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, TcpStream::connect(SocketAddr::new(host, port))).await,
        Ok(Ok(_))
    )
}

/// Whether `GET path` on `host:port` answers with a status from 200 to 399 within `timeout`.
pub async fn http_ok(host: IpAddr, port: u16, path: &str, timeout: Duration) -> bool {
    let status = tokio::time::timeout(timeout, http_status(host, port, path)).await;
    matches!(status, Ok(Some(code)) if (200..400).contains(&code))
}

async fn http_status(host: IpAddr, port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(SocketAddr::new(host, port)).await.ok()?;
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: vamp-process-driver\r\nConnection: close\r\n\r\n",
        SocketAddr::new(host, port)
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n)?);
    }
    parse_status_line(&head)
}

/// The status code of an HTTP/1.x status line at the start of `head`.
pub fn parse_status_line(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use tokio::net::TcpListener;

    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn status_lines_give_their_code() {
        assert_eq!(
            parse_status_line(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status_line(b"HTTP/1.0 200 OK\r\nx: y"), Some(200));
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
    }

    async fn serve_once(answer: &'static [u8]) -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            if let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(answer).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn a_2xx_answer_passes_and_a_5xx_answer_fails() {
        let ok = serve_once(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        assert!(http_ok(LOOPBACK, ok, "/health", Duration::from_secs(5)).await);
        let failing = serve_once(b"HTTP/1.1 500 Oops\r\n\r\n").await;
        assert!(!http_ok(LOOPBACK, failing, "health", Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn a_closed_port_does_not_accept() {
        let port = {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            listener.local_addr().unwrap().port()
        };
        assert!(!accepts(LOOPBACK, port, READY_TIMEOUT).await);
        assert!(!http_ok(LOOPBACK, port, "/", READY_TIMEOUT).await);
        let open = serve_once(b"").await;
        assert!(accepts(LOOPBACK, open, READY_TIMEOUT).await);
    }
}
