//! Propagation: the time from a write to etcd until HAProxy serves the new routing, for 200 weight-only
//! changes (runtime API) and 200 structural ones (a listener moves: reload), on what the marshaller publishes
//! for 100 routes (10 gateways × 10 routes), through a real etcd and the agent's watch-and-apply loop, with a
//! bare master-worker reload of the same configuration timed in the same run.
//!
//! `cargo bench -p vamp-gateway --bench propagation`

#[path = "../tests/agent_support/mod.rs"]
mod agent_support;

use std::time::{Duration, Instant};

use agent_support::*;
use tokio::sync::{oneshot, watch};
use vamp_core::kv::Key;
use vamp_core::model::Gateway;
use vamp_core::testkit::servers::TestServer;
use vamp_gateway::agent::options::AgentOptions;
use vamp_gateway::agent::process::{master_command, ProcessList};
use vamp_gateway::agent::watch::{run_apply_loop, status_channel, AgentStatus};

const CHANGES: usize = 200;
const BARE_RELOADS: usize = 50;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// 10 gateways of 10 routes (even routes on backend `a`, odd ones on `b`); gateway 0 sends everything to its
/// route 0 (`a`), or to its route 1 (`b`).
fn gateways(ports: &[u16], a: u16, b: u16, first_to_b: bool) -> Vec<Gateway> {
    ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            let routes: Vec<(u8, u16)> = (0..10)
                .map(|k| {
                    let weight = match (i, k, first_to_b) {
                        (0, 0, false) | (0, 1, true) => 100,
                        (0, _, _) => 0,
                        (_, 0, _) => 19,
                        _ => 9,
                    };
                    (weight, if k % 2 == 0 { a } else { b })
                })
                .collect();
            vamp_gateway(&format!("shop/gw{i}"), *port, &routes)
        })
        .collect()
}

fn probe_until(port: u16, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if get(port).is_some_and(|(status, body)| status == 200 && body == expected) {
            return;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    panic!("port {port} never answered {expected}");
}

async fn wait_applied(status: &mut watch::Receiver<AgentStatus>, version: u64) -> String {
    let s = tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.applied_version >= Some(version)),
    )
    .await
    .expect("applied in time")
    .expect("agent running")
    .clone();
    s.applied_how.unwrap_or_default()
}

async fn run() {
    let etcd = TestServer::etcd().unwrap();
    let scratch = Scratch::new("bench-propagation");
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let mut ports = distinct_ports(12);
    let (spare_port, stats_port) = (ports[10], ports[11]);
    ports.truncate(10);
    let url = format!("etcd://{}", etcd.address());
    let key = Key::parse("/vamp/default/gateways/haproxy/2.6/configuration").unwrap();
    let mut options = AgentOptions::from_sources(
        ["--kv".to_string(), url.clone(), "--key".into(), key.to_string()],
        |_| None,
    )
    .unwrap();
    options.process = process_options(scratch.path(), stats_port);
    let signing =
        vamp_kv::signed::SigningKey::new(b"propagation-bench-key-0123456789abcdef".to_vec()).unwrap();
    options.signing_key = Some(signing.clone());
    let (status_tx, mut status) = status_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(run_apply_loop(options, status_tx, async {
        let _ = stopped.await;
    }));
    let writer = vamp_kv::url::connect(&url).await.unwrap();
    let text = |g: &[Gateway]| signing.sign(&key, published_text(g).as_bytes());

    let v = writer
        .set(&key, text(&gateways(&ports, a.port, b.port, false)))
        .await
        .unwrap();
    wait_applied(&mut status, v).await;
    probe_until(ports[0], "a");

    let mut weight_times = Vec::new();
    let mut wrong_path = 0;
    for i in 0..CHANGES {
        let to_b = i % 2 == 0;
        let config = text(&gateways(&ports, a.port, b.port, to_b));
        let start = Instant::now();
        let v = writer.set(&key, config).await.unwrap();
        probe_until(ports[0], if to_b { "b" } else { "a" });
        weight_times.push(start.elapsed());
        if wait_applied(&mut status, v).await != "runtime" {
            wrong_path += 1;
        }
    }

    let mut reload_times = Vec::new();
    let mut to_b = false;
    let listeners = [ports[0], spare_port];
    for i in 0..CHANGES {
        ports[0] = listeners[(i + 1) % 2];
        to_b = !to_b;
        let config = text(&gateways(&ports, a.port, b.port, to_b));
        let start = Instant::now();
        let v = writer.set(&key, config).await.unwrap();
        probe_until(ports[0], if to_b { "b" } else { "a" });
        reload_times.push(start.elapsed());
        if wait_applied(&mut status, v).await != "reloaded" {
            wrong_path += 1;
        }
    }

    let master = scratch.path().join("master.sock");
    let mut bare_times = Vec::new();
    for _ in 0..BARE_RELOADS {
        bare_times.push(bare_reload(&master).await);
    }

    let _ = stop.send(());
    agent.await.unwrap().unwrap();

    println!("propagation: etcd write → HAProxy serving the new routing, 100 routes (10 gateways × 10), {CHANGES} changes each");
    println!("| change | path | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (name, path, samples) in [
        ("weight-only", "runtime API", &weight_times),
        ("listener moved", "reload", &reload_times),
        (
            "bare master CLI reload (baseline)",
            "reload, no agent",
            &bare_times,
        ),
    ] {
        println!(
            "| {name} | {path} | {:.1} | {:.1} | {:.1} |",
            percentile(samples, 50.0),
            percentile(samples, 99.0),
            percentile(samples, 100.0)
        );
    }
    println!("changes applied another way than expected: {wrong_path}");
}

/// A master CLI `reload` of the running files, until `show proc` lists a new worker.
async fn bare_reload(master: &std::path::Path) -> Duration {
    let timeout = Duration::from_secs(5);
    let before = ProcessList::parse(&master_command(master, "show proc", timeout).await.unwrap()).unwrap();
    let old: Vec<u32> = before.workers.iter().map(|w| w.pid).collect();
    let start = Instant::now();
    master_command(master, "reload", timeout).await.unwrap();
    loop {
        if let Ok(text) = master_command(master, "show proc", timeout).await {
            if let Ok(list) = ProcessList::parse(&text) {
                if list.current_worker().is_some_and(|w| !old.contains(&w.pid)) {
                    return start.elapsed();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
