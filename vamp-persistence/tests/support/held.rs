//! [`Held`]: a store under test together with what must outlive it (its server, its double or the directory of
//! its database), passed on to the conformance suites as an `ArtifactStore` or an `EventStore`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use vamp_core::model::{Aggregator, Event, EventQuery, Kind};
use vamp_core::store::{ArtifactStore, EventStore, Page, Paged, Stored};
use vamp_core::Result;

/// `store`, and the `guard` it needs; dropped together, the store first.
pub struct Held<S, G> {
    /// The store under test.
    pub store: S,
    /// What must live as long as the store.
    pub guard: G,
}

#[async_trait]
impl<S: ArtifactStore, G: Send + Sync> ArtifactStore for Held<S, G> {
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Stored>> {
        self.store.get(kind, name).await
    }
    async fn put(
        &self,
        kind: Kind,
        name: &str,
        document: serde_json::Value,
        expected_revision: Option<u64>,
    ) -> Result<u64> {
        self.store.put(kind, name, document, expected_revision).await
    }
    async fn delete(&self, kind: Kind, name: &str) -> Result<bool> {
        self.store.delete(kind, name).await
    }
    async fn list(&self, kind: Kind, page: Page) -> Result<Paged<Stored>> {
        self.store.list(kind, page).await
    }
    async fn history(&self, kind: Kind, name: &str) -> Result<Vec<Stored>> {
        self.store.history(kind, name).await
    }
}

#[async_trait]
impl<S: EventStore, G: Send + Sync> EventStore for Held<S, G> {
    async fn publish(&self, event: Event) -> Result<Event> {
        self.store.publish(event).await
    }
    async fn query(&self, query: &EventQuery, page: Page) -> Result<Paged<Event>> {
        self.store.query(query, page).await
    }
    async fn aggregate(&self, query: &EventQuery, aggregator: &Aggregator) -> Result<Option<f64>> {
        self.store.aggregate(query, aggregator).await
    }
    async fn subscribe(&self, query: &EventQuery) -> Result<BoxStream<'static, Event>> {
        self.store.subscribe(query).await
    }
    async fn prune(&self, before: DateTime<Utc>) -> Result<u64> {
        self.store.prune(before).await
    }
}
