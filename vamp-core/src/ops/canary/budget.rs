//! The error budget of a release: how the policy's `1 − confidence` is shared among every bound a release
//! may compute, so that an identical canary is rolled back in at most `1 − confidence` of its *releases* —
//! not of its intervals, and however often each interval is looked at.
//!
//! A release judges one interval per step below 100% (its *looks*); each interval compares the error rate and
//! each latency quantile of [`QUANTILES`] (its *tests*); each test bounds both sides (canary and baseline).
//! Every bound is a confidence sequence (`sequence`), valid at all sample sizes at once, so ticks within an
//! interval cost nothing; the looks, tests and sides share the budget evenly (Bonferroni):
//! `alpha = (1 − confidence) / (looks × tests × 2)`.

use serde::Serialize;

use crate::model::CanaryPolicy;

/// The latency quantiles compared, in percent: the median (typical requests) and the 90th percentile (the
/// slow tenth; a regression on part of the requests shows here first). The 99th percentile is too noisy to
/// compare at canary traffic; its absolute ceiling is `max_p99`.
pub const QUANTILES: [u8; 2] = [50, 90];

/// The share of the budget each bound gets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Budget {
    /// Intervals a release judges: its steps below 100% (at least 1).
    pub looks: u32,
    /// Comparisons per interval: the error rate and each latency quantile.
    pub tests: u32,
    /// The level of each confidence sequence: `(1 − confidence) / (looks × tests × 2)`.
    pub alpha: f64,
}

impl Budget {
    /// The budget of a release under `policy`.
    pub fn of(policy: &CanaryPolicy) -> Budget {
        let looks = policy.steps.iter().filter(|s| s.0 < 100).count().max(1) as u32;
        let tests = 1 + QUANTILES.len() as u32;
        Budget {
            looks,
            tests,
            alpha: policy.alpha() / f64::from(looks * tests * 2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Percentage;

    #[test]
    fn the_budget_is_shared_by_looks_tests_and_sides() {
        let mut p = CanaryPolicy::new("a", "b");
        let b = Budget::of(&p);
        assert_eq!(
            (b.looks, b.tests),
            (4, 3),
            "steps 5, 10, 25, 50 are judged; 100 is the promotion"
        );
        assert!((b.alpha - 0.05 / 24.0).abs() < 1e-15);
        p.steps = vec![Percentage(100)];
        assert_eq!(Budget::of(&p).looks, 1);
    }
}
