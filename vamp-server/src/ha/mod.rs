//! High availability: which of several `vamp serve` processes runs the loops.
//!
//! Every process serves the API; only the leader runs the deployment, gateway and workflow loops. A
//! [`LeaderElection`] decides which process leads and publishes the decision as a [`Leadership`] on a
//! `tokio::sync::watch` channel; [`while_leader`] runs the loops while that value says [`Leadership::Leader`] and
//! stops them the moment it says anything else.
//!
//! Two elections exist so the server has one code path: [`LeaderElection::always`] (no HA, this process always
//! leads) and [`LeaderElection::etcd`] (standbys through an etcd lease: one key per election, created in a
//! transaction only while absent and bound to the candidate's lease; see docs/server.md ("High availability") for the timing argument that
//! keeps two leaders from ever running loops at the same time).

mod etcd;
mod leadership;
mod options;
mod session;
mod while_leader;

use std::future::Future;

use tokio::sync::watch;
use vamp_core::{Error, Result};

pub use leadership::Leadership;
pub use options::LeaseOptions;
pub use while_leader::{while_leader, StepDown};

/// The prefix of the etcd key of every election: the key of election `name` is `/vamp/elections/<name>`.
pub const ELECTION_PREFIX: &str = "/vamp/elections/";

/// One process's part in a leader election.
///
/// Created idle; [`LeaderElection::run`] takes part until its shutdown future resolves. [`LeaderElection::subscribe`]
/// gives receivers of the current [`Leadership`], which starts as [`Leadership::Standby`] without a known leader.
pub struct LeaderElection {
    candidate: String,
    mode: Mode,
    state: watch::Sender<Leadership>,
}

enum Mode {
    Always,
    Etcd(Box<etcd::EtcdElection>),
}

impl LeaderElection {
    /// No HA: this process leads from the moment [`LeaderElection::run`] starts until its shutdown.
    pub fn always(candidate: &str) -> Self {
        LeaderElection {
            candidate: candidate.to_string(),
            mode: Mode::Always,
            state: watch::Sender::new(Leadership::Standby { leader: None }),
        }
    }

    /// An election named `election` among the processes that use the same etcd cluster (`endpoints`: `host:port`
    /// or `http://host:port`, one per member), in which this process takes part as `candidate` (shown to the
    /// others as the leader's name; give each process its own, e.g. `host:port` of its API).
    ///
    /// Does not need etcd to be up: the connection is made lazily, and [`LeaderElection::run`] reports an
    /// unreachable etcd as [`Leadership::Unavailable`] and keeps retrying. Fails with `Invalid` for an empty or
    /// malformed endpoint list, an election name that is empty or holds `/` or white space, an empty candidate,
    /// or options that [`LeaseOptions::validate`] refuses.
    pub async fn etcd(
        endpoints: &[String],
        election: &str,
        candidate: &str,
        options: LeaseOptions,
    ) -> Result<Self> {
        if election.is_empty() || election.contains('/') || election.contains(char::is_whitespace) {
            return Err(Error::invalid(format!(
                "the election name '{election}' must be a non-empty name without '/' or white space"
            )));
        }
        if candidate.trim().is_empty() {
            return Err(Error::invalid(
                "the HA candidate id is empty; give each server its own (e.g. the host:port of its API)",
            ));
        }
        options.validate()?;
        let key = format!("{ELECTION_PREFIX}{election}");
        let election = etcd::EtcdElection::connect(endpoints, key, candidate, options).await?;
        Ok(LeaderElection {
            candidate: candidate.to_string(),
            mode: Mode::Etcd(Box::new(election)),
            state: watch::Sender::new(Leadership::Standby { leader: None }),
        })
    }

    /// This process's candidate id.
    pub fn candidate(&self) -> &str {
        &self.candidate
    }

    /// A receiver of this process's [`Leadership`]; it sees every change [`LeaderElection::run`] makes.
    pub fn subscribe(&self) -> watch::Receiver<Leadership> {
        self.state.subscribe()
    }

    /// Takes part in the election until `shutdown` resolves, then publishes [`Leadership::Stopped`] and resigns:
    /// the lease is revoked, so a standby takes over at once instead of after the lease's TTL.
    ///
    /// Resolve `shutdown` only after the loops have stopped (e.g. after [`while_leader`] returned): the resign
    /// lets a standby start its loops immediately. Never fails; etcd errors are published as
    /// [`Leadership::Unavailable`] and retried. Dropping the future without resolving `shutdown` (a crashed
    /// process) stops the lease's keep-alive, so a standby takes over once the lease expires.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        match self.mode {
            Mode::Always => {
                self.state.send_replace(Leadership::Leader {
                    since: chrono::Utc::now(),
                    term: 0,
                });
                tracing::info!(candidate = %self.candidate, "leading (no HA configured)");
                shutdown.await;
                self.state.send_replace(Leadership::Stopped);
            }
            Mode::Etcd(election) => election.run(&self.state, shutdown).await,
        }
    }
}
