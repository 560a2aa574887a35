//! Automated canary releases, pure: the samples a judgement reads ([`sample`]), the confidence sequences
//! ([`sequence`]) and comparisons ([`compare`]) that set canary against baseline, the error budget of a release
//! ([`budget`]) and the judgement of one interval ([`mod@judge`]). The server's canary loop reads the metrics,
//! calls [`judge::early`] every tick and [`judge::judge`] at the end of each interval, and applies the decision
//! to the gateway.

pub mod budget;
pub mod compare;
pub mod judge;
pub mod sample;
pub mod sequence;
pub mod special;

pub use budget::{Budget, QUANTILES};
pub use compare::{compare, ErrorComparison, LatencyComparison, Verdict, RESOLUTION_MS};
pub use judge::{ceiling_breach, early, judge, Decision, Interval, Judgement, Numbers, Rule, Side};
pub use sample::Sample;
