//! `ElasticsearchStore`: the [`EventStore`] of the original's Elasticsearch pulse (vamp-behaviour.md §4.7), on
//! the official `elasticsearch` client crate.
//!
//! Each event is indexed into `<index.name>-<type lowercased>-<YYYY-MM-dd>` with `index.name =
//! vamp-pulse-<namespace>` (the namespace-name variant of the original; see [`config`] for the URL and
//! [`document`] for the document). Queries search `<index.name>-*`: `term` filters on `tags` (all of them) and
//! `type`, a `range` on `timestamp`, sorted by `timestamp` descending, paged with `from`/`size` and, past
//! Elasticsearch's result window, with `search_after`. `min`, `max`, `average` and `sum` are Elasticsearch
//! aggregations; `count` is `_count`.
//!
//! # Visibility
//!
//! Elasticsearch makes new documents searchable at its next refresh (every second by default). Publishing does
//! not wait for that; a query or aggregate through the same store refreshes `<index.name>-*` first when this
//! store published since its last refresh, so a process reads its own events at once and those of other
//! processes within the refresh interval.
//!
//! # Retention
//!
//! [`EventStore::prune`] drops the daily indices of days wholly before the bound and deletes the rest of the
//! older events with `_delete_by_query` (docs/persistence.md, "Event retention").
//!
//! # Subscriptions
//!
//! [`EventStore::subscribe`] streams the matching events published through this store instance (a broadcast
//! channel in the process, as the original's percolator was in its actor system), not events other processes
//! index; a server that needs those runs one store per namespace and publishes through it.
//!
//! # Artifacts
//!
//! There is no Elasticsearch [`vamp_core::store::ArtifactStore`]: the original dropped Elasticsearch artifact
//! persistence in 0.9.5. Use the SQL backends or [`crate::kv::KvArtifactStore`].

mod answer;
pub mod config;
pub mod document;
mod prune;
pub mod query;
mod template;

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use elasticsearch::auth::Credentials;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::indices::{IndicesPutIndexTemplateParts, IndicesRefreshParts};
use elasticsearch::params::OpType;
use elasticsearch::{BulkOperation, BulkParts, CountParts, Elasticsearch, IndexParts, SearchParts};
use futures::future;
use futures::stream::{BoxStream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, Mutex};
use tokio_stream::wrappers::BroadcastStream;
use vamp_core::model::{Aggregator, AggregatorKind, Event, EventQuery};
use vamp_core::store::{prepare_event, EventStore, Page, Paged};
use vamp_core::{Error, Result};

use answer::answer;
pub use config::ElasticsearchConfig;

/// The largest event document the store sends by default, in bytes of JSON. Elasticsearch itself accepts up to
/// `http.max_content_length` (100 MB by default) per request; events are small, and a limit well below that
/// keeps one runaway value from filling an index.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;
/// Elasticsearch's default `index.max_result_window`: `from + size` of one search may not pass it.
pub const DEFAULT_RESULT_WINDOW: u64 = 10_000;
/// How many events a subscriber may fall behind before it loses the oldest undelivered ones.
const SUBSCRIBER_BUFFER: usize = 1024;
/// The oldest Elasticsearch this store works with: composable index templates arrived in 7.8.
const OLDEST_VERSION: (u64, u64) = (7, 8);

/// The last sequence number handed out in this process; see [`next_sequence`].
static LAST_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A number that orders events by publication: microseconds since the epoch, raised when needed so every call
/// in the process gets a larger number than the one before. Across processes it follows their clocks.
fn next_sequence() -> u64 {
    let now = u64::try_from(Utc::now().timestamp_micros()).unwrap_or(0);
    let mut last = LAST_SEQUENCE.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_SEQUENCE.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A random number fixed for the process, so ids of two processes differ.
fn process_nonce() -> u64 {
    static NONCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NONCE.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.finish()
    })
}

/// Events in Elasticsearch, with live subscriptions through this instance.
pub struct ElasticsearchStore {
    client: Elasticsearch,
    config: ElasticsearchConfig,
    result_window: u64,
    max_event_bytes: usize,
    live: broadcast::Sender<Event>,
    published: AtomicU64,
    refreshed: Mutex<u64>,
}

impl std::fmt::Debug for ElasticsearchStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticsearchStore")
            .field("node", &self.config.node.as_str())
            .field("index", &self.config.index)
            .finish_non_exhaustive()
    }
}

/// An event ready to send: its index, id and document.
struct Outgoing {
    index: String,
    id: String,
    document: Value,
}

impl ElasticsearchStore {
    /// Connects to the node the URL names (see [`config`]), checks that it is Elasticsearch 7.8 or later, and
    /// installs the index template for `<index.name>-*`.
    ///
    /// Fails with `Invalid` for a bad URL, `Unavailable` when the node cannot be reached, `Unsupported` for an
    /// older Elasticsearch, and `Backend` when the node answers something that is not Elasticsearch.
    pub async fn connect(url: &str) -> Result<ElasticsearchStore> {
        Self::connect_with(ElasticsearchConfig::from_url(url)?).await
    }

    /// [`ElasticsearchStore::connect`] with a configuration already read.
    pub async fn connect_with(config: ElasticsearchConfig) -> Result<ElasticsearchStore> {
        let mut transport =
            TransportBuilder::new(SingleNodeConnectionPool::new(config.node.clone())).timeout(config.timeout);
        if let Some((user, password)) = &config.credentials {
            transport = transport.auth(Credentials::Basic(user.clone(), password.clone()));
        }
        let transport = transport.build().map_err(|e| {
            Error::invalid(format!(
                "No Elasticsearch client can be built for {}: {e}.",
                config.node
            ))
        })?;
        let store = ElasticsearchStore {
            client: Elasticsearch::new(transport),
            config,
            result_window: DEFAULT_RESULT_WINDOW,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            live: broadcast::channel(SUBSCRIBER_BUFFER).0,
            published: AtomicU64::new(0),
            refreshed: Mutex::new(0),
        };
        store.check_version().await?;
        store.install_template().await?;
        Ok(store)
    }

    /// The same store for a cluster whose event indices have another `index.max_result_window`: searches keep
    /// `from + size` within it and page past it with `search_after`.
    pub fn with_result_window(mut self, window: u64) -> ElasticsearchStore {
        self.result_window = window.max(1);
        self
    }

    /// The same store refusing event documents larger than `bytes` of JSON (see [`DEFAULT_MAX_EVENT_BYTES`]).
    pub fn with_max_event_bytes(mut self, bytes: usize) -> ElasticsearchStore {
        self.max_event_bytes = bytes;
        self
    }

    /// The original's `index.name`: every event index is `<index.name>-<type>-<date>`.
    pub fn index_name(&self) -> &str {
        &self.config.index
    }

    /// The Vamp namespace of the events.
    pub fn namespace(&self) -> &str {
        &self.config.namespace
    }

    fn pattern(&self) -> String {
        format!("{}-*", self.config.index)
    }

    async fn check_version(&self) -> Result<()> {
        let info = answer(
            self.client.info().send().await,
            "answering the root endpoint (GET /)",
        )
        .await?;
        let number = info
            .pointer("/version/number")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::backend(format!(
                    "The server at {} answered GET / without version.number; it is not Elasticsearch.",
                    self.config.node
                ))
            })?;
        let mut parts = number.split(['.', '-']).map(|p| p.parse::<u64>().unwrap_or(0));
        let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if version < OLDEST_VERSION {
            return Err(Error::unsupported(format!(
                "Elasticsearch {number} at {} is too old; the event store needs {}.{} or later (composable index \
                 templates, date_nanos).",
                self.config.node, OLDEST_VERSION.0, OLDEST_VERSION.1
            )));
        }
        Ok(())
    }

    async fn install_template(&self) -> Result<()> {
        let name = self.config.index.as_str();
        answer(
            self.client
                .indices()
                .put_index_template(IndicesPutIndexTemplateParts::Name(name))
                .body(template::index_template(name))
                .send()
                .await,
            &format!("installing the index template '{name}'"),
        )
        .await
        .map(drop)
    }

    fn outgoing(&self, event: Event) -> Result<(Event, Outgoing)> {
        let mut event = prepare_event(event)?;
        let sequence = next_sequence();
        let id = format!("{sequence:016x}{:016x}", process_nonce());
        event.id = Some(id.clone());
        let index = document::index_for(&self.config.index, &event)?;
        let document = document::to_document(&event, &self.config.namespace, sequence)?;
        let size = serde_json::to_vec(&document).map_or(usize::MAX, |b| b.len());
        if size > self.max_event_bytes {
            return Err(Error::invalid(format!(
                "The event of type '{}' is {size} bytes as an Elasticsearch document, over the limit of {} bytes; \
                 publish a smaller value.",
                event.kind, self.max_event_bytes
            )));
        }
        Ok((event, Outgoing { index, id, document }))
    }

    /// Publishes many events with one `_bulk` request; each is prepared and checked as [`EventStore::publish`]
    /// does, and nothing is sent when one of them is refused. When Elasticsearch stores only some of them, the
    /// error says how many failed and why the first did; the others are stored and delivered to subscribers.
    pub async fn publish_all(&self, events: Vec<Event>) -> Result<Vec<Event>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (prepared, outgoing): (Vec<Event>, Vec<Outgoing>) = events
            .into_iter()
            .map(|e| self.outgoing(e))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let operations: Vec<BulkOperation<Value>> = outgoing
            .into_iter()
            .map(|o| BulkOperation::create(o.document).id(o.id).index(o.index).into())
            .collect();
        let response = answer(
            self.client.bulk(BulkParts::None).body(operations).send().await,
            "indexing events in bulk",
        )
        .await?;
        let items = response
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut stored = Vec::with_capacity(prepared.len());
        let mut failures = Vec::new();
        for (event, item) in prepared
            .into_iter()
            .zip(items.iter().map(Some).chain(std::iter::repeat(None)))
        {
            let result = item.and_then(|i| i.get("create"));
            let status = result.and_then(|r| r.get("status")).and_then(Value::as_u64);
            if status.is_some_and(|s| (200..300).contains(&s)) {
                stored.push(event);
            } else {
                failures.push(
                    result
                        .and_then(|r| r.get("error"))
                        .map_or_else(|| "no answer for this event".to_string(), |e| e.to_string()),
                );
            }
        }
        self.published.fetch_add(1, Ordering::AcqRel);
        for event in &stored {
            let _no_subscriber_is_fine = self.live.send(event.clone());
        }
        match failures.first() {
            None => Ok(stored),
            Some(first) => Err(Error::backend(format!(
                "Elasticsearch stored {} of {} events; {} failed, the first because: {first}.",
                stored.len(),
                stored.len() + failures.len(),
                failures.len()
            ))),
        }
    }

    /// Refreshes the event indices when this store published since its last refresh, so its own events are
    /// searchable (see the module documentation).
    async fn refresh_own_writes(&self) -> Result<()> {
        let wanted = self.published.load(Ordering::Acquire);
        let mut refreshed = self.refreshed.lock().await;
        if *refreshed >= wanted {
            return Ok(());
        }
        let upto = self.published.load(Ordering::Acquire);
        let pattern = self.pattern();
        answer(
            self.client
                .indices()
                .refresh(IndicesRefreshParts::Index(&[pattern.as_str()]))
                .send()
                .await,
            "refreshing the event indices",
        )
        .await?;
        *refreshed = upto;
        Ok(())
    }

    async fn search(&self, body: Value, what: &str) -> Result<Value> {
        let pattern = self.pattern();
        answer(
            self.client
                .search(SearchParts::Index(&[pattern.as_str()]))
                .allow_no_indices(true)
                .ignore_unavailable(true)
                .body(body)
                .send()
                .await,
            what,
        )
        .await
    }

    /// The sort values of the last of the first `skip` matches, walking with `search_after` in steps of the
    /// result window; `None` when there are fewer than `skip` matches.
    async fn cursor_after(&self, filter: &Value, skip: u64) -> Result<Option<Value>> {
        let mut cursor: Option<Value> = None;
        let mut remaining = skip;
        while remaining > 0 {
            let size = remaining.min(self.result_window);
            let mut body = json!({
                "query": filter,
                "sort": query::sort(),
                "size": size,
                "_source": false,
                "track_total_hits": false,
            });
            if let (Some(after), Some(fields)) = (&cursor, body.as_object_mut()) {
                fields.insert("search_after".to_string(), after.clone());
            }
            let found = self.search(body, "walking to a deep page of events").await?;
            let hits = hits(&found);
            let Some(last) = hits.last() else {
                return Ok(None);
            };
            cursor = Some(last.get("sort").cloned().ok_or_else(|| {
                Error::backend("Elasticsearch answered a sorted search without sort values.")
            })?);
            remaining -= hits.len() as u64;
            if (hits.len() as u64) < size {
                return Ok(None);
            }
        }
        Ok(cursor)
    }

    /// Up to `wanted` matches after `cursor`, fetched in steps of the result window, and the total count of
    /// matches.
    async fn page_after(&self, filter: &Value, mut cursor: Value, wanted: u64) -> Result<(Vec<Event>, u64)> {
        let mut items = Vec::new();
        let mut matches = None;
        while (items.len() as u64) < wanted {
            let size = (wanted - items.len() as u64).min(self.result_window);
            let body = json!({
                "query": filter,
                "sort": query::sort(),
                "size": size,
                "search_after": cursor,
                "track_total_hits": matches.is_none(),
            });
            let found = self.search(body, "searching a deep page of events").await?;
            if matches.is_none() {
                matches = Some(total(&found));
            }
            let step = hits(&found);
            let Some(last) = step.last() else { break };
            cursor = last.get("sort").cloned().ok_or_else(|| {
                Error::backend("Elasticsearch answered a sorted search without sort values.")
            })?;
            let full = step.len() as u64 == size;
            items.extend(events_of(&found)?);
            if !full {
                break;
            }
        }
        Ok((items, matches.unwrap_or(0)))
    }
}

fn hits(found: &Value) -> &[Value] {
    found
        .pointer("/hits/hits")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn total(found: &Value) -> u64 {
    found
        .pointer("/hits/total/value")
        .or_else(|| found.pointer("/hits/total"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn events_of(found: &Value) -> Result<Vec<Event>> {
    hits(found)
        .iter()
        .map(|hit| {
            let index = hit.get("_index").and_then(Value::as_str).unwrap_or("?");
            let id = hit.get("_id").and_then(Value::as_str).unwrap_or("?");
            let source = hit.get("_source").ok_or_else(|| {
                Error::backend(format!(
                    "Elasticsearch answered a search without _source for '{id}' in '{index}'."
                ))
            })?;
            document::from_source(source, index, id)
        })
        .collect()
}

#[async_trait]
impl EventStore for ElasticsearchStore {
    async fn publish(&self, event: Event) -> Result<Event> {
        let (event, outgoing) = self.outgoing(event)?;
        answer(
            self.client
                .index(IndexParts::IndexId(&outgoing.index, &outgoing.id))
                .op_type(OpType::Create)
                .body(outgoing.document)
                .send()
                .await,
            &format!("indexing an event into '{}'", outgoing.index),
        )
        .await?;
        self.published.fetch_add(1, Ordering::AcqRel);
        let _no_subscriber_is_fine = self.live.send(event.clone());
        Ok(event)
    }

    async fn query(&self, query: &EventQuery, page: Page) -> Result<Paged<Event>> {
        let filter = query::filter(query, &self.config.namespace, Utc::now())?;
        self.refresh_own_writes().await?;
        let per_page = u64::from(page.per_page());
        let (items, total) = if page.offset() + per_page <= self.result_window {
            let body = json!({
                "query": filter,
                "sort": query::sort(),
                "from": page.offset(),
                "size": per_page,
                "track_total_hits": true,
            });
            let found = self.search(body, "searching events").await?;
            (events_of(&found)?, total(&found))
        } else {
            match self.cursor_after(&filter, page.offset()).await? {
                Some(after) => self.page_after(&filter, after, per_page).await?,
                None => (Vec::new(), self.aggregate_count(&filter).await?),
            }
        };
        Ok(Paged {
            items,
            total,
            page: page.page(),
            per_page: page.per_page(),
        })
    }

    async fn aggregate(&self, query: &EventQuery, aggregator: &Aggregator) -> Result<Option<f64>> {
        let filter = query::filter(query, &self.config.namespace, Utc::now())?;
        self.refresh_own_writes().await?;
        if aggregator.kind == AggregatorKind::Count {
            return self.aggregate_count(&filter).await.map(|n| Some(n as f64));
        }
        let body = json!({
            "query": filter,
            "size": 0,
            "track_total_hits": false,
            "aggs": query::aggregations(aggregator),
        });
        let found = self.search(body, "aggregating events").await?;
        let numbers = found
            .pointer("/aggregations/numbers/value")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if numbers == 0.0 {
            return Ok(None);
        }
        Ok(found
            .pointer("/aggregations/metric/value")
            .and_then(Value::as_f64))
    }

    async fn subscribe(&self, query: &EventQuery) -> Result<BoxStream<'static, Event>> {
        query::validate(query)?;
        let query = query.clone();
        let stream = BroadcastStream::new(self.live.subscribe())
            .filter_map(move |item| future::ready(item.ok().filter(|e| query.matches(e, Utc::now()))));
        Ok(stream.boxed())
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64> {
        self.prune_events(before).await
    }
}

impl ElasticsearchStore {
    async fn aggregate_count(&self, filter: &Value) -> Result<u64> {
        let pattern = self.pattern();
        let counted = answer(
            self.client
                .count(CountParts::Index(&[pattern.as_str()]))
                .allow_no_indices(true)
                .ignore_unavailable(true)
                .body(json!({"query": filter}))
                .send()
                .await,
            "counting events",
        )
        .await?;
        counted
            .get("count")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::backend("Elasticsearch answered _count without a count."))
    }
}
