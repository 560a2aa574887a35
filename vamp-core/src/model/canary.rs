//! Canary policy: the `canary` block of a gateway. It names the stable route (`baseline`) and the new one
//! (`canary`), the weights the canary ramps through, how often it is judged, the ceilings, the margins and the
//! confidence of the comparison, and the status the canary loop writes back.
//!
//! The policy is data only; `ops::canary` judges an interval, and the server's canary loop acts on the judgement.

use std::fmt;

use serde::{Serialize, Serializer};

use super::gateway::RoutePath;
use super::units::{Percentage, Seconds};

/// A share written as a percentage with optional decimals (`5%`, `0.5%`); the value is in percent (`0.5` for
/// `0.5%`). Written back as `"<value>%"`, which parses to the same value.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Rate(pub f64);

impl Rate {
    /// Parses `"5%"`, `"0.5 %"` or a bare number of percent, 0..=100.
    pub fn parse(s: &str) -> Option<Rate> {
        let t = s.trim();
        let t = t.strip_suffix('%').unwrap_or(t).trim();
        let v: f64 = t.parse().ok()?;
        (v.is_finite() && (0.0..=100.0).contains(&v)).then_some(Rate(v))
    }

    /// The share as a fraction (0.05 for 5%).
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// A duration in whole milliseconds: `500ms`, `1s`, `1.5s`, or a bare number of milliseconds. Written as
/// `"<n>ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// Parses a duration with unit `ms` or `s` (a bare number is milliseconds). Negative or fractional
    /// milliseconds are refused.
    pub fn parse(s: &str) -> Option<Millis> {
        let t = s.trim().to_ascii_lowercase();
        let (number, factor) = if let Some(n) = t.strip_suffix("ms") {
            (n, 1.0)
        } else if let Some(n) = t.strip_suffix('s') {
            (n, 1000.0)
        } else {
            (t.as_str(), 1.0)
        };
        let v: f64 = number.trim().parse().ok()?;
        let ms = v * factor;
        (ms.is_finite() && ms >= 0.0 && ms.fract() == 0.0 && ms <= u64::MAX as f64)
            .then_some(Millis(ms as u64))
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

macro_rules! serialize_as_display {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serialize_as_display!(Rate, Millis);

/// Where a canary release stands. Users set `progressing` (or leave it out) to start or resume, `paused` to
/// hold the weights where they are; the canary loop writes `paused` (too long without enough samples),
/// `promoted` and `rolled_back`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryStatus {
    /// Judged every interval and moved along the steps.
    #[default]
    Progressing,
    /// Held: weights stay, nothing is judged.
    Paused,
    /// Done: the canary takes all the traffic.
    Promoted,
    /// Done: the canary failed and takes no traffic.
    RolledBack,
}

impl CanaryStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [CanaryStatus; 4] = [
        CanaryStatus::Progressing,
        CanaryStatus::Paused,
        CanaryStatus::Promoted,
        CanaryStatus::RolledBack,
    ];

    /// The status as written: `progressing`, `paused`, `promoted`, `rolled_back`.
    pub fn as_str(self) -> &'static str {
        match self {
            CanaryStatus::Progressing => "progressing",
            CanaryStatus::Paused => "paused",
            CanaryStatus::Promoted => "promoted",
            CanaryStatus::RolledBack => "rolled_back",
        }
    }

    /// Parses a status as written (case-insensitive; `rolled-back` and `rolledback` are accepted too).
    pub fn parse(s: &str) -> Option<CanaryStatus> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        match t.as_str() {
            "rolledback" => Some(CanaryStatus::RolledBack),
            _ => CanaryStatus::ALL.into_iter().find(|c| c.as_str() == t),
        }
    }
}

impl fmt::Display for CanaryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn route_path_text<S: Serializer>(path: &RoutePath, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.0)
}

/// The default steps: `[5%, 10%, 25%, 50%, 100%]`.
pub const DEFAULT_STEPS: [u8; 5] = [5, 10, 25, 50, 100];
/// The default interval: 10 s.
pub const DEFAULT_INTERVAL_S: u64 = 10;
/// The default minimum number of requests per side and interval (the ≥ 50 data points Kayenta's users advise).
pub const DEFAULT_MIN_REQUESTS: u64 = 50;
/// The default confidence of the comparison.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
/// The default number of intervals without enough samples before the canary is paused.
pub const DEFAULT_MAX_WAITS: u32 = 10;
/// The default error margin: 1 percentage point.
pub const DEFAULT_ERROR_MARGIN: f64 = 1.0;
/// The default latency margin: 5%.
pub const DEFAULT_LATENCY_MARGIN: f64 = 5.0;
/// The default latency floor: 5 ms.
pub const DEFAULT_LATENCY_FLOOR_MS: u64 = 5;

/// An automated canary release between two routes of a gateway.
///
/// Every `interval` the canary loop judges the requests of both routes since the interval began
/// (`ops::canary::judge`): too few samples on either side → wait; the canary above an absolute ceiling, or
/// proven worse than the baseline by more than a margin → roll back to 0%; looking worse but not proven → wait
/// for more samples; else advance to the next step, and after the last step promote to 100%.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CanaryPolicy {
    /// The route path of the stable version.
    #[serde(serialize_with = "route_path_text")]
    pub baseline: RoutePath,
    /// The route path of the new version.
    #[serde(serialize_with = "route_path_text")]
    pub canary: RoutePath,
    /// The canary's weight after each passed interval, strictly ascending in 1%..=100%. Passing the last step
    /// (or reaching 100%) promotes.
    pub steps: Vec<Percentage>,
    /// How often the canary is judged (at least 1 s); a failing canary is rolled back within one interval.
    pub interval: Seconds,
    /// The fewest requests each side needs in an interval for a verdict; with fewer the canary waits.
    pub min_requests: u64,
    /// The canary's absolute error-rate (5xx) ceiling; none when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<Rate>,
    /// The canary's absolute p99 latency ceiling; none when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_p99: Option<Millis>,
    /// How many percentage points the canary's error rate may exceed the baseline's by without being worse: a
    /// rollback needs the whole always-valid interval of the difference beyond it.
    pub error_margin: Rate,
    /// How much slower (in percent of the baseline's quantile) the canary's p50 or p90 may be without being
    /// worse; a rollback needs the whole always-valid interval of the shift beyond it.
    pub latency_margin: Rate,
    /// The smallest latency margin in milliseconds, whatever `latency_margin` gives: below it a shift is never a
    /// regression (sub-millisecond services differ by scheduling noise alone; HAProxy logs whole milliseconds).
    pub latency_floor: Millis,
    /// The confidence of the whole release, in (0.5, 1): an identical canary is rolled back in at most
    /// `1 − confidence` of releases, however many intervals and ticks look at it (`ops::canary::budget`).
    pub confidence: f64,
    /// Consecutive intervals without a verdict (too few samples, or a difference not proven yet) before the loop
    /// pauses the canary.
    pub max_waits: u32,
    /// Where the release stands.
    pub status: CanaryStatus,
}

impl CanaryPolicy {
    /// A policy from `baseline` to `canary` with every default.
    pub fn new(baseline: impl Into<String>, canary: impl Into<String>) -> Self {
        CanaryPolicy {
            baseline: RoutePath(baseline.into()),
            canary: RoutePath(canary.into()),
            steps: DEFAULT_STEPS.iter().map(|s| Percentage(*s)).collect(),
            interval: Seconds(DEFAULT_INTERVAL_S),
            min_requests: DEFAULT_MIN_REQUESTS,
            max_error_rate: None,
            max_p99: None,
            error_margin: Rate(DEFAULT_ERROR_MARGIN),
            latency_margin: Rate(DEFAULT_LATENCY_MARGIN),
            latency_floor: Millis(DEFAULT_LATENCY_FLOOR_MS),
            confidence: DEFAULT_CONFIDENCE,
            max_waits: DEFAULT_MAX_WAITS,
            status: CanaryStatus::Progressing,
        }
    }

    /// The significance level: `1 - confidence`.
    pub fn alpha(&self) -> f64 {
        1.0 - self.confidence
    }

    /// The step after `weight`: the first step above it, `None` when no step is.
    pub fn next_step(&self, weight: u8) -> Option<u8> {
        self.steps.iter().map(|s| s.0).find(|s| *s > weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_decimals_and_write_back_the_same() {
        assert_eq!(Rate::parse("5%"), Some(Rate(5.0)));
        assert_eq!(Rate::parse("0.5 %"), Some(Rate(0.5)));
        assert_eq!(Rate::parse("12.5"), Some(Rate(12.5)));
        assert_eq!(Rate::parse("101%"), None);
        assert_eq!(Rate::parse("-1%"), None);
        assert_eq!(Rate::parse("lots"), None);
        assert_eq!(Rate::parse(&Rate(0.1).to_string()), Some(Rate(0.1)));
        assert!((Rate(5.0).fraction() - 0.05).abs() < 1e-12);
    }

    #[test]
    fn millis_take_ms_and_s() {
        assert_eq!(Millis::parse("500ms"), Some(Millis(500)));
        assert_eq!(Millis::parse("1.5s"), Some(Millis(1500)));
        assert_eq!(Millis::parse("250"), Some(Millis(250)));
        assert_eq!(Millis::parse("0.5ms"), None);
        assert_eq!(Millis::parse("-1ms"), None);
        assert_eq!(Millis::parse("1m"), None);
        assert_eq!(Millis(750).to_string(), "750ms");
    }

    #[test]
    fn statuses_are_written_in_snake_case() {
        for s in CanaryStatus::ALL {
            assert_eq!(CanaryStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(CanaryStatus::parse("Rolled-Back"), Some(CanaryStatus::RolledBack));
        assert_eq!(CanaryStatus::parse("running"), None);
    }

    #[test]
    fn the_next_step_is_the_first_above_the_weight() {
        let p = CanaryPolicy::new("a", "b");
        assert_eq!(p.next_step(0), Some(5));
        assert_eq!(p.next_step(5), Some(10));
        assert_eq!(p.next_step(30), Some(50));
        assert_eq!(p.next_step(100), None);
    }
}
