//! `vamp serve` as a real process (the `vamp` binary): the embedded default on a free port with a temporary data
//! directory starts, answers `/health`, runs HAProxy through the embedded agent, stops on SIGTERM with exit code
//! 0 and leaves no process behind; a taken address exits 1; with `--ha-etcd` two servers elect one leader in
//! real etcd and the standby takes over when the leader stops.

mod cli_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cli_support::{code, run_vamp, stderr, TempDir};
use vamp_core::testkit::servers::{free_port, wait_until, TestServer};

/// The admin token every server of these tests is started with.
const TOKEN: &str = "cli-serve-token";

/// A `vamp serve` child, killed on drop if still running.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let port = free_port().unwrap();
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vamp"));
        cmd.arg("serve").args(["--listen", &listen]).args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("VAMP_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("VAMP_API_TOKENS", TOKEN);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        Server {
            child: cmd.spawn().unwrap(),
            port,
        }
    }

    /// Whether `GET /health` answers 200. The request is a whole HTTP/1.1 exchange that reads the answer to the
    /// end without half-closing the connection first (a half-close is a disconnect to the server).
    fn healthy(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        );
        if s.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200")
    }

    fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `deadline` for the process to exit; its exit code and standard error.
    fn wait_exit(&mut self, deadline: Duration) -> (i32, String) {
        let exited = wait_until(deadline, || self.child.try_wait().unwrap().is_some());
        assert!(exited, "vamp serve did not exit within {deadline:?}");
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for Server {
    /// A server still running (a failed test) gets SIGTERM, so it stops the HAProxy it runs, then SIGKILL.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            wait_until(Duration::from_secs(10), || {
                self.child.try_wait().ok().flatten().is_some()
            });
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills, on drop, every process whose command line mentions a directory (what a failed test left behind).
struct KillMentioning(String);

impl Drop for KillMentioning {
    fn drop(&mut self) {
        for pid in processes_mentioning(&self.0) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

/// Process ids whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmdline).contains(needle) {
                found.push(pid);
            }
        }
    }
    found
}

fn agent_config(dir: &TempDir) -> String {
    let file = dir.join("vamp.yml");
    let ports: Vec<u16> = (0..3).map(|_| free_port().unwrap()).collect();
    std::fs::write(
        &file,
        format!(
            "agent:\n  stats-bind: 127.0.0.1:{}\n  http-bind: 127.0.0.1:{}\ngateways:\n  vhost-bind: 127.0.0.1:{}\n",
            ports[0], ports[1], ports[2]
        ),
    )
    .unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn serve_starts_answers_health_runs_haproxy_and_stops_on_sigterm() {
    assert!(
        Command::new("haproxy")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success()),
        "haproxy must be on PATH for the embedded default"
    );
    let dir = TempDir::new("serve");
    let data = dir.join("data");
    let data_text = data.to_str().unwrap().to_string();
    let config = agent_config(&dir);
    let _leftovers = KillMentioning(data_text.clone());
    let mut server = Server::start(&["--data-dir", &data_text, "--config", &config]);
    if !wait_until(Duration::from_secs(60), || server.healthy()) {
        server.terminate();
        let (exit, err) = server.wait_exit(Duration::from_secs(10));
        panic!("no /health answer (exit {exit}):\n{err}");
    }
    assert!(
        data.join("vamp.db").exists(),
        "the SQLite database is in the data directory"
    );
    if !wait_until(Duration::from_secs(30), || {
        processes_mentioning(&data_text).into_iter().any(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "haproxy")
        })
    }) {
        server.terminate();
        let (exit, err) = server.wait_exit(Duration::from_secs(10));
        panic!("the embedded agent runs no haproxy from the data directory (exit {exit}):\n{err}");
    }
    let info = run_vamp(
        &[
            "info",
            "--url",
            &format!("http://127.0.0.1:{}", server.port),
            "-o",
            "json",
        ],
        None,
        &[("VAMP_TOKEN", TOKEN)],
    );
    assert_eq!(code(&info), 0, "{}", stderr(&info));

    server.terminate();
    let (exit, err) = server.wait_exit(Duration::from_secs(30));
    assert_eq!(exit, 0, "{err}");
    assert!(err.contains("vamp serve stopped"), "{err}");
    assert!(
        wait_until(Duration::from_secs(10), || processes_mentioning(&data_text)
            .is_empty()),
        "processes left behind: {:?}",
        processes_mentioning(&data_text)
    );
}

#[test]
fn a_taken_listen_address_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = TempDir::new("taken");
    let out = run_vamp(
        &[
            "serve",
            "--listen",
            &addr,
            "--data-dir",
            dir.join("d").to_str().unwrap(),
            "--embedded-agent",
            "false",
        ],
        None,
        &[],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot listen on"), "{}", stderr(&out));
}

fn leader(etcd: &str, election: &str) -> Option<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = etcd_client::Client::connect([etcd], None).await.ok()?;
        let got = client
            .get(format!("/vamp/elections/{election}"), None)
            .await
            .ok()?;
        got.kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned())
    })
}

#[test]
fn with_ha_etcd_one_server_leads_and_the_standby_takes_over_when_it_stops() {
    let etcd = TestServer::etcd().unwrap();
    let endpoint = etcd.address();
    let dir = TempDir::new("ha");
    let common = |name: &str| {
        vec![
            "--data-dir".to_string(),
            dir.join(name).to_str().unwrap().to_string(),
            "--embedded-agent".into(),
            "false".into(),
            "--driver".into(),
            "memory://".into(),
            "--persistence".into(),
            "memory://".into(),
            "--ha-etcd".into(),
            endpoint.clone(),
            "--ha-election".into(),
            "cli-test".into(),
            "--ha-lease-ttl".into(),
            "2".into(),
            "--ha-id".into(),
            name.to_string(),
        ]
    };
    let a_args = common("first");
    let mut first = Server::start(&a_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(wait_until(Duration::from_secs(30), || first.healthy()));
    assert!(wait_until(Duration::from_secs(15), || leader(
        &endpoint, "cli-test"
    )
    .as_deref()
        == Some("first")));

    let b_args = common("second");
    let second = Server::start(&b_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        wait_until(Duration::from_secs(30), || second.healthy()),
        "a standby serves the API too"
    );
    assert_eq!(leader(&endpoint, "cli-test").as_deref(), Some("first"));

    first.terminate();
    let (exit, err) = first.wait_exit(Duration::from_secs(30));
    assert_eq!(exit, 0, "{err}");
    assert!(
        wait_until(Duration::from_secs(5), || leader(&endpoint, "cli-test")
            .as_deref()
            == Some("second")),
        "the standby did not take over: {:?}",
        leader(&endpoint, "cli-test")
    );
}
