//! `SlaSettings`: how often the SLA loop checks the clusters' SLAs and applies the escalations of the SLA
//! events published since its last pass (`vamp.operation.sla.period` and `vamp.operation.escalation.period` of
//! the original, both 5 s; here one period for both).

use std::time::Duration;

use serde::Deserialize;

/// The SLA loop's settings (the `sla` table of the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct SlaSettings {
    /// The period in milliseconds (5000, the original's). 0 turns the loop off: no SLA is checked and no
    /// escalation applied.
    pub period_ms: u64,
}

impl Default for SlaSettings {
    fn default() -> Self {
        SlaSettings { period_ms: 5_000 }
    }
}

impl SlaSettings {
    /// The period; `None` when the loop is off.
    pub fn period(&self) -> Option<Duration> {
        (self.period_ms > 0).then(|| Duration::from_millis(self.period_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_period_is_the_originals_five_seconds_and_zero_is_off() {
        assert_eq!(SlaSettings::default().period(), Some(Duration::from_secs(5)));
        let off: SlaSettings = serde_json::from_value(serde_json::json!({"period-ms": 0})).unwrap();
        assert_eq!(off.period(), None);
    }
}
