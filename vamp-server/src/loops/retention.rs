//! The retention loop: at start and then every `events.prune-period-ms`, it deletes the events stamped more than
//! `events.retention-s` ago from the event store ([`vamp_core::store::EventStore::prune`]) and logs how many
//! went. Off when either setting is 0: events are then kept forever.
//!
//! Like every loop it runs on the leader only, never panics, logs a failed prune and tries again next period
//! (what a failed prune left is deleted then), and stops on the `stop` watch, also in the middle of a prune:
//! backends delete in steps (a SQL store finishes the batch in progress), so an interrupted prune leaves whole
//! events, and the next one goes on.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};

use super::next_pass;
use crate::vamp::Vamp;

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    let settings = vamp.settings().events;
    let (Some(retention), Some(period)) = (settings.retention(), settings.prune_period()) else {
        tracing::info!(
            "event retention is off (events.retention-s or events.prune-period-ms is 0): events are kept forever"
        );
        return;
    };
    let never = Notify::new();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = prune(&vamp, retention) => {}
        }
        if !next_pass(&never, period, &mut stop).await {
            return;
        }
    }
}

/// The bound of a prune at `now`: events stamped before it are older than `retention`. `None` when that lies
/// before the calendar starts, so nothing is old enough.
fn bound(now: DateTime<Utc>, retention: Duration) -> Option<DateTime<Utc>> {
    chrono::Duration::from_std(retention)
        .ok()
        .and_then(|r| now.checked_sub_signed(r))
}

/// One prune, logged.
async fn prune(vamp: &Vamp, retention: Duration) {
    let Some(before) = bound(Utc::now(), retention) else {
        return;
    };
    match vamp.inner.events.prune(before).await {
        Ok(0) => tracing::debug!(%before, "no event older than the retention"),
        Ok(pruned) => tracing::info!(
            pruned,
            %before,
            retention_s = retention.as_secs(),
            "deleted {pruned} events older than the retention"
        ),
        Err(e) => tracing::warn!(error = %e, %before, "pruning old events failed; retrying next period"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_the_retention_before_now() {
        let now = Utc::now();
        assert_eq!(
            bound(now, Duration::from_secs(3600)),
            Some(now - chrono::Duration::hours(1))
        );
    }

    #[test]
    fn a_retention_longer_than_the_calendar_prunes_nothing() {
        assert_eq!(bound(Utc::now(), Duration::from_secs(u64::MAX)), None);
    }
}
