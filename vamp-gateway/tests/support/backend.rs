//! Loopback backends for traffic tests: an HTTP server that answers every request with `<name> <path>`, and a
//! TCP server that answers with `<name>:` followed by the bytes it received.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A running backend; stopped (and its thread joined) on drop.
pub struct Backend {
    /// Its name, which it answers with.
    pub name: String,
    /// The loopback port it listens on.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    /// An HTTP/1.1 server answering `200` with body `<name> <request path>` and closing the connection.
    pub fn http(name: &str) -> Backend {
        Self::start(name, serve_http)
    }

    /// A TCP server answering `<name>:<bytes received until the client shuts its write side>`.
    pub fn tcp(name: &str) -> Backend {
        Self::start(name, serve_tcp)
    }

    fn start(name: &str, serve: fn(&str, TcpStream)) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, own) = (stop.clone(), name.to_string());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let name = own.clone();
                    std::thread::spawn(move || serve(&name, stream));
                }
            }
        });
        Backend {
            name: name.to_string(),
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_http(name: &str, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(clone) = stream.try_clone() else { return };
    let mut reader = BufReader::new(clone);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let body = format!("{name} {path}");
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
}

fn serve_tcp(name: &str, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    let mut answer = format!("{name}:").into_bytes();
    answer.extend_from_slice(&received);
    let _ = stream.write_all(&answer);
    let _ = stream.shutdown(Shutdown::Write);
}
