//! `MemoryArtifactStore`: artifacts and their full history in a sorted map.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;

use super::lock;
use crate::model::Kind;
use crate::store::{check_artifact_name, check_expected_revision, ArtifactStore, Page, Paged, Stored};
use crate::Result;

/// An artifact store in process memory; lost when the process ends. Keeps every revision for `history`.
#[derive(Debug, Default)]
pub struct MemoryArtifactStore {
    artifacts: Mutex<BTreeMap<(Kind, String), Record>>,
}

#[derive(Debug, Default)]
struct Record {
    current: Option<Stored>,
    history: Vec<Stored>,
}

impl MemoryArtifactStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ArtifactStore for MemoryArtifactStore {
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Stored>> {
        check_artifact_name(kind, name)?;
        let artifacts = lock(&self.artifacts);
        Ok(artifacts
            .get(&(kind, name.to_string()))
            .and_then(|r| r.current.clone()))
    }

    async fn put(
        &self,
        kind: Kind,
        name: &str,
        document: serde_json::Value,
        expected_revision: Option<u64>,
    ) -> Result<u64> {
        check_artifact_name(kind, name)?;
        let mut artifacts = lock(&self.artifacts);
        let record = artifacts.entry((kind, name.to_string())).or_default();
        let current = record.current.as_ref().map_or(0, |s| s.revision);
        check_expected_revision(kind, name, current, expected_revision)?;
        let revision = record.history.last().map_or(0, |s| s.revision) + 1;
        let stored = Stored {
            kind,
            name: name.to_string(),
            revision,
            document,
            updated: Utc::now(),
        };
        record.history.push(stored.clone());
        record.current = Some(stored);
        Ok(revision)
    }

    async fn delete(&self, kind: Kind, name: &str) -> Result<bool> {
        check_artifact_name(kind, name)?;
        let mut artifacts = lock(&self.artifacts);
        Ok(artifacts
            .get_mut(&(kind, name.to_string()))
            .and_then(|r| r.current.take())
            .is_some())
    }

    async fn list(&self, kind: Kind, page: Page) -> Result<Paged<Stored>> {
        let artifacts = lock(&self.artifacts);
        let current = artifacts
            .range((kind, String::new())..)
            .take_while(|((k, _), _)| *k == kind)
            .filter_map(|(_, r)| r.current.as_ref());
        let total = current.clone().count() as u64;
        let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let items = current
            .skip(skip)
            .take(page.per_page() as usize)
            .cloned()
            .collect();
        Ok(Paged {
            items,
            total,
            page: page.page(),
            per_page: page.per_page(),
        })
    }

    async fn history(&self, kind: Kind, name: &str) -> Result<Vec<Stored>> {
        check_artifact_name(kind, name)?;
        let artifacts = lock(&self.artifacts);
        Ok(artifacts
            .get(&(kind, name.to_string()))
            .map(|r| r.history.clone())
            .unwrap_or_default())
    }
}
