//! A breed-based workflow run by the process driver: `vamp-demo-service` deployed as the workflow's service with
//! the workflow's environment (`$workflow`, `$namespace` resolved), left alone by the deployment loop, undeployed
//! when suspended, deployed again when resumed, and removed with the workflow.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{demo_dir, get, ProcessCleanup, TempDir};
use tokio::sync::oneshot;
use tokio::time::Instant;
use vamp_core::driver::ContainerDriver;
use vamp_core::dsl;
use vamp_core::model::{EventQuery, Kind, WorkflowStatus};
use vamp_core::store::Page;
use vamp_drivers::process::ProcessDriver;
use vamp_server::agent::process_config;
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const DEADLINE: Duration = Duration::from_secs(30);

const BREED: &str = "name: greeter:1.0\ndeployable:\n  type: process\n  definition: vamp-demo-service\nports:\n  web: 8080/http\nenvironment_variables:\n  NAME: nobody\n";
const WORKFLOW: &str = "name: greeter\nbreed: greeter:1.0\nschedule: daemon\nscale: {cpu: 0.1, memory: 32MB, instances: 1}\nenvironment_variables:\n  NAME: ${workflow}@${namespace}\n";

/// The port of the greeter's instance once it answers, `None` while the driver lists no such service.
async fn greeter_port(driver: &ProcessDriver) -> Option<u16> {
    let services = driver.list("default").await.unwrap();
    let service = services.iter().find(|s| s.id.deployment == "greeter")?;
    let instance = service.instances.first()?;
    instance.ports.get("web").copied()
}

async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn answer(port: u16) -> Option<(u16, String)> {
    tokio::task::spawn_blocking(move || get(port)).await.unwrap()
}

async fn status(vamp: &Vamp) -> Option<WorkflowStatus> {
    vamp.workflow_status("greeter").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breed_workflow_runs_as_a_service_until_suspended_or_stopped() {
    let dir = TempDir::new("vamp-workflow-breed");
    let mut config = process_config(dir.path());
    config.search_path = vec![demo_dir().to_path_buf()];
    config.poll_interval = Duration::from_millis(100);
    config.restart_backoff_min = Duration::from_millis(100);
    config.stop_grace = Duration::from_secs(2);
    config.stop_on_drop = true;
    let _cleanup = ProcessCleanup(config.clone());
    let driver = Arc::new(ProcessDriver::new(config).await.unwrap());
    let mut settings = ServerSettings::default();
    settings.synchronization.period_ms = 200;
    settings.synchronization.busy_period_ms = 50;
    let vamp = Vamp::builder()
        .driver(driver.clone())
        .config(settings)
        .build()
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let v = vamp.clone();
    let loops = tokio::spawn(async move {
        v.run(async {
            let _ = stopped.await;
        })
        .await
    });
    let options = WriteOptions::default();
    vamp.create(dsl::read(Kind::Breed, BREED).unwrap(), &options)
        .await
        .unwrap();
    vamp.create(dsl::read(Kind::Workflow, WORKFLOW).unwrap(), &options)
        .await
        .unwrap();

    let deadline = Instant::now() + DEADLINE;
    let port = loop {
        if let Some(p) = greeter_port(&driver).await {
            if answer(p)
                .await
                .is_some_and(|(code, body)| code == 200 && body.contains("greeter@default"))
            {
                break p;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the workflow's service never answered with the resolved name"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status(&vamp).await, Some(WorkflowStatus::Running));
    let listed = driver.list("default").await.unwrap();
    let service = listed.iter().find(|s| s.id.deployment == "greeter").unwrap();
    assert_eq!(service.id.cluster, "greeter");
    assert_eq!(service.id.service, "greeter:1.0");
    assert_eq!(service.scale.instances, 1);
    // Several deployment passes later it still runs: the deployment loop does not take it for an orphan.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(greeter_port(&driver).await, Some(port));
    assert!(answer(port).await.is_some());

    vamp.set_workflow_status("greeter", WorkflowStatus::Suspending, &options)
        .await
        .unwrap();
    until("the service is undeployed", || async {
        greeter_port(&driver).await.is_none() && status(&vamp).await == Some(WorkflowStatus::Suspended)
    })
    .await;
    until("nothing answers", || async { answer(port).await.is_none() }).await;

    vamp.set_workflow_status("greeter", WorkflowStatus::Running, &options)
        .await
        .unwrap();
    until("the service runs again", || async {
        match greeter_port(&driver).await {
            Some(p) => answer(p).await.is_some(),
            None => false,
        }
    })
    .await;

    assert!(vamp.delete(Kind::Workflow, "greeter", &options).await.unwrap());
    until("the workflow and its service are gone", || async {
        status(&vamp).await.is_none() && greeter_port(&driver).await.is_none()
    })
    .await;
    let scheduled = vamp
        .query(
            &EventQuery::tags(["workflows:greeter", "scheduled"]),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(scheduled.total, 2);
    let _ = stop.send(());
    loops.await.unwrap().unwrap();
}
