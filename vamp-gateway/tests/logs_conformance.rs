//! The vamp-core metrics conformance suite against the aggregator, and against the agents' HTTP client reading
//! an aggregator through a running agent endpoint.

mod logs_support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vamp_core::metrics::{MetricsRecorder, MetricsSource, MetricsWindow, RequestSample};
use vamp_core::Result;
use vamp_gateway::agent::http::{self, AgentHealth, HttpState};
use vamp_gateway::agent::metrics_client::AgentMetricsSource;
use vamp_gateway::logs::aggregator::Aggregator;
use vamp_gateway::logs::forward::Forwarder;
use vamp_gateway::logs::names::Names;
use vamp_gateway::logs::pipeline::LogPipeline;

vamp_core::metrics_conformance!(aggregator, || async { Arc::new(Aggregator::default()) });

/// Records into an aggregator served by the agent endpoint; reads through [`AgentMetricsSource`].
struct ThroughAgent {
    aggregator: Arc<Aggregator>,
    client: AgentMetricsSource,
    server: JoinHandle<()>,
}

impl ThroughAgent {
    async fn start() -> ThroughAgent {
        let aggregator = Arc::new(Aggregator::default());
        let (_tx, health) = watch::channel(AgentHealth::default());
        let state = HttpState {
            health,
            logs: LogPipeline::new(Names::new(), aggregator.clone(), Forwarder::none()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = http::serve(listener, state).await;
        });
        let client = AgentMetricsSource::new([url], Duration::from_secs(5)).unwrap();
        ThroughAgent {
            aggregator,
            client,
            server,
        }
    }
}

impl Drop for ThroughAgent {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[async_trait]
impl MetricsSource for ThroughAgent {
    async fn window(&self, gateway: &str, route: Option<&str>, window: Duration) -> Result<MetricsWindow> {
        self.client.window(gateway, route, window).await
    }
}

#[async_trait]
impl MetricsRecorder for ThroughAgent {
    async fn record(&self, samples: &[RequestSample]) -> Result<()> {
        MetricsRecorder::record(&*self.aggregator, samples).await
    }
}

vamp_core::metrics_conformance!(through_agent_http, || async {
    Arc::new(ThroughAgent::start().await)
});
