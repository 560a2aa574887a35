//! The embedded gateway agent in `/health`: failing while HAProxy refuses the configuration it was last given,
//! naming the gateways HAProxy's message points at (through the configuration the gateway loop wrote).

use vamp_gateway::agent::watch::AgentStatus;
use vamp_gateway::haproxy::blame::gateways_in;
use vamp_gateway::haproxy::envelope::Envelope;
use vamp_gateway::haproxy::{HAPROXY_KIND, HAPROXY_VERSION};

use super::info::ComponentInfo;
use crate::vamp::Vamp;

/// A configuration HAProxy refused, as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The gateways HAProxy's message points at (may be empty).
    pub gateways: Vec<String>,
    /// What the agent reported.
    pub message: String,
}

impl Refusal {
    /// One sentence naming the gateways.
    pub(crate) fn describe(&self) -> String {
        let names: Vec<String> = self.gateways.iter().map(|g| format!("'{g}'")).collect();
        match names.as_slice() {
            [] => format!("HAProxy refused the gateway configuration: {}", self.message),
            [one] => format!(
                "HAProxy refused the gateway configuration because of gateway {one}: {}",
                self.message
            ),
            many => format!(
                "HAProxy refused the gateway configuration because of gateways {}: {}",
                many.join(", "),
                self.message
            ),
        }
    }
}

impl Vamp {
    /// The embedded agent as a `gateway_agent` health component; `None` without an embedded agent.
    pub(crate) async fn agent_health(&self) -> Option<ComponentInfo> {
        let agent = self.inner.agent.as_ref()?;
        let status = agent.status().borrow().clone();
        let details = serde_json::json!({
            "haproxy_running": status.haproxy_running,
            "applied_version": status.applied_version,
        });
        Some(match self.refusal(&status).await {
            None => ComponentInfo {
                name: "gateway_agent".into(),
                ok: true,
                details,
                message: None,
            },
            Some(refusal) => ComponentInfo {
                name: "gateway_agent".into(),
                ok: false,
                details: serde_json::json!({
                    "haproxy_running": status.haproxy_running,
                    "applied_version": status.applied_version,
                    "gateways": refusal.gateways,
                }),
                message: Some(refusal.describe()),
            },
        })
    }

    /// The refusal `status` records, with the gateways it is about; `None` when the last apply succeeded.
    pub(crate) async fn refusal(&self, status: &AgentStatus) -> Option<Refusal> {
        let message = status.last_error.clone()?;
        let gateways = match self.gateway_configuration(HAPROXY_KIND, HAPROXY_VERSION).await {
            Ok(Some(text)) => Envelope::parse(&text)
                .map(|e| gateways_in(&e, &message))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Some(Refusal { gateways, message })
    }
}
