//! `KvArtifactStore`: artifacts, their revisions and their history kept in any
//! [`vamp_core::kv::KeyValueStore`] (etcd, ZooKeeper, Consul, Redis, memory), as the original's `key-value`
//! persistence offered (vamp-behaviour.md §4.6).
//!
//! Layout: the current revision of an artifact at `<base>/persistence/<kind plural>/<name>`, where the original
//! kept its documents; the last revision number at `<base>/history/<kind plural>/<name>` and every revision at
//! `<base>/history/<kind plural>/<name>/<revision>`. Names that are not plain key segments are percent-encoded.
//! Each revision is stored as UTF-8 JSON `{"revision", "updated", "document"}`.
//!
//! # Revisions and concurrent writers
//!
//! [`KeyValueStore`] offers get, set and delete but no compare-and-set, so this store cannot make a conditional
//! put atomic inside the key-value store. It serializes the writes of one artifact inside the process instead
//! (a fixed set of async locks, chosen by a hash of kind and name): within one process, revisions never repeat
//! and of concurrent puts expecting the same revision exactly one wins. Two processes writing the same artifact
//! through the same base key can both win a conditional put and can write the same revision number; run one
//! writing server per base key (standby servers taking over through leader election), or use the SQL backend
//! when several servers must write at once.
//!
//! A put writes three keys, in this order: the history entry, the history head (last revision), the current
//! document. A crash in between leaves at worst a history entry that never became current; the next put
//! continues after the highest revision either key records, so revision numbers are never reused.

mod envelope;
mod layout;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Mutex;
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::model::Kind;
use vamp_core::store::{check_artifact_name, check_expected_revision, ArtifactStore, Page, Paged, Stored};
use vamp_core::{Error, Result};

use envelope::Envelope;
use layout::{decode_name, Layout};

/// The largest revision (document plus envelope, as JSON bytes) written by default: below Consul's 512 KiB
/// value limit and ZooKeeper's 1 MiB node limit, so the default works on every backend of vamp-kv. Raise it
/// with [`KvArtifactStore::with_max_document_bytes`] for a store that takes larger values (Redis, or any store
/// wrapped in `vamp_kv::large::LargeValues`).
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 500 * 1024;

/// How many locks serialize writers inside one process; writes of different artifacts share one only by hash.
const WRITE_LOCKS: usize = 64;

/// An [`ArtifactStore`] over any [`KeyValueStore`], below a base key of its own.
pub struct KvArtifactStore {
    kv: Arc<dyn KeyValueStore>,
    base: Key,
    layout: Layout,
    max_document_bytes: usize,
    writers: [Mutex<()>; WRITE_LOCKS],
}

impl std::fmt::Debug for KvArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvArtifactStore")
            .field("base", &self.base)
            .field("max_document_bytes", &self.max_document_bytes)
            .finish_non_exhaustive()
    }
}

impl KvArtifactStore {
    /// A store keeping everything below `base` (the original used the namespace key, `/vamp/<namespace>`).
    /// Nothing else should write below `<base>/persistence` and `<base>/history`.
    pub fn new(store: Arc<dyn KeyValueStore>, base: Key) -> KvArtifactStore {
        let layout = Layout::new(&base);
        KvArtifactStore {
            kv: store,
            base,
            layout,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            writers: std::array::from_fn(|_| Mutex::new(())),
        }
    }

    /// The same store refusing revisions larger than `bytes` as JSON (see [`DEFAULT_MAX_DOCUMENT_BYTES`]).
    pub fn with_max_document_bytes(mut self, bytes: usize) -> KvArtifactStore {
        self.max_document_bytes = bytes;
        self
    }

    /// The base key.
    pub fn base(&self) -> &Key {
        &self.base
    }

    fn writer_lock(&self, kind: Kind, name: &str) -> &Mutex<()> {
        let mut hasher = DefaultHasher::new();
        (kind, name).hash(&mut hasher);
        let slot = (hasher.finish() % WRITE_LOCKS as u64) as usize;
        &self.writers[slot]
    }

    async fn read(&self, key: &Key) -> Result<Option<Envelope>> {
        match self.kv.get(key).await?.and_then(|v| v.value) {
            Some(bytes) => Envelope::decode(&bytes, key).map(Some),
            None => Ok(None),
        }
    }

    async fn last_revision(&self, head: &Key) -> Result<u64> {
        let Some(bytes) = self.kv.get(head).await?.and_then(|v| v.value) else {
            return Ok(0);
        };
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                Error::backend(format!(
                    "The key-value store holds a value at '{head}' that is not a revision number; \
                     the artifact store did not write it. Remove or repair that key."
                ))
            })
    }
}

#[async_trait]
impl ArtifactStore for KvArtifactStore {
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Stored>> {
        check_artifact_name(kind, name)?;
        let key = self.layout.current(kind, name)?;
        Ok(self.read(&key).await?.map(|e| e.into_stored(kind, name)))
    }

    async fn put(
        &self,
        kind: Kind,
        name: &str,
        document: serde_json::Value,
        expected_revision: Option<u64>,
    ) -> Result<u64> {
        check_artifact_name(kind, name)?;
        let current_key = self.layout.current(kind, name)?;
        let head = self.layout.history_head(kind, name)?;
        let _writing = self.writer_lock(kind, name).lock().await;
        let current = self.read(&current_key).await?.map_or(0, |e| e.revision);
        check_expected_revision(kind, name, current, expected_revision)?;
        let revision = self.last_revision(&head).await?.max(current) + 1;
        let envelope = Envelope {
            revision,
            updated: Utc::now(),
            document,
        };
        let bytes = envelope.encode(kind, name)?;
        if bytes.len() > self.max_document_bytes {
            return Err(Error::invalid(format!(
                "The {kind} '{name}' is {} bytes as stored, over this key-value store's limit of {} bytes; \
                 make it smaller or configure a larger limit for a store that accepts larger values.",
                bytes.len(),
                self.max_document_bytes
            )));
        }
        let entry = self.layout.history_entry(kind, name, revision)?;
        self.kv.set(&entry, bytes.clone()).await?;
        self.kv.set(&head, revision.to_string().into_bytes()).await?;
        self.kv.set(&current_key, bytes).await?;
        Ok(revision)
    }

    async fn delete(&self, kind: Kind, name: &str) -> Result<bool> {
        check_artifact_name(kind, name)?;
        let key = self.layout.current(kind, name)?;
        let _writing = self.writer_lock(kind, name).lock().await;
        self.kv.delete(&key).await
    }

    async fn list(&self, kind: Kind, page: Page) -> Result<Paged<Stored>> {
        let dir = self.layout.kind_dir(kind)?;
        let mut names = self
            .kv
            .children(&dir)
            .await?
            .iter()
            .map(|segment| decode_name(segment, &dir))
            .collect::<Result<Vec<String>>>()?;
        names.sort_unstable();
        let paged = Paged::slice(names, page);
        let mut items = Vec::with_capacity(paged.items.len());
        for name in &paged.items {
            let key = self.layout.current(kind, name)?;
            if let Some(envelope) = self.read(&key).await? {
                items.push(envelope.into_stored(kind, name));
            }
        }
        Ok(Paged {
            items,
            total: paged.total,
            page: paged.page,
            per_page: paged.per_page,
        })
    }

    async fn history(&self, kind: Kind, name: &str) -> Result<Vec<Stored>> {
        check_artifact_name(kind, name)?;
        let head = self.layout.history_head(kind, name)?;
        let mut revisions = Vec::new();
        for segment in self.kv.children(&head).await? {
            let revision = segment.parse::<u64>().map_err(|_| {
                Error::backend(format!(
                    "The key-value store holds '{segment}' under '{head}', which is not a revision number; \
                     the artifact store did not write it. Remove that key."
                ))
            })?;
            revisions.push(revision);
        }
        revisions.sort_unstable();
        let mut history = Vec::with_capacity(revisions.len());
        for revision in revisions {
            let key = self.layout.history_entry(kind, name, revision)?;
            if let Some(envelope) = self.read(&key).await? {
                history.push(envelope.into_stored(kind, name));
            }
        }
        Ok(history)
    }
}
