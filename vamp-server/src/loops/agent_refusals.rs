//! Every configuration the embedded agent's HAProxy refuses becomes an event of type `gateway-agent` tagged
//! `gateway-agent:refused` and `gateways:<name>` for each gateway HAProxy's message points at, with the message
//! as its value.

use tokio::sync::watch;
use vamp_core::model::Event;

use crate::vamp::Vamp;

/// The tag of refusal events.
pub(crate) const REFUSED_TAG: &str = "gateway-agent:refused";

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    let Some(agent) = vamp.inner.agent.clone() else {
        return;
    };
    let mut status = agent.status();
    let mut reported = None;
    loop {
        let current = status.borrow_and_update().clone();
        if current.last_error.is_some() && current.last_error_at != reported {
            reported = current.last_error_at;
            if let Some(refusal) = vamp.refusal(&current).await {
                tracing::error!(gateways = ?refusal.gateways, "{}", refusal.describe());
                let mut tags = vec![REFUSED_TAG.to_string()];
                tags.extend(refusal.gateways.iter().map(|g| format!("gateways:{g}")));
                let value = serde_json::json!({
                    "message": refusal.describe(),
                    "gateways": refusal.gateways,
                });
                let event = Event::new(tags, value).with_type("gateway-agent");
                if let Err(e) = vamp.inner.events.publish(event).await {
                    tracing::warn!(error = %e, "the refusal event could not be published");
                }
            }
        }
        tokio::select! {
            changed = status.changed() => if changed.is_err() { return },
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
