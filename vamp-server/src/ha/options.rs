//! [`LeaseOptions`]: the timing of an etcd election.

use std::time::Duration;

use vamp_core::{Error, Result};

/// The timing of an etcd election.
///
/// The leader renews its lease every `keep_alive_interval` and stops leading when no renewal has succeeded for
/// `ttl - step_down_margin` (counted from when the last successful renewal was sent), that is at least
/// `step_down_margin` before etcd can expire the lease and let a standby in. A dead leader is replaced within
/// `ttl` plus the time a standby needs to notice (milliseconds: it watches the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseOptions {
    /// The lease's time to live; etcd counts in whole seconds, so it must be a whole number of seconds, at least
    /// 2 (etcd's minimum with its default election timeout). Default 5 s.
    pub ttl: Duration,
    /// How often the lease is renewed. Default `ttl / 5`.
    pub keep_alive_interval: Duration,
    /// How long before the lease can expire the leader steps down when renewals fail: the time the loops have to
    /// stop. Default `ttl / 4`.
    pub step_down_margin: Duration,
}

impl LeaseOptions {
    /// The options for a lease of `ttl`, with the default interval (`ttl / 5`) and margin (`ttl / 4`).
    pub fn with_ttl(ttl: Duration) -> Self {
        LeaseOptions {
            ttl,
            keep_alive_interval: ttl / 5,
            step_down_margin: ttl / 4,
        }
    }

    /// Refuses, with `Invalid`, a TTL that is not a whole number of seconds or is below 2 s, a margin of zero or
    /// of the TTL or more, and an interval that leaves fewer than two renewals before the leader would step down.
    pub fn validate(&self) -> Result<()> {
        if self.ttl.subsec_nanos() != 0 || self.ttl < Duration::from_secs(2) {
            return Err(Error::invalid(format!(
                "the HA lease TTL {:?} must be a whole number of seconds, at least 2 s",
                self.ttl
            )));
        }
        if self.step_down_margin.is_zero() || self.step_down_margin >= self.ttl {
            return Err(Error::invalid(format!(
                "the HA step-down margin {:?} must be above zero and below the lease TTL {:?}",
                self.step_down_margin, self.ttl
            )));
        }
        let window = self.ttl - self.step_down_margin;
        if self.keep_alive_interval.is_zero() || self.keep_alive_interval * 2 > window {
            return Err(Error::invalid(format!(
                "the HA keep-alive interval {:?} must be above zero and at most half of TTL - margin ({window:?}), \
                 so a leader gets at least two renewals before it steps down",
                self.keep_alive_interval
            )));
        }
        Ok(())
    }

    /// How long one etcd request may take before it counts as failed.
    pub(crate) fn request_timeout(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(500))
    }

    /// How long to wait before retrying after etcd failed.
    pub(crate) fn retry_delay(&self) -> Duration {
        self.keep_alive_interval
    }
}

impl Default for LeaseOptions {
    fn default() -> Self {
        Self::with_ttl(Duration::from_secs(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        assert!(LeaseOptions::default().validate().is_ok());
        assert!(LeaseOptions::with_ttl(Duration::from_secs(2)).validate().is_ok());
    }

    #[test]
    fn sub_second_or_tiny_ttls_are_refused() {
        assert!(LeaseOptions::with_ttl(Duration::from_millis(2500))
            .validate()
            .is_err());
        assert!(LeaseOptions::with_ttl(Duration::from_secs(1)).validate().is_err());
    }

    #[test]
    fn a_margin_of_the_whole_ttl_is_refused() {
        let options = LeaseOptions {
            step_down_margin: Duration::from_secs(5),
            ..LeaseOptions::default()
        };
        assert!(options.validate().is_err());
    }

    #[test]
    fn an_interval_without_two_renewals_before_step_down_is_refused() {
        let options = LeaseOptions {
            keep_alive_interval: Duration::from_secs(2),
            ..LeaseOptions::default()
        };
        assert!(options.validate().is_err());
    }
}
