//! `PulseSettings`: how often the pulse publisher publishes health, metrics and allocation events, and the
//! windows the figures are computed over (`pulse:` in the `vamp serve` configuration).

use std::time::Duration;

use serde::Deserialize;

use super::figures::Windows;

/// The pulse settings. Events every 60 s (the original 1.x stock workflows' period; every event is stored, so
/// a shorter period costs storage — see `events.retention-s`), figures over the last 30 s (the original 0.9.2
/// workflows' window, and the API's default window). The API and Prometheus compute figures on request, so
/// they are fresh whatever the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct PulseSettings {
    /// How often the publisher publishes, in milliseconds (60000). 0 turns publishing off; the API and the
    /// Prometheus figures are computed on request and stay available.
    pub period_ms: u64,
    /// The window of the error figures (`errors`, `errorRate`, `health`, `score`), in seconds (30; at least 1).
    pub health_window_s: u64,
    /// The window of the traffic figures (`requests`, `rate`, `responseTime`, percentiles), in seconds (30; at
    /// least 1).
    pub metrics_window_s: u64,
}

impl Default for PulseSettings {
    fn default() -> Self {
        PulseSettings {
            period_ms: 60_000,
            health_window_s: 30,
            metrics_window_s: 30,
        }
    }
}

impl PulseSettings {
    /// The publishing period; `None` when publishing is off.
    pub fn period(&self) -> Option<Duration> {
        (self.period_ms > 0).then(|| Duration::from_millis(self.period_ms))
    }

    /// The health and metrics windows (a 0 is taken as 1 s).
    pub fn windows(&self) -> Windows {
        Windows {
            health: Duration::from_secs(self.health_window_s.max(1)),
            metrics: Duration::from_secs(self.metrics_window_s.max(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_minute_over_thirty_seconds() {
        let s = PulseSettings::default();
        assert_eq!(s.period(), Some(Duration::from_secs(60)));
        assert_eq!(s.windows(), Windows::both(Duration::from_secs(30)));
    }

    #[test]
    fn keys_are_kebab_case_and_zero_period_turns_publishing_off() {
        let s: PulseSettings =
            serde_json::from_str(r#"{"period-ms": 0, "health-window-s": 2, "metrics-window-s": 0}"#).unwrap();
        assert_eq!(s.period(), None);
        assert_eq!(s.windows().health, Duration::from_secs(2));
        assert_eq!(s.windows().metrics, Duration::from_secs(1));
    }

    #[test]
    fn the_server_settings_carry_them_under_pulse() {
        let s: crate::ServerSettings = serde_json::from_str(r#"{"pulse": {"period-ms": 250}}"#).unwrap();
        assert_eq!(s.pulse.period(), Some(Duration::from_millis(250)));
        assert_eq!(s.pulse.health_window_s, 30);
    }
}
