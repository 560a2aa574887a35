//! Automated canary releases, pure: the samples a judgement reads ([`sample`]), the confidence sequences
//! ([`sequence`]) and comparisons ([`compare`](mod@compare)) that set canary against baseline, the error budget of a release
//! ([`budget`]), the judgement of one interval ([`mod@judge`]), the interval in progress as it is checkpointed
//! ([`progress`]) and canaries on a deployment's cluster gateways ([`cluster`]). The server's canary loop reads
//! the metrics, calls [`judge::early`] every tick and [`judge::judge`] at the end of each interval, and applies
//! the decision to the gateway.

pub mod budget;
pub mod cluster;
pub mod compare;
pub mod judge;
pub mod progress;
pub mod sample;
pub mod sequence;
pub mod special;

pub use budget::{Budget, QUANTILES};
pub use cluster::{cluster_canaries, cluster_canary, write_cluster_canary, ClusterCanary};
pub use compare::{compare, ErrorComparison, LatencyComparison, Verdict, RESOLUTION_MS};
pub use judge::{ceiling_breach, early, judge, Decision, Interval, Judgement, Numbers, Rule, Side};
pub use progress::{policy_fingerprint, Progress};
pub use sample::Sample;
