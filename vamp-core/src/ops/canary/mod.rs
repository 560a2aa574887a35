//! Automated canary releases, pure: the samples a judgement reads ([`sample`]), the statistics that compare
//! canary and baseline ([`stats`]) and the judgement of one interval ([`mod@judge`]). The server's canary loop reads
//! the metrics, calls [`judge::judge`] and applies the decision to the gateway.

pub mod judge;
pub mod sample;
pub mod stats;

pub use judge::{ceiling_breach, early, judge, Decision, Interval, Judgement, Numbers, Side};
pub use sample::Sample;
pub use stats::{
    mann_whitney_greater, normal_upper_tail, two_proportion_greater, MannWhitney, ProportionTest,
};
