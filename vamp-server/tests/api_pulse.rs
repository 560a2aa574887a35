//! Pulse over a memory-backed `Vamp` whose metrics source is fed synthetic requests: the figures of every
//! level, the events one pass publishes (exact tags), the health and metrics API paths and the Prometheus
//! exposition.

mod api_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use api_support::TestApi;
use reqwest::StatusCode;
use vamp_core::dsl;
use vamp_core::memory::MemoryMetrics;
use vamp_core::model::{Artifact, Event, EventQuery};
use vamp_core::store::Page;
use vamp_server::api::ApiOptions;
use vamp_server::pulse::Windows;
use vamp_server::{Vamp, WriteOptions};

const INTERNAL: &str = "shop/frontend/web";
const V1: &str = "shop/frontend/frontend:1.0/web";
const V2: &str = "shop/frontend/frontend:2.0/web";
/// A gateway name that needs escaping in a Prometheus label.
const ODD: &str = "odd\"gw\\x";
const THIRTY: Duration = Duration::from_secs(30);

/// A `Vamp` with deployment `shop` (cluster `frontend`: `frontend:1.0` × 2 and `frontend:2.0` × 1 behind the
/// internal gateway `shop/frontend/web`, and the deployment gateway `shop/9050`), and its metrics source.
async fn shop() -> (Vamp, Arc<MemoryMetrics>) {
    let metrics = Arc::new(MemoryMetrics::new());
    let vamp = Vamp::builder().metrics(metrics.clone()).build().unwrap();
    let text = "name: shop\ngateways:\n  9050/http: frontend/web\nclusters:\n  frontend:\n    services:\n      - breed: {name: 'frontend:1.0', deployable: demo, ports: {web: 8080/http}}\n        scale: {cpu: 0.5, memory: 256MB, instances: 2}\n      - breed: {name: 'frontend:2.0', deployable: demo, ports: {web: 8080/http}}\n        scale: {cpu: 0.25, memory: 128MB, instances: 1}\n";
    let blueprint = Artifact::Blueprint(dsl::read_deployment_request(text).unwrap());
    vamp.deploy("shop", blueprint, &WriteOptions::default())
        .await
        .unwrap();
    (vamp, metrics)
}

/// v1: 100 requests of 10 ms, all 200; v2: 80 × 200 and 20 × 500, 30 ms each; all through the internal gateway.
fn traffic(metrics: &MemoryMetrics) {
    let now = chrono::Utc::now();
    for _ in 0..100 {
        metrics.record(INTERNAL, Some(V1), 200, 10.0, now);
    }
    for i in 0..100 {
        let status = if i % 5 == 0 { 500 } else { 200 };
        metrics.record(INTERNAL, Some(V2), status, 30.0, now);
    }
}

#[tokio::test]
async fn figures_of_gateways_routes_services_clusters_and_deployments() {
    let (vamp, metrics) = shop().await;
    traffic(&metrics);
    let pulse = vamp.pulse(Windows::both(THIRTY)).await.unwrap();

    let names: Vec<&str> = pulse.gateways.iter().map(|g| g.gateway.as_str()).collect();
    assert_eq!(names, ["shop/9050", INTERNAL]);
    let internal = &pulse.gateways[1];
    assert_eq!(internal.figures.requests, 200);
    assert_eq!(internal.figures.errors, 20);
    assert_eq!(internal.figures.health, 0.0);
    assert!((internal.figures.rate - 200.0 / 30.0).abs() < 1e-9);
    assert_eq!(internal.figures.response_time, 20.0);
    let v1 = &internal.routes[0];
    assert_eq!(
        (v1.route.as_str(), v1.figures.health, v1.figures.score),
        (V1, 1.0, 1.0)
    );
    let v2 = &internal.routes[1];
    assert_eq!((v2.figures.health, v2.figures.error_rate), (0.0, 0.2));
    assert!(
        v2.figures.score > 0.8 && v2.figures.score < 0.9,
        "{}",
        v2.figures.score
    );
    assert_eq!(v2.figures.p99, 30.0);
    let external = &pulse.gateways[0];
    assert_eq!((external.figures.requests, external.figures.health), (0, 1.0));

    let shop = &pulse.deployments[0];
    let cluster = &shop.clusters[0];
    let services: BTreeMap<&str, (f64, u64)> = cluster
        .services
        .iter()
        .map(|s| (s.service.as_str(), (s.figures.health, s.figures.requests)))
        .collect();
    assert_eq!(services["frontend:1.0"], (1.0, 100));
    assert_eq!(services["frontend:2.0"], (0.0, 100));
    assert_eq!((cluster.figures.health, cluster.figures.requests), (0.0, 200));
    assert!(
        (cluster.figures.score - v2.figures.score).abs() < 1e-12,
        "product of 1 and the v2 score"
    );
    assert_eq!(shop.figures.health, 0.0);
    assert_eq!(shop.figures.score, cluster.figures.score);
    assert_eq!(shop.allocation.instances, 3);
    assert_eq!(shop.allocation.cpu, 1.25);
    assert_eq!(shop.allocation.memory, 640.0);
}

#[tokio::test]
async fn without_traffic_everything_is_healthy_with_zero_rates() {
    let (vamp, _) = shop().await;
    let pulse = vamp.pulse(Windows::both(THIRTY)).await.unwrap();
    for g in &pulse.gateways {
        assert_eq!(
            (g.figures.health, g.figures.score, g.figures.rate),
            (1.0, 1.0, 0.0)
        );
    }
    assert_eq!(pulse.deployments[0].figures.health, 1.0);
}

/// The events of one pass: tags as published (before expansion) → (type, value).
async fn published(vamp: &Vamp) -> Vec<Event> {
    let mut out = Vec::new();
    for kind in ["health", "metrics", "allocation"] {
        let query = EventQuery {
            kind: Some(kind.into()),
            ..EventQuery::default()
        };
        out.extend(vamp.query(&query, Page::first(1000)).await.unwrap().items);
    }
    out
}

fn find<'e>(events: &'e [Event], tags: &[&str]) -> &'e Event {
    let expected = Event::expand_tags(tags.iter().map(|t| t.to_string()));
    let matching: Vec<&Event> = events.iter().filter(|e| e.tags == expected).collect();
    assert_eq!(matching.len(), 1, "one event tagged exactly {tags:?}");
    matching[0]
}

#[tokio::test]
async fn one_pass_publishes_the_originals_tags_and_types() {
    let (vamp, metrics) = shop().await;
    traffic(&metrics);
    let count = vamp.publish_pulse().await.unwrap();
    let events = published(&vamp).await;
    assert_eq!(events.len(), count);
    let g = format!("gateways:{INTERNAL}");
    let value = |tags: &[&str], kind: &str| {
        let e = find(&events, tags);
        assert_eq!(e.kind, kind, "{tags:?}");
        e.value.clone()
    };
    assert_eq!(value(&[&g, "gateway", "health"], "health"), 0.0);
    let rate = value(&[&g, "gateway", "metrics:rate"], "metrics")
        .as_f64()
        .unwrap();
    assert!((rate - 200.0 / 30.0).abs() < 1e-9, "{rate}");
    assert_eq!(value(&[&g, "gateway", "metrics:responseTime"], "metrics"), 20.0);
    let figures = value(&[&g, "gateway", "metrics:figures"], "metrics");
    assert_eq!(figures["errors"], 20);
    assert!(figures["score"].as_f64().unwrap() < 1.0);
    let r1 = format!("routes:{V1}");
    let r2 = format!("routes:{V2}");
    assert_eq!(value(&[&g, &r1, "route", "health"], "health"), 1.0);
    assert_eq!(value(&[&g, &r2, "route", "health"], "health"), 0.0);
    assert_eq!(
        value(&[&g, &r2, "route", "metrics:responseTime"], "metrics"),
        30.0
    );
    assert!(value(&[&g, &r1, "route", "metrics:rate"], "metrics").is_number());
    assert_eq!(
        value(&[&g, &r2, "route", "metrics:figures"], "metrics")["errorRate"],
        0.2
    );
    assert_eq!(
        value(
            &[
                "deployments:shop",
                "clusters:frontend",
                "service",
                "services:frontend:1.0",
                "health"
            ],
            "health"
        ),
        1.0
    );
    assert_eq!(
        value(
            &[
                "deployments:shop",
                "clusters:frontend",
                "service",
                "services:frontend:2.0",
                "health"
            ],
            "health"
        ),
        0.0
    );
    assert_eq!(
        value(
            &["deployments:shop", "clusters:frontend", "cluster", "health"],
            "health"
        ),
        0.0
    );
    assert_eq!(
        value(&["deployments:shop", "deployment", "health"], "health"),
        0.0
    );
    assert!(value(&["deployments:shop", "deployment", "metrics:figures"], "metrics")["score"].is_number());
    let allocation = value(&["allocation", "deployments:shop"], "allocation");
    assert_eq!(
        allocation,
        serde_json::json!({"cpu": 1.25, "memory": 640.0, "instances": 3})
    );
    // 2 gateways + 3 routes, 4 events each; 2 services + 1 cluster + 1 deployment, 2 each; 1 allocation
    assert_eq!(count, 5 * 4 + 4 * 2 + 1);
    // the original's consumers read numbers: a health query never meets a figures object
    let mut health = EventQuery::tags([g.as_str(), "health"]);
    health.kind = Some("health".into());
    for e in vamp.query(&health, Page::first(100)).await.unwrap().items {
        assert!(e.value.is_number(), "{e:?}");
    }
}

#[tokio::test]
async fn the_health_and_metrics_api_reads_every_level() {
    let (vamp, metrics) = shop().await;
    traffic(&metrics);
    let api = TestApi::with(vamp, ApiOptions::insecure_open()).await;
    let number = |path: String| {
        let api = &api;
        async move {
            let reply = api.get(&path).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
            reply
                .json()
                .as_f64()
                .unwrap_or_else(|| panic!("{path}: {}", reply.text))
        }
    };
    assert_eq!(number(format!("/api/v1/health/gateways/{INTERNAL}")).await, 0.0);
    assert_eq!(
        number(format!("/api/v1/health/gateways/{INTERNAL}/routes/{V1}")).await,
        1.0
    );
    assert_eq!(number("/api/v1/health/gateways/shop%2F9050".into()).await, 1.0);
    assert_eq!(number("/api/v1/health/deployments/shop".into()).await, 0.0);
    assert_eq!(
        number("/api/v1/health/deployments/shop/clusters/frontend".into()).await,
        0.0
    );
    assert_eq!(
        number("/api/v1/health/deployments/shop/clusters/frontend/services/frontend:1.0".into()).await,
        1.0
    );
    let rate = number(format!("/api/v1/metrics/gateways/{INTERNAL}/routes/{V2}/rate")).await;
    assert!((rate - 100.0 / 30.0).abs() < 1e-9, "{rate}");
    let rate = number(format!(
        "/api/v1/metrics/gateways/{INTERNAL}/routes/{V2}/rate?window=10"
    ))
    .await;
    assert!((rate - 10.0).abs() < 1e-9, "{rate}");
    assert_eq!(
        number(format!("/api/v1/metrics/gateways/{INTERNAL}/responseTime")).await,
        20.0
    );
    assert_eq!(
        number(format!(
            "/api/v1/metrics/gateways/{INTERNAL}/routes/{V2}/errorRate"
        ))
        .await,
        0.2
    );
    assert_eq!(
        number(format!("/api/v1/metrics/gateways/{INTERNAL}/routes/{V2}/p95")).await,
        30.0
    );
    assert_eq!(
        number(format!("/api/v1/metrics/gateways/{INTERNAL}/errors")).await,
        20.0
    );
    assert_eq!(
        number(format!("/api/v1/metrics/gateways/{INTERNAL}/requests")).await,
        200.0
    );
    let score = number(format!("/api/v1/metrics/gateways/{INTERNAL}/score")).await;
    assert!(score > 0.8 && score < 0.95, "{score}");
    assert_eq!(
        number("/api/v1/metrics/deployments/shop/clusters/frontend/ports/web/requests".into()).await,
        200.0
    );
    assert_eq!(
        number(
            "/api/v1/metrics/deployments/shop/clusters/frontend/services/frontend:2.0/ports/web/errors"
                .into()
        )
        .await,
        20.0
    );
    assert_eq!(
        number(
            "/api/v1/metrics/deployments/shop/clusters/frontend/services/frontend:1.0/responseTime".into()
        )
        .await,
        10.0
    );
    assert_eq!(
        number("/api/v1/metrics/deployments/shop/requests".into()).await,
        200.0
    );

    let figures = api
        .get(&format!(
            "/api/v1/metrics/gateways/{INTERNAL}/routes/{V2}/figures"
        ))
        .await;
    assert_eq!(figures.status, StatusCode::OK);
    let figures = figures.json();
    assert_eq!(
        (figures["requests"].clone(), figures["health"].clone()),
        (100.into(), 0.0.into())
    );
    assert_eq!(figures["window"], 30.0);
    let yaml = api
        .get_yaml(&format!("/api/v1/metrics/gateways/{INTERNAL}/figures"))
        .await;
    assert!(yaml.text.contains("responseTime: 20"), "{}", yaml.text);

    for (path, status, says) in [
        (
            "/api/v1/health/gateways/nope",
            StatusCode::NOT_FOUND,
            "no gateway 'nope'",
        ),
        (
            "/api/v1/health/gateways/shop/frontend/web/routes/shop/x",
            StatusCode::NOT_FOUND,
            "no route 'shop/x'",
        ),
        (
            "/api/v1/metrics/gateways/shop/frontend/web/latency",
            StatusCode::NOT_FOUND,
            "no metric 'latency'",
        ),
        (
            "/api/v1/metrics/gateways/shop/frontend/web/rate?window=0",
            StatusCode::BAD_REQUEST,
            "window '0'",
        ),
        (
            "/api/v1/health/gateways/shop/9050?window=soon",
            StatusCode::BAD_REQUEST,
            "window 'soon'",
        ),
        (
            "/api/v1/health/deployments/nope",
            StatusCode::NOT_FOUND,
            "no deployment 'nope'",
        ),
        (
            "/api/v1/health/deployments/shop/clusters/backend",
            StatusCode::NOT_FOUND,
            "no cluster 'backend'",
        ),
        (
            "/api/v1/health/deployments/shop/clusters/frontend/services/x:1",
            StatusCode::NOT_FOUND,
            "no service 'x:1'",
        ),
        (
            "/api/v1/health/deployments/shop/clusters/frontend/services/frontend:1.0/instances/i",
            StatusCode::NOT_FOUND,
            "Instances",
        ),
        (
            "/api/v1/metrics/deployments/shop/clusters/frontend/services/x/ports/web/rate",
            StatusCode::NOT_FOUND,
            "no route of service 'x'",
        ),
        (
            "/api/v1/metrics/deployments/shop/clusters/frontend/ports/admin/rate",
            StatusCode::NOT_FOUND,
            "no gateway 'shop/frontend/admin'",
        ),
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text);
        assert!(reply.message().contains(says), "{path}: {}", reply.text);
    }
}

/// A Prometheus sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the text exposition strictly enough to catch bad escaping: every non-comment line is
/// `name{k="v",…} value` with `\\`, `\"` and `\n` the only escapes.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (name_end, mut labels) = match line.find('{') {
            Some(i) => (i, BTreeMap::new()),
            None => (line.find(' ').unwrap(), BTreeMap::new()),
        };
        let name = line[..name_end].to_string();
        let mut rest = &line[name_end..];
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices();
            let mut key = String::new();
            loop {
                let (_, c) = chars.next().expect("unterminated labels");
                match c {
                    '}' => break,
                    ',' => continue,
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        let mut value = String::new();
                        loop {
                            match chars.next().expect("unterminated value").1 {
                                '\\' => match chars.next().unwrap().1 {
                                    '\\' => value.push('\\'),
                                    '"' => value.push('"'),
                                    'n' => value.push('\n'),
                                    other => panic!("bad escape \\{other} in {line}"),
                                },
                                '"' => break,
                                '\n' => panic!("raw newline in {line}"),
                                c => value.push(c),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            }
            let consumed = chars.next().map(|(i, _)| i).unwrap_or(body.len());
            rest = &body[consumed..];
        }
        let value: f64 = rest
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        out.push((name, labels, value));
    }
    out
}

fn sample<'s>(samples: &'s [Sample], name: &str, labels: &[(&str, &str)]) -> &'s Sample {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == want)
        .unwrap_or_else(|| panic!("no {name}{want:?}"))
}

#[tokio::test]
async fn prometheus_shows_the_same_figures_with_escaped_labels() {
    let (vamp, metrics) = shop().await;
    traffic(&metrics);
    let odd = "name: 'odd\"gw\\x'\nport: 9051/http\nroutes:\n  '[127.0.0.1:9]': {}\n";
    vamp.create(
        dsl::read(vamp_core::model::Kind::Gateway, odd).unwrap(),
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    metrics.record(ODD, Some("[127.0.0.1:9]"), 503, 1.0, chrono::Utc::now());
    let api = TestApi::with(vamp, ApiOptions::insecure_open()).await;
    let reply = api.get("/api/v1/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    let samples = parse_exposition(&reply.text);
    let g = |route: &'static str| [("gateway", INTERNAL), ("route", route)];
    assert_eq!(sample(&samples, "vamp_gateway_requests", &g("")).2, 200.0);
    let rps = sample(&samples, "vamp_gateway_requests_per_second", &g(V2)).2;
    assert!((rps - 100.0 / 30.0).abs() < 1e-9);
    assert_eq!(sample(&samples, "vamp_gateway_error_ratio", &g(V2)).2, 0.2);
    assert_eq!(sample(&samples, "vamp_gateway_health", &g(V2)).2, 0.0);
    assert_eq!(sample(&samples, "vamp_gateway_health", &g(V1)).2, 1.0);
    assert!(sample(&samples, "vamp_gateway_health_score", &g(V2)).2 < 1.0);
    let p99 = sample(
        &samples,
        "vamp_gateway_response_time_ms",
        &[("gateway", INTERNAL), ("route", V1), ("percentile", "99")],
    );
    assert_eq!(p99.2, 10.0);
    assert_eq!(
        sample(&samples, "vamp_gateway_response_time_mean_ms", &g("")).2,
        20.0
    );
    assert_eq!(
        sample(
            &samples,
            "vamp_gateway_health",
            &[("gateway", ODD), ("route", "[127.0.0.1:9]")]
        )
        .2,
        0.0
    );
    let service = [
        ("deployment", "shop"),
        ("cluster", "frontend"),
        ("service", "frontend:2.0"),
    ];
    assert_eq!(sample(&samples, "vamp_deployment_health", &service).2, 0.0);
    let whole = [("deployment", "shop"), ("cluster", ""), ("service", "")];
    assert_eq!(sample(&samples, "vamp_deployment_health", &whole).2, 0.0);
    assert!(sample(&samples, "vamp_deployment_health_score", &whole).2 < 1.0);
    assert_eq!(
        sample(&samples, "vamp_deployment_instances", &[("deployment", "shop")]).2,
        3.0
    );
    let mut types = BTreeSet::new();
    for line in reply.text.lines().filter(|l| l.starts_with("# TYPE ")) {
        assert!(types.insert(line.to_string()), "{line} declared twice");
    }
}

#[test]
fn the_parser_rejects_bad_escapes() {
    assert!(std::panic::catch_unwind(|| parse_exposition("m{a=\"x\\q\"} 1\n")).is_err());
    let ok = parse_exposition("m{a=\"x\\\"y\\\\z\"} 1.5\nn 2\n");
    assert_eq!(ok[0].1["a"], "x\"y\\z");
    assert_eq!((ok[1].0.as_str(), ok[1].2), ("n", 2.0));
}
