//! `AgentMetricsSource`: the server's [`MetricsSource`], reading `GET /v1/metrics/window` of every gateway
//! agent over HTTP and merging the windows (each agent sees only the requests of its own HAProxy).
//!
//! Policy for unreachable agents: the agents are asked concurrently; if at least one answers, the merged
//! window of those that answered is returned and the others are logged as warnings (a window may then
//! undercount, but its rates and percentiles stay representative); if none answers, the call fails with
//! `Unavailable` naming every agent and why. An agent answering 400 makes the call fail with `Invalid` (the
//! input is wrong for every agent).

use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use vamp_core::metrics::{MetricsSource, MetricsWindow};
use vamp_core::{Error, ErrorKind, Result};

/// A [`MetricsSource`] over the HTTP endpoints of gateway agents.
#[derive(Debug, Clone)]
pub struct AgentMetricsSource {
    agents: Vec<reqwest::Url>,
    client: reqwest::Client,
}

impl AgentMetricsSource {
    /// A source reading the agents at `agents` (base URLs like `http://10.0.0.5:1989`), each request limited
    /// to `timeout`. Fails with `Invalid` for an empty list or a URL that is not `http`/`https`.
    pub fn new<I, S>(agents: I, timeout: Duration) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut urls = Vec::new();
        for agent in agents {
            let text = agent.as_ref();
            let mut url = reqwest::Url::parse(text)
                .map_err(|e| Error::invalid(format!("The gateway agent URL '{text}' is not a URL: {e}.")))?;
            if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
                return Err(Error::invalid(format!(
                    "The gateway agent URL '{text}' must be an http:// or https:// URL."
                )));
            }
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            let endpoint = url.join("v1/metrics/window").map_err(|e| {
                Error::invalid(format!("The gateway agent URL '{text}' cannot be extended: {e}."))
            })?;
            urls.push(endpoint);
        }
        if urls.is_empty() {
            return Err(Error::invalid(
                "At least one gateway agent URL is needed for metrics.",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::backend(format!("Cannot create the HTTP client for gateway agents: {e}.")))?;
        Ok(AgentMetricsSource { agents: urls, client })
    }

    async fn ask(
        &self,
        endpoint: &reqwest::Url,
        gateway: &str,
        route: Option<&str>,
        window: Duration,
    ) -> Result<MetricsWindow> {
        let mut url = endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("gateway", gateway);
            if let Some(route) = route {
                query.append_pair("route", route);
            }
            query.append_pair("window", &window.as_secs_f64().to_string());
        }
        let agent = endpoint.origin().ascii_serialization();
        let response = self.client.get(url).send().await.map_err(|e| {
            Error::unavailable(format!("gateway agent {agent} is unreachable: {e}")).with_source(e)
        })?;
        let status = response.status();
        if status.as_u16() == 400 {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let reason = body
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("bad request");
            return Err(Error::invalid(format!(
                "Gateway agent {agent} refused the metrics query: {reason}"
            )));
        }
        if !status.is_success() {
            return Err(Error::unavailable(format!(
                "gateway agent {agent} answered {status}"
            )));
        }
        response
            .json::<MetricsWindow>()
            .await
            .map_err(|e| Error::unavailable(format!("gateway agent {agent} sent an unreadable window: {e}")))
    }
}

#[async_trait]
impl MetricsSource for AgentMetricsSource {
    async fn window(&self, gateway: &str, route: Option<&str>, window: Duration) -> Result<MetricsWindow> {
        if window.is_zero() {
            return Err(Error::invalid(format!(
                "The metrics window of gateway '{gateway}' must be longer than zero."
            )));
        }
        let answers = join_all(self.agents.iter().map(|a| self.ask(a, gateway, route, window))).await;
        let mut merged = MetricsWindow::new();
        let mut answered = 0;
        let mut failures = Vec::new();
        for answer in answers {
            match answer {
                Ok(w) => {
                    merged.merge(&w);
                    answered += 1;
                }
                Err(e) if e.kind() == ErrorKind::Invalid => return Err(e),
                Err(e) => failures.push(e.message().to_string()),
            }
        }
        if answered == 0 {
            return Err(Error::unavailable(format!(
                "No gateway agent answered for the metrics of gateway '{gateway}': {}.",
                failures.join("; ")
            )));
        }
        if !failures.is_empty() {
            tracing::warn!(gateway, failures = %failures.join("; "), "some gateway agents did not answer; metrics are partial");
        }
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_urls_must_be_http_and_at_least_one() {
        let none: [&str; 0] = [];
        assert!(AgentMetricsSource::new(none, Duration::from_secs(1)).is_err());
        assert!(AgentMetricsSource::new(["ftp://x"], Duration::from_secs(1)).is_err());
        assert!(AgentMetricsSource::new(["not a url"], Duration::from_secs(1)).is_err());
        let s =
            AgentMetricsSource::new(["http://a:1989", "http://b/prefix"], Duration::from_secs(1)).unwrap();
        assert_eq!(s.agents[0].as_str(), "http://a:1989/v1/metrics/window");
        assert_eq!(s.agents[1].as_str(), "http://b/prefix/v1/metrics/window");
    }
}
