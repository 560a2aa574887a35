//! `Progress`: a canary's interval in progress, as the canary loop checkpoints it — the policy and the canary
//! weight it belongs to, when it started and when it is judged next (wall clock), the consecutive waits, and
//! both samples accumulated so far. Pure: the time comes in as `now`; the server stores and reads it.
//!
//! **Waits accumulate.** A `Wait` (too few samples) keeps the samples: the interval is extended by one interval
//! length ([`Progress::waited`]), the samples keep accumulating, and the wait counter counts the extensions, so
//! the judge's `max_waits` is "intervals without enough samples in a row". A low-traffic canary therefore
//! gathers evidence across intervals instead of being judged on one interval's handful of requests.
//!
//! **Resuming.** A checkpoint records when it was written; [`Progress::resumed`] keeps the time the interval had
//! left at that moment, so the time the loop was not running (a restart, a change of leader) neither counts
//! towards the interval nor ends it at once with the samples of the downtime missing.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::judge::Interval;
use super::sample::Sample;
use crate::model::CanaryPolicy;

/// A canary's interval in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The gateway the canary runs on: a user gateway's name, or `deployment/cluster/port`.
    pub gateway: String,
    /// The policy the interval runs under, in its canonical (serialized) form: any change of it starts over.
    pub policy: serde_json::Value,
    /// The canary's weight during the interval: any change of it starts over.
    pub weight: u8,
    /// When the interval started.
    pub started: DateTime<Utc>,
    /// When it is judged (the end of the interval, extended by every wait).
    pub due: DateTime<Utc>,
    /// Consecutive waits in this interval so far.
    pub waits: u32,
    /// The baseline's requests accumulated since `started`.
    pub baseline: Sample,
    /// The canary's requests accumulated since `started`.
    pub canary: Sample,
    /// When this state was last brought up to date (the checkpoint's time).
    pub checkpointed: DateTime<Utc>,
}

/// The canonical form of `policy` a [`Progress`] is compared with.
pub fn policy_fingerprint(policy: &CanaryPolicy) -> serde_json::Value {
    serde_json::to_value(policy).unwrap_or(serde_json::Value::Null)
}

fn interval_length(policy: &CanaryPolicy) -> Duration {
    Duration::seconds(i64::try_from(policy.interval.0).unwrap_or(i64::MAX / 1000))
}

impl Progress {
    /// A new interval of `policy` on `gateway` with the canary at `weight`, starting `now`, no samples yet.
    pub fn start(
        gateway: impl Into<String>,
        policy: &CanaryPolicy,
        weight: u8,
        now: DateTime<Utc>,
    ) -> Progress {
        Progress {
            gateway: gateway.into(),
            policy: policy_fingerprint(policy),
            weight,
            started: now,
            due: now + interval_length(policy),
            waits: 0,
            baseline: Sample::default(),
            canary: Sample::default(),
            checkpointed: now,
        }
    }

    /// Whether this is the interval of `policy` with the canary at `weight`.
    pub fn belongs_to(&self, policy: &CanaryPolicy, weight: u8) -> bool {
        self.weight == weight && self.policy == policy_fingerprint(policy)
    }

    /// Whether the interval is to be judged at `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        now >= self.due
    }

    /// The accumulated samples plus `baseline` and `canary` read since they were last added.
    pub fn with(&self, baseline: &Sample, canary: &Sample) -> (Sample, Sample) {
        (self.baseline.plus(baseline), self.canary.plus(canary))
    }

    /// Adds what was read since the last call (see [`Progress::with`]) and marks the state current at `now`.
    pub fn accumulate(&mut self, baseline: &Sample, canary: &Sample, now: DateTime<Utc>) {
        (self.baseline, self.canary) = self.with(baseline, canary);
        self.checkpointed = now;
    }

    /// What the judge looks at: `policy` (the one this interval belongs to), the canary's weight, the samples
    /// given (the accumulated ones, see [`Progress::with`]) and the waits so far.
    pub fn interval<'a>(
        &self,
        policy: &'a CanaryPolicy,
        baseline: &'a Sample,
        canary: &'a Sample,
    ) -> Interval<'a> {
        Interval {
            policy,
            canary_weight: self.weight,
            baseline,
            canary,
            waits: self.waits,
        }
    }

    /// The judge decided `Wait` at `now`: one more wait, judged again one interval length later, the samples
    /// kept.
    pub fn waited(&mut self, policy: &CanaryPolicy, now: DateTime<Utc>) {
        self.waits = self.waits.saturating_add(1);
        self.due = now + interval_length(policy);
    }

    /// The state to go on from at `now` after the loop was not running since `checkpointed`: what the
    /// interval had left then is what it has left now (never less than nothing), everything else as
    /// checkpointed.
    pub fn resumed(mut self, now: DateTime<Utc>) -> Progress {
        let left = (self.due - self.checkpointed).max(Duration::zero());
        self.due = now + left;
        self.checkpointed = now;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CanaryStatus, Seconds};
    use crate::ops::canary::{judge, Decision};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn policy() -> CanaryPolicy {
        let mut p = CanaryPolicy::new("a/web", "b/web");
        p.interval = Seconds(10);
        p.min_requests = 100;
        p.max_waits = 3;
        p
    }

    #[test]
    fn an_interval_is_due_one_interval_length_after_it_started() {
        let p = Progress::start("shop", &policy(), 10, at(0));
        assert!(!p.is_due(at(9)));
        assert!(p.is_due(at(10)));
        assert_eq!((p.waits, p.baseline.requests), (0, 0));
    }

    #[test]
    fn it_belongs_to_its_policy_and_weight_only() {
        let p = Progress::start("shop", &policy(), 10, at(0));
        assert!(p.belongs_to(&policy(), 10));
        assert!(!p.belongs_to(&policy(), 25));
        let mut other = policy();
        other.min_requests = 20;
        assert!(!p.belongs_to(&other, 10));
        let mut paused = policy();
        paused.status = CanaryStatus::Paused;
        assert!(!p.belongs_to(&paused, 10));
    }

    #[test]
    fn a_wait_keeps_the_samples_and_extends_the_interval_by_one_length() {
        let policy = policy();
        let mut p = Progress::start("shop", &policy, 10, at(0));
        p.accumulate(&Sample::uniform(60, 0, 5.0), &Sample::uniform(8, 0, 5.0), at(5));
        let (b, c) = p.with(&Sample::uniform(30, 0, 5.0), &Sample::uniform(4, 0, 5.0));
        let first = judge(&p.interval(&policy, &b, &c));
        assert_eq!(first.decision, Decision::Wait);
        p.accumulate(&Sample::uniform(30, 0, 5.0), &Sample::uniform(4, 0, 5.0), at(10));
        p.waited(&policy, at(10));
        assert_eq!(p.waits, 1);
        assert!(!p.is_due(at(19)) && p.is_due(at(20)));
        assert_eq!((p.baseline.requests, p.canary.requests), (90, 12));
        assert_eq!(p.started, at(0), "the interval is extended, not restarted");

        p.accumulate(
            &Sample::uniform(200, 0, 5.0),
            &Sample::uniform(100, 0, 5.0),
            at(20),
        );
        let (b, c) = p.with(&Sample::default(), &Sample::default());
        let judged = judge(&p.interval(&policy, &b, &c));
        assert_eq!(
            judged.numbers.canary.requests, 112,
            "judged on everything since the interval started"
        );
        assert!(
            matches!(judged.decision, Decision::Advance { .. }),
            "{}",
            judged.reason
        );
    }

    #[test]
    fn waits_count_towards_the_pause() {
        let policy = policy();
        let mut p = Progress::start("shop", &policy, 10, at(0));
        let mut decisions = Vec::new();
        for i in 1..=4 {
            let judged = judge(&p.interval(&policy, &p.baseline, &p.canary));
            decisions.push(judged.decision.name());
            p.waited(&policy, at(10 * i));
        }
        assert_eq!(decisions, ["wait", "wait", "wait", "pause"]);
    }

    #[test]
    fn a_resumed_interval_keeps_the_time_it_had_left() {
        let policy = policy();
        let mut p = Progress::start("shop", &policy, 10, at(0));
        p.accumulate(&Sample::uniform(40, 1, 5.0), &Sample::uniform(4, 0, 5.0), at(6));
        let stored: Progress = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        let r = stored.resumed(at(100));
        assert_eq!(r.due, at(104), "4 s were left at the checkpoint");
        assert_eq!((r.baseline.requests, r.baseline.errors), (40, 1));
        assert_eq!(r.started, at(0));
        assert!(r.belongs_to(&policy, 10));
        let mut late = Progress::start("shop", &policy, 10, at(0));
        late.checkpointed = at(12);
        assert_eq!(
            late.resumed(at(50)).due,
            at(50),
            "an overdue interval is judged at once"
        );
    }
}
