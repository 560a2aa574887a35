//! The statistics of a canary judgement, both one-sided ("is the canary worse?") and both returning their
//! statistic and p-value:
//!
//! - [`mann_whitney_greater`]: the Mann-Whitney U (Wilcoxon rank-sum) test on two latency histograms. The
//!   histogram buckets are ordered categories: every latency in one bucket is a tie with every other latency in
//!   it (of either side). U counts the (canary, baseline) pairs where the canary is slower, ties counting one
//!   half; the p-value is the normal approximation with the tie-corrected variance and a continuity correction
//!   (as `scipy.stats.mannwhitneyu(..., alternative="greater", method="asymptotic")`). It makes no assumption
//!   about the shape of latency distributions, which are skewed and heavy-tailed, which is why Kayenta uses it.
//! - [`two_proportion_greater`]: the pooled two-proportion z-test on error counts.
//!
//! Both are large-sample approximations; the judge only calls them with at least the policy's `min_requests`
//! (10 or more) on each side.

use serde::Serialize;

/// A Mann-Whitney U test of "the canary's latencies are greater than the baseline's".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MannWhitney {
    /// U of the canary: the (canary, baseline) pairs where the canary is slower, ties counting ½.
    pub u: f64,
    /// The standardized U (continuity-corrected); positive when the canary tends to be slower.
    pub z: f64,
    /// The one-sided p-value: the chance of a U at least this large if both had the same distribution.
    pub p_value: f64,
    /// U / (n_canary × n_baseline): the probability that a canary request is slower than a baseline request
    /// (ties ½); 0.5 means no difference (the common-language effect size).
    pub effect: f64,
}

/// A two-proportion z-test of "the canary's error rate is greater than the baseline's".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProportionTest {
    /// The z statistic with the pooled standard error; positive when the canary's rate is higher.
    pub z: f64,
    /// The one-sided p-value.
    pub p_value: f64,
}

/// The Mann-Whitney U test that `canary` (histogram bucket counts) is stochastically greater than `baseline`.
/// Buckets are compared by index; a missing bucket counts 0. `None` when either side is empty.
///
/// With a zero variance (every latency of both sides in one bucket) the samples cannot differ: z = 0, p = 1.
pub fn mann_whitney_greater(canary: &[u64], baseline: &[u64]) -> Option<MannWhitney> {
    let n1: f64 = canary.iter().sum::<u64>() as f64;
    let n2: f64 = baseline.iter().sum::<u64>() as f64;
    if n1 == 0.0 || n2 == 0.0 {
        return None;
    }
    let len = canary.len().max(baseline.len());
    let mut below = 0.0;
    let mut u = 0.0;
    let mut ties = 0.0;
    for i in 0..len {
        let a = canary.get(i).copied().unwrap_or(0) as f64;
        let b = baseline.get(i).copied().unwrap_or(0) as f64;
        u += a * (below + b / 2.0);
        below += b;
        let t = a + b;
        ties += t * t * t - t;
    }
    let n = n1 + n2;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    let (z, p_value) = if variance > 0.0 {
        let z = (u - mean - 0.5) / variance.sqrt();
        (z, normal_upper_tail(z))
    } else {
        (0.0, 1.0)
    };
    Some(MannWhitney {
        u,
        z,
        p_value,
        effect: u / (n1 * n2),
    })
}

/// The pooled two-proportion z-test that the canary's share `canary_errors / canary_requests` is greater than
/// the baseline's. `None` when either side has no requests (or more errors than requests).
///
/// With a zero standard error (no errors on either side, or only errors) the rates are equal: z = 0, p = 1.
pub fn two_proportion_greater(
    canary_errors: u64,
    canary_requests: u64,
    baseline_errors: u64,
    baseline_requests: u64,
) -> Option<ProportionTest> {
    if canary_requests == 0
        || baseline_requests == 0
        || canary_errors > canary_requests
        || baseline_errors > baseline_requests
    {
        return None;
    }
    let (x1, n1) = (canary_errors as f64, canary_requests as f64);
    let (x2, n2) = (baseline_errors as f64, baseline_requests as f64);
    let pooled = (x1 + x2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 || !se.is_finite() {
        return Some(ProportionTest { z: 0.0, p_value: 1.0 });
    }
    let z = (x1 / n1 - x2 / n2) / se;
    Some(ProportionTest {
        z,
        p_value: normal_upper_tail(z),
    })
}

/// P(Z > z) for a standard normal Z.
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, with a fractional error below 1.2e-7 everywhere (the Chebyshev fit of
/// Numerical Recipes' `erfcc`).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values below were computed independently: U from mid-ranks of the expanded samples
    /// (R₁ − n₁(n₁+1)/2), the tie-corrected normal approximation, and Python's `math.erfc`.
    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1e-12)
    }

    fn histogram(entries: &[(usize, u64)]) -> Vec<u64> {
        let mut h = vec![0; 30];
        for (i, n) in entries {
            h[*i] = *n;
        }
        h
    }

    #[test]
    fn the_normal_tail_matches_known_quantiles() {
        assert!(close(normal_upper_tail(0.0), 0.5, 1e-6));
        assert!(close(normal_upper_tail(1.0), 0.158_655_253_9, 1e-6));
        assert!(close(normal_upper_tail(1.644_853_627), 0.05, 1e-6));
        assert!(close(normal_upper_tail(1.959_963_985), 0.025, 1e-6));
        assert!(close(normal_upper_tail(3.0), 0.001_349_898_0, 1e-6));
        assert!(close(normal_upper_tail(-2.0), 0.977_249_868, 1e-6));
        assert!(close(normal_upper_tail(6.0), 9.865_876e-10, 1e-5));
    }

    #[test]
    fn fully_separated_samples_give_the_largest_u() {
        let mw = mann_whitney_greater(
            &histogram(&[(3, 1), (4, 1), (5, 1)]),
            &histogram(&[(0, 1), (1, 1), (2, 1)]),
        )
        .unwrap();
        assert_eq!(mw.u, 9.0);
        assert_eq!(mw.effect, 1.0);
        assert!(close(mw.z, 1.745_743_121_9, 1e-9), "{mw:?}");
        assert!(close(mw.p_value, 0.040_427_799, 1e-5), "{mw:?}");
    }

    #[test]
    fn ties_within_buckets_use_the_tie_corrected_variance() {
        let canary = histogram(&[(10, 2), (11, 3), (12, 5)]);
        let baseline = histogram(&[(9, 4), (10, 4), (11, 2)]);
        let mw = mann_whitney_greater(&canary, &baseline).unwrap();
        assert_eq!(mw.u, 89.0);
        assert!(close(mw.z, 3.008_034_755_8, 1e-9), "{mw:?}");
        assert!(close(mw.p_value, 0.001_314_715_3, 1e-5), "{mw:?}");
        assert!(close(mw.effect, 0.89, 1e-12));
    }

    #[test]
    fn similar_samples_are_not_significant() {
        let mw = mann_whitney_greater(
            &histogram(&[(20, 30), (21, 50), (22, 20)]),
            &histogram(&[(20, 35), (21, 45), (22, 20)]),
        )
        .unwrap();
        assert_eq!(mw.u, 5200.0);
        assert!(close(mw.z, 0.528_558_311_7, 1e-9), "{mw:?}");
        assert!(close(mw.p_value, 0.298_555_943, 1e-5), "{mw:?}");
    }

    #[test]
    fn a_faster_canary_is_never_significantly_slower() {
        let mw = mann_whitney_greater(&histogram(&[(1, 50)]), &histogram(&[(9, 50)])).unwrap();
        assert_eq!(mw.u, 0.0);
        assert!(mw.p_value > 0.999, "{mw:?}");
    }

    #[test]
    fn everything_in_one_bucket_cannot_differ() {
        let mw = mann_whitney_greater(&histogram(&[(7, 40)]), &histogram(&[(7, 60)])).unwrap();
        assert_eq!((mw.z, mw.p_value, mw.effect), (0.0, 1.0, 0.5));
        assert!(mann_whitney_greater(&histogram(&[]), &histogram(&[(7, 60)])).is_none());
    }

    #[test]
    fn u_equals_the_pairwise_count() {
        let canary = histogram(&[(2, 3), (5, 4), (8, 1), (9, 2)]);
        let baseline = histogram(&[(1, 2), (5, 3), (6, 5), (9, 1)]);
        let expand = |h: &[u64]| -> Vec<usize> {
            h.iter()
                .enumerate()
                .flat_map(|(i, n)| std::iter::repeat_n(i, *n as usize))
                .collect()
        };
        let mut pairs = 0.0;
        for a in expand(&canary) {
            for b in expand(&baseline) {
                pairs += if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
        assert_eq!(mann_whitney_greater(&canary, &baseline).unwrap().u, pairs);
    }

    #[test]
    fn more_canary_errors_are_significant() {
        let t = two_proportion_greater(20, 100, 5, 100).unwrap();
        assert!(close(t.z, 3.207_134_902_9, 1e-9), "{t:?}");
        assert!(close(t.p_value, 0.000_670_320_6, 1e-5), "{t:?}");
        let t = two_proportion_greater(10, 50, 0, 50).unwrap();
        assert!(close(t.z, 3.333_333_333_3, 1e-9), "{t:?}");
        assert!(close(t.p_value, 0.000_429_060_3, 1e-5), "{t:?}");
    }

    #[test]
    fn a_few_more_errors_are_not() {
        let t = two_proportion_greater(3, 200, 1, 200).unwrap();
        assert!(close(t.z, 1.005_037_815_3, 1e-9), "{t:?}");
        assert!(close(t.p_value, 0.157_439_320_7, 1e-5), "{t:?}");
    }

    #[test]
    fn no_errors_anywhere_means_no_evidence() {
        assert_eq!(
            two_proportion_greater(0, 80, 0, 120),
            Some(ProportionTest { z: 0.0, p_value: 1.0 })
        );
        assert_eq!(two_proportion_greater(0, 0, 0, 120), None);
        assert_eq!(two_proportion_greater(5, 4, 0, 120), None);
    }
}
