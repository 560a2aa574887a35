//! Scale: for 100, 1,000 and 10,000 routes (gateways of 100 routes, 104 slot backends each, one server per
//! route, no health checks), (b) applying a full configuration by reload through the agent, against a bare
//! master CLI reload of the same files timed in the same run; (c) at 10,000 routes, adding and removing one
//! route of an existing gateway (a free slot's server and the weights map) through the runtime API.
//!
//! `cargo bench -p vamp-gateway --bench scale`

#[path = "../tests/agent_support/mod.rs"]
mod agent_support;

use std::path::Path;
use std::time::{Duration, Instant};

use agent_support::*;
use vamp_core::testkit::servers::{free_port, wait_until};
use vamp_gateway::agent::apply::{Applied, Applier};
use vamp_gateway::agent::process::{master_command, ProcessList};

const ROUTES_PER_GATEWAY: usize = 100;
const ROUTE_CHANGES: usize = 20;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn style() -> Style {
    Style {
        check: false,
        ..Style::default()
    }
}

/// `ports.len()` gateways of 100 routes; gateway 0 sends everything to its route 0 (backend `a`), or, with
/// `extra`, has a 101st route (backend `c`) that takes everything.
fn gateways(ports: &[u16], a: u16, b: u16, c: u16, extra: bool) -> Vec<GatewaySpec> {
    let mut g = uniform(ports.len(), ROUTES_PER_GATEWAY, 0, &[a, b]);
    for (spec, port) in g.iter_mut().zip(ports) {
        spec.port = *port;
    }
    if let Some(first) = g.first_mut() {
        for (k, route) in first.routes.iter_mut().enumerate() {
            route.weight = if k == 0 && !extra { 100 } else { 0 };
        }
        if extra {
            first.routes.push(RouteSpec::new(100, &[c]));
        }
    }
    g
}

async fn run() {
    let (a, b, c) = (Backend::start("a"), Backend::start("b"), Backend::start("c"));
    println!(
        "scale: full configuration applied by reload, agent vs bare master CLI reload of the same files"
    );
    println!("| routes | backends | agent apply by reload p50 ms | bare reload p50 ms | ratio | runs |");
    println!("|---|---|---|---|---|---|");
    let mut route_changes = None;
    for routes in [100usize, 1_000, 10_000] {
        let scratch = Scratch::new("bench-scale");
        let gateway_count = routes / ROUTES_PER_GATEWAY;
        let ports: Vec<u16> = (0..gateway_count).map(|_| free_port().unwrap()).collect();
        let toggle_port = free_port().unwrap();
        let mut applier = Applier::new(process_options(scratch.path(), free_port().unwrap())).unwrap();
        let small = vec![GatewaySpec {
            id: "small".into(),
            port: toggle_port,
            routes: vec![RouteSpec::new(100, &[a.port])],
        }];
        applier.apply(envelope(&small, &style())).await.unwrap();
        let full = gateways(&ports, a.port, b.port, c.port, false);
        let mut with_toggle = full.clone();
        with_toggle.extend(small.clone());
        let runs = if routes >= 10_000 { 5 } else { 20 };
        let mut agent_times = Vec::new();
        let mut bare_times = Vec::new();
        for i in 0..runs {
            let target = if i % 2 == 0 { &full } else { &with_toggle };
            let e = envelope(target, &style());
            let start = Instant::now();
            let applied = applier.apply(e).await.unwrap();
            agent_times.push(start.elapsed());
            assert!(matches!(applied, Applied::Reloaded { .. }), "{applied:?}");
            bare_times.push(bare_reload(&scratch.path().join("master.sock")).await);
        }
        let (agent, bare) = (percentile(&agent_times, 50.0), percentile(&bare_times, 50.0));
        println!(
            "| {routes} | {} | {agent:.0} | {bare:.0} | {:.2}× | {runs} |",
            gateway_count * (capacity(ROUTES_PER_GATEWAY) + 1),
            agent / bare
        );
        if routes == 10_000 {
            route_changes = Some(add_and_remove(&mut applier, &ports, &a, &b, &c).await);
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
    b: &Backend,
    c: &Backend,
) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let base = envelope(&gateways(ports, a.port, b.port, c.port, false), &style());
    let extra = envelope(&gateways(ports, a.port, b.port, c.port, true), &style());
    applier.apply(base.clone()).await.unwrap();
    let reloads_before = master_reloads(applier.options().dir.as_path());
    let (mut added, mut removed, mut serve_add, mut serve_remove) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUTE_CHANGES {
        for (target, expect, apply_times, serve_times) in [
            (&extra, "c", &mut added, &mut serve_add),
            (&base, "a", &mut removed, &mut serve_remove),
        ] {
            let start = Instant::now();
            let applied = applier.apply(target.clone()).await.unwrap();
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
