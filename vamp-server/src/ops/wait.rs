//! Waiting for a deployment to reach a state: the CLI's `--wait` and tests await convergence through it.

use std::time::Duration;

use tokio::time::Instant;
use vamp_core::model::{Deployment, Intention, Phase};
use vamp_core::{Error, Result};

use crate::vamp::Vamp;

/// Whether every service of `deployment` is `Deployment/Done` and none is still being undeployed.
pub fn converged(deployment: &Deployment) -> bool {
    deployment
        .clusters
        .iter()
        .flat_map(|c| &c.services)
        .all(|s| s.status.intention == Intention::Deployment && s.status.phase == Phase::Done)
}

/// The failure messages of the services of `deployment` that are `Failed`.
pub fn failures(deployment: &Deployment) -> Vec<String> {
    deployment
        .clusters
        .iter()
        .flat_map(|c| &c.services)
        .filter_map(|s| match &s.status.phase {
            Phase::Failed(message) => Some(message.clone()),
            _ => None,
        })
        .collect()
}

impl Vamp {
    /// Waits until `predicate` holds for the stored deployment `name` (`None` when it does not exist, so a
    /// caller can wait for a deployment to go away), checking on every change and at least every 100 ms.
    /// Returns the deployment as it was when the predicate held. Fails with `Unavailable` (retryable) naming
    /// the deployment when `timeout` passes first, and with the store's errors.
    pub async fn wait_for(
        &self,
        name: &str,
        predicate: impl Fn(Option<&Deployment>) -> bool,
        timeout: Duration,
    ) -> Result<Option<Deployment>> {
        let deadline = Instant::now() + timeout;
        loop {
            let current = self.deployment(name).await?;
            if predicate(current.as_ref()) {
                return Ok(current);
            }
            if Instant::now() >= deadline {
                return Err(Error::unavailable(format!(
                    "Deployment '{name}' did not reach the awaited state within {} s.",
                    timeout.as_secs_f64()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100).min(deadline - Instant::now())).await;
        }
    }
}
