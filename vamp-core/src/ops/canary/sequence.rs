//! Confidence sequences: intervals that hold at every sample size at once, so a canary may be looked at on
//! every tick — and an interval ended as soon as the evidence is strong — without the false-alarm rate growing
//! with the number of looks.
//!
//! Both sequences here bound the share `p` of a yes/no property (a request failed; a latency is at most the
//! true quantile) from `s` yeses in `n` observations, with the beta-binomial mixture martingale
//!
//! ```text
//! M_n(p) = B(a + s, b + n − s) / B(a, b) / (p^s · (1 − p)^(n − s))
//! ```
//!
//! (the likelihood of the data averaged over a `Beta(a, b)` prior, divided by its likelihood under `p`). Under
//! the true `p` it is a non-negative martingale starting at 1, so by Ville's inequality the chance that it
//! *ever* reaches `1/α` is at most `α`: the set `{p : M_n(p) < 1/α}` holds the true share at every `n` at once
//! with probability at least `1 − α` (Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric,
//! nonasymptotic confidence sequences", 2021; for quantiles Howard & Ramdas, "Sequential estimation of
//! quantiles with applications to A/B-testing and best-arm identification", 2022). The prior only trades
//! width between small and large `n`; the guarantee holds for any prior.

use super::special::{ln_beta, x_ln_y};

/// The prior of the mixture for error rates: mean 9%, most of its weight below 20% (error rates are small).
pub const RATE_PRIOR: (f64, f64) = (0.5, 5.0);
/// The concentration of the mixture prior for quantiles, centred on the quantile's share.
pub const QUANTILE_PRIOR_WEIGHT: f64 = 5.0;

/// `ln M_n(p)` for `s` yeses in `n` observations under the prior `Beta(a, b)` (see the module doc).
pub fn log_evidence(s: f64, n: f64, p: f64, (a, b): (f64, f64)) -> f64 {
    ln_beta(a + s, b + n - s) - ln_beta(a, b) - x_ln_y(s, p) - x_ln_y(n - s, 1.0 - p)
}

/// The always-valid interval `[lower, upper]` of a share from `s` yeses in `n` observations at level `alpha`
/// (the true share lies in every interval of the sequence with probability at least `1 − alpha`). `None`
/// without observations or with more yeses than observations.
pub fn rate_bounds(s: u64, n: u64, alpha: f64) -> Option<(f64, f64)> {
    if n == 0 || s > n {
        return None;
    }
    let threshold = (1.0 / alpha).ln();
    let (s, n) = (s as f64, n as f64);
    let evidence = |p: f64| log_evidence(s, n, p, RATE_PRIOR);
    let estimate = s / n;
    let lower = if s == 0.0 {
        0.0
    } else {
        crossing(&evidence, threshold, 0.0, estimate)
    };
    let upper = if s == n {
        1.0
    } else {
        crossing(&evidence, threshold, 1.0, estimate)
    };
    Some((lower, upper))
}

/// Where `evidence` crosses `threshold` between `outside` (where it is above, or infinite) and `inside` (where
/// it is below), by bisection; the point returned is on the inside of the crossing.
fn crossing(evidence: &dyn Fn(f64) -> f64, threshold: f64, outside: f64, inside: f64) -> f64 {
    let (mut out, mut inn) = (outside, inside);
    for _ in 0..100 {
        let mid = 0.5 * (out + inn);
        if mid == out || mid == inn {
            break;
        }
        if evidence(mid) >= threshold {
            out = mid;
        } else {
            inn = mid;
        }
    }
    out
}

/// The always-valid bounds, as ranks, of the true `q`-quantile among `n` observations at level `alpha`: with
/// probability at least `1 − alpha`, at every `n`, the quantile is at least the `lower`-th smallest observation
/// and below the `upper`-th. `lower` is `None` when no observation bounds it from below (too few), `upper` when
/// none bounds it from above. Ranks count from 1.
pub fn quantile_ranks(n: u64, q: f64, alpha: f64) -> (Option<u64>, Option<u64>) {
    if n == 0 || !(q > 0.0 && q < 1.0) {
        return (None, None);
    }
    let threshold = (1.0 / alpha).ln();
    let prior = (q * QUANTILE_PRIOR_WEIGHT, (1.0 - q) * QUANTILE_PRIOR_WEIGHT);
    let inside = |c: u64| log_evidence(c as f64, n as f64, q, prior) < threshold;
    let centre = ((n as f64 * q).round() as u64).min(n);
    if !inside(centre) {
        return (None, None);
    }
    // The count of observations at or below the true quantile lies in [lowest, highest].
    let lowest = if inside(0) { 0 } else { edge(&inside, centre, 0) };
    let highest = if inside(n) { n } else { edge(&inside, centre, n) };
    let lower = (lowest > 0).then_some(lowest);
    let upper = (highest < n).then_some(highest + 1);
    (lower, upper)
}

/// The fewest observations for which the `q`-quantile has both bounds at level `alpha`, counted up to 100,000
/// (the ranks are integers, so whether a size bounds it is not monotone near the threshold: the first size
/// that does).
pub fn fewest_for_quantile(q: f64, alpha: f64) -> u64 {
    (1..100_000)
        .find(|n| matches!(quantile_ranks(*n, q, alpha), (Some(_), Some(_))))
        .unwrap_or(100_000)
}

/// The count nearest `outside` for which `inside` holds, between `within` (where it holds) and `outside` (where
/// it does not), in either order: the set is an interval, the evidence being convex in the count.
fn edge(inside: &dyn Fn(u64) -> bool, mut within: u64, mut outside: u64) -> u64 {
    while within.abs_diff(outside) > 1 {
        let mid = within / 2 + outside / 2 + (within % 2 + outside % 2) / 2;
        if inside(mid) {
            within = mid;
        } else {
            outside = mid;
        }
    }
    within
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from scipy 1.17 (`scipy.special.betaln`, `scipy.optimize.brentq` on the same
    /// martingale, and an exhaustive scan of the counts for the quantile ranks); see the module doc.
    #[test]
    fn rate_bounds_match_scipy() {
        let alpha = 0.05 / 48.0;
        for ((s, n), (lower, upper)) in [
            ((0, 50), (0.0, 0.1494)),
            ((0, 200), (0.0, 0.0428)),
            ((0, 4000), (0.0, 0.0026)),
            ((10, 50), (0.0405, 0.4840)),
            ((40, 200), (0.0977, 0.3387)),
            ((4, 200), (0.0009, 0.0900)),
            ((10, 1000), (0.0017, 0.0300)),
        ] {
            let (l, u) = rate_bounds(s, n, alpha).unwrap();
            assert!((l - lower).abs() < 5e-5, "{s}/{n}: lower {l} vs {lower}");
            assert!((u - upper).abs() < 5e-5, "{s}/{n}: upper {u} vs {upper}");
        }
        assert_eq!(rate_bounds(0, 0, 0.05), None);
        assert_eq!(rate_bounds(3, 2, 0.05), None);
        let (l, u) = rate_bounds(7, 7, 0.05).unwrap();
        assert!(l > 0.0 && u == 1.0);
    }

    #[test]
    fn quantile_ranks_match_an_exhaustive_scan() {
        let alpha = 0.05 / 24.0;
        for (n, q, lower, upper) in [
            (50, 0.5, Some(12), Some(39)),
            (200, 0.5, Some(72), Some(129)),
            (1000, 0.5, Some(434), Some(567)),
            (100, 0.9, Some(76), Some(100)),
            (200, 0.9, Some(161), Some(195)),
            (5000, 0.9, Some(4404), Some(4591)),
        ] {
            assert_eq!(quantile_ranks(n, q, alpha), (lower, upper), "n = {n}, q = {q}");
        }
        assert_eq!(quantile_ranks(0, 0.5, 0.05), (None, None));
        assert_eq!(quantile_ranks(3, 0.5, 0.001), (None, None));
    }

    #[test]
    fn the_fewest_observations_bound_a_quantile_on_both_sides() {
        let alpha = 0.05 / 24.0;
        let n = fewest_for_quantile(0.5, alpha);
        assert!(matches!(quantile_ranks(n, 0.5, alpha), (Some(_), Some(_))));
        assert!((1..n).all(|m| !matches!(quantile_ranks(m, 0.5, alpha), (Some(_), Some(_)))));
        assert_eq!(n, 16, "as an exhaustive scan in scipy finds");
        assert_eq!(fewest_for_quantile(0.9, alpha), 73, "the p90 needs more");
    }

    /// Coverage, time-uniformly: in 500 runs of 2,000 draws each (a share of 20%), checked every 50 draws, the
    /// true share leaves the sequence in fewer than α of the runs.
    #[test]
    fn the_rate_sequence_covers_the_truth_at_every_size_at_once() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (alpha, p) = (0.1, 0.2);
        let mut missed = 0;
        for _ in 0..500 {
            let mut s = 0;
            for n in 1..=2_000u64 {
                if (next() % 1_000) < 200 {
                    s += 1;
                }
                if n % 50 == 0 {
                    let (l, u) = rate_bounds(s, n, alpha).unwrap();
                    if p < l || p > u {
                        missed += 1;
                        break;
                    }
                }
            }
        }
        assert!(missed < 50, "{missed} of 500 runs left the sequence (α = 10%)");
    }
}
