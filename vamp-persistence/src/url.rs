//! Stores chosen by URL: [`connect_artifacts`] and [`connect_events`] read the scheme and open the backend.
//!
//! | scheme | artifacts | events |
//! |---|---|---|
//! | `memory://` | [`vamp_core::memory::MemoryArtifactStore`] | [`vamp_core::memory::MemoryEventStore`] |
//! | `sqlite://<path>` | `SqlStore` (feature `sql`) | `SqlStore` |
//! | `postgres://…`, `postgresql://…` | `SqlStore` (feature `sql`) | `SqlStore` |
//! | `elasticsearch://…` | Elasticsearch (feature `elasticsearch`) | Elasticsearch |
//! | `kv+<key-value URL>` | artifacts in a key-value store (feature `kv`) | — |
//!
//! An unknown scheme is `Invalid` and lists the known ones; a scheme whose backend this build leaves out is
//! `Unsupported`.

use std::sync::Arc;

use vamp_core::memory::{MemoryArtifactStore, MemoryEventStore};
use vamp_core::store::{ArtifactStore, EventStore};
use vamp_core::{Error, Result};

/// Every scheme [`connect_artifacts`] knows; [`connect_events`] knows all but `kv+…`.
pub const SCHEMES: [&str; 6] = [
    "memory",
    "sqlite",
    "postgres",
    "postgresql",
    "elasticsearch",
    "kv+<key-value scheme>",
];

/// The backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Memory,
    Sql,
    Elasticsearch,
    /// Artifacts in a key-value store; the URL after `kv+` is the store's.
    KeyValue,
}

fn backend(url: &str) -> Result<Backend> {
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .ok_or_else(|| {
            Error::invalid(format!(
                "'{url}' is not a store URL: it has no scheme. Use one of: {}.",
                SCHEMES.join(", ")
            ))
        })?;
    match scheme.as_str() {
        "memory" => Ok(Backend::Memory),
        "sqlite" | "postgres" | "postgresql" => Ok(Backend::Sql),
        "elasticsearch" | "elasticsearch+http" | "elasticsearch+https" => Ok(Backend::Elasticsearch),
        s if s.starts_with("kv+") && s.len() > 3 => Ok(Backend::KeyValue),
        other => Err(Error::invalid(format!(
            "'{other}' is not a store scheme. Use one of: {}.",
            SCHEMES.join(", ")
        ))),
    }
}

#[cfg(feature = "sql")]
async fn sql_artifacts(url: &str) -> Result<Arc<dyn ArtifactStore>> {
    Ok(Arc::new(crate::sql::SqlStore::connect(url).await?))
}

#[cfg(feature = "sql")]
async fn sql_events(url: &str) -> Result<Arc<dyn EventStore>> {
    Ok(Arc::new(crate::sql::SqlStore::connect(url).await?))
}

#[cfg(not(feature = "sql"))]
async fn sql_artifacts(url: &str) -> Result<Arc<dyn ArtifactStore>> {
    Err(sql_left_out(url))
}

#[cfg(not(feature = "sql"))]
async fn sql_events(url: &str) -> Result<Arc<dyn EventStore>> {
    Err(sql_left_out(url))
}

#[cfg(not(feature = "sql"))]
fn sql_left_out(url: &str) -> Error {
    Error::unsupported(format!(
        "'{url}' needs the SQL backend, which this build leaves out (cargo feature 'sql')."
    ))
}

#[cfg(feature = "elasticsearch")]
async fn elasticsearch_events(url: &str) -> Result<Arc<dyn EventStore>> {
    Ok(Arc::new(
        crate::elasticsearch::ElasticsearchStore::connect(url).await?,
    ))
}

#[cfg(not(feature = "elasticsearch"))]
async fn elasticsearch_events(url: &str) -> Result<Arc<dyn EventStore>> {
    Err(Error::unsupported(format!(
        "'{url}' needs the Elasticsearch backend, which this build leaves out (cargo feature 'elasticsearch')."
    )))
}

/// The key every artifact store opened by URL keeps its artifacts under: the original's
/// `/vamp/<namespace>` with the default namespace. Embedders with another namespace build
/// `KvArtifactStore::new(store, base)` themselves.
pub const KV_BASE: &str = "/vamp/default";

/// The largest document a key-value artifact store opened by URL accepts. Stores from `vamp_kv::url::connect`
/// carry large values, so the cap is the SQL stores' rather than one backend write.
pub const KV_MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

#[cfg(feature = "kv")]
async fn kv_artifacts(url: &str) -> Result<Arc<dyn ArtifactStore>> {
    let inner = url.strip_prefix("kv+").unwrap_or(url);
    let kv = vamp_kv::url::connect(inner).await?;
    let base = vamp_core::kv::Key::parse(KV_BASE)?;
    Ok(Arc::new(
        crate::kv::KvArtifactStore::new(kv, base).with_max_document_bytes(KV_MAX_DOCUMENT_BYTES),
    ))
}

#[cfg(not(feature = "kv"))]
async fn kv_artifacts(url: &str) -> Result<Arc<dyn ArtifactStore>> {
    Err(Error::unsupported(format!(
        "'{url}' needs artifacts kept in a key-value store, which this build leaves out (cargo feature 'kv')."
    )))
}

/// The artifact store at `url`; see the module documentation for the schemes.
pub async fn connect_artifacts(url: &str) -> Result<Arc<dyn ArtifactStore>> {
    match backend(url)? {
        Backend::Memory => Ok(Arc::new(MemoryArtifactStore::new())),
        Backend::Sql => sql_artifacts(url).await,
        Backend::Elasticsearch => Err(Error::invalid(format!(
            "'{url}': Elasticsearch keeps events, not artifacts (the original dropped it for artifacts in 0.9.5); \
             use sqlite, postgres or kv+… for artifacts."
        ))),
        Backend::KeyValue => kv_artifacts(url).await,
    }
}

/// The event store at `url`; see the module documentation for the schemes.
pub async fn connect_events(url: &str) -> Result<Arc<dyn EventStore>> {
    match backend(url)? {
        Backend::Memory => Ok(Arc::new(MemoryEventStore::new())),
        Backend::Sql => sql_events(url).await,
        Backend::Elasticsearch => elasticsearch_events(url).await,
        Backend::KeyValue => Err(Error::invalid(format!(
            "'{url}': a key-value store keeps artifacts, not events; use memory, sqlite, postgres or \
             elasticsearch for events."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    #[test]
    fn schemes_name_their_backend_in_any_case() {
        assert_eq!(backend("memory://").unwrap(), Backend::Memory);
        assert_eq!(backend("SQLite://x.db").unwrap(), Backend::Sql);
        assert_eq!(backend("postgresql://h/db").unwrap(), Backend::Sql);
        assert_eq!(backend("elasticsearch://h:9200").unwrap(), Backend::Elasticsearch);
        assert_eq!(backend("kv+etcd://127.0.0.1:2379").unwrap(), Backend::KeyValue);
    }

    #[test]
    fn an_unknown_scheme_is_invalid_and_lists_the_known_ones() {
        for url in ["mysql://h/db", "kv+", "nothing"] {
            let e = backend(url).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid, "{url}");
            assert!(e.message().contains("sqlite, postgres"), "{e}");
        }
    }

    #[tokio::test]
    async fn memory_urls_open_memory_stores() {
        let artifacts = connect_artifacts("memory://").await.unwrap();
        assert!(artifacts
            .get(vamp_core::model::Kind::Breed, "none")
            .await
            .unwrap()
            .is_none());
        let events = connect_events("memory://").await.unwrap();
        let page = events
            .query(&vamp_core::model::EventQuery::tags(["a"]), Default::default())
            .await
            .unwrap();
        assert_eq!(page.total, 0);
    }

    #[tokio::test]
    async fn events_cannot_live_in_a_key_value_store() {
        let e = connect_events("kv+etcd://h:2379").await.err().map(|e| e.kind());
        assert_eq!(e, Some(ErrorKind::Invalid));
    }

    #[cfg(feature = "kv")]
    #[tokio::test]
    async fn kv_urls_keep_artifacts_in_the_key_value_store() {
        let store = connect_artifacts("kv+memory://").await.unwrap();
        let kind = vamp_core::model::Kind::Breed;
        let revision = store
            .put(kind, "web:1.0", serde_json::json!({"name": "web:1.0"}), None)
            .await
            .unwrap();
        let stored = store.get(kind, "web:1.0").await.unwrap().unwrap();
        assert_eq!(
            (stored.revision, stored.document["name"].as_str()),
            (revision, Some("web:1.0"))
        );
    }

    #[tokio::test]
    async fn elasticsearch_does_not_keep_artifacts() {
        let e = connect_artifacts("elasticsearch://127.0.0.1:9200")
            .await
            .err()
            .map(|e| e.kind());
        assert_eq!(e, Some(ErrorKind::Invalid));
    }
}
