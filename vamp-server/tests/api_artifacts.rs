//! The REST API's artifact endpoints over HTTP: CRUD with the original's status codes, JSON and YAML both ways,
//! blueprints with inline breeds, validate_only, expand_references, paging headers, gateways with `/` in their
//! names, workflows, the multi-document root and docker-compose conversion.

mod api_support;

use api_support::*;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn a_breed_is_created_read_updated_and_deleted() {
    let api = TestApi::start().await;
    let created = api.post_yaml("/api/v1/breeds", SAVA).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json()[0]["name"], "sava:1.0");

    let read = api.get("/api/v1/breeds/sava:1.0").await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.content_type().starts_with(JSON));
    assert_eq!(read.json()["deployable"]["definition"], "magneticio/sava:1.0.0");
    assert_eq!(read.header("cache-control").as_deref(), Some("no-store"));

    let changed = SAVA.replace("sava:1.0.0", "sava:1.0.1");
    let updated = api.put_yaml("/api/v1/breeds/sava:1.0", &changed).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    let read = api.get("/api/v1/breeds/sava:1.0").await;
    assert_eq!(read.json()["deployable"]["definition"], "magneticio/sava:1.0.1");

    let deleted = api.delete("/api/v1/breeds/sava:1.0", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.text.is_empty());
    let gone = api.get("/api/v1/breeds/sava:1.0").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(gone.message().contains("sava:1.0"));
    let again = api.delete("/api/v1/breeds/sava:1.0", None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn yaml_goes_in_and_out_and_json_goes_in() {
    let api = TestApi::start().await;
    let body = serde_json::json!({"name": "small", "cpu": 0.2, "memory": "64MB", "instances": 2});
    let created = api.post_json("/api/v1/scales", &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let yaml = api.get_yaml("/api/v1/scales/small").await;
    assert_eq!(yaml.status, StatusCode::OK);
    assert!(yaml.content_type().starts_with(YAML));
    assert!(yaml.text.contains("name: small"), "{}", yaml.text);
    assert!(yaml.text.contains("instances: 2"), "{}", yaml.text);
    let list = api.get_yaml("/api/v1/scales").await;
    assert!(
        list.text.starts_with("---\n- name: small") || list.text.contains("- name: small"),
        "{}",
        list.text
    );
}

#[tokio::test]
async fn a_body_whose_name_differs_from_the_path_is_refused() {
    let api = TestApi::start().await;
    let reply = api.put_yaml("/api/v1/breeds/other", SAVA).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(!reply.message().is_empty());
    assert_eq!(
        api.get("/api/v1/breeds/sava:1.0").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_blueprint_create_returns_and_stores_its_inline_breeds() {
    let api = TestApi::start().await;
    let reply = api.post_yaml("/api/v1/blueprints", SHOP_V1).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let items = reply.json();
    assert_eq!(items[0]["kind"], "breed");
    assert_eq!(items[1]["kind"], "blueprint");
    assert_eq!(api.get("/api/v1/breeds/web:1.0").await.status, StatusCode::OK);
    let expanded = api.get("/api/v1/blueprints/shop?expand_references=true").await;
    assert_eq!(expanded.status, StatusCode::OK);
    let only_refs = api.get("/api/v1/blueprints/shop?only_references=true").await;
    assert!(only_refs.text.contains("web:1.0"));
}

#[tokio::test]
async fn validate_only_answers_the_artifact_and_stores_nothing() {
    let api = TestApi::start().await;
    let reply = api.post_yaml("/api/v1/breeds?validate_only=true", SAVA).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json()["name"], "sava:1.0");
    assert_eq!(
        api.get("/api/v1/breeds/sava:1.0").await.status,
        StatusCode::NOT_FOUND
    );
    let events = api.get("/api/v1/events?tag=archive").await;
    assert_eq!(events.json().as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn listings_page_with_total_count_and_links() {
    let api = TestApi::start().await;
    for i in 0..7 {
        let body = format!("name: s{i}\ncpu: 0.1\nmemory: 64MB\ninstances: 1\n");
        assert_eq!(
            api.post_yaml("/api/v1/scales", &body).await.status,
            StatusCode::CREATED
        );
    }
    let page = api.get("/api/v1/scales?page=2&per_page=3").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("x-total-count").as_deref(), Some("7"));
    let names: Vec<String> = page
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["s3", "s4", "s5"]);
    let link = page.header("link").unwrap();
    let base = format!("<{}/api/v1/scales?page=", api.base);
    assert_eq!(
        link,
        format!(
            "{base}1&per_page=3>; rel=first, {base}1&per_page=3>; rel=prev, {base}3&per_page=3>; rel=next, {base}3&per_page=3>; rel=last"
        )
    );
    let capped = api.get("/api/v1/scales?per_page=500").await;
    assert!(capped.header("link").unwrap().contains("per_page=30"));
    let past = api.get("/api/v1/scales?page=9").await;
    assert_eq!(past.json().as_array().unwrap().len(), 0);
    assert!(past
        .header("link")
        .unwrap()
        .contains("page=1&per_page=30>; rel=last"));
}

#[tokio::test]
async fn gateways_are_asynchronous_and_named_with_slashes() {
    let api = TestApi::start().await;
    let gateway = "name: shop/web\nport: 9050/http\nroutes:\n  shop/frontend/web: {}\n";
    let created = api.post_yaml("/api/v1/gateways", gateway).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text);
    assert_eq!(created.json()["name"], "shop/web");
    let read = api.get("/api/v1/gateways/shop/web").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    let encoded = api.get("/api/v1/gateways/shop%2Fweb").await;
    assert_eq!(encoded.status, StatusCode::OK, "{}", encoded.text);
    let conflict = api
        .post_yaml("/api/v1/gateways", &gateway.replace("shop/web", "other"))
        .await;
    assert_eq!(conflict.status, StatusCode::BAD_REQUEST, "{}", conflict.text);
    assert!(conflict.message().contains("9050"), "{}", conflict.text);
    let listed = api.get("/api/v1/gateways").await;
    assert_eq!(listed.header("x-total-count").as_deref(), Some("1"));
    let deleted = api.delete("/api/v1/gateways/shop/web", None).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert_eq!(
        api.get("/api/v1/gateways/shop/web").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn workflows_are_asynchronous_and_have_a_status() {
    let api = TestApi::start().await;
    let wf = "name: tick\nbreed:\n  name: tick\n  deployable: {type: application/javascript, definition: 'console.log(1)'}\nschedule: daemon\n";
    let created = api.post_yaml("/api/v1/workflows", wf).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text);
    assert_eq!(api.get("/api/v1/workflows/tick").await.status, StatusCode::OK);
    let status = api.get("/api/v1/workflows/tick/status").await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.text, "starting");
    let set = api
        .call(
            Method::PUT,
            "/api/v1/workflows/tick/status",
            Some("text/plain"),
            Some("suspended"),
            JSON,
        )
        .await;
    assert_eq!(set.status, StatusCode::ACCEPTED, "{}", set.text);
    assert_eq!(api.get("/api/v1/workflows/tick/status").await.text, "suspended");
    let bad = api
        .call(
            Method::PUT,
            "/api/v1/workflows/tick/status",
            Some("text/plain"),
            Some("dancing"),
            JSON,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.get("/api/v1/workflows/nope/status").await.status,
        StatusCode::NOT_FOUND
    );
    let stopped = api.delete("/api/v1/workflows/tick", None).await;
    assert_eq!(stopped.status, StatusCode::ACCEPTED);
    assert_eq!(api.get("/api/v1/workflows/tick/status").await.text, "stopping");
}

#[tokio::test]
async fn the_root_takes_several_documents_of_any_kinds() {
    let api = TestApi::start().await;
    let text =
        format!("kind: breed\n{SAVA}---\nkind: scales\nname: small\ncpu: 0.2\nmemory: 64MB\ninstances: 1\n");
    let created = api.post_yaml("/api/v1", &text).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text);
    let results = created.json();
    assert_eq!(results.as_array().unwrap().len(), 2);
    assert_eq!(results[1][0]["name"], "small");
    assert_eq!(api.get("/api/v1/scales/small").await.status, StatusCode::OK);
    let deleted = api.delete("/api/v1", Some(&text)).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.text);
    assert_eq!(
        api.get("/api/v1/breeds/sava:1.0").await.status,
        StatusCode::NOT_FOUND
    );
    let kindless = api.post_yaml("/api/v1", "name: x\n").await;
    assert_eq!(kindless.status, StatusCode::BAD_REQUEST);
    assert!(kindless.message().contains("kind"), "{}", kindless.text);
}

#[tokio::test]
async fn every_write_archives_the_raw_body() {
    let api = TestApi::start().await;
    api.post_yaml("/api/v1/breeds", SAVA).await;
    let events = api
        .get("/api/v1/events?tag=archive:create&tag=breeds:sava:1.0")
        .await;
    assert_eq!(events.header("x-total-count").as_deref(), Some("1"));
    assert_eq!(events.json()[0]["value"], SAVA);
}

#[tokio::test]
async fn docker_compose_is_converted_to_a_blueprint() {
    let api = TestApi::start().await;
    let compose = "services:\n  web:\n    image: acme/web:1.0\n    ports:\n      - \"8080:80\"\n";
    let reply = api
        .call(
            Method::POST,
            "/api/v1/docker-compose?name=site",
            Some(YAML),
            Some(compose),
            YAML,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert!(reply.text.contains("name: site"), "{}", reply.text);
    let nameless = api.post_yaml("/api/v1/docker-compose", compose).await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
}
