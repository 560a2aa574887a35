//! The server's own endpoints over HTTP: health, info, config, Prometheus metrics, gateway metrics and health
//! from the metrics source, the gateway template, and the OpenAPI document matching the router's routes.

mod api_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use api_support::*;
use reqwest::{Method, StatusCode};
use vamp_core::memory::MemoryMetrics;
use vamp_server::api::{route_table, ApiOptions};
use vamp_server::Vamp;

#[tokio::test]
async fn health_info_and_config_describe_the_server() {
    let api = TestApi::start().await;
    let health = api.get("/api/v1/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["healthy"], true);
    let info = api.get("/api/v1/info").await;
    assert_eq!(info.status, StatusCode::OK);
    let info = info.json();
    assert_eq!(info["namespace"], "default");
    assert!(info["components"].as_array().unwrap().len() >= 5);
    let only = api.get("/api/v1/information?on=persistence").await.json();
    assert_eq!(only["components"].as_array().unwrap().len(), 1);
    let config = api.get_yaml("/api/v1/config").await;
    assert_eq!(config.status, StatusCode::OK);
    assert!(config.text.contains("namespace: default"), "{}", config.text);
    assert!(config.text.contains("port-range: 40000-45000"), "{}", config.text);
    assert!(
        config.text.contains("listen: \"127.0.0.1:8080\"") || config.text.contains("listen: 127.0.0.1:8080"),
        "{}",
        config.text
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_request_and_artifact_counts() {
    let api = TestApi::start().await;
    api.post_yaml("/api/v1/breeds", SAVA).await;
    api.get("/api/v1/breeds/none").await;
    let metrics = api.get("/api/v1/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.content_type().starts_with("text/plain"));
    let text = metrics.text;
    assert!(
        text.contains("vamp_api_requests_total{method=\"POST\",status=\"2xx\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("vamp_api_requests_total{method=\"GET\",status=\"4xx\"} 1"),
        "{text}"
    );
    assert!(text.contains("vamp_artifacts{kind=\"breeds\"} 1"), "{text}");
    assert!(
        text.contains("vamp_component_up{component=\"persistence\"} 1"),
        "{text}"
    );
    assert!(text.contains("# TYPE vamp_api_requests_total counter"), "{text}");
}

#[tokio::test]
async fn gateway_metrics_and_health_come_from_the_metrics_source() {
    let metrics = Arc::new(MemoryMetrics::new());
    let vamp = Vamp::builder().metrics(metrics.clone()).build().unwrap();
    let api = TestApi::with(vamp, ApiOptions::default()).await;
    let gw = "name: gw\nport: 9050/http\nroutes:\n  shop/frontend/web: {}\n";
    assert_eq!(
        api.post_yaml("/api/v1/gateways", gw).await.status,
        StatusCode::ACCEPTED
    );
    let now = chrono::Utc::now();
    for status in [200, 200, 200, 503] {
        metrics.record("gw", Some("shop/frontend/web"), status, 10.0, now);
    }
    let rate = api.get("/api/v1/metrics/gateways/gw/rate").await;
    assert_eq!(rate.status, StatusCode::OK, "{}", rate.text);
    let rate = rate.json().as_f64().unwrap();
    assert!((rate - 4.0 / 30.0).abs() < 1e-9, "{rate}");
    let time = api
        .get("/api/v1/metrics/gateways/gw/routes/shop/frontend/web/responseTime")
        .await
        .json()
        .as_f64()
        .unwrap();
    assert!(time > 5.0 && time < 20.0, "{time}");
    let health = api
        .get("/api/v1/health/gateways/gw")
        .await
        .json()
        .as_f64()
        .unwrap();
    assert!((health - 0.75).abs() < 1e-9, "{health}");
    assert_eq!(
        api.get("/api/v1/health/gateways/none").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_bundled_template_is_served() {
    let api = TestApi::start().await;
    let template = api.get("/api/v1/vga/haproxy/2.6/template").await;
    assert_eq!(template.status, StatusCode::OK);
    assert!(template.content_type().starts_with("text/plain"));
    assert!(!template.text.is_empty());
    let reset = api.delete("/api/v1/vga/haproxy/2.6/template", None).await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
}

fn sample(path: &str) -> String {
    path.replace("{kind}", "breeds")
        .replace("{path}", "gw/rate")
        .replace("{deployment}", "shop")
        .replace("{cluster}", "frontend")
        .replace("{service}", "web:1.0")
        .replace("{type}", "haproxy")
        .replace("{name}", "x")
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_served() {
    let api = TestApi::start().await;
    let doc = api.get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = route_table().into_iter().collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert!(unserved.is_empty(), "documented but not served: {unserved:?}");

    // and the route table is what the router answers: no route of it is 405 or the unknown-route 404
    for (method, path) in &served {
        let url = api.url(&sample(path));
        let mut request = api
            .client
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url);
        if method != "GET" {
            request = request.header("content-type", YAML).body("name: x\n");
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        if path.ends_with("/stream") {
            assert_eq!(status, StatusCode::OK);
            continue;
        }
        let text = response.text().await.unwrap();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {text}");
        assert!(
            !text.contains("There is no such resource"),
            "{method} {path} is not routed: {text}"
        );
        assert!(
            !status.is_server_error() || status == StatusCode::NOT_IMPLEMENTED || path.contains("template"),
            "{method} {path}: {status} {text}"
        );
    }
}
