//! Canaries on a deployment's cluster gateway, through the facade on the memory backends with requests fed
//! straight into the metrics source: the policy written in the blueprint or on the gateway
//! `deployment/cluster/port`, the decisions written into the cluster's routing (what `GET` of the deployment and
//! of the gateway show), the events, a user's change winning, and the refusals naming the artifact and field.

mod canary_feed;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use canary_feed::{decisions, events, run, until, Feeder};
use vamp_core::dsl::{self, ErrorCode};
use vamp_core::memory::MemoryMetrics;
use vamp_core::model::{Artifact, CanaryStatus, Deployment, Gateway, GatewayRoute, Kind, Percentage};
use vamp_core::{Error, ErrorKind};
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const GATEWAY: &str = "sava/sava/web";
const BASELINE: &str = "sava/sava/sava:1.0/web";
const CANARY: &str = "sava/sava/sava:1.1/web";
const POLICY: &str =
    "{baseline: 'sava:1.0', canary: 'sava:1.1', steps: [10%, 50%, 100%], interval: 1s, min_requests: 20}";

const BLUEPRINT_CLUSTERS: &str = "clusters:\n  sava:\n    services:\n      - breed: {name: 'sava:1.0', deployable: sava, ports: {web: 8080/http}}\n      - breed: {name: 'sava:1.1', deployable: sava, ports: {web: 8080/http}}\n";

const WITH_ROUTES: &str = "    gateways:\n      web:\n        routes:\n          'sava:1.0': {weight: 100%}\n          'sava:1.1': {weight: 0%}\n";

fn try_blueprint(gateways: &str) -> Result<vamp_core::model::Blueprint, dsl::DslError> {
    dsl::read_deployment_request(&format!("name: sava\n{BLUEPRINT_CLUSTERS}{gateways}"))
}

fn blueprint(gateways: &str) -> Artifact {
    Artifact::Blueprint(try_blueprint(gateways).unwrap())
}

fn with_canary(policy: &str) -> Artifact {
    blueprint(&format!("{WITH_ROUTES}        canary: {policy}\n"))
}

struct Setup {
    vamp: Vamp,
    feeder: Feeder,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Setup {
    async fn start() -> Setup {
        let metrics = Arc::new(MemoryMetrics::new());
        let mut settings = ServerSettings::default();
        settings.canary.tick_ms = 20;
        settings.synchronization.period_ms = 200;
        settings.synchronization.busy_period_ms = 20;
        let vamp = Vamp::builder()
            .metrics(metrics.clone())
            .config(settings)
            .build()
            .unwrap();
        let (stop, task) = run(&vamp);
        let feeder = Feeder::start(metrics, GATEWAY, BASELINE, CANARY, 20);
        Setup {
            vamp,
            feeder,
            stop,
            task,
        }
    }

    async fn deploy(&self, blueprint: Artifact) -> Result<Vec<Artifact>, Error> {
        self.vamp
            .deploy("sava", blueprint, &WriteOptions::default())
            .await
    }

    async fn deployment(&self) -> Deployment {
        self.vamp.deployment("sava").await.unwrap().unwrap()
    }

    async fn gateway(&self) -> Gateway {
        match self.vamp.get(Kind::Gateway, GATEWAY).await.unwrap() {
            Some(Artifact::Gateway(g)) => g,
            other => panic!("{other:?}"),
        }
    }

    /// The canary's weight and status as the deployment keeps them (its cluster's gateway settings).
    async fn state(&self) -> (Option<u8>, Option<u8>, Option<CanaryStatus>) {
        let d = self.deployment().await;
        let setting = d.cluster("sava").and_then(|c| c.gateways.first()).cloned();
        let weight = |breed: &str| {
            setting
                .as_ref()?
                .route(breed)
                .and_then(GatewayRoute::inline)
                .and_then(|r| r.weight)
                .map(|w| w.0)
        };
        (
            weight("sava:1.0"),
            weight("sava:1.1"),
            setting.as_ref().and_then(|g| g.canary.as_ref()).map(|c| c.status),
        )
    }

    async fn until_state(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn((Option<u8>, Option<u8>, Option<CanaryStatus>)) -> bool,
    ) {
        let done = &done;
        until(within, what, || async move {
            let s = self.state().await;
            done(s).then_some(())
        })
        .await;
    }

    async fn stop(self) {
        drop(self.feeder);
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_in_the_blueprint_moves_the_clusters_weights_to_promotion() {
    let s = Setup::start().await;
    s.deploy(with_canary(POLICY)).await.unwrap();
    s.until_state(Duration::from_secs(2), "the start", |(b, c, _)| {
        (b, c) == (Some(90), Some(10))
    })
    .await;
    let planned = s.gateway().await;
    let weight = |g: &Gateway, path: &str| {
        g.route(path)
            .and_then(GatewayRoute::inline)
            .and_then(|r| r.weight)
    };
    until(Duration::from_secs(2), "the plan showing 90/10", || async {
        let g = s.gateway().await;
        (weight(&g, CANARY) == Some(Percentage(10))).then_some(())
    })
    .await;
    let policy = planned
        .canary
        .expect("GET of the cluster gateway shows its canary");
    assert_eq!(
        (policy.baseline.0.as_str(), policy.canary.0.as_str()),
        (BASELINE, CANARY)
    );

    s.until_state(Duration::from_secs(10), "the promotion", |(_, _, st)| {
        st == Some(CanaryStatus::Promoted)
    })
    .await;
    assert_eq!(
        s.state().await,
        (Some(0), Some(100), Some(CanaryStatus::Promoted))
    );
    let events = events(&s.vamp, GATEWAY).await;
    assert_eq!(decisions(&events), ["advance", "advance", "promote"]);
    let promote = events.last().unwrap();
    for tag in [
        "canary",
        "gateways:sava/sava/web",
        "canary:promote",
        "deployments:sava",
        "clusters:sava",
    ] {
        assert!(promote.tags.iter().any(|t| t == tag), "{:?}", promote.tags);
    }
    assert_eq!(promote.value["deployment"], "sava");
    assert_eq!(promote.value["canary_route"], CANARY);
    assert_eq!(promote.value["weights"]["canary"], 100);
    assert!(promote.value["interval_started"].is_string(), "{}", promote.value);
    assert_eq!(promote.value["waits"], 0);

    let shown = dsl::to_json(&Artifact::Deployment(s.deployment().await)).unwrap();
    let canary = &shown["clusters"]["sava"]["gateways"]["web"]["canary"];
    assert_eq!(canary["baseline"], "sava:1.0", "{shown}");
    assert_eq!(canary["status"], "promoted", "{shown}");
    let written = dsl::to_yaml(&Artifact::Deployment(s.deployment().await)).unwrap();
    let back = dsl::read(Kind::Deployment, &written).unwrap();
    assert_eq!(
        back,
        Artifact::Deployment(s.deployment().await),
        "the deployment round-trips"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_put_on_the_cluster_gateway_is_rolled_back_when_it_fails() {
    let s = Setup::start().await;
    s.deploy(blueprint(
        "    gateways:\n      web:\n        routes:\n          'sava:1.0': {weight: 100%}\n          'sava:1.1': {weight: 0%}\n",
    ))
    .await
    .unwrap();
    s.feeder.canary_errors.store(20, Ordering::Relaxed);
    let mut g = s.gateway().await;
    g.canary = Some(dsl::read_gateway(&format!(
        "name: x\nroutes: {{'{BASELINE}': {{weight: 100%}}, '{CANARY}': {{weight: 0%}}}}\ncanary: {{baseline: '{BASELINE}', canary: '{CANARY}', steps: [10%, 50%, 100%], interval: 1s, min_requests: 20}}\n"
    ))
    .unwrap()
    .canary
    .unwrap());
    s.vamp
        .update(Artifact::Gateway(g), &WriteOptions::default())
        .await
        .unwrap();
    let kept = s.deployment().await;
    let setting = &kept.cluster("sava").unwrap().gateways[0];
    assert_eq!(
        setting.canary.as_ref().unwrap().canary.0,
        "sava:1.1",
        "the cluster keeps the policy by service name"
    );
    s.until_state(Duration::from_secs(5), "the rollback", |(_, _, st)| {
        st == Some(CanaryStatus::RolledBack)
    })
    .await;
    assert_eq!(
        s.state().await,
        (Some(100), Some(0), Some(CanaryStatus::RolledBack))
    );
    assert_eq!(
        decisions(&events(&s.vamp, GATEWAY).await),
        ["advance", "rollback"]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_weights_on_the_cluster_gateway_win_and_the_canary_goes_on_from_them() {
    let s = Setup::start().await;
    s.deploy(with_canary(&POLICY.replace("interval: 1s", "interval: 2s")))
        .await
        .unwrap();
    s.until_state(Duration::from_secs(2), "the start", |(_, c, _)| c == Some(10))
        .await;
    let mut g = s.gateway().await;
    for r in &mut g.routes {
        if let Some(route) = r.route.inline_mut() {
            route.weight = Some(Percentage(50));
        }
    }
    s.vamp
        .update(Artifact::Gateway(g), &WriteOptions::default())
        .await
        .unwrap();
    s.until_state(Duration::from_secs(8), "the promotion", |(_, _, st)| {
        st == Some(CanaryStatus::Promoted)
    })
    .await;
    assert_eq!(
        decisions(&events(&s.vamp, GATEWAY).await),
        ["advance", "promote"],
        "judged at the user's 50%"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slicing_a_compared_service_ends_the_canary() {
    let s = Setup::start().await;
    s.deploy(with_canary(&format!(
        "{}, status: paused}}",
        POLICY.trim_end_matches('}')
    )))
    .await
    .unwrap();
    let slice = "name: sava\nclusters:\n  sava:\n    services:\n      - breed: 'sava:1.1'\n";
    s.vamp
        .undeploy(
            "sava",
            Artifact::Blueprint(dsl::read_deployment_request(slice).unwrap()),
            &WriteOptions::default(),
        )
        .await
        .unwrap();
    let d = s.deployment().await;
    assert!(
        d.cluster("sava").unwrap().gateways[0].canary.is_none(),
        "the policy compared a service that is gone"
    );
    s.deploy(blueprint("")).await.unwrap();
    s.stop().await;
}

fn canary_error(e: &Error) -> (String, String, String) {
    let dsl = e.dsl().unwrap_or_else(|| panic!("not a DSL error: {e}"));
    assert_eq!(dsl.code, ErrorCode::CanaryPolicyError, "{e}");
    (dsl.artifact.name.clone(), dsl.path.clone(), dsl.message.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_that_do_not_fit_the_cluster_are_refused_naming_artifact_and_field() {
    let s = Setup::start().await;
    let e = Error::from(
        try_blueprint(&format!(
            "{WITH_ROUTES}        canary: {{baseline: 'sava:1.0', canary: 'sava:1.2', interval: 1s}}\n"
        ))
        .unwrap_err(),
    );
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    let (artifact, path, message) = canary_error(&e);
    assert_eq!(artifact, "sava");
    assert_eq!(path, "clusters.sava.gateways.web.canary.canary");
    assert!(
        message.contains("'sava:1.2' is not a service of cluster 'sava'"),
        "{message}"
    );
    assert!(message.contains("sava:1.0, sava:1.1"), "{message}");

    let e = Error::from(
        try_blueprint(&format!(
            "{WITH_ROUTES}        canary: {{baseline: 'sava:1.0', canary: 'sava:1.1', steps: [50%, 20%]}}\n"
        ))
        .unwrap_err(),
    );
    assert_eq!(canary_error(&e).1, "clusters.sava.gateways.web.canary.steps[1]");
    let e = Error::from(
        try_blueprint(&format!(
            "name: sava\ngateways:\n  9060/http:\n    routes: sava/web\n    canary: {{baseline: sava/web, canary: sava/web}}\n{}",
            &BLUEPRINT_CLUSTERS
        ))
        .unwrap_err(),
    );
    let (_, path, message) = canary_error(&e);
    assert_eq!(path, "gateways.9060/http.canary");
    assert!(
        message.contains("clusters.<cluster>.gateways.<port>.canary"),
        "{message}"
    );

    s.deploy(blueprint("")).await.unwrap();
    let mut g = s.gateway().await;
    g.canary = Some(vamp_core::model::CanaryPolicy::new(
        BASELINE,
        "sava/sava/sava:2.0/web",
    ));
    let e = s
        .vamp
        .update(Artifact::Gateway(g.clone()), &WriteOptions::default())
        .await
        .unwrap_err();
    let (artifact, path, message) = canary_error(&e);
    assert_eq!((artifact.as_str(), path.as_str()), (GATEWAY, "canary.canary"));
    assert!(
        message.contains("not a route of gateway 'sava/sava/web'"),
        "{message}"
    );

    g.canary = Some(vamp_core::model::CanaryPolicy::new("sava:1.0", "sava:1.1"));
    s.vamp
        .update(Artifact::Gateway(g), &WriteOptions::default())
        .await
        .expect("service names are accepted on a cluster gateway");
    s.stop().await;
}
