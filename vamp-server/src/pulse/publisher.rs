//! One pulse pass: compute the figures of everything ([`Vamp::pulse`]) and publish them as events
//! ([`super::events::events`]). The pulse loop runs it every `pulse.period-ms`.

use futures::stream::{self, StreamExt};
use vamp_core::Result;

use super::events::events;
use crate::vamp::Vamp;

/// How many events of a pass are in flight at once: the event store's round trips overlap instead of adding up.
const IN_FLIGHT: usize = 16;

impl Vamp {
    /// Computes the figures of every gateway, route, service, cluster and deployment over the configured
    /// windows and publishes them, all stamped with one timestamp; returns how many events were published.
    /// Every event is tried; when some fail, the last failure is returned after the others were published.
    pub async fn publish_pulse(&self) -> Result<usize> {
        let pulse = self.pulse(self.settings().pulse.windows()).await?;
        let store = &self.inner.events;
        let outcomes: Vec<Result<_>> = stream::iter(events(&pulse, chrono::Utc::now()))
            .map(|event| store.publish(event))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut published = 0;
        let mut failure = None;
        for outcome in outcomes {
            match outcome {
                Ok(_) => published += 1,
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(published),
        }
    }
}
