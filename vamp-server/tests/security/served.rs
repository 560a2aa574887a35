//! A real `vamp serve` (the `vamp` binary) for the template and ACL attacks: the embedded default with its
//! gateway agent driving the real `haproxy`, on free ports with a temporary data directory and an admin token,
//! spoken to over plain HTTP/1.1. Stopped (SIGTERM, then SIGKILL) on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vamp_core::testkit::servers::{free_port, wait_until};

use crate::support::{free_range, TempDir};

/// The admin token every served server is given.
pub const TOKEN: &str = "security-tests-admin-token";

/// A running `vamp serve`.
pub struct Served {
    child: Child,
    /// The API port.
    pub port: u16,
    /// The first port of the gateway port range (10 ports).
    pub gateway_ports: u16,
    /// The data directory (removed on drop, after the server stopped).
    pub data: TempDir,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Served {
    /// Starts `vamp serve` with `args` added and `env` set (no other `VAMP_*` variable is passed on) and waits
    /// until `/api/v1/health` answers 200.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Served {
        assert!(
            Command::new("haproxy")
                .arg("-v")
                .output()
                .is_ok_and(|o| o.status.success()),
            "haproxy is not on PATH: the template and ACL attacks need a real HAProxy"
        );
        let data = TempDir::new("vamp-security");
        let port = free_port().unwrap();
        let gateway_ports = free_range(10);
        let config = data.path().join("vamp.yml");
        std::fs::write(
            &config,
            format!(
                "gateways:\n  port-range: \"{gateway_ports}-{}\"\n  vhost-bind: 127.0.0.1:{}\n\
                 agent:\n  stats-bind: 127.0.0.1:{}\n  http-bind: 127.0.0.1:{}\n  log-target: 127.0.0.1:{}\n",
                gateway_ports + 9,
                free_port().unwrap(),
                free_port().unwrap(),
                free_port().unwrap(),
                free_port().unwrap(),
            ),
        )
        .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vamp"));
        cmd.arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(data.path().join("data"))
            .args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("VAMP_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("VAMP_API_TOKENS", TOKEN);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let served = Served {
            child: cmd.spawn().unwrap(),
            port,
            gateway_ports,
            data,
        };
        assert!(
            wait_until(Duration::from_secs(60), || served
                .health()
                .is_some_and(|a| a.status == 200)),
            "vamp serve did not become healthy on port {port}"
        );
        served
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    /// `GET /api/v1/health`; `None` when nothing answers.
    pub fn health(&self) -> Option<Answer> {
        self.request("GET", "/api/v1/health", None)
    }

    /// A request with the admin token; `body` is sent as `(content type, text)`. `None` when nothing answers.
    pub fn request(&self, method: &str, path: &str, body: Option<(&str, &str)>) -> Option<Answer> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n",
            self.port
        );
        let text = match body {
            Some((content_type, text)) => {
                head.push_str(&format!(
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                    text.len()
                ));
                text
            }
            None => "",
        };
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).ok()?;
        s.write_all(text.as_bytes()).ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).ok()?;
        let answer = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_string()
        };
        Some(Answer { status, body })
    }

    /// [`Served::request`] that must be answered.
    pub fn call(&self, method: &str, path: &str, body: Option<(&str, &str)>) -> Answer {
        self.request(method, path, body)
            .unwrap_or_else(|| panic!("{method} {path}: the server did not answer"))
    }

    /// `POST /api/v1/gateways` of a JSON gateway.
    pub fn post_gateway(&self, json: &serde_json::Value) -> Answer {
        self.call(
            "POST",
            "/api/v1/gateways",
            Some(("application/json", &json.to_string())),
        )
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.alive() {
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

/// A gateway on `port` sending everything to `[127.0.0.1:backend]` when `condition` holds.
pub fn conditional_gateway(name: &str, port: u16, backend: u16, condition: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "port": format!("{port}/http"),
        "routes": {
            format!("[127.0.0.1:{backend}]"): { "weight": "100%", "condition": condition }
        }
    })
}
