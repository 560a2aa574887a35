//! The pulse loop: every `pulse.period-ms` it publishes the health, metrics and allocation events of every
//! gateway, route, service, cluster and deployment ([`Vamp::publish_pulse`]) — the original's stock `health`,
//! `metrics` and `allocation` workflows, run natively. Off when the period is 0.

use tokio::sync::watch;

use crate::vamp::Vamp;

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    let Some(period) = vamp.settings().pulse.period() else {
        return;
    };
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(period) => {}
        }
        match vamp.publish_pulse().await {
            Ok(published) => tracing::debug!(published, "pulse events published"),
            Err(e) => tracing::warn!(error = %e, "publishing the pulse events failed; retrying next period"),
        }
    }
}
