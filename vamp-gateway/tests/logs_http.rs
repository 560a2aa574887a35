//! The agent's HTTP endpoints (health, Prometheus metrics, metrics windows with bad parameters) and the
//! server-side client that merges the windows of several agents.

mod logs_support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use logs_support::free_port;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vamp_core::metrics::{MetricsSource, MetricsWindow};
use vamp_core::ErrorKind;
use vamp_gateway::agent::http::{self, AgentHealth, HttpState};
use vamp_gateway::agent::metrics_client::AgentMetricsSource;
use vamp_gateway::logs::aggregator::Aggregator;
use vamp_gateway::logs::forward::Forwarder;
use vamp_gateway::logs::names::Names;
use vamp_gateway::logs::pipeline::LogPipeline;

const MINUTE: Duration = Duration::from_secs(60);

struct Agent {
    url: String,
    aggregator: Arc<Aggregator>,
    health: watch::Sender<AgentHealth>,
    server: JoinHandle<()>,
}

impl Agent {
    async fn start() -> Agent {
        let aggregator = Arc::new(Aggregator::default());
        let (health, receiver) = watch::channel(AgentHealth::default());
        let state = HttpState {
            health: receiver,
            logs: LogPipeline::new(Names::new(), aggregator.clone(), Forwarder::none()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = http::serve(listener, state).await;
        });
        Agent {
            url,
            aggregator,
            health,
            server,
        }
    }

    fn requests(&self, gateway: &str, route: &str, status: u16, n: usize) {
        for _ in 0..n {
            self.aggregator
                .record(gateway, Some(route), status, 12.0, Utc::now());
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn health_is_503_until_haproxy_runs_with_an_applied_configuration() {
    let agent = Agent::start().await;
    let url = format!("{}/health", agent.url);
    let (status, content_type, body) = get(&url).await;
    assert_eq!((status, content_type.as_str()), (503, "application/json"));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "unavailable");
    agent.health.send_replace(AgentHealth {
        haproxy_running: true,
        config_applied: false,
        message: Some("waiting for the first configuration".into()),
    });
    let (status, _, body) = get(&url).await;
    assert_eq!(status, 503);
    assert!(body.contains("waiting for the first configuration"));
    agent.health.send_replace(AgentHealth {
        haproxy_running: true,
        config_applied: true,
        message: None,
    });
    let (status, _, body) = get(&url).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["status"].as_str(), body["config_applied"].as_bool()),
        (Some("ok"), Some(true))
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let agent = Agent::start().await;
    agent.requests("shop", "shop/v1", 200, 3);
    let (status, content_type, body) = get(&format!("{}/metrics", agent.url)).await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(body.contains(r#"vamp_gateway_requests_total{gateway="shop",route="shop/v1",status="2xx"} 3"#));
    assert!(body.contains(
        r#"vamp_gateway_request_duration_seconds_bucket{gateway="shop",route="shop/v1",le="0.025"} 3"#
    ));
    assert!(body.contains("vamp_gateway_log_lines_received_total 0"));
}

#[tokio::test]
async fn the_window_endpoint_answers_the_aggregators_window_as_json() {
    let agent = Agent::start().await;
    agent.requests("shop/web", "shop/v1 web&x=y", 500, 2);
    agent.requests("shop/web", "other", 200, 1);
    let url = format!(
        "{}/v1/metrics/window?gateway=shop%2Fweb&route=shop%2Fv1+web%26x%3Dy&window=60",
        agent.url
    );
    let (status, content_type, body) = get(&url).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let window: MetricsWindow = serde_json::from_str(&body).unwrap();
    assert_eq!((window.requests, window.status), (2, [0, 0, 0, 0, 2]));
    let (_, _, body) = get(&format!(
        "{}/v1/metrics/window?gateway=shop/web&window=0.5",
        agent.url
    ))
    .await;
    let all: MetricsWindow = serde_json::from_str(&body).unwrap();
    assert_eq!(
        all,
        agent.aggregator.window_now("shop/web", None, MINUTE).unwrap()
    );
}

#[tokio::test]
async fn bad_window_parameters_are_400_with_a_json_error() {
    let agent = Agent::start().await;
    for query in [
        "",
        "?window=60",
        "?gateway=g",
        "?gateway=g&window=0",
        "?gateway=g&window=-5",
        "?gateway=g&window=ten",
        "?gateway=g&window=inf",
        "?gateway=g&window=99999999999",
        "?gateway=g&route=&window=5",
        "?gateway=%E0%A4&window=5",
        "?gateway=%&window=5",
        "?gateway=a&gateway=b&window=5",
    ] {
        let (status, content_type, body) = get(&format!("{}/v1/metrics/window{query}", agent.url)).await;
        assert_eq!(
            (status, content_type.as_str()),
            (400, "application/json"),
            "{query}: {body}"
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(!body["error"].as_str().unwrap().is_empty(), "{query}");
    }
}

#[tokio::test]
async fn the_client_merges_the_windows_of_every_agent() {
    let (a, b) = (Agent::start().await, Agent::start().await);
    a.requests("shop", "shop/v1", 200, 3);
    b.requests("shop", "shop/v1", 503, 2);
    b.requests("shop", "shop/v2", 200, 1);
    let client = AgentMetricsSource::new([&a.url, &b.url], Duration::from_secs(5)).unwrap();
    let v1 = client.window("shop", Some("shop/v1"), MINUTE).await.unwrap();
    assert_eq!((v1.requests, v1.status), (5, [0, 3, 0, 0, 2]));
    assert_eq!(v1.latency.count(), 5);
    assert_eq!(client.window("shop", None, MINUTE).await.unwrap().requests, 6);
    assert_eq!(
        client.window("nothing", None, MINUTE).await.unwrap(),
        MetricsWindow::new()
    );
}

#[tokio::test]
async fn an_unreachable_agent_is_left_out_while_another_answers() {
    let a = Agent::start().await;
    a.requests("shop", "shop/v1", 200, 3);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let client = AgentMetricsSource::new([a.url.as_str(), dead.as_str()], Duration::from_secs(5)).unwrap();
    assert_eq!(client.window("shop", None, MINUTE).await.unwrap().requests, 3);
}

#[tokio::test]
async fn no_agent_answering_is_unavailable_naming_them() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let client = AgentMetricsSource::new([dead.as_str()], Duration::from_secs(5)).unwrap();
    let e = client.window("shop", None, MINUTE).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Unavailable { .. }));
    assert!(e.message().contains(&dead), "{e}");
}

#[tokio::test]
async fn a_window_the_agent_refuses_is_invalid() {
    let a = Agent::start().await;
    let client = AgentMetricsSource::new([&a.url], Duration::from_secs(5)).unwrap();
    let e = client
        .window("shop", None, Duration::from_secs(400 * 24 * 3600))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    let e = client.window("shop", None, Duration::ZERO).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
}
