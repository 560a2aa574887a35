//! The apply engine against a real HAProxy 2.6: which changes go through the runtime API without a reload,
//! which reload, and that traffic follows either way; a refused configuration keeps the running one serving.

mod agent_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agent_support::*;
use vamp_core::testkit::servers::{free_port, wait_until};
use vamp_core::ErrorKind;
use vamp_gateway::agent::apply::{Applied, Applier};

struct Fixture {
    applier: Applier,
    port: u16,
    stats_port: u16,
    a: Backend,
    b: Backend,
    c: Backend,
    scratch: Scratch,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let scratch = Scratch::new(name);
        let stats_port = free_port().unwrap();
        let applier = Applier::new(process_options(scratch.path(), stats_port)).unwrap();
        Fixture {
            applier,
            port: free_port().unwrap(),
            stats_port,
            a: Backend::start("a"),
            b: Backend::start("b"),
            c: Backend::start("c"),
            scratch,
        }
    }

    fn gateway(&self, routes: Vec<RouteSpec>) -> Vec<GatewaySpec> {
        vec![GatewaySpec {
            id: "shop".into(),
            port: self.port,
            routes,
        }]
    }

    async fn apply(&mut self, gateways: &[GatewaySpec]) -> vamp_core::Result<Applied> {
        self.applier.apply(envelope(gateways, &Style::default())).await
    }

    fn reloads(&self) -> u64 {
        master_reloads(self.scratch.path())
    }

    /// Waits until health checks mark the servers up: `n` requests all answered by one of `names`.
    fn wait_serving(&self, names: &[&str]) {
        assert!(
            wait_until(Duration::from_secs(10), || answers(self.port, 10)
                .iter()
                .all(|a| names.contains(&a.as_str()))),
            "the gateway did not serve {names:?}: {:?}",
            answers(self.port, 10)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_configuration_starts_haproxy_and_serves() {
    let mut f = Fixture::new("start");
    let gateways = f.gateway(vec![RouteSpec::new(100, &[f.a.port])]);
    assert_eq!(f.apply(&gateways).await.unwrap(), Applied::Started);
    f.wait_serving(&["a"]);
    assert!(
        get(f.stats_port).is_some(),
        "the stats listener answers on the configured bind"
    );
    assert_eq!(f.apply(&gateways).await.unwrap(), Applied::Unchanged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_weights_change_through_the_runtime_api_without_a_reload() {
    let mut f = Fixture::new("route-weights");
    f.apply(&f.gateway(vec![
        RouteSpec::new(100, &[f.a.port]),
        RouteSpec::new(0, &[f.b.port]),
    ]))
    .await
    .unwrap();
    f.wait_serving(&["a"]);
    let reloads = f.reloads();

    let applied = f
        .apply(&f.gateway(vec![
            RouteSpec::new(0, &[f.a.port]),
            RouteSpec::new(100, &[f.b.port]),
        ]))
        .await
        .unwrap();

    assert!(matches!(applied, Applied::Runtime { .. }), "{applied:?}");
    f.wait_serving(&["b"]);
    assert_eq!(f.reloads(), reloads, "a weight change must not reload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_weights_change_through_the_runtime_api_without_a_reload() {
    let mut f = Fixture::new("server-weights");
    let mut route = RouteSpec::new(100, &[f.a.port, f.b.port]);
    route.server_weights = vec![100, 0];
    f.apply(&f.gateway(vec![route.clone()])).await.unwrap();
    f.wait_serving(&["a"]);
    let reloads = f.reloads();

    route.server_weights = vec![0, 100];
    let applied = f.apply(&f.gateway(vec![route])).await.unwrap();

    assert_eq!(applied, Applied::Runtime { commands: 2 });
    let seen = answers(f.port, 20);
    assert_eq!(count(&seen, "b"), 20, "{seen:?}");
    assert_eq!(f.reloads(), reloads);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_route_fills_a_free_slot_without_a_reload() {
    let mut f = Fixture::new("add-route");
    f.apply(&f.gateway(vec![RouteSpec::new(100, &[f.a.port])]))
        .await
        .unwrap();
    f.wait_serving(&["a"]);
    let reloads = f.reloads();

    let applied = f
        .apply(&f.gateway(vec![
            RouteSpec::new(50, &[f.a.port]),
            RouteSpec::new(50, &[f.c.port]),
        ]))
        .await
        .unwrap();

    assert!(matches!(applied, Applied::Runtime { .. }), "{applied:?}");
    assert!(
        wait_until(Duration::from_secs(10), || {
            let seen = answers(f.port, 40);
            count(&seen, "a") > 5 && count(&seen, "c") > 5 && count(&seen, "a") + count(&seen, "c") == 40
        }),
        "both routes must serve: {:?}",
        answers(f.port, 40)
    );
    assert_eq!(f.reloads(), reloads, "filling a free slot must not reload");

    let applied = f
        .apply(&f.gateway(vec![RouteSpec::new(100, &[f.a.port])]))
        .await
        .unwrap();
    assert!(matches!(applied, Applied::Runtime { .. }), "{applied:?}");
    f.wait_serving(&["a"]);
    assert_eq!(f.reloads(), reloads, "removing the route must not reload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_changes_are_in_the_files_a_later_reload_starts_from() {
    let mut f = Fixture::new("files");
    f.apply(&f.gateway(vec![
        RouteSpec::new(100, &[f.a.port]),
        RouteSpec::new(0, &[f.b.port]),
    ]))
    .await
    .unwrap();
    let runtime = f.gateway(vec![
        RouteSpec::new(0, &[f.a.port]),
        RouteSpec::new(100, &[f.b.port]),
    ]);
    f.apply(&runtime).await.unwrap();

    let mut moved = runtime.clone();
    moved[0].port = free_port().unwrap();
    f.port = moved[0].port;
    let applied = f.apply(&moved).await.unwrap();

    assert!(matches!(applied, Applied::Reloaded { .. }), "{applied:?}");
    f.wait_serving(&["b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_change_reloads_while_traffic_keeps_flowing() {
    let mut f = Fixture::new("listener");
    f.apply(&f.gateway(vec![RouteSpec::new(100, &[f.a.port])]))
        .await
        .unwrap();
    f.wait_serving(&["a"]);
    let reloads = f.reloads();

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, ok, failed, port) = (stop.clone(), ok.clone(), failed.clone(), f.port);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match get(port) {
                    Some((200, _)) => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let mut second = f.gateway(vec![RouteSpec::new(100, &[f.a.port])]);
    let second_port = free_port().unwrap();
    second.push(GatewaySpec {
        id: "blog".into(),
        port: second_port,
        routes: vec![RouteSpec::new(100, &[f.b.port])],
    });
    let mut kinds = Vec::new();
    for round in 0..5 {
        let gateways = if round % 2 == 0 {
            second.clone()
        } else {
            f.gateway(vec![RouteSpec::new(100, &[f.a.port])])
        };
        kinds.push(f.apply(&gateways).await.unwrap());
    }
    assert!(wait_until(Duration::from_secs(10), || get(second_port)
        .is_some_and(|(_, body)| body == "b")));
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();

    assert!(
        kinds.iter().all(|k| matches!(k, Applied::Reloaded { .. })),
        "{kinds:?}"
    );
    assert_eq!(f.reloads(), reloads + 5);
    assert!(ok.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during hitless reloads ({} succeeded)",
        ok.load(Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_configuration_keeps_the_running_one_serving() {
    let mut f = Fixture::new("refused");
    let good = f.gateway(vec![RouteSpec::new(100, &[f.a.port])]);
    f.apply(&good).await.unwrap();
    f.wait_serving(&["a"]);
    let config_before = std::fs::read_to_string(f.scratch.path().join("haproxy.cfg")).unwrap();

    let mut bad = envelope(
        &f.gateway(vec![RouteSpec::new(100, &[f.b.port])]),
        &Style::default(),
    );
    bad.config.push_str("backend broken\n    no-such-keyword here\n");
    let err = f.applier.apply(bad).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.message().contains("no-such-keyword"), "{err}");
    f.wait_serving(&["a"]);
    assert_eq!(
        std::fs::read_to_string(f.scratch.path().join("haproxy.cfg")).unwrap(),
        config_before,
        "the previous configuration file is restored"
    );
    let next = f
        .apply(&f.gateway(vec![RouteSpec::new(100, &[f.c.port])]))
        .await
        .unwrap();
    assert!(matches!(next, Applied::Runtime { .. }), "{next:?}");
    f.wait_serving(&["c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_command_haproxy_refuses_falls_back_to_a_reload() {
    let mut f = Fixture::new("fallback");
    let style = Style {
        balance: "static-rr".into(),
        ..Style::default()
    };
    let one = f.gateway(vec![RouteSpec::new(100, &[f.a.port])]);
    f.applier.apply(envelope(&one, &style)).await.unwrap();
    f.wait_serving(&["a"]);

    let two = f.gateway(vec![RouteSpec::new(100, &[f.a.port, f.b.port])]);
    let applied = f.applier.apply(envelope(&two, &style)).await.unwrap();

    match applied {
        Applied::Reloaded { reason } => assert!(reason.contains("runtime API"), "{reason}"),
        other => panic!("static-rr takes no dynamic servers, a reload was expected: {other:?}"),
    }
    assert!(wait_until(Duration::from_secs(10), || {
        let seen = answers(f.port, 10);
        count(&seen, "a") + count(&seen, "b") == 10 && count(&seen, "b") > 0
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_master_is_started_again_with_the_running_configuration() {
    let mut f = Fixture::new("restart");
    f.apply(&f.gateway(vec![RouteSpec::new(100, &[f.a.port])]))
        .await
        .unwrap();
    f.wait_serving(&["a"]);
    let pid = f.applier.haproxy().unwrap().pid();
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || !f.applier.is_running()));

    f.applier.maintain().await.unwrap();

    assert!(f.applier.is_running());
    assert_ne!(f.applier.haproxy().unwrap().pid(), pid);
    f.wait_serving(&["a"]);
}
