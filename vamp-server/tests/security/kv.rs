//! Attacks: kv (see docs/security.md, "The key-value store").
//!
//! A real `vamp serve` writes its gateway configuration to a real etcd, where its embedded agent watches it and
//! drives a real HAProxy. The attacker can write the etcd key but does not hold the server's signing key: a
//! configuration with a `program` section, unsigned, signed with the attacker's own key, or carrying the
//! server's header over an altered body, is refused and reported by the agent, HAProxy keeps serving the
//! server's configuration, and the program never runs. A store that needs credentials and TLS is refused with
//! wrong credentials (without printing them) and used with the right ones.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vamp_core::kv::haproxy_configuration_key;
use vamp_core::testkit::servers::{wait_until, TestServer, TEST_PASSWORD};
use vamp_kv::signed::SigningKey;

use crate::support::{free_port, free_range, get, TempDir};

const TOKEN: &str = "kv-security-admin-token";
const DEADLINE: Duration = Duration::from_secs(60);

/// A `vamp serve` child, stopped with SIGTERM (so it stops its HAProxy) and then killed on drop.
struct Serve {
    child: Child,
    api: u16,
    agent: u16,
}

impl Serve {
    /// Starts `vamp serve` on free ports with its data in `data`, the agent's and the gateways' binds on
    /// loopback, and `args`.
    fn start(data: &Path, args: &[&str]) -> Serve {
        let (api, agent, stats, vhost) = (free_port(), free_port(), free_port(), free_port());
        let base = free_range(4);
        let config = data.join("vamp.yml");
        std::fs::create_dir_all(data).unwrap();
        std::fs::write(
            &config,
            format!(
                "agent:\n  stats-bind: 127.0.0.1:{stats}\n  http-bind: 127.0.0.1:{agent}\n\
                 gateways:\n  vhost-bind: 127.0.0.1:{vhost}\n  port-range: {base}-{}\n",
                base + 3
            ),
        )
        .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vamp"));
        cmd.arg("serve")
            .args(["--listen", &format!("127.0.0.1:{api}")])
            .arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(&config)
            .args(["--api-token", TOKEN])
            .args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("VAMP_") {
                cmd.env_remove(k);
            }
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        Serve {
            child: cmd.spawn().unwrap(),
            api,
            agent,
        }
    }

    /// Waits for the process to exit; its exit code and standard error.
    fn exit(&mut self) -> (i32, String) {
        assert!(
            wait_until(DEADLINE, || self.child.try_wait().unwrap().is_some()),
            "vamp serve did not exit"
        );
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.code().unwrap_or(-1), err)
    }

    fn healthy(&self) -> bool {
        http(self.api, "GET", "/api/v1/health", "").is_some_and(|(s, _)| s == 200)
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

/// One HTTP/1.1 exchange with the API (as the admin, YAML body); the status and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/x-yaml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A backend answering every request with `name`, until the test ends.
fn backend(name: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
                    name.len()
                )
                .as_bytes(),
            );
        }
    });
    port
}

/// The agent's `/health` body.
fn agent_health(port: u16) -> String {
    get_path(port, "/health").unwrap_or_default()
}

fn get_path(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// The server's configuration with a `program` section that creates `marker`, as HAProxy would run it.
fn with_program(config: &str, marker: &Path) -> String {
    let config = config.replacen("global\n", "global\n    master-worker\n", 1);
    format!(
        "{config}\nprogram pwn\n    command /bin/sh -c \"id > {}\"\n",
        marker.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kv_writer_without_the_signing_key_cannot_make_the_agent_run_a_program() {
    let etcd = TestServer::etcd().expect("etcd must start: install etcd-server (bash .ci/test does)");
    let data = TempDir::new("sec-kv-signing");
    let key_file = data.path().join("shared-kv-signing.key");
    let kv_url = format!("etcd://{}", etcd.address());
    let server = Serve::start(
        &data.path().join("server"),
        &[
            "--kv",
            &kv_url,
            "--kv-signing-key",
            &key_file.display().to_string(),
        ],
    );
    assert!(
        wait_until(DEADLINE, || server.healthy()),
        "vamp serve never became healthy"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key_file).unwrap().permissions());
    assert_eq!(
        mode & 0o777,
        0o600,
        "the generated signing key is for its owner only"
    );

    let old = backend("old");
    let gateway_port = free_port();
    let gateway = format!("name: shop\nport: {gateway_port}/http\nroutes:\n  '[127.0.0.1:{old}]': {{}}\n");
    let (status, body) = http(server.api, "POST", "/api/v1/gateways", &gateway).unwrap();
    assert!(status < 300, "the gateway was not created: {status} {body}");
    assert!(
        wait_until(DEADLINE, || get(gateway_port).is_some_and(|(_, b)| b == "old")),
        "HAProxy never served the server's configuration"
    );

    let store = vamp_kv::url::connect(&kv_url).await.unwrap();
    let key = haproxy_configuration_key("default", "2.6").unwrap();
    let signed = store.get(&key).await.unwrap().unwrap().value.unwrap();
    let server_key = SigningKey::from_file(&key_file).unwrap();
    let config = String::from_utf8(server_key.verify(&key, &signed).unwrap().to_vec()).unwrap();
    let header = String::from_utf8_lossy(&signed[..signed.len() - config.len()]).into_owned();

    let marker = data.path().join("pwned");
    let attack = with_program(&config, &marker);
    let attacker_key = SigningKey::generate().unwrap();
    let attacks: [(&str, Vec<u8>, &str); 3] = [
        ("unsigned", attack.clone().into_bytes(), "not signed"),
        (
            "signed with the attacker's key",
            attacker_key.sign(&key, attack.as_bytes()),
            attacker_key.id(),
        ),
        (
            "the server's signature over an altered body",
            format!("{header}{attack}").into_bytes(),
            "does not match",
        ),
    ];
    for (what, value, why) in attacks {
        let version = store.set(&key, value).await.unwrap();
        let reported = wait_until(DEADLINE, || {
            let health = agent_health(server.agent);
            health.contains(&format!("version {version} was refused")) && health.contains(why)
        });
        assert!(
            reported,
            "{what}: the agent did not report refusing version {version}: {}",
            agent_health(server.agent)
        );
        assert!(!marker.exists(), "{what}: the attacker's program ran");
        assert_eq!(
            get(gateway_port).map(|(_, b)| b),
            Some("old".to_string()),
            "{what}: HAProxy must keep serving the server's configuration"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_behind_tls_and_credentials_refuses_wrong_ones_without_printing_them() {
    let etcd = TestServer::etcd_secured().expect("etcd with TLS and authentication must start");
    let certs = etcd.certs().unwrap().clone();
    let data = TempDir::new("sec-kv-tls");
    let tls = format!(
        "ca={}&cert={}&key={}",
        certs.ca.display(),
        certs.client_cert.display(),
        certs.client_key.display()
    );
    let wrong_password = "not-the-root-password-4711";
    let wrong = format!("etcd://root:{wrong_password}@{}?{tls}", etcd.address());
    let mut refused = Serve::start(&data.path().join("wrong"), &["--kv", &wrong]);
    let (code, stderr) = refused.exit();
    assert_ne!(code, 0, "vamp serve started with a wrong etcd password");
    assert!(
        stderr.contains("etcd"),
        "the failure does not name the store: {stderr}"
    );
    assert!(
        !stderr.contains(wrong_password),
        "the password was printed: {stderr}"
    );

    let password_file = data.path().join("etcd-password");
    std::fs::write(&password_file, TEST_PASSWORD).unwrap();
    let plain = format!(
        "etcd://root@{}?password-file={}",
        etcd.address(),
        password_file.display()
    );
    let mut no_tls = Serve::start(&data.path().join("plain"), &["--kv", &plain]);
    let (code, _) = no_tls.exit();
    assert_ne!(code, 0, "vamp serve reached a TLS-only etcd without TLS");

    let right = format!(
        "etcd://root@{}?password-file={}&{tls}",
        etcd.address(),
        password_file.display()
    );
    let server = Serve::start(&data.path().join("right"), &["--kv", &right]);
    assert!(
        wait_until(DEADLINE, || server.healthy()),
        "vamp serve did not start with the right credentials"
    );
    let store = vamp_kv::url::connect(&right).await.unwrap();
    let key = haproxy_configuration_key("default", "2.6").unwrap();
    let other = vamp_core::kv::Key::parse("/vamp-security/probe").unwrap();
    store.set(&other, b"x".to_vec()).await.unwrap();
    assert!(
        store.get(&key).await.is_ok(),
        "the server's store is readable with the credentials"
    );
}
