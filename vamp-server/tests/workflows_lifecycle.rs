//! Script workflows end to end through the facade with the memory backends and the loops running: a daemon that
//! reads a gateway with `vamp.get`, moves its weights with `vamp.put` and publishes events; suspending stops it,
//! resuming and updating start it again; restarting; cron and time schedules; failures published; a missing
//! breed; and shutdown stopping a run in progress.

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vamp_core::dsl;
use vamp_core::model::{Artifact, EventQuery, Kind, WorkflowStatus};
use vamp_core::store::Page;
use vamp_server::workflows::{Execution, Outcome};
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const DEADLINE: Duration = Duration::from_secs(20);

struct Running {
    vamp: Vamp,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<vamp_core::Result<()>>>,
}

impl Running {
    fn start() -> Running {
        let mut settings = ServerSettings::default();
        settings.synchronization.period_ms = 200;
        settings.synchronization.busy_period_ms = 50;
        let vamp = Vamp::builder().config(settings).build().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let v = vamp.clone();
        let task = tokio::spawn(async move {
            v.run(async {
                let _ = rx.await;
            })
            .await
        });
        Running {
            vamp,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Shuts the loops down and waits; how long that took.
    async fn shutdown(&mut self) -> Duration {
        let started = Instant::now();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        started.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Polls `check` until it holds, failing with `what` after [`DEADLINE`].
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A workflow with an inline script breed; `env` are declared in the breed with these values.
fn workflow(name: &str, schedule: serde_json::Value, script: &str, env: &[(&str, &str)]) -> Artifact {
    let env: serde_json::Map<String, serde_json::Value> =
        env.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let doc = json!({
        "name": name,
        "breed": {
            "name": format!("{name}-script"),
            "deployable": {"type": "application/javascript", "definition": script},
            "environment_variables": env,
        },
        "schedule": schedule,
    });
    dsl::read(Kind::Workflow, &doc.to_string()).unwrap()
}

async fn create(vamp: &Vamp, artifact: Artifact) {
    vamp.create(artifact, &WriteOptions::default()).await.unwrap();
}

async fn executions(vamp: &Vamp, name: &str) -> Vec<Execution> {
    vamp.workflow_executions(name).await.unwrap_or_default()
}

async fn finished(vamp: &Vamp, name: &str) -> usize {
    executions(vamp, name)
        .await
        .iter()
        .filter(|e| e.outcome != Outcome::Running)
        .count()
}

async fn events(vamp: &Vamp, tags: &[&str]) -> u64 {
    vamp.query(&EventQuery::tags(tags.iter().copied()), Page::default())
        .await
        .unwrap()
        .total
}

async fn status(vamp: &Vamp, name: &str) -> Option<WorkflowStatus> {
    vamp.workflow_status(name).await.unwrap()
}

async fn set_status(vamp: &Vamp, name: &str, status: WorkflowStatus) {
    vamp.set_workflow_status(name, status, &WriteOptions::default())
        .await
        .unwrap();
}

const EDGE: &str = "name: edge\nport: 9050/http\nroutes:\n  '[127.0.0.1:9000]': {weight: 90%}\n  '[127.0.0.1:9001]': {weight: 10%}\n";

const SHIFT: &str = r#"
var g = vamp.get('gateways/edge');
var keys = Object.keys(g.routes).sort();
var a = parseInt(g.routes[keys[0]].weight), b = parseInt(g.routes[keys[1]].weight);
if (b < 100) {
  a -= 10; b += 10;
  g.routes[keys[0]].weight = a + '%';
  g.routes[keys[1]].weight = b + '%';
  vamp.put('gateways/edge', g);
}
vamp.event(['workflows:' + vamp.workflow, 'shifted'], {a: a, b: b}, 'canary');
console.log('weights', a, b);
"#;

async fn weights(vamp: &Vamp) -> Vec<u8> {
    let Some(Artifact::Gateway(g)) = vamp.get(Kind::Gateway, "edge").await.unwrap() else {
        panic!("the gateway is gone")
    };
    let mut routes: Vec<_> = g
        .routes
        .iter()
        .map(|r| {
            (
                r.path.0.clone(),
                r.inline().and_then(|i| i.weight).map_or(0, |w| w.0),
            )
        })
        .collect();
    routes.sort();
    routes.into_iter().map(|(_, w)| w).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_reads_a_gateway_moves_its_weights_and_publishes_events() {
    let running = Running::start();
    let vamp = &running.vamp;
    create(vamp, dsl::read(Kind::Gateway, EDGE).unwrap()).await;
    create(
        vamp,
        workflow(
            "shifter",
            json!("daemon"),
            SHIFT,
            &[("VAMP_WORKFLOW_EXECUTION_PERIOD", "0.1")],
        ),
    )
    .await;
    until("the weights reach 0/100", || async {
        weights(vamp).await == [0, 100]
    })
    .await;
    // The run that moved the weights last publishes its event right after the update.
    until("nine shifts are published", || async {
        events(vamp, &["workflows:shifter", "shifted"]).await >= 9
    })
    .await;
    assert_eq!(weights(vamp).await, [0, 100], "the weights moved past 0/100");
    assert_eq!(status(vamp, "shifter").await, Some(WorkflowStatus::Running));
    assert_eq!(events(vamp, &["workflows:shifter", "scheduled"]).await, 1);
    assert_eq!(events(vamp, &["workflows:shifter", "running"]).await, 1);
    let runs = executions(vamp, "shifter").await;
    let done = runs.iter().find(|e| e.outcome == Outcome::Succeeded).unwrap();
    assert!(done.log[0].text.starts_with("weights "), "{:?}", done.log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_workflow_stops_running_and_resumes_with_its_update() {
    let running = Running::start();
    let vamp = &running.vamp;
    let period = [("VAMP_WORKFLOW_EXECUTION_PERIOD", "0.05")];
    create(
        vamp,
        workflow("ticker", json!("daemon"), "vamp.event('tick:v1', 1)", &period),
    )
    .await;
    until("it ticks", || async { events(vamp, &["tick:v1"]).await >= 3 }).await;
    set_status(vamp, "ticker", WorkflowStatus::Suspending).await;
    until("it is suspended", || async {
        status(vamp, "ticker").await == Some(WorkflowStatus::Suspended)
    })
    .await;
    assert_eq!(events(vamp, &["workflows:ticker", "unscheduled"]).await, 1);
    assert_eq!(events(vamp, &["workflows:ticker", "suspended"]).await, 1);
    let ticks = events(vamp, &["tick:v1"]).await;
    let runs = finished(vamp, "ticker").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        events(vamp, &["tick:v1"]).await,
        ticks,
        "a suspended workflow ran"
    );
    assert_eq!(finished(vamp, "ticker").await, runs);
    // Updating is allowed while suspended; the update starts again with the new script.
    create(
        vamp,
        workflow("ticker", json!("daemon"), "vamp.event('tick:v2', 2)", &period),
    )
    .await;
    until("the updated script ticks", || async {
        events(vamp, &["tick:v2"]).await >= 2
    })
    .await;
    assert_eq!(events(vamp, &["tick:v1"]).await, ticks);
    assert_eq!(status(vamp, "ticker").await, Some(WorkflowStatus::Running));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_reschedules_and_deleting_removes() {
    let running = Running::start();
    let vamp = &running.vamp;
    create(
        vamp,
        workflow(
            "once",
            json!("daemon"),
            "vamp.log('ran')",
            &[("VAMP_WORKFLOW_EXECUTION_PERIOD", "0")],
        ),
    )
    .await;
    until("it ran once", || async { finished(vamp, "once").await == 1 }).await;
    set_status(vamp, "once", WorkflowStatus::Restarting).await;
    until("it ran again after the restart", || async {
        finished(vamp, "once").await == 2
    })
    .await;
    assert_eq!(status(vamp, "once").await, Some(WorkflowStatus::Running));
    assert_eq!(events(vamp, &["workflows:once", "scheduled"]).await, 2);
    assert!(vamp
        .delete(Kind::Workflow, "once", &WriteOptions::default())
        .await
        .unwrap());
    until("it is removed", || async { status(vamp, "once").await.is_none() }).await;
    assert_eq!(events(vamp, &["workflows:once", "stopped"]).await, 1);
    assert!(vamp.workflow_executions("once").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_and_time_schedules_run_on_time() {
    let running = Running::start();
    let vamp = &running.vamp;
    create(
        vamp,
        workflow(
            "cron",
            json!({"time": {"cron": "* * * * * *"}}),
            "vamp.log('cron')",
            &[],
        ),
    )
    .await;
    create(
        vamp,
        workflow(
            "twice",
            json!({"time": {"period": "PT1S", "repeat": 2}}),
            "vamp.log('time')",
            &[],
        ),
    )
    .await;
    until("cron ran three times", || async {
        finished(vamp, "cron").await >= 3
    })
    .await;
    let cron = executions(vamp, "cron").await;
    let mut starts: Vec<_> = cron.iter().map(|e| e.started).collect();
    starts.sort();
    for pair in starts.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!((300..=1900).contains(&gap), "cron runs {gap} ms apart");
    }
    until("the time schedule ran twice", || async {
        finished(vamp, "twice").await == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(finished(vamp, "twice").await, 2, "repeat: 2 ran more than twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_is_recorded_and_published() {
    let running = Running::start();
    let vamp = &running.vamp;
    create(
        vamp,
        workflow(
            "broken",
            json!("daemon"),
            "vamp.log('before'); vamp.get('gateways/none');",
            &[("VAMP_WORKFLOW_EXECUTION_PERIOD", "0")],
        ),
    )
    .await;
    until("the failure is published", || async {
        events(vamp, &["workflows:broken", "execution:failed"]).await == 1
    })
    .await;
    let run = &executions(vamp, "broken").await[0];
    assert_eq!(run.outcome, Outcome::Failed);
    let error = run.error.clone().unwrap();
    assert!(error.contains("404"), "{error}");
    assert_eq!(run.log[0].text, "before");
    let event = vamp
        .query(
            &EventQuery::tags(["workflows:broken", "execution:failed"]),
            Page::default(),
        )
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(event.kind, "workflow");
    assert_eq!(event.value["reason"], "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_breed_is_reported_and_the_workflow_starts_once_it_exists() {
    let running = Running::start();
    let vamp = &running.vamp;
    let wf = "name: later\nbreed: later-script\nschedule: daemon\n";
    create(vamp, dsl::read(Kind::Workflow, wf).unwrap()).await;
    until("the failure is published", || async {
        events(vamp, &["workflows:later", "scheduling:failed"]).await == 1
    })
    .await;
    assert_eq!(status(vamp, "later").await, Some(WorkflowStatus::Starting));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        events(vamp, &["workflows:later", "scheduling:failed"]).await,
        1,
        "the same failure was published again"
    );
    let breed = "name: later-script\ndeployable: {type: application/javascript, definition: \"vamp.log('at last')\"}\n";
    create(vamp, dsl::read(Kind::Breed, breed).unwrap()).await;
    until("it runs", || async { finished(vamp, "later").await >= 1 }).await;
    assert_eq!(status(vamp, "later").await, Some(WorkflowStatus::Running));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_a_run_in_progress() {
    let mut running = Running::start();
    let vamp = running.vamp.clone();
    create(
        &vamp,
        workflow(
            "spin",
            json!("daemon"),
            "vamp.log('spinning'); while (true) {}",
            &[("VAMP_WORKFLOW_EXECUTION_TIMEOUT", "0")],
        ),
    )
    .await;
    until("it spins", || async {
        executions(&vamp, "spin")
            .await
            .first()
            .is_some_and(|e| !e.log.is_empty())
    })
    .await;
    let took = running.shutdown().await;
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    let run = &executions(&vamp, "spin").await[0];
    assert_eq!(run.outcome, Outcome::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_breed_needs_a_daemon_schedule() {
    let running = Running::start();
    let vamp = &running.vamp;
    let wf = "name: nightly\nbreed:\n  name: report:1.0\n  deployable: acme/report:1.0\nschedule:\n  time: {cron: '0 3 * * *'}\n";
    create(vamp, dsl::read(Kind::Workflow, wf).unwrap()).await;
    until("the failure is published", || async {
        events(vamp, &["workflows:nightly", "scheduling:failed"]).await == 1
    })
    .await;
    let event = vamp
        .query(
            &EventQuery::tags(["workflows:nightly", "scheduling:failed"]),
            Page::default(),
        )
        .await
        .unwrap()
        .items
        .remove(0);
    let error = event.value["error"].as_str().unwrap().to_string();
    assert!(error.contains("schedule: daemon"), "{error}");
    assert!(vamp.driver().list("default").await.unwrap().is_empty());
    assert_eq!(status(vamp, "nightly").await, Some(WorkflowStatus::Starting));
}
