//! Checkpoints of the canaries' intervals in progress (`vamp_core::ops::canary::Progress`), kept in the artifact
//! store the server already uses (SQLite by default, PostgreSQL in HA) under the internal kind
//! [`Kind::CanaryProgress`], one record per gateway name. The canary loop writes them, reads them when it starts
//! (after a restart, or when this server becomes the leader) to resume each interval, and removes them when the
//! release ends, is paused or its gateway is gone.
//!
//! The store keeps every revision of a record (its history is an audit trail), so the loop bounds how often it
//! writes: see `canary.checkpoint-ms`.

use std::collections::HashMap;

use vamp_core::model::Kind;
use vamp_core::ops::canary::Progress;
use vamp_core::{Error, Result};

use crate::vamp::Vamp;

impl Vamp {
    /// Every stored checkpoint by gateway name. A record that does not read back as a checkpoint (written by
    /// another version) is skipped with a warning: its canary starts a new interval.
    pub(crate) async fn load_canary_progress(&self) -> Result<HashMap<String, Progress>> {
        let mut out = HashMap::new();
        for stored in self.list_all(Kind::CanaryProgress).await? {
            match serde_json::from_value::<Progress>(stored.document) {
                Ok(progress) => {
                    out.insert(stored.name, progress);
                }
                Err(e) => tracing::warn!(
                    gateway = %stored.name,
                    error = %e,
                    "a canary checkpoint cannot be read; its canary starts a new interval"
                ),
            }
        }
        Ok(out)
    }

    /// Writes the checkpoint of `progress.gateway`, replacing the previous one (the leader is its only writer).
    pub(crate) async fn save_canary_progress(&self, progress: &Progress) -> Result<()> {
        let document = serde_json::to_value(progress).map_err(|e| {
            Error::backend(format!(
                "The canary checkpoint of gateway '{}' cannot be written as JSON: {e}.",
                progress.gateway
            ))
        })?;
        self.inner
            .artifacts
            .put(Kind::CanaryProgress, &progress.gateway, document, None)
            .await
            .map(drop)
    }

    /// Removes the checkpoint of `gateway`; `false` when there was none.
    pub(crate) async fn delete_canary_progress(&self, gateway: &str) -> Result<bool> {
        self.inner.artifacts.delete(Kind::CanaryProgress, gateway).await
    }
}
