//! One pulse pass: compute the figures of everything ([`Vamp::pulse`]) and publish them as events
//! ([`super::events::events`]). The pulse loop runs it every `pulse.period-ms`.

use vamp_core::Result;

use super::events::events;
use crate::vamp::Vamp;

impl Vamp {
    /// Computes the figures of every gateway, route, service, cluster and deployment over the configured
    /// windows and publishes them; returns how many events were published. Every event is tried; when some
    /// fail, the last failure is returned after the others were published.
    pub async fn publish_pulse(&self) -> Result<usize> {
        let pulse = self.pulse(self.settings().pulse.windows()).await?;
        let mut published = 0;
        let mut failure = None;
        for event in events(&pulse, chrono::Utc::now()) {
            match self.inner.events.publish(event).await {
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
