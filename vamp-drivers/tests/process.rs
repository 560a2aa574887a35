//! The process driver against real processes: the vamp-core driver conformance suite running the demo service,
//! then what only local processes do — port variables, HTTP to every instance, restarts with backoff, stop with
//! SIGTERM then SIGKILL, rolling restarts, scaling, health checks, and re-adoption by a new driver. Every test
//! checks through `/proc` that no process it caused outlives it.

mod process_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use process_common::{
    assert_no_leftovers, config, driver, eventually, get, group_members, kill_hard, next_event, pids_seen,
    process_gone, state_dir,
};
use vamp_core::driver::{ContainerDriver, RunningService, ServiceId, ServiceSpec};
use vamp_core::model::{Argument, Deployable, HealthCheck, Port, Scale, Seconds};
use vamp_core::testkit::driver::DriverFixture;
use vamp_core::ErrorKind;
use vamp_drivers::process::{ProcessDriver, ProcessEventKind};

/// How long a test may wait for instances to come up or go away.
const SETTLE: Duration = Duration::from_secs(30);

fn process(definition: &str) -> Deployable {
    Deployable {
        kind: "process".to_string(),
        definition: definition.to_string(),
    }
}

fn port(name: &str) -> Port {
    match Port::parse(name, "8080/http") {
        Some(port) => port,
        None => panic!("bad port {name}"),
    }
}

fn fixture() -> DriverFixture {
    DriverFixture {
        deployable: process("vamp-demo-service --name conformance"),
        ports: vec![port("web")],
        scale: Scale::new(0.1, 16.0, 1),
        settle: SETTLE,
    }
}

vamp_core::driver_conformance!(
    process_conformance,
    || async { Arc::new(driver(config(&state_dir())).await) },
    skip = "process",
    fixture = fixture()
);

fn spec(definition: &str, instances: u32) -> ServiceSpec {
    let mut spec = ServiceSpec::new(
        ServiceId::new(vamp_core::testkit::unique("pt"), "shop", "web", "demo:1.0"),
        process(definition),
        Scale::new(0.1, 16.0, instances),
    );
    spec.ports = vec![port("web")];
    spec
}

async fn listed(driver: &ProcessDriver, id: &ServiceId) -> Option<RunningService> {
    match driver.list(&id.namespace).await {
        Ok(services) => services.into_iter().find(|s| s.id == *id),
        Err(e) => panic!("list failed: {e}"),
    }
}

/// Waits until `count` instances of the service are deployed (running and accepting connections).
async fn deployed(driver: &ProcessDriver, id: &ServiceId, count: usize) -> RunningService {
    eventually(SETTLE, &format!("{count} deployed instances of {id}"), || async {
        listed(driver, id)
            .await
            .filter(|s| s.instances.iter().filter(|i| i.deployed).count() == count)
    })
    .await
}

async fn deploy(driver: &ProcessDriver, spec: &ServiceSpec) {
    if let Err(e) = driver.deploy(spec).await {
        panic!("deploy {} failed: {e}", spec.id);
    }
}

async fn undeploy(driver: &ProcessDriver, id: &ServiceId) {
    if let Err(e) = driver.undeploy(id).await {
        panic!("undeploy {id} failed: {e}");
    }
}

fn pids(driver: &ProcessDriver, id: &ServiceId) -> Vec<Option<u32>> {
    driver.instances(id).into_iter().map(|i| i.pid).collect()
}

fn first_port(service: &RunningService, index: usize) -> u16 {
    match service.instances.get(index).and_then(|i| i.ports.values().next()) {
        Some(port) => *port,
        None => panic!("instance {index} has no port: {service:?}"),
    }
}

#[tokio::test]
async fn port_variables_and_the_spec_environment_reach_the_process() {
    let driver = driver(config(&state_dir())).await;
    let mut events = driver.events();
    let mut spec = spec("vamp-demo-service --name env", 1);
    spec.ports = vec![port("web"), port("admin-api")];
    spec.environment.insert("GREETING".into(), "hello world".into());
    deploy(&driver, &spec).await;
    let service = deployed(&driver, &spec.id, 1).await;
    let Some(instance) = service.instances.first() else {
        panic!("no instance")
    };
    let (web, admin) = (instance.ports["web"], instance.ports["admin-api"]);
    assert_ne!(web, admin);
    let Some((200, env)) = get(web, "/env").await else {
        panic!("GET /env failed")
    };
    let lines: Vec<&str> = env.lines().collect();
    for expected in [
        format!("PORT={web}"),
        format!("PORT_WEB={web}"),
        format!("PORT_ADMIN_API={admin}"),
        "GREETING=hello world".to_string(),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "{expected} is missing from {lines:?}"
        );
    }
    assert!(
        lines.iter().any(|l| l.starts_with("PATH=")),
        "PATH is passed through"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("CARGO_MANIFEST_DIR=")),
        "the driver's own environment leaked into the instance: {lines:?}"
    );
    let (admin_code, _) = get(admin, "/health").await.unwrap_or_default();
    assert_eq!(admin_code, 200, "the demo service also listens on PORT_ADMIN_API");
    undeploy(&driver, &spec.id).await;
    let mut seen = Vec::new();
    pids_seen(&mut events, &mut seen);
    assert_eq!(seen.len(), 1);
    assert_no_leftovers(&seen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_reach_every_instance_on_its_own_port() {
    let driver = driver(config(&state_dir())).await;
    let mut events = driver.events();
    let spec = spec("vamp-demo-service --name everywhere", 3);
    deploy(&driver, &spec).await;
    let service = deployed(&driver, &spec.id, 3).await;
    assert_eq!(service.health.running, 3);
    assert_eq!(service.health.healthy, 3);
    let mut ports = Vec::new();
    for (index, instance) in service.instances.iter().enumerate() {
        assert_eq!(instance.host, "127.0.0.1");
        let port = first_port(&service, index);
        assert_eq!(
            get(port, "/").await,
            Some((200, "everywhere\n".to_string())),
            "instance {}",
            instance.name
        );
        ports.push(port);
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3, "instances share ports");
    undeploy(&driver, &spec.id).await;
    assert!(listed(&driver, &spec.id).await.is_none());
    let mut seen = Vec::new();
    pids_seen(&mut events, &mut seen);
    assert_no_leftovers(&seen).await;
}

#[tokio::test]
async fn a_killed_instance_is_restarted_on_its_port() {
    let driver = driver(config(&state_dir())).await;
    let mut events = driver.events();
    let spec = spec("vamp-demo-service --name phoenix", 1);
    deploy(&driver, &spec).await;
    let before = deployed(&driver, &spec.id, 1).await;
    let Some(Some(pid)) = pids(&driver, &spec.id).first().copied() else {
        panic!("no pid")
    };
    kill_hard(pid);
    let (status, restart_in) = next_event(&mut events, SETTLE, "the exit", |e| match &e.kind {
        ProcessEventKind::Exited {
            pid: exited,
            status,
            restart_in,
        } if *exited == pid => Some((status.clone(), *restart_in)),
        _ => None,
    })
    .await;
    assert!(status.contains("signal: 9"), "{status}");
    assert_eq!(
        restart_in,
        Duration::from_millis(100),
        "the first restart waits the minimum backoff"
    );
    let after = eventually(SETTLE, "the restart", || async {
        let restarted = pids(&driver, &spec.id)
            .first()
            .copied()
            .flatten()
            .filter(|p| *p != pid);
        match restarted {
            Some(_) => listed(&driver, &spec.id)
                .await
                .filter(|s| s.instances.iter().all(|i| i.deployed)),
            None => None,
        }
    })
    .await;
    assert_eq!(
        first_port(&after, 0),
        first_port(&before, 0),
        "the instance keeps its port"
    );
    assert_eq!(
        get(first_port(&after, 0), "/").await,
        Some((200, "phoenix\n".to_string()))
    );
    assert_eq!(driver.instances(&spec.id).first().map(|i| i.restarts), Some(1));
    undeploy(&driver, &spec.id).await;
    let mut seen = vec![pid];
    pids_seen(&mut events, &mut seen);
    assert_no_leftovers(&seen).await;
}

#[tokio::test]
async fn a_crashing_instance_is_restarted_with_doubling_backoff() {
    let mut settings = config(&state_dir());
    settings.restart_backoff_max = Duration::from_millis(800);
    let driver = driver(settings).await;
    let mut events = driver.events();
    let mut spec = spec("sh -c 'exit 3'", 1);
    spec.ports.clear();
    deploy(&driver, &spec).await;
    let mut delays = Vec::new();
    let mut exits = Vec::new();
    let mut starts = Vec::new();
    while delays.len() < 5 {
        let event = next_event(&mut events, SETTLE, "a crash", |e| Some(e.clone())).await;
        match event.kind {
            ProcessEventKind::Started { pid, .. } => starts.push((pid, event.at)),
            ProcessEventKind::Exited {
                status, restart_in, ..
            } => {
                assert_eq!(status, "exit status: 3");
                delays.push(restart_in.as_millis());
                exits.push(event.at);
            }
            _ => {}
        }
    }
    assert_eq!(delays, [100, 200, 400, 800, 800]);
    for (n, (exit, delay)) in exits.iter().zip(&delays).enumerate() {
        let Some((_, next_start)) = starts.get(n + 1) else {
            break;
        };
        let waited = next_start.duration_since(*exit);
        assert!(
            waited.as_millis() >= *delay,
            "restart {n} came after {waited:?}, before its backoff of {delay} ms"
        );
    }
    let listed = listed(&driver, &spec.id).await;
    assert!(listed.is_some_and(|s| s.health.running + s.health.staged == 1));
    undeploy(&driver, &spec.id).await;
    let pids: Vec<u32> = starts.iter().map(|(pid, _)| *pid).collect();
    assert_no_leftovers(&pids).await;
}

#[tokio::test]
async fn undeploy_kills_what_ignores_term_after_the_grace_period() {
    let mut settings = config(&state_dir());
    settings.stop_grace = Duration::from_secs(1);
    let driver = driver(settings).await;
    let mut events = driver.events();
    let mut spec = spec(r#"sh -c 'trap "" TERM; sleep 1000 & wait; sleep 1000'"#, 1);
    spec.ports.clear();
    deploy(&driver, &spec).await;
    let pid = next_event(&mut events, SETTLE, "the start", |e| match e.kind {
        ProcessEventKind::Started { pid, .. } => Some(pid),
        _ => None,
    })
    .await;
    eventually(SETTLE, "the shell starting sleep", || async {
        (group_members(pid).len() >= 2).then_some(())
    })
    .await;
    let started = Instant::now();
    let (undeployed, meanwhile) = tokio::join!(driver.undeploy(&spec.id), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        listed(&driver, &spec.id).await
    });
    let took = started.elapsed();
    assert!(undeployed.is_ok(), "{undeployed:?}");
    let Some(meanwhile) = meanwhile else {
        panic!("the service was no longer listed while undeploy was still stopping it")
    };
    assert!(
        meanwhile.instances.is_empty(),
        "stopping instances are listed: {meanwhile:?}"
    );
    assert!(
        took >= Duration::from_secs(1),
        "undeploy took {took:?}, less than the grace period"
    );
    let forced = next_event(&mut events, Duration::from_secs(1), "the stop", |e| {
        match e.kind {
            ProcessEventKind::Stopped { pid: stopped, forced } if stopped == pid => Some(forced),
            _ => None,
        }
    })
    .await;
    assert!(forced, "a process ignoring SIGTERM needed SIGKILL");
    assert!(process_gone(pid));
    assert!(
        group_members(pid).is_empty(),
        "the shell's child survived: {:?}",
        group_members(pid)
    );
}

#[tokio::test]
async fn undeploy_of_a_process_that_heeds_term_needs_no_kill() {
    let driver = driver(config(&state_dir())).await;
    let mut events = driver.events();
    let spec = spec("vamp-demo-service --name polite", 1);
    deploy(&driver, &spec).await;
    deployed(&driver, &spec.id, 1).await;
    let Some(Some(pid)) = pids(&driver, &spec.id).first().copied() else {
        panic!("no pid")
    };
    let files = || -> Vec<String> {
        match std::fs::read_dir(&driver.config().state_dir) {
            Ok(entries) => entries
                .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect(),
            Err(e) => panic!("the state dir is unreadable: {e}"),
        }
    };
    let state = files();
    assert!(
        state.iter().any(|f| f.ends_with(".json")) && state.iter().any(|f| f.ends_with(".0.log")),
        "no state file or log file: {state:?}"
    );
    let started = Instant::now();
    undeploy(&driver, &spec.id).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "undeploy waited the grace period"
    );
    assert_eq!(files(), Vec::<String>::new(), "undeploy left files behind");
    let forced = next_event(&mut events, Duration::from_secs(1), "the stop", |e| {
        match e.kind {
            ProcessEventKind::Stopped { pid: stopped, forced } if stopped == pid => Some(forced),
            _ => None,
        }
    })
    .await;
    assert!(!forced);
    assert_no_leftovers(&[pid]).await;
}

#[tokio::test]
async fn a_new_driver_adopts_live_instances_and_restarts_dead_ones() {
    let dir = state_dir();
    let mut first_settings = config(&dir);
    first_settings.stop_on_drop = false;
    let first = driver(first_settings).await;
    let spec = spec("vamp-demo-service --name survivor", 2);
    deploy(&first, &spec).await;
    let before = deployed(&first, &spec.id, 2).await;
    let (Some(Some(alive)), Some(Some(doomed))) = (
        pids(&first, &spec.id).first().copied(),
        pids(&first, &spec.id).get(1).copied(),
    ) else {
        panic!("no pids")
    };
    drop(first);
    kill_hard(doomed);
    eventually(SETTLE, "the killed instance ending", || async {
        process_gone(doomed).then_some(())
    })
    .await;
    assert!(!process_gone(alive), "dropping the driver stopped an instance");

    let second = driver(config(&dir)).await;
    let mut events = second.events();
    let after = deployed(&second, &spec.id, 2).await;
    let now = pids(&second, &spec.id);
    assert_eq!(
        now.first().copied().flatten(),
        Some(alive),
        "the live instance was not adopted"
    );
    let restarted = now.get(1).copied().flatten();
    assert!(
        restarted.is_some_and(|p| p != doomed),
        "the dead instance was not restarted: {now:?}"
    );
    assert_eq!(after.instances.len(), 2);
    for index in 0..2 {
        assert_eq!(
            first_port(&after, index),
            first_port(&before, index),
            "instance {index} moved"
        );
    }
    assert_eq!(
        get(first_port(&after, 0), "/").await,
        Some((200, "survivor\n".to_string()))
    );
    deploy(&second, &spec).await;
    assert_eq!(
        pids(&second, &spec.id),
        now,
        "deploying the same spec after adoption restarted something"
    );
    undeploy(&second, &spec.id).await;
    let mut seen = vec![alive, doomed];
    pids_seen(&mut events, &mut seen);
    seen.extend(restarted);
    assert_no_leftovers(&seen).await;
}

/// Rewrites the state files of `dir` with `edit`, as if the previous driver had stopped before writing them.
fn edit_state_files(dir: &std::path::Path, edit: impl Fn(&mut serde_json::Value)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        panic!("no state dir {}", dir.display())
    };
    for path in entries.filter_map(|e| Some(e.ok()?.path())) {
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut record: serde_json::Value = match serde_json::from_str(&text) {
                Ok(record) => record,
                Err(e) => panic!("{}: {e}", path.display()),
            };
            edit(&mut record);
            if let Err(e) = std::fs::write(&path, record.to_string()) {
                panic!("{}: {e}", path.display());
            }
        }
    }
}

#[tokio::test]
async fn a_new_driver_adopts_unrecorded_instances_by_their_mark_and_kills_strays() {
    let dir = state_dir();
    let mut first_settings = config(&dir);
    first_settings.stop_on_drop = false;
    let first = driver(first_settings).await;
    let spec = spec("vamp-demo-service --name unrecorded", 2);
    deploy(&first, &spec).await;
    deployed(&first, &spec.id, 2).await;
    let (Some(Some(kept)), Some(Some(stray))) = (
        pids(&first, &spec.id).first().copied(),
        pids(&first, &spec.id).get(1).copied(),
    ) else {
        panic!("no pids")
    };
    drop(first);
    edit_state_files(&dir, |record| {
        record["instances"][0]["pid"] = serde_json::Value::Null;
        if let Some(instances) = record["instances"].as_array_mut() {
            instances.truncate(1);
        }
    });

    let second = driver(config(&dir)).await;
    let mut events = second.events();
    deployed(&second, &spec.id, 2).await;
    let now = pids(&second, &spec.id);
    assert_eq!(
        now.first().copied().flatten(),
        Some(kept),
        "the unrecorded instance was not adopted"
    );
    assert!(now.get(1).copied().flatten().is_some_and(|p| p != stray));
    eventually(SETTLE, "the stray process ending", || async {
        process_gone(stray).then_some(())
    })
    .await;
    undeploy(&second, &spec.id).await;
    let mut seen = vec![kept, stray];
    pids_seen(&mut events, &mut seen);
    seen.extend(now.into_iter().flatten());
    assert_no_leftovers(&seen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_environment_restarts_instances_one_at_a_time() {
    let driver = driver(config(&state_dir())).await;
    let mut events = driver.events();
    let mut spec = spec("vamp-demo-service --name rolling", 2);
    spec.environment.insert("RELEASE".into(), "a".into());
    deploy(&driver, &spec).await;
    let service = deployed(&driver, &spec.id, 2).await;
    let ports = [first_port(&service, 0), first_port(&service, 1)];
    let old = pids(&driver, &spec.id);
    spec.environment.insert("RELEASE".into(), "b".into());
    deploy(&driver, &spec).await;
    let deadline = Instant::now() + SETTLE;
    loop {
        let mut answering = 0;
        let mut updated = 0;
        for port in ports {
            if let Some((200, env)) = get(port, "/env").await {
                answering += 1;
                if env.lines().any(|l| l == "RELEASE=b") {
                    updated += 1;
                }
            }
        }
        assert!(
            answering >= 1,
            "both instances were down at once during the rolling restart"
        );
        if updated == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the rolling restart did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let new = pids(&driver, &spec.id);
    assert!(old.iter().zip(&new).all(|(o, n)| o != n), "{old:?} → {new:?}");
    let service = deployed(&driver, &spec.id, 2).await;
    assert_eq!(service.environment.get("RELEASE").map(String::as_str), Some("b"));
    let mut history = Vec::new();
    while let Ok(event) = events.try_recv() {
        history.push(event);
    }
    let when = |instance: u32, restarted: bool| {
        history.iter().find_map(|e| match e.kind {
            ProcessEventKind::Started { generation: 2, .. } if restarted && e.instance == instance => {
                Some(e.at)
            }
            ProcessEventKind::Stopped { .. } if !restarted && e.instance == instance => Some(e.at),
            _ => None,
        })
    };
    let (Some(first_restarted), Some(second_stopped)) = (when(0, true), when(1, false)) else {
        panic!("no restart events: {history:?}")
    };
    assert!(
        second_stopped > first_restarted,
        "the second instance was stopped before the first one was restarted"
    );
    undeploy(&driver, &spec.id).await;
    let mut seen: Vec<u32> = history
        .iter()
        .filter_map(|e| match e.kind {
            ProcessEventKind::Started { pid, .. } => Some(pid),
            _ => None,
        })
        .collect();
    pids_seen(&mut events, &mut seen);
    assert_eq!(seen.len(), 4, "two starts and two restarts: {seen:?}");
    assert_no_leftovers(&seen).await;
}

#[tokio::test]
async fn scaling_starts_and_stops_only_the_difference() {
    let driver = driver(config(&state_dir())).await;
    let mut events = driver.events();
    let mut spec = spec("vamp-demo-service --name scaled", 1);
    deploy(&driver, &spec).await;
    deployed(&driver, &spec.id, 1).await;
    let first = pids(&driver, &spec.id);
    spec.scale.instances = 3;
    deploy(&driver, &spec).await;
    deployed(&driver, &spec.id, 3).await;
    let three = pids(&driver, &spec.id);
    assert_eq!(
        three.first(),
        first.first(),
        "scaling up restarted the first instance"
    );
    spec.scale.instances = 1;
    deploy(&driver, &spec).await;
    let one = eventually(SETTLE, "scaling down", || async {
        let listed = listed(&driver, &spec.id).await?;
        (listed.instances.len() == 1 && driver.instances(&spec.id).len() == 1).then_some(listed)
    })
    .await;
    assert_eq!(one.scale.instances, 1);
    assert_eq!(
        pids(&driver, &spec.id).first(),
        first.first(),
        "scaling down stopped the first instance"
    );
    for pid in three.iter().skip(1).flatten() {
        assert!(process_gone(*pid), "instance {pid} was scaled away but runs");
    }
    undeploy(&driver, &spec.id).await;
    let mut seen = Vec::new();
    pids_seen(&mut events, &mut seen);
    assert_no_leftovers(&seen).await;
}

fn health_check(path: &str) -> HealthCheck {
    HealthCheck {
        path: path.to_string(),
        port: "web".to_string(),
        initial_delay: Seconds(0),
        timeout: Seconds(1),
        interval: Seconds(1),
        failures: 2,
        protocol: "HTTP".to_string(),
    }
}

#[tokio::test]
async fn instances_passing_their_health_check_count_as_healthy() {
    let driver = driver(config(&state_dir())).await;
    let mut events = driver.events();
    let mut spec = spec("vamp-demo-service --name checked", 1);
    spec.health_checks = vec![health_check("/health")];
    deploy(&driver, &spec).await;
    let service = eventually(SETTLE, "a healthy instance", || async {
        listed(&driver, &spec.id).await.filter(|s| s.health.healthy == 1)
    })
    .await;
    assert_eq!(service.health_checks, Some(spec.health_checks.clone()));
    assert_eq!(
        driver.instances(&spec.id).first().and_then(|i| i.healthy),
        Some(true)
    );
    undeploy(&driver, &spec.id).await;
    let mut seen = Vec::new();
    pids_seen(&mut events, &mut seen);
    assert_no_leftovers(&seen).await;
}

#[tokio::test]
async fn an_instance_failing_its_health_check_is_restarted() {
    let driver = driver(config(&state_dir())).await;
    let mut events = driver.events();
    let mut spec = spec("vamp-demo-service --name sick", 1);
    spec.health_checks = vec![health_check("/status/503")];
    deploy(&driver, &spec).await;
    let (pid, check) = next_event(&mut events, SETTLE, "a failed health check", |e| match &e.kind {
        ProcessEventKind::Unhealthy { pid, check } => Some((*pid, check.clone())),
        _ => None,
    })
    .await;
    assert_eq!(check, "HTTP web /status/503");
    eventually(SETTLE, "the restart of the unhealthy instance", || async {
        let restarted = driver
            .instances(&spec.id)
            .first()
            .is_some_and(|i| i.restarts >= 1 && i.pid.is_some_and(|p| p != pid));
        restarted.then_some(())
    })
    .await;
    undeploy(&driver, &spec.id).await;
    let mut seen = vec![pid];
    pids_seen(&mut events, &mut seen);
    assert_no_leftovers(&seen).await;
}

#[tokio::test]
async fn specs_the_driver_cannot_run_are_refused_and_leave_nothing() {
    let driver = driver(config(&state_dir())).await;
    let namespace = vamp_core::testkit::unique("bad");
    let base = {
        let mut spec = spec("vamp-demo-service", 1);
        spec.id.namespace = namespace.clone();
        spec
    };
    let mut cases: Vec<(&str, ServiceSpec)> = Vec::new();
    let mut unclosed = base.clone();
    unclosed.deployable = process("vamp-demo-service --name 'oops");
    cases.push(("never closed", unclosed));
    let mut missing = base.clone();
    missing.deployable = process("./no-such-server --port 1");
    cases.push(("working directory", missing));
    let mut piped = base.clone();
    piped.deployable = process("vamp-demo-service | tee log");
    cases.push(("sh -c", piped));
    let mut privileged = base.clone();
    privileged.arguments = vec![Argument {
        key: "privileged".into(),
        value: "true".into(),
    }];
    cases.push(("arguments", privileged));
    let mut unknown_port = base.clone();
    unknown_port.health_checks = vec![HealthCheck {
        port: "admin".into(),
        ..health_check("/")
    }];
    cases.push(("admin", unknown_port));
    for (expected, spec) in cases {
        let Err(e) = driver.deploy(&spec).await else {
            panic!("{expected}: the deploy succeeded");
        };
        assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
        assert!(e.message().contains(expected), "'{expected}' is not in: {e}");
    }
    let mut docker = base.clone();
    docker.deployable = Deployable::docker("magneticio/sava:1.0");
    let Err(e) = driver.deploy(&docker).await else {
        panic!("a docker deployable was accepted")
    };
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(driver.list(&namespace).await.map(|l| l.len()).ok(), Some(0));
}

#[tokio::test]
async fn the_demo_blueprints_relative_command_runs_from_the_search_path() {
    let driver = driver(config(&state_dir())).await;
    let mut events = driver.events();
    let spec = spec("./vamp-demo-service --name frontend-1.0", 1);
    deploy(&driver, &spec).await;
    let service = deployed(&driver, &spec.id, 1).await;
    assert_eq!(
        get(first_port(&service, 0), "/").await,
        Some((200, "frontend-1.0\n".to_string()))
    );
    undeploy(&driver, &spec.id).await;
    let mut seen = Vec::new();
    pids_seen(&mut events, &mut seen);
    assert_no_leftovers(&seen).await;
}
