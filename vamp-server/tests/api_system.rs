//! The server's own endpoints over HTTP: health, info, config, Prometheus metrics, the gateway template, and the
//! OpenAPI document matching the router's routes. Gateway and deployment health and metrics are in
//! `api_pulse.rs`.

mod api_support;

use std::collections::BTreeSet;

use api_support::*;
use reqwest::{Method, StatusCode};
use vamp_server::api::route_table;

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
