//! Scale: for 100, 1,000 and 10,000 routes of what the marshaller publishes (gateways of 100 routes, 104 slot
//! backends and a `_none` backend each, one checked server per route), (b) applying a full configuration by
//! reload through the agent, against a bare master CLI reload of the same files timed in the same run; (c) at
//! 10,000 routes, adding and removing one route of an existing gateway (a free slot's server and the weights
//! map) through the runtime API, the master's reload count asserted unchanged.
//!
//! `cargo bench -p vamp-gateway --bench scale`

#[path = "../tests/agent_support/mod.rs"]
mod agent_support;

use std::path::Path;
use std::time::{Duration, Instant};

use agent_support::*;
use vamp_core::model::Gateway;
use vamp_core::testkit::servers::wait_until;
use vamp_gateway::agent::apply::{Applied, Applier};
use vamp_gateway::agent::process::{master_command, ProcessList};

const ROUTES_PER_GATEWAY: usize = 100;
const ROUTE_CHANGES: usize = 100;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// `ports.len()` gateways of 100 routes. Gateway 0 sends everything to its route 0 (backend `a`), or, with
/// `extra`, to a 101st route (backend `c`); every other route has an equal share and its own instance name on
/// the sink.
fn gateways(ports: &[u16], a: u16, c: u16, sink: u16, extra: bool) -> Vec<Gateway> {
    ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            let mut routes: Vec<(u8, u16)> = (0..ROUTES_PER_GATEWAY)
                .map(|k| match (i, k) {
                    (0, 0) => (if extra { 0 } else { 100 }, a),
                    (0, _) => (0, sink),
                    _ => (1, sink),
                })
                .collect();
            if i == 0 && extra {
                routes.push((100, c));
            }
            vamp_gateway(&format!("scale/gw{i}"), *port, &routes)
        })
        .collect()
}

async fn run() {
    let (a, c, sink) = (Backend::start("a"), Backend::start("c"), Sink::start());
    println!(
        "scale: full configuration applied by reload, agent vs bare master CLI reload of the same files"
    );
    println!("| routes | backends | published KB | agent apply by reload p50 ms | bare reload p50 ms | ratio | runs |");
    println!("|---|---|---|---|---|---|---|");
    let mut route_changes = None;
    for routes in [100usize, 1_000, 10_000] {
        let scratch = Scratch::new("bench-scale");
        let gateway_count = routes / ROUTES_PER_GATEWAY;
        let mut ports = distinct_ports(gateway_count + 2);
        let (toggle_port, stats_port) = (ports[gateway_count], ports[gateway_count + 1]);
        ports.truncate(gateway_count);
        let mut applier = Applier::new(process_options(scratch.path(), stats_port)).unwrap();
        let small = vec![vamp_gateway("scale/small", toggle_port, &[(100, a.port)])];
        applier.apply_text(&published_text(&small)).await.unwrap();
        let full = published_text(&gateways(&ports, a.port, c.port, sink.port, false));
        let mut with_toggle = gateways(&ports, a.port, c.port, sink.port, false);
        with_toggle.extend(small.clone());
        let with_toggle = published_text(&with_toggle);
        let runs = if routes >= 10_000 { 9 } else { 20 };
        let mut agent_times = Vec::new();
        let mut bare_times = Vec::new();
        for i in 0..runs {
            let target = if i % 2 == 0 { &full } else { &with_toggle };
            let start = Instant::now();
            let applied = applier.apply_text(target).await.unwrap();
            agent_times.push(start.elapsed());
            assert!(matches!(applied, Applied::Reloaded { .. }), "{applied:?}");
            bare_times.push(bare_reload(&scratch.path().join("master.sock")).await);
        }
        let (agent, bare) = (percentile(&agent_times, 50.0), percentile(&bare_times, 50.0));
        println!(
            "| {routes} | {} | {} | {agent:.0} | {bare:.0} | {:.2}× | {runs} |",
            gateway_count * (capacity(ROUTES_PER_GATEWAY) + 1),
            full.len() / 1024,
            agent / bare
        );
        if routes == 10_000 {
            route_changes = Some(add_and_remove(&mut applier, &ports, &a, &c, &sink).await);
        }
        applier.shutdown().await;
    }
    if let Some((added, removed, serve_add, serve_remove)) = route_changes {
        println!();
        println!("scale: one route added to / removed from an existing gateway at 10,000 routes, {ROUTE_CHANGES} each, no reload");
        println!("| change | apply p50 ms | apply p99 ms | until serving p50 ms | until serving p99 ms |");
        println!("|---|---|---|---|---|");
        for (name, apply, serve) in [
            ("add a route", &added, &serve_add),
            ("remove a route", &removed, &serve_remove),
        ] {
            println!(
                "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
                percentile(apply, 50.0),
                percentile(apply, 99.0),
                percentile(serve, 50.0),
                percentile(serve, 99.0)
            );
        }
    }
}

async fn add_and_remove(
    applier: &mut Applier,
    ports: &[u16],
    a: &Backend,
    c: &Backend,
    sink: &Sink,
) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let base = published_text(&gateways(ports, a.port, c.port, sink.port, false));
    let extra = published_text(&gateways(ports, a.port, c.port, sink.port, true));
    applier.apply_text(&base).await.unwrap();
    assert!(wait_until(Duration::from_secs(10), || get(ports[0])
        .is_some_and(|(_, body)| body == "a")));
    let reloads_before = master_reloads(applier.options().dir.as_path());
    let (mut added, mut removed, mut serve_add, mut serve_remove) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUTE_CHANGES {
        for (target, expect, apply_times, serve_times) in [
            (&extra, "c", &mut added, &mut serve_add),
            (&base, "a", &mut removed, &mut serve_remove),
        ] {
            let start = Instant::now();
            let applied = applier.apply_text(target).await.unwrap();
            apply_times.push(start.elapsed());
            assert!(matches!(applied, Applied::Runtime { .. }), "{applied:?}");
            assert!(wait_until(Duration::from_secs(10), || get(ports[0])
                .is_some_and(|(_, body)| body == expect)));
            serve_times.push(start.elapsed());
        }
    }
    assert_eq!(
        master_reloads(applier.options().dir.as_path()),
        reloads_before,
        "adding and removing routes must not reload"
    );
    (added, removed, serve_add, serve_remove)
}

/// A master CLI `reload` of the running files, until `show proc` lists a new worker.
async fn bare_reload(master: &Path) -> Duration {
    let timeout = Duration::from_secs(30);
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
