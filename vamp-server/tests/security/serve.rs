//! A `vamp serve` process for the attacks: the real binary on a free port with a fresh data directory, its
//! standard output collected, stopped (SIGTERM, then SIGKILL) on drop; and plain HTTP/1.1 exchanges with it
//! that send exactly the headers given (an attacker's requests, `Host` and `Origin` included).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vamp_core::testkit::servers::{free_port, wait_until};

use crate::support::TempDir;

/// A running `vamp serve`.
pub struct Serve {
    pub child: Child,
    pub port: u16,
    pub data: TempDir,
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// `vamp serve` with `args`, listening on `127.0.0.1:<free>` with the data directory `<temp>/vamp-data`, no
    /// embedded agent and log level `warn` (given as `VAMP_*` variables, so `args` and `env` override them), and
    /// no inherited `VAMP_*` variable. Waits until the API accepts connections.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Serve {
        let serve = Serve::spawn(args, env);
        let up = wait_until(Duration::from_secs(60), || {
            TcpStream::connect(("127.0.0.1", serve.port)).is_ok()
        });
        assert!(up, "vamp serve did not listen: {:?}", serve.lines());
        serve
    }

    /// Like [`Serve::start`] without waiting (for servers expected to refuse to start).
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Serve {
        let data = TempDir::new("security-serve");
        let port = free_port().unwrap();
        let listen = format!("127.0.0.1:{port}");
        let data_dir = data.0.join("vamp-data");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vamp"));
        cmd.arg("serve").args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("VAMP_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("VAMP_LOG_LEVEL", "warn")
            .env("VAMP_LISTEN", &listen)
            .env("VAMP_EMBEDDED_AGENT", "false")
            .env("VAMP_DATA_DIR", &data_dir)
            .envs(env.iter().copied())
            .current_dir(&data.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap().push(line);
                }
            });
        }
        Serve {
            child,
            port,
            data,
            output,
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data.0.join("vamp-data")
    }

    /// What the server printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    /// Waits up to `deadline` for the process to exit; its exit code.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<i32> {
        let exited = wait_until(deadline, || self.child.try_wait().unwrap().is_some());
        exited.then(|| self.child.wait().unwrap().code().unwrap_or(-1))
    }

    /// One request with exactly `headers` (plus `Connection: close` and the body's length); the status and body.
    pub fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        http(self.port, method, path, headers, body)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            wait_until(Duration::from_secs(15), || {
                self.child.try_wait().ok().flatten().is_some()
            });
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to `127.0.0.1:port` with exactly `headers`; the status (0 when there was no answer) and
/// the body.
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("Connection: close\r\n\r\n");
    request.push_str(body);
    if s.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
