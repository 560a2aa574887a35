//! `MemoryEventStore`: a bounded in-memory event log with a broadcast channel for subscribers.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use super::lock;
use crate::model::{Aggregator, Event, EventQuery};
use crate::store::{aggregate_events, prepare_event, EventStore, Page, Paged};
use crate::Result;

/// How many events a store keeps by default before dropping the oldest.
pub const DEFAULT_EVENT_CAPACITY: usize = 100_000;
/// How many events a subscriber may fall behind before it loses the oldest undelivered ones.
const SUBSCRIBER_BUFFER: usize = 1024;

/// An event store in process memory with bounded size: past its capacity, publishing an event drops the oldest
/// one, so a long-running embedded server does not grow without limit.
#[derive(Debug)]
pub struct MemoryEventStore {
    state: Mutex<State>,
    capacity: usize,
    live: broadcast::Sender<Event>,
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    events: VecDeque<(u64, Event)>,
}

impl Default for MemoryEventStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_EVENT_CAPACITY)
    }
}

impl MemoryEventStore {
    /// An empty store keeping up to [`DEFAULT_EVENT_CAPACITY`] events.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store keeping up to `capacity` events (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryEventStore {
            state: Mutex::new(State::default()),
            capacity: capacity.max(1),
            live: broadcast::channel(SUBSCRIBER_BUFFER).0,
        }
    }

    /// How many events the store holds now.
    pub fn len(&self) -> usize {
        lock(&self.state).events.len()
    }

    /// Whether the store holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn matching(&self, query: &EventQuery) -> Vec<(u64, Event)> {
        let now = Utc::now();
        let state = lock(&self.state);
        state
            .events
            .iter()
            .filter(|(_, e)| query.matches(e, now))
            .cloned()
            .collect()
    }
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn publish(&self, event: Event) -> Result<Event> {
        let mut event = prepare_event(event)?;
        {
            let mut state = lock(&self.state);
            let seq = state.next;
            state.next += 1;
            event.id = Some(format!("{seq:016x}"));
            state.events.push_back((seq, event.clone()));
            while state.events.len() > self.capacity {
                state.events.pop_front();
            }
        }
        let _no_subscriber_is_fine = self.live.send(event.clone());
        Ok(event)
    }

    async fn query(&self, query: &EventQuery, page: Page) -> Result<Paged<Event>> {
        let mut found = self.matching(query);
        found.sort_by(|(sa, a), (sb, b)| b.timestamp.cmp(&a.timestamp).then(sb.cmp(sa)));
        Ok(Paged::slice(found, page).map(|(_, e)| e))
    }

    async fn aggregate(&self, query: &EventQuery, aggregator: &Aggregator) -> Result<Option<f64>> {
        let found = self.matching(query);
        Ok(aggregate_events(found.iter().map(|(_, e)| e), aggregator))
    }

    async fn subscribe(&self, query: &EventQuery) -> Result<BoxStream<'static, Event>> {
        let query = query.clone();
        let stream = BroadcastStream::new(self.live.subscribe())
            .filter_map(move |item| future::ready(item.ok().filter(|e| query.matches(e, Utc::now()))));
        Ok(stream.boxed())
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut state = lock(&self.state);
        let held = state.events.len();
        state.events.retain(|(_, e)| e.timestamp >= before);
        Ok((held - state.events.len()) as u64)
    }
}
