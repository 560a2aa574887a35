//! The judgement of one canary interval: baseline and canary samples in, a decision with every number it rests
//! on out.
//!
//! In order:
//! 1. A canary below the first step (0% when a release starts) is moved to the first step without judging.
//! 2. **Absolute ceilings** ([`ceiling_breach`]) roll back at once. The error ceiling has a fast path that does
//!    not wait for `min_requests`: once the canary's errors exceed `max_error_rate × min_requests`, its error
//!    rate over its first `min_requests` requests is above the ceiling whatever the remaining requests do, so the
//!    breach is certain. Otherwise a ceiling is judged on the observed value over at least `min_requests`
//!    requests. The loop also checks ceilings on every tick between judgements ([`early`]).
//! 3. **Too few samples** on either side (fewer than `min_requests`) → wait, never guess; after `max_waits`
//!    consecutive waits → pause.
//! 4. **Comparison** at the policy's confidence, split over the two tests (Bonferroni: each at `α/2`, so an
//!    identical canary is rolled back by chance in at most `α` of the intervals): the canary is worse when its
//!    error rate is significantly higher (two-proportion z-test) *and* higher by at least `error_margin`
//!    percentage points, or its latencies significantly higher (Mann-Whitney U) *and* its mean at least
//!    `latency_margin` (relative) and `latency_floor` (absolute) above the baseline's. The margins are the
//!    effect-size gate: with thousands of requests a 0.1% difference is significant but not a regression, and
//!    a sub-millisecond service differs by scheduling noise alone.
//! 5. Otherwise the interval passed: advance to the next step; after the last step (or at 100%) promote.

use serde::Serialize;

use super::sample::Sample;
use super::stats::{mann_whitney_greater, two_proportion_greater, MannWhitney, ProportionTest};
use crate::model::CanaryPolicy;

/// What a judgement decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Too few samples: keep the weights and judge again next interval.
    Wait,
    /// Too many waits: keep the weights and stop judging (`status: paused`).
    Pause,
    /// The canary failed: canary 0%, baseline 100% (`status: rolled_back`).
    Rollback,
    /// The interval passed: the canary gets `to_weight`, the baseline the rest.
    Advance {
        /// The canary's new weight.
        to_weight: u8,
    },
    /// The last step passed: canary 100%, baseline 0% (`status: promoted`).
    Promote,
}

impl Decision {
    /// The decision's name, as in the event tag `canary:<name>`: `wait`, `pause`, `rollback`, `advance`,
    /// `promote`.
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Wait => "wait",
            Decision::Pause => "pause",
            Decision::Rollback => "rollback",
            Decision::Advance { .. } => "advance",
            Decision::Promote => "promote",
        }
    }

    /// The canary's weight after the decision; `None` when it keeps its weight.
    pub fn canary_weight(&self) -> Option<u8> {
        match self {
            Decision::Wait | Decision::Pause => None,
            Decision::Rollback => Some(0),
            Decision::Advance { to_weight } => Some(*to_weight),
            Decision::Promote => Some(100),
        }
    }
}

/// One side's figures over the interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// Requests.
    pub requests: u64,
    /// 5xx answers.
    pub errors: u64,
    /// errors / requests; `None` without requests.
    pub error_rate: Option<f64>,
    /// Mean latency in ms.
    pub mean_ms: Option<f64>,
    /// Median latency in ms (bucket upper bound).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency in ms (bucket upper bound).
    pub p99_ms: Option<f64>,
}

impl Side {
    fn of(s: &Sample) -> Side {
        Side {
            requests: s.requests,
            errors: s.errors,
            error_rate: s.error_rate(),
            mean_ms: s.mean_ms(),
            p50_ms: s.percentile_ms(50.0),
            p99_ms: s.percentile_ms(99.0),
        }
    }
}

/// Every number a judgement rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Numbers {
    /// The baseline's figures.
    pub baseline: Side,
    /// The canary's figures.
    pub canary: Side,
    /// The error test (canary worse?); `None` when a side has no requests.
    pub errors: Option<ProportionTest>,
    /// The latency test (canary slower?); `None` when a side has no latencies.
    pub latency: Option<MannWhitney>,
    /// The significance level of each test: (1 − confidence) / 2.
    pub alpha: f64,
    /// The fewest requests per side for a verdict.
    pub min_requests: u64,
}

impl Numbers {
    /// The figures and both tests of two samples under `policy`.
    pub fn of(policy: &CanaryPolicy, baseline: &Sample, canary: &Sample) -> Numbers {
        Numbers {
            baseline: Side::of(baseline),
            canary: Side::of(canary),
            errors: two_proportion_greater(
                canary.errors,
                canary.requests,
                baseline.errors,
                baseline.requests,
            ),
            latency: mann_whitney_greater(&canary.buckets, &baseline.buckets),
            alpha: policy.alpha() / 2.0,
            min_requests: policy.min_requests,
        }
    }
}

/// A decision, why, and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// What to do.
    #[serde(flatten)]
    pub decision: Decision,
    /// Why, in one sentence with the deciding figures.
    pub reason: String,
    /// Every figure and test result.
    pub numbers: Numbers,
}

/// What one judgement looks at.
#[derive(Debug, Clone, Copy)]
pub struct Interval<'a> {
    /// The policy.
    pub policy: &'a CanaryPolicy,
    /// The canary route's weight during the interval.
    pub canary_weight: u8,
    /// The baseline's requests in the interval.
    pub baseline: &'a Sample,
    /// The canary's requests in the interval.
    pub canary: &'a Sample,
    /// Consecutive waits before this interval.
    pub waits: u32,
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "n/a".to_string(), |s| format!("{:.2}%", s * 100.0))
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.1}ms"))
}

/// Why the canary is above an absolute ceiling, if it is (see the module doc for the error fast path);
/// `None` when it is not, or when no ceiling is set.
pub fn ceiling_breach(policy: &CanaryPolicy, canary: &Sample) -> Option<String> {
    let min = policy.min_requests;
    if let Some(max) = policy.max_error_rate {
        let limit = max.fraction();
        if canary.requests >= min {
            let rate = canary.errors as f64 / canary.requests as f64;
            if rate > limit {
                return Some(format!(
                    "the canary's error rate {} ({} of {} requests) is above the ceiling {max}",
                    percent(Some(rate)),
                    canary.errors,
                    canary.requests
                ));
            }
        } else if canary.errors as f64 > limit * min as f64 {
            return Some(format!(
                "the canary answered {} errors in {} requests: its error rate over the first {min} requests is above the ceiling {max} whatever the rest do",
                canary.errors, canary.requests
            ));
        }
    }
    if let Some(max) = policy.max_p99 {
        if canary.requests >= min {
            if let Some(p99) = canary.percentile_ms(99.0) {
                if p99 > max.0 as f64 {
                    return Some(format!(
                        "the canary's p99 latency {} is above the ceiling {max}",
                        ms(Some(p99))
                    ));
                }
            }
        }
    }
    None
}

/// The judgement between intervals: a rollback when the canary (its requests since the last judgement) is
/// above an absolute ceiling, else `None` (nothing to do until the interval ends).
pub fn early(interval: &Interval) -> Option<Judgement> {
    if interval.canary_weight == 0 {
        return None;
    }
    let reason = ceiling_breach(interval.policy, interval.canary)?;
    Some(Judgement {
        decision: Decision::Rollback,
        reason,
        numbers: Numbers::of(interval.policy, interval.baseline, interval.canary),
    })
}

/// The judgement at the end of an interval (see the module doc).
pub fn judge(interval: &Interval) -> Judgement {
    let policy = interval.policy;
    let numbers = Numbers::of(policy, interval.baseline, interval.canary);
    let done = |decision: Decision, reason: String| Judgement {
        decision,
        reason,
        numbers: numbers.clone(),
    };
    let first = policy.steps.first().map_or(100, |s| s.0);
    if interval.canary_weight < first {
        return done(
            Decision::Advance { to_weight: first },
            format!(
                "the release starts: the canary goes from {}% to the first step {first}%",
                interval.canary_weight
            ),
        );
    }
    if let Some(reason) = ceiling_breach(policy, interval.canary) {
        return done(Decision::Rollback, reason);
    }
    let (b, c) = (&numbers.baseline, &numbers.canary);
    if b.requests < policy.min_requests || c.requests < policy.min_requests {
        let waits = interval.waits.saturating_add(1);
        let too_few = format!(
            "too few samples to judge: baseline {} and canary {} requests, {} needed on each side",
            b.requests, c.requests, policy.min_requests
        );
        return if waits > policy.max_waits {
            done(
                Decision::Pause,
                format!(
                    "{too_few}; paused after {} intervals without enough samples",
                    waits
                ),
            )
        } else {
            done(
                Decision::Wait,
                format!("{too_few} (wait {waits} of {})", policy.max_waits),
            )
        };
    }
    if let (Some(t), Some(rate_c), Some(rate_b)) = (&numbers.errors, c.error_rate, b.error_rate) {
        if t.p_value < numbers.alpha && rate_c - rate_b >= policy.error_margin.fraction() {
            return done(
                Decision::Rollback,
                format!(
                    "the canary's error rate {} is significantly above the baseline's {} (z = {:.2}, p = {:.2e} < {:.3}) by more than the margin {}",
                    percent(Some(rate_c)),
                    percent(Some(rate_b)),
                    t.z,
                    t.p_value,
                    numbers.alpha,
                    policy.error_margin
                ),
            );
        }
    }
    if let (Some(t), Some(mean_c), Some(mean_b)) = (&numbers.latency, c.mean_ms, b.mean_ms) {
        let worse = mean_c >= mean_b * (1.0 + policy.latency_margin.fraction())
            && mean_c - mean_b >= policy.latency_floor.0 as f64;
        if t.p_value < numbers.alpha && worse {
            return done(
                Decision::Rollback,
                format!(
                    "the canary is significantly slower than the baseline (mean {} vs {}, U = {:.0}, z = {:.2}, p = {:.2e} < {:.3}) by more than the margins {} and {}",
                    ms(Some(mean_c)),
                    ms(Some(mean_b)),
                    t.u,
                    t.z,
                    t.p_value,
                    numbers.alpha,
                    policy.latency_margin,
                    policy.latency_floor
                ),
            );
        }
    }
    let passed = format!(
        "the canary at {}% is not worse than the baseline (errors {} vs {}, mean {} vs {})",
        interval.canary_weight,
        percent(c.error_rate),
        percent(b.error_rate),
        ms(c.mean_ms),
        ms(b.mean_ms)
    );
    match policy.next_step(interval.canary_weight) {
        Some(next) if next < 100 => done(
            Decision::Advance { to_weight: next },
            format!("{passed}; next step {next}%"),
        ),
        _ => done(
            Decision::Promote,
            format!("{passed}; the last step passed, promoted to 100%"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricsWindow;
    use crate::model::{Millis, Percentage, Rate};

    fn policy() -> CanaryPolicy {
        let mut p = CanaryPolicy::new("a", "b");
        p.steps = [10, 50, 100].map(Percentage).to_vec();
        p.min_requests = 50;
        p.max_waits = 2;
        p
    }

    fn judged(p: &CanaryPolicy, weight: u8, baseline: &Sample, canary: &Sample, waits: u32) -> Judgement {
        judge(&Interval {
            policy: p,
            canary_weight: weight,
            baseline,
            canary,
            waits,
        })
    }

    /// `n` requests with latencies spread over `from..from+spread` ms, `errors` of them 500s.
    fn spread(n: u64, errors: u64, from: f64, spread: f64) -> Sample {
        let mut w = MetricsWindow::new();
        for i in 0..n {
            let status = if i % n.max(1) < errors { 500 } else { 200 };
            w.record(status, from + spread * (i as f64 / n as f64));
        }
        Sample::of(&w)
    }

    #[test]
    fn a_release_at_zero_starts_at_the_first_step() {
        let j = judged(&policy(), 0, &spread(100, 0, 10.0, 5.0), &Sample::default(), 0);
        assert_eq!(j.decision, Decision::Advance { to_weight: 10 });
        assert!(j.reason.contains("starts"), "{}", j.reason);
    }

    #[test]
    fn a_healthy_canary_advances_step_by_step_then_promotes() {
        let p = policy();
        let (b, c) = (spread(900, 0, 10.0, 5.0), spread(100, 0, 10.0, 5.0));
        assert_eq!(
            judged(&p, 10, &b, &c, 0).decision,
            Decision::Advance { to_weight: 50 }
        );
        let j = judged(&p, 50, &b, &c, 0);
        assert_eq!(j.decision, Decision::Promote);
        assert_eq!(j.numbers.canary.requests, 100);
        assert_eq!(j.numbers.errors.map(|t| t.p_value), Some(1.0));
        assert!(
            j.numbers.latency.is_some_and(|t| t.p_value > 0.1),
            "{:?}",
            j.numbers.latency
        );
    }

    #[test]
    fn too_few_samples_wait_then_pause() {
        let p = policy();
        let (b, c) = (spread(900, 0, 10.0, 5.0), spread(49, 0, 10.0, 5.0));
        let j = judged(&p, 10, &b, &c, 0);
        assert_eq!(j.decision, Decision::Wait);
        assert!(j.reason.contains("too few samples"), "{}", j.reason);
        assert_eq!(judged(&p, 10, &b, &c, 1).decision, Decision::Wait);
        assert_eq!(judged(&p, 10, &b, &c, 2).decision, Decision::Pause);
        assert_eq!(
            judged(&p, 10, &c, &b, 0).decision,
            Decision::Wait,
            "the baseline needs samples too"
        );
    }

    #[test]
    fn twenty_percent_errors_roll_back_on_the_comparison() {
        let p = policy();
        let j = judged(&p, 10, &spread(450, 0, 10.0, 5.0), &spread(50, 10, 10.0, 5.0), 0);
        assert_eq!(j.decision, Decision::Rollback);
        assert!(j.reason.contains("significantly above"), "{}", j.reason);
        assert!(j.numbers.errors.is_some_and(|t| t.p_value < 0.025));
    }

    #[test]
    fn a_significant_but_tiny_error_difference_is_within_the_margin() {
        let p = policy();
        let j = judged(
            &p,
            50,
            &spread(200_000, 0, 10.0, 5.0),
            &spread(200_000, 200, 10.0, 5.0),
            0,
        );
        assert!(
            j.numbers.errors.is_some_and(|t| t.p_value < 1e-6),
            "{:?}",
            j.numbers.errors
        );
        assert_eq!(j.decision, Decision::Promote, "{}", j.reason);
    }

    #[test]
    fn a_significantly_slower_canary_rolls_back() {
        let p = policy();
        let j = judged(
            &p,
            10,
            &spread(500, 0, 10.0, 10.0),
            &spread(100, 0, 30.0, 10.0),
            0,
        );
        assert_eq!(j.decision, Decision::Rollback, "{}", j.reason);
        assert!(j.reason.contains("slower"), "{}", j.reason);
        assert!(j.numbers.latency.is_some_and(|t| t.effect > 0.9));
    }

    #[test]
    fn a_significant_sub_millisecond_difference_is_below_the_latency_floor() {
        let p = policy();
        let j = judged(
            &p,
            10,
            &spread(2_000, 0, 0.3, 0.1),
            &spread(2_000, 0, 0.5, 0.1),
            0,
        );
        assert!(
            j.numbers.latency.is_some_and(|t| t.p_value < 1e-6),
            "{:?}",
            j.numbers.latency
        );
        assert_eq!(j.decision, Decision::Advance { to_weight: 50 }, "{}", j.reason);
    }

    #[test]
    fn a_slightly_slower_canary_is_within_the_latency_margin() {
        let p = policy();
        let j = judged(
            &p,
            10,
            &spread(20_000, 0, 100.0, 10.0),
            &spread(20_000, 0, 103.0, 10.0),
            0,
        );
        assert!(
            j.numbers.latency.is_some_and(|t| t.p_value < 0.001),
            "{:?}",
            j.numbers.latency
        );
        assert_eq!(j.decision, Decision::Advance { to_weight: 50 }, "{}", j.reason);
    }

    #[test]
    fn the_error_ceiling_is_certain_before_min_requests() {
        let mut p = policy();
        p.max_error_rate = Some(Rate(5.0));
        let b = spread(900, 0, 10.0, 5.0);
        let j = judged(&p, 10, &b, &spread(20, 3, 10.0, 5.0), 0);
        assert_eq!(j.decision, Decision::Rollback, "3 > 5% of 50");
        assert!(j.reason.contains("whatever the rest do"), "{}", j.reason);
        assert_eq!(
            judged(&p, 10, &b, &spread(20, 2, 10.0, 5.0), 0).decision,
            Decision::Wait,
            "2 ≤ 2.5"
        );
        let j = judged(&p, 10, &b, &spread(200, 11, 10.0, 5.0), 0);
        assert_eq!(j.decision, Decision::Rollback, "5.5% > 5%");
        assert!(j.reason.contains("above the ceiling 5%"), "{}", j.reason);
    }

    #[test]
    fn the_latency_ceiling_needs_min_requests() {
        let mut p = policy();
        p.max_p99 = Some(Millis(100));
        let b = spread(900, 0, 10.0, 5.0);
        assert_eq!(
            judged(&p, 10, &b, &spread(20, 0, 300.0, 5.0), 0).decision,
            Decision::Wait
        );
        let j = judged(&p, 10, &b, &spread(60, 0, 300.0, 5.0), 0);
        assert_eq!(j.decision, Decision::Rollback);
        assert!(j.reason.contains("p99"), "{}", j.reason);
    }

    #[test]
    fn between_intervals_only_a_ceiling_acts() {
        let mut p = policy();
        let b = spread(900, 0, 10.0, 5.0);
        let bad = spread(60, 12, 10.0, 5.0);
        let at = |p: &CanaryPolicy, weight| {
            early(&Interval {
                policy: p,
                canary_weight: weight,
                baseline: &b,
                canary: &bad,
                waits: 0,
            })
        };
        assert!(at(&p, 10).is_none(), "no ceiling set");
        p.max_error_rate = Some(Rate(5.0));
        assert_eq!(at(&p, 10).map(|j| j.decision), Some(Decision::Rollback));
        assert!(at(&p, 0).is_none(), "nothing to roll back at 0%");
    }

    #[test]
    fn a_last_step_below_a_hundred_promotes_after_it() {
        let mut p = policy();
        p.steps = vec![Percentage(20)];
        let (b, c) = (spread(900, 0, 10.0, 5.0), spread(100, 0, 10.0, 5.0));
        assert_eq!(judged(&p, 20, &b, &c, 0).decision, Decision::Promote);
    }

    #[test]
    fn decisions_serialize_with_their_name_and_numbers() {
        let j = judged(
            &policy(),
            10,
            &spread(900, 0, 10.0, 5.0),
            &spread(100, 0, 10.0, 5.0),
            0,
        );
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["decision"], "advance");
        assert_eq!(v["to_weight"], 50);
        assert_eq!(v["numbers"]["canary"]["requests"], 100);
        assert!(v["numbers"]["latency"]["u"].is_number(), "{v}");
        assert!(v["numbers"]["errors"]["p_value"].is_number(), "{v}");
        assert_eq!(Decision::Rollback.canary_weight(), Some(0));
        assert_eq!(Decision::Wait.canary_weight(), None);
    }
}
