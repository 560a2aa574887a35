//! The judgement of one canary interval: baseline and canary samples in, a decision with every number it rests
//! on — and the rule that decided, in a sentence — out.
//!
//! In order:
//! 1. A canary below the first step (0% when a release starts) is moved to the first step without judging.
//! 2. **Absolute ceilings** ([`ceiling_breach`]) roll back at once. The error ceiling has a fast path that does
//!    not wait for `min_requests`: once the canary's errors exceed `max_error_rate × min_requests`, its error
//!    rate over its first `min_requests` requests is above the ceiling whatever the remaining requests do, so the
//!    breach is certain. Otherwise a ceiling is judged on the observed value over at least `min_requests`
//!    requests.
//! 3. **Too few samples** on either side (fewer than `min_requests`) → wait, never guess; after `max_waits`
//!    consecutive waits → pause. The same when the medians cannot be bounded yet (a `min_requests` below
//!    what the budget needs, about 20).
//! 4. **Comparison** ([`compare`](mod@super::compare)): the error rates and the latency quantiles (p50, p90), each an
//!    effect size with an always-valid interval. Any interval wholly beyond its margin → roll back.
//! 5. An estimate beyond its margin that is not proven yet → wait for more samples (a canary that looks worse
//!    is never passed for lack of evidence).
//! 6. Otherwise the interval passed: advance to the next step; after the last step (or at 100%) promote.
//!
//! Between the ends of intervals ([`early`], every tick of the loop) steps 2 and 4 act at once, and a canary
//! whose every interval lies within its margins is advanced before the interval ends: the bounds are
//! confidence sequences, valid however often they are looked at, and the error budget is shared over the
//! release's steps ([`Budget`]), so an identical canary is rolled back in at most `1 − confidence` of releases.

use serde::Serialize;

use super::budget::Budget;
use super::compare::{compare, ErrorComparison, LatencyComparison, Verdict};
use super::sample::Sample;
use super::sequence::fewest_for_quantile;
use crate::model::CanaryPolicy;

/// What a judgement decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Not enough evidence yet: keep the weights and the samples, and judge again one interval later.
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

/// The rule that decided, as written in events (`rule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The release starts at the first step.
    Start,
    /// The canary's error rate is above `max_error_rate`.
    ErrorCeiling,
    /// The canary's p99 is above `max_p99`.
    LatencyCeiling,
    /// A side has fewer than `min_requests` requests.
    TooFewSamples,
    /// The error rates' interval is wholly beyond `error_margin`.
    ErrorsWorse,
    /// A latency quantile's interval is wholly beyond its margin.
    LatencyWorse,
    /// An estimate is beyond its margin, not proven yet.
    Unclear,
    /// Every interval is wholly within its margin, before the interval ended.
    ShownNotWorse,
    /// The interval ended with nothing beyond a margin.
    Passed,
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
    /// Mean latency in ms (shown, never judged: a few stalls decide it).
    pub mean_ms: Option<f64>,
    /// Median latency in ms.
    pub p50_ms: Option<f64>,
    /// 90th percentile latency in ms.
    pub p90_ms: Option<f64>,
    /// 99th percentile latency in ms (bucket upper bound, as `max_p99` judges it).
    pub p99_ms: Option<f64>,
}

impl Side {
    fn of(s: &Sample, latency: &[LatencyComparison], baseline: bool) -> Side {
        let quantile = |q: u8| {
            latency
                .iter()
                .find(|c| c.quantile == q)
                .map(|c| if baseline { c.baseline_ms } else { c.canary_ms })
        };
        Side {
            requests: s.requests,
            errors: s.errors,
            error_rate: s.error_rate(),
            mean_ms: s.mean_ms(),
            p50_ms: quantile(50),
            p90_ms: quantile(90),
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
    /// The error rates compared; `None` when a side has no requests.
    pub errors: Option<ErrorComparison>,
    /// The latency quantiles compared (none when a side has no latencies).
    pub latency: Vec<LatencyComparison>,
    /// How the release's error budget is shared.
    pub budget: Budget,
    /// The policy's confidence.
    pub confidence: f64,
    /// The fewest requests per side for a verdict.
    pub min_requests: u64,
}

impl Numbers {
    /// The figures and every comparison of two samples under `policy`.
    pub fn of(policy: &CanaryPolicy, baseline: &Sample, canary: &Sample) -> Numbers {
        let (errors, latency) = compare(policy, baseline, canary);
        Numbers {
            baseline: Side::of(baseline, &latency, true),
            canary: Side::of(canary, &latency, false),
            errors,
            latency,
            budget: Budget::of(policy),
            confidence: policy.confidence,
            min_requests: policy.min_requests,
        }
    }

    fn verdicts(&self) -> impl Iterator<Item = Verdict> + '_ {
        self.errors
            .iter()
            .map(|e| e.verdict)
            .chain(self.latency.iter().map(|l| l.verdict))
    }

    fn enough(&self) -> bool {
        self.baseline.requests >= self.min_requests && self.canary.requests >= self.min_requests
    }

    /// The first comparison proven worse, as a rule and a sentence.
    fn worse(&self) -> Option<(Rule, String)> {
        if let Some(e) = self.errors.filter(|e| e.verdict == Verdict::Worse) {
            return Some((
                Rule::ErrorsWorse,
                format!(
                    "the canary's error rate {} is above the baseline's {} by {}, at least {} ({}), beyond the margin {}",
                    percent(e.canary_rate),
                    percent(e.baseline_rate),
                    points(e.difference),
                    points(e.lower),
                    self.error_interval(&e),
                    points(e.margin)
                ),
            ));
        }
        let l = self.latency.iter().find(|l| l.verdict == Verdict::Worse)?;
        Some((
            Rule::LatencyWorse,
            format!(
                "the canary's p{} latency {} is {} above the baseline's {}, at least {} ({}), beyond the margin {}",
                l.quantile,
                ms(l.canary_ms),
                ms(l.shift_ms),
                ms(l.baseline_ms),
                ms(l.lower_ms.unwrap_or(f64::NAN)),
                self.latency_interval(l),
                ms(l.margin_ms)
            ),
        ))
    }

    /// The first comparison beyond its margin but not proven, as a sentence.
    fn unclear(&self) -> Option<String> {
        if let Some(e) = self.errors.filter(|e| e.verdict == Verdict::Unclear) {
            return Some(format!(
                "the canary's error rate {} is {} above the baseline's {}, beyond the margin {} but not proven ({})",
                percent(e.canary_rate),
                points(e.difference),
                percent(e.baseline_rate),
                points(e.margin),
                self.error_interval(&e)
            ));
        }
        let l = self.latency.iter().find(|l| l.verdict == Verdict::Unclear)?;
        Some(format!(
            "the canary's p{} latency {} is {} above the baseline's {}, beyond the margin {} but not proven ({})",
            l.quantile,
            ms(l.canary_ms),
            ms(l.shift_ms),
            ms(l.baseline_ms),
            ms(l.margin_ms),
            self.latency_interval(l)
        ))
    }

    /// Every comparison in a few words: `errors 0.00% vs 0.10% (−0.4..+3.1 points), p50 …`.
    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = &self.errors {
            parts.push(format!(
                "errors {} vs {} ({})",
                percent(e.canary_rate),
                percent(e.baseline_rate),
                range(e.lower * 100.0, Some(e.upper * 100.0), " points")
            ));
        }
        for l in &self.latency {
            parts.push(format!(
                "p{} {} vs {} ({})",
                l.quantile,
                ms(l.canary_ms),
                ms(l.baseline_ms),
                range(l.lower_ms.unwrap_or(f64::NEG_INFINITY), l.upper_ms, "ms")
            ));
        }
        parts.join(", ")
    }

    fn error_interval(&self, e: &ErrorComparison) -> String {
        format!(
            "{} with {}",
            range(e.lower * 100.0, Some(e.upper * 100.0), " points"),
            self.confidence_text()
        )
    }

    fn latency_interval(&self, l: &LatencyComparison) -> String {
        format!(
            "{} with {}",
            range(l.lower_ms.unwrap_or(f64::NEG_INFINITY), l.upper_ms, "ms"),
            self.confidence_text()
        )
    }

    fn confidence_text(&self) -> String {
        format!("{}% confidence over the release", trim(self.confidence * 100.0))
    }
}

/// A decision, the rule that took it, why, and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// What to do.
    #[serde(flatten)]
    pub decision: Decision,
    /// The rule that decided.
    pub rule: Rule,
    /// Why, in one sentence with the deciding figures.
    pub reason: String,
    /// Every figure and comparison.
    pub numbers: Numbers,
}

/// What one judgement looks at.
#[derive(Debug, Clone, Copy)]
pub struct Interval<'a> {
    /// The policy.
    pub policy: &'a CanaryPolicy,
    /// The canary route's weight during the interval.
    pub canary_weight: u8,
    /// The baseline's requests in the interval (all of them since it began, waits included).
    pub baseline: &'a Sample,
    /// The canary's requests in the interval.
    pub canary: &'a Sample,
    /// Consecutive waits before this judgement.
    pub waits: u32,
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn percent(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

fn points(share: f64) -> String {
    let n = trim(share * 100.0);
    if n == "1" {
        "1 point".to_string()
    } else {
        format!("{n} points")
    }
}

fn ms(value: f64) -> String {
    format!("{value:.1}ms")
}

fn range(lower: f64, upper: Option<f64>, unit: &str) -> String {
    let end = |v: f64| {
        if v.is_finite() {
            format!("{v:+.1}")
        } else if v > 0.0 {
            "+∞".to_string()
        } else {
            "−∞".to_string()
        }
    };
    format!(
        "interval {}..{}{unit}",
        end(lower),
        end(upper.unwrap_or(f64::INFINITY))
    )
}

/// Why the canary is above an absolute ceiling, if it is (see the module doc for the error fast path);
/// `None` when it is not, or when no ceiling is set.
pub fn ceiling_breach(policy: &CanaryPolicy, canary: &Sample) -> Option<String> {
    ceiling(policy, canary).map(|(_, reason)| reason)
}

fn ceiling(policy: &CanaryPolicy, canary: &Sample) -> Option<(Rule, String)> {
    let min = policy.min_requests;
    if let Some(max) = policy.max_error_rate {
        let limit = max.fraction();
        if canary.requests >= min {
            let rate = canary.errors as f64 / canary.requests as f64;
            if rate > limit {
                return Some((
                    Rule::ErrorCeiling,
                    format!(
                        "the canary's error rate {} ({} of {} requests) is above the ceiling {max}",
                        percent(rate),
                        canary.errors,
                        canary.requests
                    ),
                ));
            }
        } else if canary.errors as f64 > limit * min as f64 {
            return Some((
                Rule::ErrorCeiling,
                format!(
                    "the canary answered {} errors in {} requests: its error rate over the first {min} requests is above the ceiling {max} whatever the rest do",
                    canary.errors, canary.requests
                ),
            ));
        }
    }
    if let Some(max) = policy.max_p99 {
        if canary.requests >= min {
            if let Some(p99) = canary.percentile_ms(99.0) {
                if p99 > max.0 as f64 {
                    return Some((
                        Rule::LatencyCeiling,
                        format!("the canary's p99 latency {} is above the ceiling {max}", ms(p99)),
                    ));
                }
            }
        }
    }
    None
}

fn first_step(policy: &CanaryPolicy) -> u8 {
    policy.steps.first().map_or(100, |s| s.0)
}

/// The advance (or promotion) after a passed interval.
fn passed(interval: &Interval, numbers: Numbers, rule: Rule, passed: String) -> Judgement {
    let (decision, reason) = match interval.policy.next_step(interval.canary_weight) {
        Some(next) if next < 100 => (
            Decision::Advance { to_weight: next },
            format!("{passed}; next step {next}%"),
        ),
        _ => (
            Decision::Promote,
            format!("{passed}; the last step passed, promoted to 100%"),
        ),
    };
    Judgement {
        decision,
        rule,
        reason,
        numbers,
    }
}

/// The judgement between the ends of intervals: a rollback on a ceiling or on a comparison proven worse, an
/// early advance when every comparison is shown within its margin (see the module doc); `None` while there
/// is nothing to do before the interval ends.
pub fn early(interval: &Interval) -> Option<Judgement> {
    let policy = interval.policy;
    if interval.canary_weight == 0 || interval.canary_weight < first_step(policy) {
        return None;
    }
    let numbers = Numbers::of(policy, interval.baseline, interval.canary);
    if let Some((rule, reason)) = ceiling(policy, interval.canary) {
        return Some(Judgement {
            decision: Decision::Rollback,
            rule,
            reason,
            numbers,
        });
    }
    if !numbers.enough() {
        return None;
    }
    if let Some((rule, reason)) = numbers.worse() {
        return Some(Judgement {
            decision: Decision::Rollback,
            rule,
            reason,
            numbers,
        });
    }
    let shown = numbers.latency.len() == super::budget::QUANTILES.len()
        && numbers.errors.is_some()
        && numbers.verdicts().all(|v| v == Verdict::NotWorse);
    if !shown {
        return None;
    }
    let text = format!(
        "the canary at {}% is shown not worse than the baseline within every margin before the interval ended: {}",
        interval.canary_weight,
        numbers.summary()
    );
    Some(passed(interval, numbers, Rule::ShownNotWorse, text))
}

/// The judgement at the end of an interval (see the module doc).
pub fn judge(interval: &Interval) -> Judgement {
    let policy = interval.policy;
    let numbers = Numbers::of(policy, interval.baseline, interval.canary);
    let done = |decision: Decision, rule: Rule, reason: String| Judgement {
        decision,
        rule,
        reason,
        numbers: numbers.clone(),
    };
    let first = first_step(policy);
    if interval.canary_weight < first {
        return done(
            Decision::Advance { to_weight: first },
            Rule::Start,
            format!(
                "the release starts: the canary goes from {}% to the first step {first}%",
                interval.canary_weight
            ),
        );
    }
    if let Some((rule, reason)) = ceiling(policy, interval.canary) {
        return done(Decision::Rollback, rule, reason);
    }
    let waiting = |rule: Rule, why: String| {
        let waits = interval.waits.saturating_add(1);
        if waits > policy.max_waits {
            done(
                Decision::Pause,
                rule,
                format!("{why}; paused after {waits} intervals without a verdict"),
            )
        } else {
            done(
                Decision::Wait,
                rule,
                format!(
                    "{why}: collecting more samples (wait {waits} of {})",
                    policy.max_waits
                ),
            )
        }
    };
    if !numbers.enough() {
        let (b, c) = (&numbers.baseline, &numbers.canary);
        return waiting(
            Rule::TooFewSamples,
            format!(
                "too few samples to judge: baseline {} and canary {} requests, {} needed on each side",
                b.requests, c.requests, policy.min_requests
            ),
        );
    }
    if let Some((rule, reason)) = numbers.worse() {
        return done(Decision::Rollback, rule, reason);
    }
    let median_open = numbers
        .latency
        .iter()
        .any(|l| l.quantile == 50 && (l.lower_ms.is_none() || l.upper_ms.is_none()));
    if median_open {
        let needed = fewest_for_quantile(0.5, numbers.budget.alpha);
        return waiting(
            Rule::TooFewSamples,
            format!(
                "too few samples to compare the median: it needs {needed} requests on each side at this confidence, baseline has {} and canary {}",
                numbers.baseline.requests, numbers.canary.requests
            ),
        );
    }
    if let Some(why) = numbers.unclear() {
        return waiting(Rule::Unclear, why);
    }
    let text = format!(
        "the canary at {}% is not worse than the baseline: {}",
        interval.canary_weight,
        numbers.summary()
    );
    passed(interval, numbers.clone(), Rule::Passed, text)
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

    /// `n` requests with latencies spread over `from..from+spread` ms, `errors` of them 500s (spread evenly).
    fn spread(n: u64, errors: u64, from: f64, spread: f64) -> Sample {
        let mut w = MetricsWindow::new();
        for i in 0..n {
            let failed = errors > 0 && (i * errors) % n < errors;
            w.record(
                if failed { 500 } else { 200 },
                from + spread * (i as f64 / n as f64),
            );
        }
        Sample::of(&w)
    }

    #[test]
    fn a_release_at_zero_starts_at_the_first_step() {
        let j = judged(&policy(), 0, &spread(100, 0, 10.0, 5.0), &Sample::default(), 0);
        assert_eq!(j.decision, Decision::Advance { to_weight: 10 });
        assert_eq!(j.rule, Rule::Start);
    }

    #[test]
    fn a_healthy_canary_advances_step_by_step_then_promotes() {
        let p = policy();
        let (b, c) = (spread(900, 0, 10.0, 5.0), spread(100, 0, 10.0, 5.0));
        let j = judged(&p, 10, &b, &c, 0);
        assert_eq!(j.decision, Decision::Advance { to_weight: 50 }, "{}", j.reason);
        assert_eq!(j.rule, Rule::Passed);
        assert!(j.reason.contains("p90"), "{}", j.reason);
        let j = judged(&p, 50, &b, &c, 0);
        assert_eq!(j.decision, Decision::Promote);
        assert_eq!(j.numbers.canary.requests, 100);
        assert_eq!(j.numbers.latency.len(), 2);
    }

    #[test]
    fn too_few_samples_wait_then_pause() {
        let p = policy();
        let (b, c) = (spread(900, 0, 10.0, 5.0), spread(49, 0, 10.0, 5.0));
        let j = judged(&p, 10, &b, &c, 0);
        assert_eq!(j.decision, Decision::Wait);
        assert_eq!(j.rule, Rule::TooFewSamples);
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
    fn a_median_without_bounds_waits_whatever_min_requests_says() {
        let mut p = policy();
        p.min_requests = 10;
        let j = judged(&p, 10, &spread(900, 0, 10.0, 5.0), &spread(12, 0, 10.0, 5.0), 0);
        assert_eq!(j.decision, Decision::Wait, "{}", j.reason);
        assert_eq!(j.rule, Rule::TooFewSamples);
        assert!(j.reason.contains("to compare the median"), "{}", j.reason);
    }

    #[test]
    fn twenty_percent_errors_roll_back_on_the_comparison() {
        let p = policy();
        let j = judged(&p, 10, &spread(900, 0, 10.0, 5.0), &spread(100, 20, 10.0, 5.0), 0);
        assert_eq!(j.decision, Decision::Rollback, "{}", j.reason);
        assert_eq!(j.rule, Rule::ErrorsWorse);
        assert!(j.reason.contains("beyond the margin 1 point"), "{}", j.reason);
        assert!(j.numbers.errors.is_some_and(|e| e.lower > 0.01));
    }

    #[test]
    fn a_canary_that_looks_worse_but_is_not_proven_waits() {
        let p = policy();
        let j = judged(&p, 10, &spread(900, 0, 10.0, 5.0), &spread(50, 3, 10.0, 5.0), 0);
        assert_eq!(j.decision, Decision::Wait, "{}", j.reason);
        assert_eq!(j.rule, Rule::Unclear);
        assert!(j.reason.contains("not proven"), "{}", j.reason);
    }

    #[test]
    fn a_certain_but_tiny_error_difference_is_within_the_margin() {
        let p = policy();
        let j = judged(
            &p,
            50,
            &spread(200_000, 0, 10.0, 5.0),
            &spread(200_000, 200, 10.0, 5.0),
            0,
        );
        assert!(
            j.numbers.errors.is_some_and(|e| e.lower > 0.0),
            "{:?}",
            j.numbers.errors
        );
        assert_eq!(j.decision, Decision::Promote, "{}", j.reason);
    }

    #[test]
    fn a_slower_canary_rolls_back_on_its_quantiles() {
        let p = policy();
        let j = judged(
            &p,
            10,
            &spread(500, 0, 10.0, 10.0),
            &spread(100, 0, 30.0, 10.0),
            0,
        );
        assert_eq!(j.decision, Decision::Rollback, "{}", j.reason);
        assert_eq!(j.rule, Rule::LatencyWorse);
        assert!(j.reason.contains("p50 latency"), "{}", j.reason);
    }

    #[test]
    fn a_sub_millisecond_difference_is_below_the_latency_floor() {
        let p = policy();
        let j = judged(
            &p,
            10,
            &spread(2_000, 0, 0.3, 0.1),
            &spread(2_000, 0, 0.5, 0.1),
            0,
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
            &spread(20_000, 0, 102.0, 10.0),
            0,
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
        assert_eq!(j.rule, Rule::ErrorCeiling);
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
        assert_eq!(j.rule, Rule::LatencyCeiling);
    }

    #[test]
    fn between_intervals_ceilings_and_proven_regressions_act() {
        let mut p = policy();
        let b = spread(900, 0, 10.0, 5.0);
        let at = |p: &CanaryPolicy, weight, canary: &Sample| {
            early(&Interval {
                policy: p,
                canary_weight: weight,
                baseline: &b,
                canary,
                waits: 0,
            })
        };
        let failing = spread(60, 30, 10.0, 5.0);
        assert_eq!(
            at(&p, 10, &failing).map(|j| j.rule),
            Some(Rule::ErrorsWorse),
            "half the requests failing is proven worse at once"
        );
        assert!(
            at(&p, 10, &spread(60, 3, 10.0, 5.0)).is_none(),
            "not proven: wait for the end"
        );
        assert!(
            at(&p, 10, &spread(40, 30, 10.0, 5.0)).is_none(),
            "below min_requests"
        );
        p.max_error_rate = Some(Rate(5.0));
        assert_eq!(
            at(&p, 10, &spread(40, 30, 10.0, 5.0)).map(|j| j.rule),
            Some(Rule::ErrorCeiling)
        );
        assert!(at(&p, 0, &failing).is_none(), "nothing to roll back at 0%");
    }

    #[test]
    fn a_canary_shown_not_worse_advances_before_the_interval_ends() {
        let p = policy();
        let b = spread(40_000, 0, 10.0, 5.0);
        let c = spread(40_000, 0, 10.0, 5.0);
        let j = early(&Interval {
            policy: &p,
            canary_weight: 50,
            baseline: &b,
            canary: &c,
            waits: 0,
        })
        .expect("shown not worse");
        assert_eq!(j.decision, Decision::Promote);
        assert_eq!(j.rule, Rule::ShownNotWorse);
        let few = spread(100, 0, 10.0, 5.0);
        assert!(early(&Interval {
            policy: &p,
            canary_weight: 10,
            baseline: &b,
            canary: &few,
            waits: 0,
        })
        .is_none());
    }

    #[test]
    fn a_last_step_below_a_hundred_promotes_after_it() {
        let mut p = policy();
        p.steps = vec![Percentage(20)];
        let (b, c) = (spread(900, 0, 10.0, 5.0), spread(100, 0, 10.0, 5.0));
        assert_eq!(judged(&p, 20, &b, &c, 0).decision, Decision::Promote);
    }

    #[test]
    fn decisions_serialize_with_their_name_rule_and_numbers() {
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
        assert_eq!(v["rule"], "passed");
        assert_eq!(v["numbers"]["canary"]["requests"], 100);
        assert_eq!(v["numbers"]["latency"][1]["quantile"], 90);
        assert!(v["numbers"]["errors"]["upper"].is_number(), "{v}");
        assert!(v["numbers"]["budget"]["alpha"].is_number(), "{v}");
        assert_eq!(Decision::Rollback.canary_weight(), Some(0));
        assert_eq!(Decision::Wait.canary_weight(), None);
    }
}
