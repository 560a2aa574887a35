//! Reading and writing stored deployments and listings, with parsed deployments cached by revision so that
//! the loops, which read every deployment on every pass, parse only what changed.

use std::collections::HashMap;
use std::sync::Mutex;

use vamp_core::model::{Artifact, Deployment, Kind};
use vamp_core::store::{Page, Stored, MAX_PER_PAGE};
use vamp_core::{Error, Result};

use super::codec::{decode, encode};
use crate::vamp::Vamp;

/// Parsed deployments by name, each with the revision it was parsed from.
#[derive(Debug, Default)]
pub(crate) struct DeploymentCache {
    parsed: Mutex<HashMap<String, (u64, Deployment)>>,
}

impl DeploymentCache {
    fn parse(&self, stored: &Stored) -> Result<Deployment> {
        let mut parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((revision, deployment)) = parsed.get(&stored.name) {
            if *revision == stored.revision {
                return Ok(deployment.clone());
            }
        }
        let Artifact::Deployment(deployment) = decode(stored)? else {
            return Err(Error::backend(format!(
                "The stored deployment '{}' reads back as another kind.",
                stored.name
            )));
        };
        parsed.insert(stored.name.clone(), (stored.revision, deployment.clone()));
        Ok(deployment)
    }

    fn forget(&self, name: &str) {
        self.parsed.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
    }

    fn retain(&self, names: &std::collections::HashSet<&str>) {
        self.parsed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| names.contains(k.as_str()));
    }
}

impl Vamp {
    /// Every stored artifact of `kind`, in name order.
    pub(crate) async fn list_all(&self, kind: Kind) -> Result<Vec<Stored>> {
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let batch = self
                .inner
                .artifacts
                .list(kind, Page::new(page, MAX_PER_PAGE)?)
                .await?;
            let done = batch.items.len() < MAX_PER_PAGE as usize;
            out.extend(batch.items);
            if done || out.len() as u64 >= batch.total {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// The stored deployment `name` with its revision.
    pub(crate) async fn load_deployment(&self, name: &str) -> Result<Option<(u64, Deployment)>> {
        match self.inner.artifacts.get(Kind::Deployment, name).await? {
            Some(stored) => Ok(Some((stored.revision, self.inner.deployments.parse(&stored)?))),
            None => Ok(None),
        }
    }

    /// Every stored deployment with its revision, in name order.
    pub(crate) async fn load_deployments(&self) -> Result<Vec<(u64, Deployment)>> {
        let stored = self.list_all(Kind::Deployment).await?;
        let names: std::collections::HashSet<&str> = stored.iter().map(|s| s.name.as_str()).collect();
        self.inner.deployments.retain(&names);
        stored
            .iter()
            .map(|s| Ok((s.revision, self.inner.deployments.parse(s)?)))
            .collect()
    }

    /// Stores `deployment` if it is still at `expected` (0: absent); `Conflict` otherwise.
    pub(crate) async fn store_deployment(&self, deployment: &Deployment, expected: u64) -> Result<u64> {
        let document = encode(&Artifact::Deployment(deployment.clone()))?;
        self.inner
            .artifacts
            .put(Kind::Deployment, &deployment.name, document, Some(expected))
            .await
    }

    /// Removes the stored deployment `name`.
    pub(crate) async fn remove_deployment(&self, name: &str) -> Result<bool> {
        self.inner.deployments.forget(name);
        self.inner.artifacts.delete(Kind::Deployment, name).await
    }
}
