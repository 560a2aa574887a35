//! `MemoryKeyValueStore`: keys in a sorted map, each watched through a `tokio::sync::watch` channel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;

use super::lock;
use crate::kv::{Key, KeyValueStore, Versioned};
use crate::Result;

/// A key-value store in process memory. Versions come from one store-wide counter; a watch channel per key
/// carries the latest [`Versioned`], which is what makes watches coalesce but never miss the final value.
#[derive(Debug, Default)]
pub struct MemoryKeyValueStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    revision: u64,
    entries: BTreeMap<String, watch::Sender<Versioned>>,
}

const ABSENT: Versioned = Versioned {
    value: None,
    version: 0,
};

impl MemoryKeyValueStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl KeyValueStore for MemoryKeyValueStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>> {
        let state = lock(&self.state);
        Ok(state
            .entries
            .get(key.as_str())
            .map(|tx| tx.borrow().clone())
            .filter(|v| v.value.is_some()))
    }

    async fn set(&self, key: &Key, value: Vec<u8>) -> Result<u64> {
        let mut state = lock(&self.state);
        state.revision += 1;
        let version = state.revision;
        let tx = state
            .entries
            .entry(key.as_str().to_string())
            .or_insert_with(|| watch::channel(ABSENT).0);
        tx.send_replace(Versioned {
            value: Some(value),
            version,
        });
        Ok(version)
    }

    async fn delete(&self, key: &Key) -> Result<bool> {
        let mut state = lock(&self.state);
        let existed = state
            .entries
            .get(key.as_str())
            .is_some_and(|tx| tx.borrow().value.is_some());
        if !existed {
            return Ok(false);
        }
        state.revision += 1;
        let version = state.revision;
        let watched = match state.entries.get(key.as_str()) {
            Some(tx) => {
                tx.send_replace(Versioned { value: None, version });
                tx.receiver_count() > 0
            }
            None => false,
        };
        if !watched {
            state.entries.remove(key.as_str());
        }
        Ok(true)
    }

    async fn children(&self, key: &Key) -> Result<Vec<String>> {
        let state = lock(&self.state);
        let prefix = format!("{}/", key.as_str());
        let names: BTreeSet<String> = state
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, tx)| tx.borrow().value.is_some())
            .filter_map(|(k, _)| k.get(prefix.len()..)?.split('/').next().map(str::to_string))
            .collect();
        Ok(names.into_iter().collect())
    }

    fn watch(&self, key: &Key) -> BoxStream<'static, Result<Versioned>> {
        let mut state = lock(&self.state);
        state
            .entries
            .retain(|_, tx| tx.borrow().value.is_some() || tx.receiver_count() > 0);
        let rx = state
            .entries
            .entry(key.as_str().to_string())
            .or_insert_with(|| watch::channel(ABSENT).0)
            .subscribe();
        WatchStream::new(rx).map(Ok).boxed()
    }
}
