//! [`Leadership`]: what one process knows about the election it takes part in.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// This process's standing in its election, as published by [`super::LeaderElection`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Leadership {
    /// This process leads and may run the loops until the value changes.
    Leader {
        /// When this process became leader.
        since: DateTime<Utc>,
        /// The etcd revision at which the leader key was created: it grows with every new leadership, so it can
        /// fence writes of an older leader. 0 without HA.
        term: i64,
    },
    /// Another process leads (`leader` is its candidate id, when known), or nobody does yet.
    Standby {
        /// The leader's candidate id.
        leader: Option<String>,
    },
    /// etcd cannot be reached (or the lease was lost), so this process does not lead; it keeps retrying.
    Unavailable {
        /// What failed, for logs and `/info`.
        reason: String,
    },
    /// The election is over for this process (shut down); it does not lead.
    Stopped,
}

impl Leadership {
    /// Whether this process may run the loops.
    pub fn is_leader(&self) -> bool {
        matches!(self, Leadership::Leader { .. })
    }
}
