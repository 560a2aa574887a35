//! The facade with the memory backends: upserts of static kinds with their archive events, inline breeds stored
//! with blueprints, gateway port conflicts, validate_only, deployments created, merged, sliced and converged by
//! the loops, scale and SLA sub-resources, as_blueprint, the multi-document root and workflow statuses.

use std::sync::Arc;
use std::time::Duration;

use vamp_core::dsl;
use vamp_core::memory::MemoryDriver;
use vamp_core::model::{Artifact, EventQuery, Kind, Ref, Scale, WorkflowStatus};
use vamp_core::store::Page;
use vamp_core::ErrorKind;
use vamp_server::ops::converged;
use vamp_server::{ReadOptions, ServerSettings, Vamp, Verb, WriteOptions};

fn vamp() -> Vamp {
    Vamp::builder().build().unwrap()
}

fn read(kind: Kind, text: &str) -> Artifact {
    dsl::read(kind, text).unwrap()
}

fn blueprint(text: &str) -> Artifact {
    Artifact::Blueprint(dsl::read_deployment_request(text).unwrap())
}

const SAVA: &str = "name: sava:1.0\ndeployable: magneticio/sava:1.0.0\nports:\n  web: 8080/http\n";

#[tokio::test]
async fn a_breed_create_is_an_upsert_and_archives_the_raw_body() {
    let vamp = vamp();
    let opts = WriteOptions::with_source(SAVA);
    let out = vamp.create(read(Kind::Breed, SAVA), &opts).await.unwrap();
    assert_eq!(out.len(), 1);
    let changed = SAVA.replace("sava:1.0.0", "sava:1.0.1");
    vamp.create(
        read(Kind::Breed, &changed),
        &WriteOptions::with_source(changed.clone()),
    )
    .await
    .unwrap();
    let Some(Artifact::Breed(b)) = vamp.get(Kind::Breed, "sava:1.0").await.unwrap() else {
        panic!("breed missing")
    };
    assert_eq!(b.deployable.definition, "magneticio/sava:1.0.1");
    assert_eq!(vamp.list(Kind::Breed, Page::default()).await.unwrap().total, 1);
    let archived = vamp
        .query(
            &EventQuery::tags(["breeds:sava:1.0", "archive:create"]),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(archived.total, 2);
    assert_eq!(archived.items[0].value, serde_json::Value::String(changed));
    assert!(vamp
        .delete(Kind::Breed, "sava:1.0", &WriteOptions::default())
        .await
        .unwrap());
    assert!(!vamp
        .delete(Kind::Breed, "sava:1.0", &WriteOptions::default())
        .await
        .unwrap());
    assert!(vamp.get(Kind::Breed, "sava:1.0").await.unwrap().is_none());
    let deleted = vamp
        .query(
            &EventQuery::tags(["breeds:sava:1.0", "archive:delete"]),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(deleted.total, 1);
}

#[tokio::test]
async fn validate_only_stores_nothing() {
    let vamp = vamp();
    let out = vamp
        .create(read(Kind::Breed, SAVA), &WriteOptions::validate_only())
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert!(vamp.get(Kind::Breed, "sava:1.0").await.unwrap().is_none());
}

#[tokio::test]
async fn a_blueprint_stores_its_inline_breeds() {
    let vamp = vamp();
    let bp = format!(
        "name: sava\nclusters:\n  sava:\n    services:\n      breed:\n{}",
        SAVA.lines().map(|l| format!("        {l}\n")).collect::<String>()
    );
    let out = vamp
        .create(read(Kind::Blueprint, &bp), &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        out.iter().map(Artifact::kind).collect::<Vec<_>>(),
        [Kind::Breed, Kind::Blueprint]
    );
    assert!(vamp.get(Kind::Breed, "sava:1.0").await.unwrap().is_some());
    let Some(Artifact::Blueprint(only)) = vamp
        .get_with(
            Kind::Blueprint,
            "sava",
            &ReadOptions {
                only_references: true,
                ..ReadOptions::default()
            },
        )
        .await
        .unwrap()
    else {
        panic!("blueprint missing")
    };
    assert_eq!(only.clusters[0].services[0].breed, Ref::Named("sava:1.0".into()));
}

#[tokio::test]
async fn a_gateway_port_in_use_is_refused_even_for_the_same_gateway() {
    let vamp = vamp();
    let gw = "name: edge\nport: 9050/http\nroutes:\n  '[127.0.0.1:9000]': {}\n";
    let out = vamp
        .create(read(Kind::Gateway, gw), &WriteOptions::default())
        .await
        .unwrap();
    let [Artifact::Gateway(stored)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(
        stored.routes[0].inline().and_then(|r| r.weight).map(|w| w.0),
        Some(100)
    );
    let again = vamp
        .create(read(Kind::Gateway, gw), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Invalid);
    assert!(again.to_string().contains("9050"), "{again}");
    let other = gw.replace("edge", "other");
    let e = vamp
        .create(read(Kind::Gateway, &other), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    vamp.update(read(Kind::Gateway, gw), &WriteOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_internal_gateway_cannot_be_created() {
    let vamp = vamp();
    let gw = "name: shop/frontend/web\nport: 9051/http\nroutes:\n  '[127.0.0.1:9000]': {}\n";
    let e = vamp
        .create(read(Kind::Gateway, gw), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
}

fn settings() -> ServerSettings {
    let mut s = ServerSettings::default();
    s.synchronization.busy_period_ms = 20;
    s
}

async fn running(vamp: &Vamp) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let v = vamp.clone();
    tokio::spawn(async move {
        v.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    tx
}

const SHOP_V1: &str = "name: shop\ngateways:\n  9060/http: frontend/web\nclusters:\n  frontend:\n    services:\n      breed:\n        name: web:1.0\n        deployable: acme/web:1.0\n        ports: {web: 8080/http}\n";
const SHOP_V2: &str = "name: shop\nclusters:\n  frontend:\n    services:\n      breed:\n        name: web:2.0\n        deployable: acme/web:2.0\n        ports: {web: 8080/http}\n";

#[tokio::test]
async fn a_deployment_converges_merges_a_canary_and_is_sliced() {
    let driver = Arc::new(MemoryDriver::new());
    let vamp = Vamp::builder()
        .driver(driver.clone())
        .config(settings())
        .build()
        .unwrap();
    let stop = running(&vamp).await;
    let out = vamp
        .deploy("shop", blueprint(SHOP_V1), &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        out.iter().map(Artifact::kind).collect::<Vec<_>>(),
        [Kind::Breed, Kind::Deployment]
    );
    let done = vamp
        .wait_for("shop", |d| d.is_some_and(converged), Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.clusters[0].services[0].instances.len(), 1);
    let deployed = vamp
        .query(
            &EventQuery::tags(["deployments:shop", "synchronization:deployed"]),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(deployed.total, 1);

    vamp.deploy("shop", blueprint(SHOP_V2), &WriteOptions::default())
        .await
        .unwrap();
    vamp.wait_for(
        "shop",
        |d| d.is_some_and(|d| converged(d) && d.clusters[0].services.len() == 2),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(driver.specs().len(), 2);

    // a weighted route must be re-weighted before its service can be sliced away
    let Some(Artifact::Gateway(mut internal)) = vamp.get(Kind::Gateway, "shop/frontend/web").await.unwrap()
    else {
        panic!("internal gateway missing")
    };
    for route in &mut internal.routes {
        let weight = if route.path.0.contains("web:1.0") { 90 } else { 10 };
        route.route = Ref::Inline(vamp_core::model::Route {
            weight: Some(vamp_core::model::Percentage(weight)),
            ..Default::default()
        });
    }
    vamp.update(Artifact::Gateway(internal.clone()), &WriteOptions::default())
        .await
        .unwrap();
    let slice_v1 = blueprint("name: shop\nclusters:\n  frontend:\n    services:\n      breed: web:1.0\n");
    let refused = vamp
        .undeploy("shop", slice_v1.clone(), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Invalid, "{refused}");
    for route in &mut internal.routes {
        let weight = if route.path.0.contains("web:1.0") { 0 } else { 100 };
        route.route = Ref::Inline(vamp_core::model::Route {
            weight: Some(vamp_core::model::Percentage(weight)),
            ..Default::default()
        });
    }
    vamp.update(Artifact::Gateway(internal), &WriteOptions::default())
        .await
        .unwrap();
    vamp.undeploy("shop", slice_v1, &WriteOptions::default())
        .await
        .unwrap();
    let after = vamp
        .wait_for(
            "shop",
            |d| d.is_some_and(|d| d.clusters[0].services.len() == 1 && converged(d)),
            Duration::from_secs(10),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.clusters[0].services[0].breed.name, "web:2.0");
    assert_eq!(driver.specs().len(), 1);

    let Some(Artifact::Blueprint(bp)) = vamp
        .get_with(
            Kind::Deployment,
            "shop",
            &ReadOptions {
                as_blueprint: true,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    else {
        panic!("as_blueprint gave no blueprint")
    };
    assert_eq!(bp.clusters.len(), 1);

    vamp.delete(Kind::Deployment, "shop", &WriteOptions::default())
        .await
        .unwrap();
    vamp.wait_for("shop", |d| d.is_none(), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(driver.specs().is_empty());
    let _ = stop.send(());
}

#[tokio::test]
async fn the_gateway_loop_writes_the_configuration_once_targets_exist() {
    let vamp = Vamp::builder().config(settings()).build().unwrap();
    let stop = running(&vamp).await;
    vamp.deploy("shop", blueprint(SHOP_V1), &WriteOptions::default())
        .await
        .unwrap();
    vamp.wait_for("shop", |d| d.is_some_and(converged), Duration::from_secs(10))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let config = vamp
            .gateway_configuration("haproxy", "2.6")
            .await
            .unwrap()
            .unwrap_or_default();
        if config.contains("9060") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no configuration with port 9060: {config}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deployed = vamp
        .query(
            &EventQuery::tags(["gateways:shop/9060", "deployed"]),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(deployed.total, 1);
    let _ = stop.send(());
}

#[tokio::test]
async fn a_deployment_gateway_port_held_by_another_deployment_is_refused() {
    let vamp = vamp();
    vamp.deploy("shop", blueprint(SHOP_V1), &WriteOptions::default())
        .await
        .unwrap();
    let copy = SHOP_V1.replace("name: shop", "name: copy");
    let e = vamp
        .deploy("copy", blueprint(&copy), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.to_string().contains("9060"), "{e}");
}

#[tokio::test]
async fn deploying_a_missing_breed_reference_is_not_found() {
    let vamp = vamp();
    let e = vamp
        .deploy(
            "x",
            blueprint("name: x\nclusters:\n  c: missing:1.0\n"),
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

#[tokio::test]
async fn scale_and_sla_subresources_change_the_deployment() {
    let vamp = vamp();
    vamp.deploy("shop", blueprint(SHOP_V1), &WriteOptions::default())
        .await
        .unwrap();
    let scale = Scale::new(0.5, 256.0, 3);
    vamp.set_scale(
        "shop",
        "frontend",
        "web:1.0",
        Ref::Inline(scale.clone()),
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        vamp.scale("shop", "frontend", "web:1.0")
            .await
            .unwrap()
            .map(|s| s.instances),
        Some(3)
    );
    let e = vamp.scale("shop", "backend", "web:1.0").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = vamp
        .set_sla(
            "shop",
            "frontend",
            Ref::Named("nope".into()),
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(vamp.sla("shop", "frontend").await.unwrap().is_none());
    assert!(!vamp
        .delete_sla("shop", "frontend", &WriteOptions::default())
        .await
        .unwrap());
}

#[tokio::test]
async fn the_root_endpoint_applies_every_document() {
    let vamp = vamp();
    let text =
        format!("kind: breed\n{SAVA}---\nkind: scale\nname: small\ncpu: 0.2\nmemory: 64MB\ninstances: 1\n");
    let out = vamp
        .apply_documents(&text, Verb::Create, &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(out.len(), 2);
    assert!(vamp.get(Kind::Scale, "small").await.unwrap().is_some());
    vamp.apply_documents(&text, Verb::Delete, &WriteOptions::default())
        .await
        .unwrap();
    assert!(vamp.get(Kind::Breed, "sava:1.0").await.unwrap().is_none());
    let e = vamp
        .apply_documents("name: x\n", Verb::Create, &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
}

#[tokio::test]
async fn the_workflow_loop_moves_statuses_on() {
    let vamp = Vamp::builder().config(settings()).build().unwrap();
    let stop = running(&vamp).await;
    let wf = "name: tick\nbreed:\n  name: tick\n  deployable: {type: application/javascript, definition: 'console.log(1)'}\nschedule: daemon\n";
    vamp.create(read(Kind::Workflow, wf), &WriteOptions::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while vamp.workflow_status("tick").await.unwrap() != Some(WorkflowStatus::Running) {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    vamp.delete(Kind::Workflow, "tick", &WriteOptions::default())
        .await
        .unwrap();
    while vamp.workflow_status("tick").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = vamp
        .query(&EventQuery::tags(["workflows:tick", "stopped"]), Page::default())
        .await
        .unwrap();
    assert_eq!(stopped.total, 1);
    let _ = stop.send(());
}

#[tokio::test]
async fn info_reports_every_component() {
    let info = vamp().info().await;
    assert!(info.ok());
    assert_eq!(info.components.len(), 5);
}
