//! `EventSettings`: how long the event store keeps events and how often the retention loop deletes older ones
//! (`events:` in the `vamp serve` configuration).
//!
//! The server publishes health and metrics events every few seconds per gateway and route, besides SLA, canary
//! and archive events; without retention the event store grows without end (SQLite: about 0.7 GB a day for ten
//! gateways).

use std::time::Duration;

use serde::Deserialize;

/// The event retention settings (the `events` table of the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct EventSettings {
    /// How long events are kept, in seconds (86400, one day): events stamped longer ago are deleted. 0 keeps
    /// events forever (the retention loop does not run). Applies to every event, archive events included.
    pub retention_s: u64,
    /// How often the retention loop deletes, in milliseconds (60000). 0 turns the loop off, so events are kept
    /// forever.
    pub prune_period_ms: u64,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            retention_s: 86_400,
            prune_period_ms: 60_000,
        }
    }
}

impl EventSettings {
    /// How long events are kept; `None` when they are kept forever.
    pub fn retention(&self) -> Option<Duration> {
        (self.retention_s > 0).then(|| Duration::from_secs(self.retention_s))
    }

    /// How often the retention loop runs; `None` when it is off.
    pub fn prune_period(&self) -> Option<Duration> {
        (self.prune_period_ms > 0).then(|| Duration::from_millis(self.prune_period_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_events_are_kept_a_day_and_pruned_every_minute() {
        let s = EventSettings::default();
        assert_eq!(s.retention(), Some(Duration::from_secs(86_400)));
        assert_eq!(s.prune_period(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn keys_are_kebab_case_and_zero_keeps_events_forever() {
        let s: EventSettings = serde_json::from_str(r#"{"retention-s": 0, "prune-period-ms": 250}"#).unwrap();
        assert_eq!(s.retention(), None);
        assert_eq!(s.prune_period(), Some(Duration::from_millis(250)));
        let off: EventSettings = serde_json::from_str(r#"{"prune-period-ms": 0}"#).unwrap();
        assert_eq!((off.retention_s, off.prune_period()), (86_400, None));
    }

    #[test]
    fn the_server_settings_carry_them_under_events() {
        let s: crate::ServerSettings = serde_json::from_str(r#"{"events": {"retention-s": 3600}}"#).unwrap();
        assert_eq!(s.events.retention(), Some(Duration::from_secs(3600)));
        assert_eq!(s.events.prune_period_ms, 60_000);
    }

    #[test]
    fn the_serve_configuration_passes_them_to_the_server() {
        let config: crate::config::ServeConfig =
            serde_json::from_str(r#"{"events": {"retention-s": 600, "prune-period-ms": 1000}}"#).unwrap();
        let events = config.settings().events;
        assert_eq!(events.retention(), Some(Duration::from_secs(600)));
        assert_eq!(events.prune_period(), Some(Duration::from_secs(1)));
        assert_eq!(
            crate::config::ServeConfig::default().settings().events,
            EventSettings::default()
        );
    }
}
