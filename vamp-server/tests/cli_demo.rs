//! The README's run command: `vamp serve --demo` as a real process with the embedded default (SQLite, memory KV,
//! process driver running `vamp demo-service`, the embedded agent driving the real HAProxy). Its printed steps
//! show every request answered and the traffic split following the weights; SIGTERM stops the server and every
//! process it started.

mod cli_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cli_support::TempDir;
use vamp_core::testkit::servers::free_port;

/// The processes whose parent is `parent` and whose command line mentions `needle`.
fn children(parent: u32, needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if ppid == Some(parent) && String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

/// The counts a step line reports: (1.0, 2.0, failed).
fn counts(line: &str) -> (usize, usize, usize) {
    let number = |label: &str| -> usize {
        let rest = line
            .split(label)
            .nth(1)
            .unwrap_or_else(|| panic!("no '{label}' in {line:?}"));
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (number("1.0:"), number("2.0:"), number("failed:"))
}

#[test]
fn the_demo_runs_a_canary_release_through_haproxy_and_stops_cleanly() {
    let data = TempDir::new("demo");
    let listen = format!("127.0.0.1:{}", free_port().unwrap());
    let config = data.join("vamp.yml");
    let ports: Vec<u16> = (0..3).map(|_| free_port().unwrap()).collect();
    std::fs::write(
        &config,
        format!(
            "agent:\n  stats-bind: 127.0.0.1:{}\n  http-bind: 127.0.0.1:{}\ngateways:\n  vhost-bind: 127.0.0.1:{}\n",
            ports[0], ports[1], ports[2]
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vamp"))
        .args(["serve", "--demo", "--log-level", "warn", "--listen", &listen])
        .args(["--demo-port", &free_port().unwrap().to_string()])
        .args(["--data-dir", &data.0.join("data").display().to_string()])
        .args(["--config", &config.display().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut steps = Vec::new();
    let outcome = loop {
        match lines.recv_timeout(Duration::from_secs(180)) {
            Ok(line) if line.starts_with("demo: done") => break Ok(()),
            Ok(line) if line.starts_with("demo: stopped") => break Err(line),
            Ok(line) if line.contains("requests →") => steps.push(line),
            Ok(_) => {}
            Err(e) => break Err(format!("no demo output: {e}")),
        }
    };
    let services = children(child.id(), "demo-service");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    outcome.unwrap();
    assert!(status.success(), "vamp serve exited with {status}");
    assert_eq!(steps.len(), 6, "{steps:#?}");
    for step in &steps {
        assert_eq!(counts(step).2, 0, "failed requests: {step}");
    }
    let (v1, v2, _) = counts(&steps[2]);
    assert!(steps[2].contains("90%"), "{}", steps[2]);
    assert!(
        (5..=45).contains(&v2) && v1 + v2 == 200,
        "90/10 step: {}",
        steps[2]
    );
    assert_eq!(
        counts(&steps[5]).1,
        200,
        "after the slice all traffic is on 2.0: {}",
        steps[5]
    );
    assert!(
        !services.is_empty(),
        "the demo's services run as children of the server"
    );
    for pid in services {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "demo service {pid} outlived the server"
        );
    }
    let leftovers = Command::new("pgrep")
        .args(["-af", &data.0.display().to_string()])
        .output()
        .unwrap();
    assert!(
        leftovers.stdout.is_empty(),
        "processes outlived the server: {}",
        String::from_utf8_lossy(&leftovers.stdout)
    );
}
