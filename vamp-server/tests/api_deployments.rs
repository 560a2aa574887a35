//! Deployments over HTTP: POST and PUT are 202 and merge, GET reads with `as_blueprint`, DELETE with a body
//! slices (an empty body removes nothing), the loops converge what the API stored, and the SLA and scale
//! sub-resources.

mod api_support;

use std::time::Duration;

use api_support::*;
use reqwest::{Method, StatusCode};
use vamp_server::api::ApiOptions;
use vamp_server::Vamp;

const SLA: &str = "type: response_time_sliding_window\nthreshold:\n  upper: 1000\n  lower: 100\nwindow:\n  interval: 600\n  cooldown: 600\n";

fn service_names(deployment: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = deployment["clusters"]["frontend"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["breed"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

async fn wait_for_services(api: &TestApi, expected: &[&str]) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = api.get("/api/v1/deployments/shop").await;
        if reply.status == StatusCode::OK && service_names(&reply.json()) == expected {
            return reply.json();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deployment never had {expected:?}: {}",
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_deployment_is_created_merged_and_sliced() {
    let vamp = Vamp::builder().build().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let loops = vamp.clone();
    let running = tokio::spawn(async move {
        loops
            .run(async move {
                let _ = stopped.await;
            })
            .await
    });
    let api = TestApi::with(vamp, ApiOptions::insecure_open()).await;

    let created = api.post_yaml("/api/v1/deployments", SHOP_V1).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text);
    let items = created.json();
    assert_eq!(items[0]["kind"], "breed");
    assert_eq!(items[1]["kind"], "deployment");
    assert_eq!(items[1]["name"], "shop");

    let merged = api.put_yaml("/api/v1/deployments/shop", SHOP_V2).await;
    assert_eq!(merged.status, StatusCode::ACCEPTED, "{}", merged.text);
    wait_for_services(&api, &["web:1.0", "web:2.0"]).await;

    let listed = api.get("/api/v1/deployments").await;
    assert_eq!(listed.header("x-total-count").as_deref(), Some("1"));
    let blueprint = api.get_yaml("/api/v1/deployments/shop?as_blueprint=true").await;
    assert_eq!(blueprint.status, StatusCode::OK);
    assert!(blueprint.text.contains("kind: blueprint"), "{}", blueprint.text);

    let nothing = api.delete("/api/v1/deployments/shop", None).await;
    assert_eq!(nothing.status, StatusCode::ACCEPTED, "{}", nothing.text);
    assert_eq!(service_names(&nothing.json()), ["web:1.0", "web:2.0"]);

    let slice = "name: shop\nclusters:\n  frontend:\n    services:\n      breed: web:2.0\n";
    let validated = api
        .call(
            Method::DELETE,
            "/api/v1/deployments/shop?validate_only=true",
            Some(YAML),
            Some(slice),
            JSON,
        )
        .await;
    assert_eq!(validated.status, StatusCode::ACCEPTED, "{}", validated.text);
    let sliced = api.delete("/api/v1/deployments/shop", Some(slice)).await;
    assert_eq!(sliced.status, StatusCode::ACCEPTED, "{}", sliced.text);
    wait_for_services(&api, &["web:1.0"]).await;

    let missing = api.delete("/api/v1/deployments/nope", Some(slice)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get("/api/v1/deployments/nope").await.status,
        StatusCode::NOT_FOUND
    );

    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_missing_blueprint_reference_is_not_found() {
    let api = TestApi::start().await;
    let reply = api.post_yaml("/api/v1/deployments", "name: ghost\n").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    assert!(reply.message().contains("ghost"));
}

#[tokio::test]
async fn a_stored_blueprint_is_deployed_by_reference() {
    let api = TestApi::start().await;
    api.post_yaml("/api/v1/blueprints", SHOP_V1).await;
    let reply = api.post_yaml("/api/v1/deployments", "name: shop\n").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(
        service_names(&api.get("/api/v1/deployments/shop").await.json()),
        ["web:1.0"]
    );
}

#[tokio::test]
async fn scale_and_sla_are_sub_resources_of_a_deployment() {
    let api = TestApi::start().await;
    api.post_yaml("/api/v1/deployments", SHOP_V1).await;
    let scale_path = "/api/v1/deployments/shop/clusters/frontend/services/web:1.0/scale";
    let set = api
        .put_yaml(scale_path, "cpu: 0.5\nmemory: 256MB\ninstances: 3\n")
        .await;
    assert_eq!(set.status, StatusCode::ACCEPTED, "{}", set.text);
    let read = api.get(scale_path).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json()["instances"], 3);
    api.post_yaml("/api/v1/scales", "name: big\ncpu: 2\nmemory: 1GB\ninstances: 5\n")
        .await;
    let by_ref = api.put_yaml(scale_path, "reference: big\n").await;
    assert_eq!(by_ref.status, StatusCode::ACCEPTED, "{}", by_ref.text);
    assert_eq!(api.get(scale_path).await.json()["instances"], 5);
    let unknown = api.put_yaml(scale_path, "big2\n").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    let other = api
        .get("/api/v1/deployments/shop/clusters/backend/services/web:1.0/scale")
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    let sla_path = "/api/v1/deployments/shop/clusters/frontend/sla";
    assert_eq!(api.get(sla_path).await.status, StatusCode::NOT_FOUND);
    let set = api.put_yaml(sla_path, SLA).await;
    assert_eq!(set.status, StatusCode::ACCEPTED, "{}", set.text);
    let read = api.get(sla_path).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert!(
        read.text.contains("response_time_sliding_window"),
        "{}",
        read.text
    );
    let missing = api.put_yaml(sla_path, "reference: nope\n").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    let deleted = api.delete(sla_path, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(sla_path).await.status, StatusCode::NOT_FOUND);
}
