//! Automated canary releases, pure: the samples a judgement reads ([`sample`]), the statistics that compare
//! canary and baseline ([`stats`]), the judgement of one interval ([`mod@judge`]), the interval in progress as
//! it is checkpointed ([`progress`]) and canaries on a deployment's cluster gateways ([`cluster`]). The server's
//! canary loop reads the metrics, calls [`judge::judge`] and applies the decision to the gateway.

pub mod cluster;
pub mod judge;
pub mod progress;
pub mod sample;
pub mod stats;

pub use cluster::{cluster_canaries, cluster_canary, write_cluster_canary, ClusterCanary};
pub use judge::{ceiling_breach, early, judge, Decision, Interval, Judgement, Numbers, Side};
pub use progress::{policy_fingerprint, Progress};
pub use sample::Sample;
pub use stats::{
    mann_whitney_greater, normal_upper_tail, two_proportion_greater, MannWhitney, ProportionTest,
};
