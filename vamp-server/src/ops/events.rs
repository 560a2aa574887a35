//! Events: publish (validated as the original's `POST /events`), query with paging, aggregate, and subscribe
//! (the `/events/stream` SSE source).

use futures::stream::BoxStream;
use vamp_core::dsl;
use vamp_core::model::{Aggregator, Event, EventQuery};
use vamp_core::store::{Page, Paged};
use vamp_core::Result;

use crate::vamp::Vamp;

impl Vamp {
    /// Publishes `event` and returns it as stored (with its id, tags expanded). An event without tags is
    /// `NoTagEventError`, a bad type `EventTypeError` (both `Invalid`).
    pub async fn publish(&self, event: Event) -> Result<Event> {
        dsl::validate::event(&event)?;
        self.inner.events.publish(event).await
    }

    /// The events matching `query`, newest first, one page of them with the total count.
    pub async fn query(&self, query: &EventQuery, page: Page) -> Result<Paged<Event>> {
        self.inner.events.query(query, page).await
    }

    /// An aggregate over the events matching `query` (`count`, `min`, `max`, `average`, `sum`).
    pub async fn aggregate(&self, query: &EventQuery, aggregator: &Aggregator) -> Result<Option<f64>> {
        self.inner.events.aggregate(query, aggregator).await
    }

    /// A live stream of the events matching `query` published from now on (see `EventStore::subscribe`).
    pub async fn subscribe(&self, query: &EventQuery) -> Result<BoxStream<'static, Event>> {
        self.inner.events.subscribe(query).await
    }
}
