//! `/info` and `/health`: what this server is (version, uuid, running since) and whether each component —
//! artifact store, event store, KV store, container driver, gateway marshaller — answers; and gateway metrics
//! windows from the configured metrics source.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use vamp_core::kv::Key;
use vamp_core::metrics::MetricsWindow;
use vamp_core::model::{EventQuery, Kind};
use vamp_core::store::Page;
use vamp_core::Result;

use crate::vamp::Vamp;

/// One component of the server and whether it answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentInfo {
    /// `persistence`, `pulse` (events), `key_value`, `container_driver`, `gateway_driver`.
    pub name: String,
    /// Whether it answered.
    pub ok: bool,
    /// What it reported (kind, version, …).
    pub details: serde_json::Value,
    /// The error when it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `GET /info`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Info {
    /// A sentence for people.
    pub message: String,
    /// The server's version.
    pub version: String,
    /// This instance's id (random at start).
    pub uuid: String,
    /// When this instance started.
    pub running_since: DateTime<Utc>,
    /// The namespace.
    pub namespace: String,
    /// Every component; the API answers 500 when one is not `ok`, as the original did.
    pub components: Vec<ComponentInfo>,
}

impl Info {
    /// Whether every component answered.
    pub fn ok(&self) -> bool {
        self.components.iter().all(|c| c.ok)
    }
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// Whether every component answered.
    pub healthy: bool,
    /// The components that did not, with their errors.
    pub failing: Vec<ComponentInfo>,
}

fn component(name: &str, outcome: Result<serde_json::Value>) -> ComponentInfo {
    match outcome {
        Ok(details) => ComponentInfo {
            name: name.to_string(),
            ok: true,
            details,
            message: None,
        },
        Err(e) => ComponentInfo {
            name: name.to_string(),
            ok: false,
            details: serde_json::Value::Null,
            message: Some(e.to_string()),
        },
    }
}

impl Vamp {
    /// What this server is and whether each component answers (each is asked once, concurrently).
    pub async fn info(&self) -> Info {
        let inner = &self.inner;
        let persistence = async {
            let listed = inner.artifacts.list(Kind::Breed, Page::first(1)).await?;
            Ok(serde_json::json!({ "breeds": listed.total }))
        };
        let events = async {
            inner
                .events
                .query(&EventQuery::tags(["vamp-info-probe"]), Page::first(1))
                .await?;
            Ok(serde_json::json!({}))
        };
        let kv = async {
            let key = Key::parse(&format!("/vamp/{}", self.namespace()))?;
            inner.kv.get(&key).await?;
            Ok(serde_json::json!({}))
        };
        let driver = async {
            let info = inner.driver.info().await?;
            Ok(serde_json::json!({
                "kind": info.kind,
                "version": info.version,
                "deployable_types": info.deployable_types,
            }))
        };
        let (persistence, events, kv, driver) = futures::join!(persistence, events, kv, driver);
        let marshaller = inner.marshaller.info();
        let gateway = Ok(serde_json::json!({ "kind": marshaller.kind, "version": marshaller.version }));
        Info {
            message: "Hi, I'm Vamp! How are you?".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uuid: inner.uuid.clone(),
            running_since: inner.started,
            namespace: self.namespace().to_string(),
            components: vec![
                component("persistence", persistence),
                component("pulse", events),
                component("key_value", kv),
                component("container_driver", driver),
                component("gateway_driver", gateway),
            ],
        }
    }

    /// Whether every component answers and, with an embedded gateway agent, whether HAProxy took the
    /// configuration it was last given (a refused one fails as `gateway_agent`, naming the gateways HAProxy's
    /// message points at).
    pub async fn health(&self) -> Health {
        let info = self.info().await;
        let mut failing: Vec<ComponentInfo> = info.components.into_iter().filter(|c| !c.ok).collect();
        failing.extend(self.agent_health().await.filter(|c| !c.ok));
        Health {
            healthy: failing.is_empty(),
            failing,
        }
    }

    /// The requests through `gateway` (and `route`, a route path of it) completed within the last `window`,
    /// from the configured metrics source (the embedded agent's access-log aggregator in the embedded
    /// default). A gateway without traffic has an empty window; a zero window is `Invalid`.
    pub async fn metrics(
        &self,
        gateway: &str,
        route: Option<&str>,
        window: Duration,
    ) -> Result<MetricsWindow> {
        self.inner.metrics.window(gateway, route, window).await
    }
}
