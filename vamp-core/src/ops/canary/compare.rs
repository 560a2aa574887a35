//! The comparisons of a canary judgement: the error rates, and the latency quantiles of [`QUANTILES`], each as
//! an effect size (canary − baseline) with an always-valid interval (`sequence`) and a verdict against the
//! policy's margin.
//!
//! - **Errors**: the difference of the two 5xx rates; its interval is the canary's rate interval minus the
//!   baseline's. No normal approximation: 0 errors of 50 has a finite, correct upper bound, never NaN.
//! - **Latency**: for each quantile the shift of the canary's quantile over the baseline's. A quantile's
//!   interval comes from ranks (distribution-free: a few 40–50 ms stalls move a mean, not a median), read off
//!   the latency histogram with latencies spread evenly within each bucket. Equal latencies are ties on both
//!   sides alike, and the margin is never below [`RESOLUTION_MS`]: the agents log microseconds, but a gateway
//!   rendered from a user template without the start rule logs HAProxy's whole milliseconds, where a difference
//!   below one is not a difference.
//!
//! A verdict compares the interval to the margin: [`Verdict::Worse`] when even its lower end is beyond the
//! margin, [`Verdict::NotWorse`] when even its upper end is within it; otherwise the estimate decides whether
//! the canary looks fine so far ([`Verdict::Similar`]) or needs more samples ([`Verdict::Unclear`]).

use serde::Serialize;

use super::budget::{Budget, QUANTILES};
use super::sample::Sample;
use super::sequence::{quantile_ranks, rate_bounds};
use crate::metrics::bucket_upper_bound_ms;
use crate::model::CanaryPolicy;

/// The coarsest latency resolution a source may have: HAProxy's whole milliseconds.
pub const RESOLUTION_MS: f64 = 1.0;

/// What a comparison concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval is beyond the margin: the canary is worse.
    Worse,
    /// The whole interval is within the margin: the canary is shown not worse.
    NotWorse,
    /// Not proven either way, and the estimate is within the margin.
    Similar,
    /// Not proven either way, and the estimate is beyond the margin: more samples are needed before passing.
    Unclear,
}

impl Verdict {
    fn of(estimate: f64, lower: Option<f64>, upper: Option<f64>, margin: f64) -> Verdict {
        if lower.is_some_and(|l| l > margin) {
            Verdict::Worse
        } else if upper.is_some_and(|u| u <= margin) {
            Verdict::NotWorse
        } else if estimate > margin {
            Verdict::Unclear
        } else {
            Verdict::Similar
        }
    }
}

/// The error rates compared: shares as fractions (0.05 for 5%).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorComparison {
    /// The baseline's error rate.
    pub baseline_rate: f64,
    /// The canary's error rate.
    pub canary_rate: f64,
    /// canary − baseline.
    pub difference: f64,
    /// The lower end of the difference's interval.
    pub lower: f64,
    /// The upper end of the difference's interval.
    pub upper: f64,
    /// The policy's `error_margin`.
    pub margin: f64,
    /// What the comparison concludes.
    pub verdict: Verdict,
}

impl ErrorComparison {
    /// The comparison of two samples at `alpha` per side; `None` when a side has no requests.
    pub fn of(policy: &CanaryPolicy, baseline: &Sample, canary: &Sample, alpha: f64) -> Option<Self> {
        let (bl, bu) = rate_bounds(baseline.errors, baseline.requests, alpha)?;
        let (cl, cu) = rate_bounds(canary.errors, canary.requests, alpha)?;
        let baseline_rate = baseline.errors as f64 / baseline.requests as f64;
        let canary_rate = canary.errors as f64 / canary.requests as f64;
        let difference = canary_rate - baseline_rate;
        let (lower, upper) = (cl - bu, cu - bl);
        let margin = policy.error_margin.fraction();
        Some(ErrorComparison {
            baseline_rate,
            canary_rate,
            difference,
            lower,
            upper,
            margin,
            verdict: Verdict::of(difference, Some(lower), Some(upper), margin),
        })
    }
}

/// One latency quantile compared, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyComparison {
    /// The quantile, in percent (50 for the median).
    pub quantile: u8,
    /// The baseline's quantile.
    pub baseline_ms: f64,
    /// The canary's quantile.
    pub canary_ms: f64,
    /// canary − baseline.
    pub shift_ms: f64,
    /// The lower end of the shift's interval; `None` while the baseline's quantile has no upper bound.
    pub lower_ms: Option<f64>,
    /// The upper end of the shift's interval; `None` while the canary's quantile has no upper bound.
    pub upper_ms: Option<f64>,
    /// The largest shift that is not a regression: `latency_margin` of the baseline's quantile, at least
    /// `latency_floor` and [`RESOLUTION_MS`].
    pub margin_ms: f64,
    /// What the comparison concludes.
    pub verdict: Verdict,
}

impl LatencyComparison {
    /// The comparison of quantile `quantile` (percent) of two samples at `alpha` per side; `None` when a side
    /// has no latencies.
    pub fn of(
        policy: &CanaryPolicy,
        quantile: u8,
        baseline: &Sample,
        canary: &Sample,
        alpha: f64,
    ) -> Option<Self> {
        let q = f64::from(quantile) / 100.0;
        let b = Bounds::of(&baseline.buckets, q, alpha)?;
        let c = Bounds::of(&canary.buckets, q, alpha)?;
        let shift_ms = c.estimate - b.estimate;
        let lower_ms = b.upper.map(|bu| c.lower - bu);
        let upper_ms = c.upper.map(|cu| cu - b.lower);
        let margin_ms = (policy.latency_margin.fraction() * b.estimate)
            .max(policy.latency_floor.0 as f64)
            .max(RESOLUTION_MS);
        Some(LatencyComparison {
            quantile,
            baseline_ms: b.estimate,
            canary_ms: c.estimate,
            shift_ms,
            lower_ms,
            upper_ms,
            margin_ms,
            verdict: Verdict::of(shift_ms, lower_ms, upper_ms, margin_ms),
        })
    }
}

/// Every comparison of two samples under `policy`: the error rates, then each quantile of [`QUANTILES`].
pub fn compare(
    policy: &CanaryPolicy,
    baseline: &Sample,
    canary: &Sample,
) -> (Option<ErrorComparison>, Vec<LatencyComparison>) {
    let alpha = Budget::of(policy).alpha;
    let errors = ErrorComparison::of(policy, baseline, canary, alpha);
    let latency = QUANTILES
        .iter()
        .filter_map(|q| LatencyComparison::of(policy, *q, baseline, canary, alpha))
        .collect();
    (errors, latency)
}

/// A quantile of one side: its estimate and always-valid bounds, in milliseconds.
struct Bounds {
    estimate: f64,
    /// 0 when no observation bounds it from below.
    lower: f64,
    upper: Option<f64>,
}

impl Bounds {
    fn of(buckets: &[u64], q: f64, alpha: f64) -> Option<Bounds> {
        let n: u64 = buckets.iter().sum();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let (lower, upper) = quantile_ranks(n, q, alpha);
        Some(Bounds {
            estimate: value_at_rank(buckets, rank),
            lower: lower.map_or(0.0, |r| value_at_rank(buckets, r)),
            upper: upper.map(|r| value_at_rank(buckets, r)),
        })
    }
}

/// The `rank`-th smallest latency (from 1) of a histogram, its bucket's latencies taken as spread evenly
/// between the bucket's bounds (the slowest bucket, unbounded, as wide as the one below it).
pub fn value_at_rank(buckets: &[u64], rank: u64) -> f64 {
    let mut below = 0u64;
    for (i, count) in buckets.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        if rank <= below + count {
            let low = if i == 0 { 0.0 } else { bucket_upper_bound_ms(i - 1) };
            let mut high = bucket_upper_bound_ms(i);
            if !high.is_finite() {
                high = low * low / bucket_upper_bound_ms(i.saturating_sub(2));
            }
            let within = (rank - below) as f64 - 0.5;
            return low + (high - low) * within / *count as f64;
        }
        below += count;
    }
    buckets
        .iter()
        .rposition(|c| *c > 0)
        .map_or(0.0, bucket_upper_bound_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricsWindow;
    use crate::model::Rate;

    fn latencies(values: &[f64]) -> Sample {
        let mut w = MetricsWindow::new();
        for v in values {
            w.record(200, *v);
        }
        Sample::of(&w)
    }

    fn errors(requests: u64, errors: u64) -> Sample {
        Sample::uniform(requests, errors, 10.0)
    }

    #[test]
    fn ranks_read_the_histogram_spread_evenly_within_buckets() {
        let s = latencies(&[10.0; 4]);
        let (low, high) = (bucket_upper_bound_ms(26), bucket_upper_bound_ms(27));
        assert!(low < 10.0 && 10.0 <= high, "10 ms is in bucket 27");
        let first = value_at_rank(&s.buckets, 1);
        let last = value_at_rank(&s.buckets, 4);
        assert!((first - (low + (high - low) * 0.125)).abs() < 1e-9, "{first}");
        assert!((last - (low + (high - low) * 0.875)).abs() < 1e-9, "{last}");
        let v = value_at_rank(&latencies(&[1e9]).buckets, 1);
        assert!(v.is_finite() && v > 1e5, "{v}");
    }

    #[test]
    fn zero_errors_on_the_baseline_and_a_few_on_the_canary_are_judged_not_guessed() {
        let p = CanaryPolicy::new("a", "b");
        let alpha = Budget::of(&p).alpha;
        let c = ErrorComparison::of(&p, &errors(1000, 0), &errors(50, 3), alpha).unwrap();
        assert!(c.lower.is_finite() && c.upper.is_finite(), "{c:?}");
        assert_eq!(
            c.verdict,
            Verdict::Unclear,
            "6% vs 0% is beyond the margin, not yet proven: {c:?}"
        );
        let c = ErrorComparison::of(&p, &errors(1000, 0), &errors(200, 40), alpha).unwrap();
        assert_eq!(c.verdict, Verdict::Worse, "{c:?}");
        let c = ErrorComparison::of(&p, &errors(1000, 0), &errors(50, 0), alpha).unwrap();
        assert_eq!(c.verdict, Verdict::Similar, "{c:?}");
        let c = ErrorComparison::of(&p, &errors(20_000, 0), &errors(20_000, 0), alpha).unwrap();
        assert_eq!(c.verdict, Verdict::NotWorse, "{c:?}");
        assert!(ErrorComparison::of(&p, &errors(0, 0), &errors(50, 0), alpha).is_none());
    }

    #[test]
    fn a_tiny_but_certain_error_difference_is_within_the_margin() {
        let p = CanaryPolicy::new("a", "b");
        let alpha = Budget::of(&p).alpha;
        let c = ErrorComparison::of(&p, &errors(200_000, 0), &errors(200_000, 200), alpha).unwrap();
        assert!(c.lower > 0.0, "the difference is certain: {c:?}");
        assert_eq!(
            c.verdict,
            Verdict::NotWorse,
            "0.1 points is below the 1-point margin"
        );
    }

    fn spread(n: usize, from: f64, width: f64) -> Vec<f64> {
        (0..n).map(|i| from + width * i as f64 / n as f64).collect()
    }

    #[test]
    fn a_few_stalls_do_not_move_the_quantiles() {
        let p = CanaryPolicy::new("a", "b");
        let alpha = Budget::of(&p).alpha;
        let baseline = latencies(&spread(2000, 0.0, 2.0));
        let mut slow = spread(2000, 0.0, 2.0);
        for v in slow.iter_mut().step_by(40) {
            *v = 45.0;
        }
        for q in QUANTILES {
            let c = LatencyComparison::of(&p, q, &baseline, &latencies(&slow), alpha).unwrap();
            assert!(c.shift_ms.abs() < 0.5, "{c:?}");
            assert!(
                c.verdict == Verdict::NotWorse || c.verdict == Verdict::Similar,
                "{c:?}"
            );
        }
    }

    #[test]
    fn fifty_ms_more_on_half_the_requests_is_worse_at_the_ninetieth() {
        let p = CanaryPolicy::new("a", "b");
        let alpha = Budget::of(&p).alpha;
        let baseline = latencies(&spread(3800, 100.0, 10.0));
        let mut canary = spread(200, 100.0, 10.0);
        for v in canary.iter_mut().step_by(2) {
            *v += 50.0;
        }
        let c = LatencyComparison::of(&p, 90, &baseline, &latencies(&canary), alpha).unwrap();
        assert_eq!(c.verdict, Verdict::Worse, "{c:?}");
        assert!(c.shift_ms > 40.0, "{c:?}");
    }

    #[test]
    fn sub_millisecond_differences_are_below_the_resolution() {
        let mut p = CanaryPolicy::new("a", "b");
        p.latency_floor = crate::model::Millis(0);
        p.latency_margin = Rate(0.0);
        let alpha = Budget::of(&p).alpha;
        let c = LatencyComparison::of(
            &p,
            50,
            &latencies(&spread(5000, 0.1, 0.2)),
            &latencies(&spread(5000, 0.6, 0.2)),
            alpha,
        )
        .unwrap();
        assert_eq!(c.margin_ms, RESOLUTION_MS);
        assert_ne!(c.verdict, Verdict::Worse, "{c:?}");
    }

    #[test]
    fn too_few_latencies_leave_the_upper_bound_open() {
        let p = CanaryPolicy::new("a", "b");
        let alpha = Budget::of(&p).alpha;
        let c = LatencyComparison::of(
            &p,
            90,
            &latencies(&spread(1000, 10.0, 5.0)),
            &latencies(&spread(20, 10.0, 5.0)),
            alpha,
        )
        .unwrap();
        assert_eq!(c.upper_ms, None, "{c:?}");
        assert!(c.lower_ms.is_some(), "{c:?}");
    }
}
