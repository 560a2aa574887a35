//! The `ArtifactStore` and `EventStore` traits: durable desired state and events.
//!
//! The artifact store keeps documents by kind and name with a revision per artifact and the full history of
//! revisions; the event store keeps tagged events, answers filtered and aggregated queries, and streams new events
//! to subscribers. Both page their listings with [`Page`] and answer with [`Paged`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::model::{Aggregator, AggregatorKind, Event, EventQuery, Kind};
use crate::{Error, Result};

/// The page size when a caller gives none.
pub const DEFAULT_PER_PAGE: u32 = 30;
/// The largest page size a store answers.
pub const MAX_PER_PAGE: u32 = 1000;

/// Which page of a listing to return: `page` counts from 1, `per_page` is 1 to [`MAX_PER_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Page {
    page: u32,
    per_page: u32,
}

impl Page {
    /// A validated page; fails with [`crate::ErrorKind::Invalid`] when `page` is 0 or `per_page` is outside
    /// 1..=[`MAX_PER_PAGE`].
    pub fn new(page: u32, per_page: u32) -> Result<Page> {
        if page == 0 {
            return Err(Error::invalid(
                "The page number counts from 1; ask for page 1 or higher.",
            ));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(Error::invalid(format!(
                "The page size {per_page} is outside 1..={MAX_PER_PAGE}; ask for at most {MAX_PER_PAGE} items per page."
            )));
        }
        Ok(Page { page, per_page })
    }

    /// The first page of `per_page` items, with `per_page` clamped into 1..=[`MAX_PER_PAGE`].
    pub fn first(per_page: u32) -> Page {
        Page {
            page: 1,
            per_page: per_page.clamp(1, MAX_PER_PAGE),
        }
    }

    /// The page number, from 1.
    pub fn page(&self) -> u32 {
        self.page
    }

    /// The page size.
    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    /// How many items come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

impl Default for Page {
    /// The first page of [`DEFAULT_PER_PAGE`] items.
    fn default() -> Self {
        Page {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

/// One page of a listing and the size of the whole listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paged<T> {
    /// The items of this page, in the listing's order; empty past the last page.
    pub items: Vec<T>,
    /// How many items the whole listing has.
    pub total: u64,
    /// The page number, from 1.
    pub page: u32,
    /// The page size.
    pub per_page: u32,
}

impl<T> Paged<T> {
    /// Cuts `page` out of a complete, already ordered listing; what in-memory and cached backends need.
    pub fn slice(all: Vec<T>, page: Page) -> Paged<T> {
        let total = all.len() as u64;
        let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let items = all
            .into_iter()
            .skip(skip)
            .take(page.per_page() as usize)
            .collect();
        Paged {
            items,
            total,
            page: page.page(),
            per_page: page.per_page(),
        }
    }

    /// The same page with every item mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

/// One revision of an artifact as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The artifact kind.
    pub kind: Kind,
    /// The artifact name.
    pub name: String,
    /// The revision: 1 for the first put, one more for every later put.
    pub revision: u64,
    /// The document as put.
    pub document: serde_json::Value,
    /// When this revision was written.
    pub updated: DateTime<Utc>,
}

/// Artifacts by kind and name, with a revision per artifact and the history of every revision. Held as
/// `Arc<dyn ArtifactStore>`.
///
/// Names are compared byte for byte; an empty name fails with [`crate::ErrorKind::Invalid`]. Every method may
/// fail with [`crate::ErrorKind::Unavailable`] when the store cannot be reached.
///
/// Deleting an artifact removes it from `get` and `list` but not from `history`: the history is an audit trail
/// of every put. Revisions keep counting across a delete, so a writer holding a revision from before the delete
/// cannot overwrite the artifact created after it.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// The current revision of the artifact; `None` when it does not exist (never put, or deleted).
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Stored>>;

    /// Writes a new revision and returns its number: 1 for an artifact never put before, otherwise one more than
    /// the last revision in its history (also when the artifact was deleted in between).
    ///
    /// With `expected_revision: Some(n)` the write happens only if the current revision is `n`, where an absent
    /// artifact's current revision is 0 (so `Some(0)` means "create, do not overwrite"); otherwise it fails with
    /// [`crate::ErrorKind::Conflict`] and changes nothing. Of concurrent writers expecting the same revision,
    /// exactly one succeeds. `None` writes unconditionally. Durable once `Ok` for durable backends.
    async fn put(
        &self,
        kind: Kind,
        name: &str,
        document: serde_json::Value,
        expected_revision: Option<u64>,
    ) -> Result<u64>;

    /// Removes the artifact and says whether it existed. Idempotent: deleting an absent artifact is `Ok(false)`.
    async fn delete(&self, kind: Kind, name: &str) -> Result<bool>;

    /// The current artifacts of `kind`, sorted by name in byte order, with the total count of that kind. A page
    /// past the end has no items and the same total.
    async fn list(&self, kind: Kind, page: Page) -> Result<Paged<Stored>>;

    /// Every revision ever put, oldest first; empty when the artifact was never put. Survives `delete`.
    async fn history(&self, kind: Kind, name: &str) -> Result<Vec<Stored>>;
}

/// The name check every [`ArtifactStore`] makes first: an empty name fails with [`crate::ErrorKind::Invalid`].
pub fn check_artifact_name(kind: Kind, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(format!(
            "A {kind} needs a name; the name is empty."
        )));
    }
    Ok(())
}

/// The condition of [`ArtifactStore::put`]: with `expected: Some(n)` the artifact must be at revision `n` (0: it
/// does not exist), else the put fails with [`crate::ErrorKind::Conflict`]; `None` always passes.
pub fn check_expected_revision(kind: Kind, name: &str, current: u64, expected: Option<u64>) -> Result<()> {
    match expected {
        Some(expected) if expected != current => Err(Error::conflict(format!(
            "The {kind} '{name}' is at revision {current}, not {expected}; read it again and retry."
        ))),
        _ => Ok(()),
    }
}

/// Tagged events: publish, query, aggregate, subscribe and prune. Held as `Arc<dyn EventStore>`.
///
/// A query matches an event when the event carries every tag of the query (after expansion, so `a` matches
/// `a:b`), has the query's type if one is given, and lies in the query's time range, with relative bounds
/// (`now-1m`) resolved when the query runs. Every method may fail with [`crate::ErrorKind::Unavailable`] when
/// the store cannot be reached.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores the event and returns it as stored: with a fresh `id` (any id given is replaced), its tags expanded
    /// ([`Event::expand_tags`]), its value and timestamp unchanged.
    ///
    /// Fails with `Invalid` when the event has no tag or its type is not alphanumerics, `-` and `_`.
    async fn publish(&self, event: Event) -> Result<Event>;

    /// The matching events, newest first by timestamp (ties: the later published first), with the total count
    /// of matches. The query's aggregator is ignored.
    async fn query(&self, query: &EventQuery, page: Page) -> Result<Paged<Event>>;

    /// An aggregate over the matching events: `count` counts them (`Some(0.0)` when none match); `min`, `max`,
    /// `average` and `sum` take the event value, or the number at the dotted `field` path inside it, skip events
    /// where that is not a JSON number, and give `None` when no number is left.
    async fn aggregate(&self, query: &EventQuery, aggregator: &Aggregator) -> Result<Option<f64>>;

    /// A live stream of the matching events published after this call returned, in publication order.
    ///
    /// A subscriber that falls behind by more than the backend's buffer loses the oldest undelivered events
    /// rather than slowing publishers. The stream ends when the store is dropped or the backend loses its
    /// connection for good; a subscriber that must not miss events re-queries after the stream ends.
    async fn subscribe(&self, query: &EventQuery) -> Result<BoxStream<'static, Event>>;

    /// Deletes every event whose timestamp is strictly before `before`, whatever its tags, type or publication
    /// order, and returns how many it deleted. What retention calls periodically with `now - retention`.
    ///
    /// Events at or after `before` are kept unchanged. Idempotent: pruning again with the same or an earlier
    /// bound deletes nothing and returns 0; an empty store returns 0. Ids are never handed out again: an event
    /// published after a prune gets an id no deleted event had, and sorts after every event published before.
    /// Subscriptions are unaffected: a live stream keeps delivering the matching events published after it,
    /// before and after the prune.
    ///
    /// The count is exact for events stored when the call began. An event published while the prune runs with
    /// a timestamp before `before` may be deleted without being counted, or left for the next prune. Backends
    /// delete in steps (batches, whole indices) so that publishers and queries are not held up for the whole
    /// prune; a prune that fails half way has deleted some of the events, never part of one, and the next
    /// prune deletes the rest.
    async fn prune(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// The number an aggregator reads from an event: the value itself, or the number at the dotted `field` path;
/// `None` when that is not a JSON number. Backends that aggregate in memory share it.
pub fn aggregated_number(event: &Event, field: Option<&str>) -> Option<f64> {
    let mut value = &event.value;
    if let Some(path) = field.filter(|f| !f.is_empty()) {
        for part in path.split('.') {
            value = value.get(part)?;
        }
    }
    value.as_f64()
}

/// Folds the numbers of `events` the way [`EventStore::aggregate`] specifies.
pub fn aggregate_events<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    aggregator: &Aggregator,
) -> Option<f64> {
    let field = aggregator.field.as_deref();
    if aggregator.kind == AggregatorKind::Count {
        return Some(events.into_iter().count() as f64);
    }
    let numbers: Vec<f64> = events
        .into_iter()
        .filter_map(|e| aggregated_number(e, field))
        .collect();
    if numbers.is_empty() {
        return None;
    }
    let sum: f64 = numbers.iter().sum();
    Some(match aggregator.kind {
        AggregatorKind::Min => numbers.iter().copied().fold(f64::INFINITY, f64::min),
        AggregatorKind::Max => numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        AggregatorKind::Average => sum / numbers.len() as f64,
        AggregatorKind::Sum | AggregatorKind::Count => sum,
    })
}

/// Checks what [`EventStore::publish`] requires of an event and expands its tags; backends call it first.
pub fn prepare_event(mut event: Event) -> Result<Event> {
    if event.tags.is_empty() {
        return Err(Error::invalid(
            "An event needs at least one tag; add one such as 'deployments:shop'.",
        ));
    }
    if !Event::valid_type(&event.kind) {
        return Err(Error::invalid(format!(
            "The event type '{}' is invalid; use letters, digits, '-' and '_' only.",
            event.kind
        )));
    }
    event.tags = Event::expand_tags(std::mem::take(&mut event.tags));
    Ok(event)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ErrorKind;

    fn event(value: serde_json::Value) -> Event {
        Event::new(["t"], value)
    }

    fn agg(kind: AggregatorKind, field: Option<&str>) -> Aggregator {
        Aggregator {
            kind,
            field: field.map(str::to_string),
        }
    }

    #[test]
    fn pages_count_from_one_and_are_bounded() {
        assert_eq!(Page::new(0, 10).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(Page::new(1, 0).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(
            Page::new(1, MAX_PER_PAGE + 1).unwrap_err().kind(),
            ErrorKind::Invalid
        );
        assert_eq!(Page::new(3, 10).unwrap().offset(), 20);
    }

    #[test]
    fn an_empty_artifact_name_is_invalid() {
        let e = check_artifact_name(Kind::Breed, "").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert!(e.message().contains("needs a name"), "{e}");
        assert!(check_artifact_name(Kind::Breed, "sava").is_ok());
    }

    #[test]
    fn a_put_expecting_another_revision_is_a_conflict() {
        let e = check_expected_revision(Kind::Breed, "sava", 2, Some(1)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert!(e.message().contains("at revision 2, not 1"), "{e}");
        assert!(check_expected_revision(Kind::Breed, "sava", 2, Some(2)).is_ok());
        assert!(check_expected_revision(Kind::Breed, "sava", 0, None).is_ok());
        assert_eq!(
            check_expected_revision(Kind::Breed, "sava", 0, Some(3))
                .unwrap_err()
                .kind(),
            ErrorKind::Conflict
        );
    }

    #[test]
    fn slice_cuts_a_page_and_keeps_the_total() {
        let paged = Paged::slice((1..=5).collect::<Vec<_>>(), Page::new(2, 2).unwrap());
        assert_eq!((paged.items, paged.total), (vec![3, 4], 5));
        let past = Paged::slice((1..=5).collect::<Vec<_>>(), Page::new(9, 2).unwrap());
        assert_eq!((past.items.len(), past.total), (0, 5));
    }

    #[test]
    fn aggregates_read_numbers_at_a_dotted_field() {
        let events = [
            event(json!({"a": {"b": 2}})),
            event(json!({"a": {"b": 4.5}})),
            event(json!({"a": "x"})),
        ];
        assert_eq!(
            aggregate_events(&events, &agg(AggregatorKind::Sum, Some("a.b"))),
            Some(6.5)
        );
        assert_eq!(
            aggregate_events(&events, &agg(AggregatorKind::Max, Some("a.b"))),
            Some(4.5)
        );
        assert_eq!(
            aggregate_events(&events, &agg(AggregatorKind::Count, Some("a.b"))),
            Some(3.0)
        );
    }

    #[test]
    fn aggregates_without_numbers_are_none_but_count_is_zero() {
        let events = [event(json!("text"))];
        assert_eq!(
            aggregate_events(&events, &agg(AggregatorKind::Average, None)),
            None
        );
        assert_eq!(
            aggregate_events(&[], &agg(AggregatorKind::Count, None)),
            Some(0.0)
        );
    }

    #[test]
    fn prepare_refuses_events_without_tags_or_with_a_bad_type() {
        let mut untagged = event(json!(1));
        untagged.tags.clear();
        assert_eq!(prepare_event(untagged).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(
            prepare_event(event(json!(1)).with_type("a b"))
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
    }

    #[test]
    fn prepare_expands_tags_given_unexpanded() {
        let mut e = event(json!(1));
        e.tags = ["deployments:shop".to_string()].into_iter().collect();
        let e = prepare_event(e).unwrap();
        assert!(e.tags.contains("deployments"));
    }
}
