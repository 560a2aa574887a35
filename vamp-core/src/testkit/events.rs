//! Conformance cases of [`EventStore`]: publishing, tag expansion, queries, paging, aggregates, subscriptions
//! and pruning.
//!
//! Every case tags its events with a random tag of its own and queries by it. The prune cases delete every old
//! event of the store and count them, so each case needs a store of its own (the suite macro's constructor
//! returns a fresh one per case).

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::{err, next_item, ok, unique, yields_within};
use crate::model::{Aggregator, AggregatorKind, Event, EventQuery, TimeBound, TimeRange};
use crate::store::{EventStore, Page};
use crate::ErrorKind;

/// A tag no other case uses.
fn case_tag() -> String {
    unique("conformance:")
}

/// A whole-second instant, so backends that store milliseconds or microseconds keep it exactly.
fn at(seconds_ago: i64) -> DateTime<Utc> {
    let now = Utc::now().timestamp();
    Utc.timestamp_opt(now - seconds_ago, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

fn event(tags: &[&str], value: serde_json::Value, timestamp: DateTime<Utc>) -> Event {
    let mut e = Event::new(tags.iter().copied(), value);
    e.timestamp = timestamp;
    e
}

async fn publish(store: &dyn EventStore, e: Event) -> Event {
    ok("publish", store.publish(e).await)
}

async fn values(store: &dyn EventStore, query: &EventQuery) -> Vec<serde_json::Value> {
    let page = ok("query", store.query(query, Page::first(100)).await);
    page.items.into_iter().map(|e| e.value).collect()
}

fn aggregator(kind: AggregatorKind, field: Option<&str>) -> Aggregator {
    Aggregator {
        kind,
        field: field.map(str::to_string),
    }
}

/// Published events get an id each, all different.
pub async fn publish_assigns_distinct_ids(store: &dyn EventStore) {
    let tag = case_tag();
    let mut ids = BTreeSet::new();
    for i in 0..3 {
        let stored = publish(store, event(&[tag.as_str()], json!(i), at(0))).await;
        let Some(id) = stored.id else {
            panic!("publish returned an event without id")
        };
        assert!(!id.is_empty(), "the id is empty");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 3, "ids must differ: {ids:?}");
}

/// A tag `a:b` is stored with `a` too, so a query for `a` finds it.
pub async fn publish_expands_tags(store: &dyn EventStore) {
    let tag = case_tag();
    let mut e = event(&[tag.as_str()], json!("x"), at(0));
    e.tags = [tag.clone(), "deployments:shop".to_string()]
        .into_iter()
        .collect();
    let stored = publish(store, e).await;
    assert!(
        stored.tags.contains("deployments"),
        "returned tags are not expanded: {:?}",
        stored.tags
    );
    assert_eq!(
        values(store, &EventQuery::tags([tag.as_str(), "deployments"])).await,
        [json!("x")]
    );
}

/// The value and the timestamp come back as published.
pub async fn publish_keeps_value_and_timestamp(store: &dyn EventStore) {
    let tag = case_tag();
    let value = json!({"version": "2.2", "by": "ci", "n": [1, 2.5, null]});
    let when = at(3600);
    let e = event(&[tag.as_str()], value.clone(), when).with_type("release");
    let stored = publish(store, e).await;
    assert_eq!(
        (&stored.value, stored.timestamp, stored.kind.as_str()),
        (&value, when, "release")
    );
    let found = ok(
        "query",
        store
            .query(&EventQuery::tags([tag.as_str()]), Page::default())
            .await,
    );
    let back: Vec<_> = found
        .items
        .iter()
        .map(|e| (&e.value, e.timestamp, e.kind.as_str()))
        .collect();
    assert_eq!(back, [(&value, when, "release")]);
}

/// A type other than letters, digits, `-` and `_` is `Invalid`.
pub async fn publish_refuses_an_invalid_type(store: &dyn EventStore) {
    let e = event(&[&case_tag()], json!(1), at(0)).with_type("not valid!");
    assert_eq!(
        err("publish with a bad type", store.publish(e).await).kind(),
        ErrorKind::Invalid
    );
}

/// An event without tags is `Invalid`.
pub async fn publish_refuses_an_event_without_tags(store: &dyn EventStore) {
    let e = event(&[], json!(1), at(0));
    assert_eq!(
        err("publish without tags", store.publish(e).await).kind(),
        ErrorKind::Invalid
    );
}

/// A query matches only events carrying every one of its tags.
pub async fn query_requires_every_tag(store: &dyn EventStore) {
    let tag = case_tag();
    publish(
        store,
        event(&[tag.as_str(), "red", "big"], json!("red big"), at(3)),
    )
    .await;
    publish(store, event(&[tag.as_str(), "red"], json!("red"), at(2))).await;
    publish(store, event(&[tag.as_str(), "big"], json!("big"), at(1))).await;
    assert_eq!(
        values(store, &EventQuery::tags([tag.as_str(), "red", "big"])).await,
        [json!("red big")]
    );
    assert_eq!(
        values(store, &EventQuery::tags([tag.as_str(), "red"])).await,
        [json!("red"), json!("red big")]
    );
}

/// A query with a type matches only events of that type.
pub async fn query_filters_by_type(store: &dyn EventStore) {
    let tag = case_tag();
    publish(
        store,
        event(&[tag.as_str()], json!("metrics"), at(2)).with_type("metrics"),
    )
    .await;
    publish(
        store,
        event(&[tag.as_str()], json!("health"), at(1)).with_type("health"),
    )
    .await;
    let query = EventQuery {
        kind: Some("health".to_string()),
        ..EventQuery::tags([tag.as_str()])
    };
    assert_eq!(values(store, &query).await, [json!("health")]);
}

/// Absolute time bounds select events in the range, inclusive or exclusive as asked.
pub async fn query_filters_by_time_range(store: &dyn EventStore) {
    let tag = case_tag();
    let (t1, t2, t3) = (at(3 * 3600), at(2 * 3600), at(3600));
    for (t, v) in [(t1, "t1"), (t2, "t2"), (t3, "t3")] {
        publish(store, event(&[tag.as_str()], json!(v), t)).await;
    }
    let range = |from: Option<(DateTime<Utc>, bool)>, to: Option<(DateTime<Utc>, bool)>| EventQuery {
        time: TimeRange {
            from: from.map(|(t, i)| (TimeBound::At(t), i)),
            to: to.map(|(t, i)| (TimeBound::At(t), i)),
        },
        ..EventQuery::tags([tag.as_str()])
    };
    assert_eq!(
        values(store, &range(Some((t2, true)), Some((t3, false)))).await,
        [json!("t2")],
        "gte t2, lt t3"
    );
    assert_eq!(
        values(store, &range(Some((t2, false)), None)).await,
        [json!("t3")],
        "gt t2"
    );
    assert_eq!(
        values(store, &range(None, Some((t2, true)))).await,
        [json!("t2"), json!("t1")],
        "lte t2"
    );
}

/// Relative bounds (`now-1h`) are resolved when the query runs.
pub async fn query_resolves_relative_time_bounds(store: &dyn EventStore) {
    let tag = case_tag();
    publish(store, event(&[tag.as_str()], json!("old"), at(2 * 3600))).await;
    publish(store, event(&[tag.as_str()], json!("recent"), at(10))).await;
    let query = EventQuery {
        time: TimeRange {
            from: Some((TimeBound::Now(-3600), true)),
            to: None,
        },
        ..EventQuery::tags([tag.as_str()])
    };
    assert_eq!(values(store, &query).await, [json!("recent")]);
}

/// Results come newest first by timestamp, whatever the publication order, paged with the total.
pub async fn query_pages_newest_first(store: &dyn EventStore) {
    let tag = case_tag();
    for age in [30, 10, 50, 20, 40] {
        publish(store, event(&[tag.as_str()], json!(age), at(age))).await;
    }
    let query = EventQuery::tags([tag.as_str()]);
    let mut seen = Vec::new();
    for p in 1..=3 {
        let page = ok("query", store.query(&query, ok("page", Page::new(p, 2))).await);
        assert_eq!(page.total, 5);
        seen.extend(page.items.into_iter().map(|e| e.value));
    }
    assert_eq!(seen, [json!(10), json!(20), json!(30), json!(40), json!(50)]);
}

/// Events with the same timestamp come back later-published first.
pub async fn query_breaks_timestamp_ties_by_publication(store: &dyn EventStore) {
    let tag = case_tag();
    let when = at(5);
    for i in 0..3 {
        publish(store, event(&[tag.as_str()], json!(i), when)).await;
    }
    assert_eq!(
        values(store, &EventQuery::tags([tag.as_str()])).await,
        [json!(2), json!(1), json!(0)]
    );
}

/// Aggregates over the value: count counts every event, the others only numbers.
pub async fn aggregates_over_the_value(store: &dyn EventStore) {
    let tag = case_tag();
    for v in [json!(1), json!(2.5), json!(4.5), json!("not a number")] {
        publish(store, event(&[tag.as_str()], v, at(1))).await;
    }
    let query = EventQuery::tags([tag.as_str()]);
    for (kind, expected) in [
        (AggregatorKind::Count, 4.0),
        (AggregatorKind::Min, 1.0),
        (AggregatorKind::Max, 4.5),
        (AggregatorKind::Average, 8.0 / 3.0),
        (AggregatorKind::Sum, 8.0),
    ] {
        let got = ok(
            "aggregate",
            store.aggregate(&query, &aggregator(kind, None)).await,
        );
        assert!(
            got.is_some_and(|g| (g - expected).abs() < 1e-9),
            "{kind:?}: expected {expected}, got {got:?}"
        );
    }
}

/// Aggregates over a dotted field read the number at that path and skip events without one.
pub async fn aggregates_over_a_dotted_field(store: &dyn EventStore) {
    let tag = case_tag();
    for v in [
        json!({"r": {"ms": 10}}),
        json!({"r": {"ms": 30}}),
        json!({"r": "x"}),
        json!(5),
    ] {
        publish(store, event(&[tag.as_str()], v, at(1))).await;
    }
    let query = EventQuery::tags([tag.as_str()]);
    let average = ok(
        "aggregate",
        store
            .aggregate(&query, &aggregator(AggregatorKind::Average, Some("r.ms")))
            .await,
    );
    assert_eq!(average, Some(20.0));
    let count = ok(
        "aggregate",
        store
            .aggregate(&query, &aggregator(AggregatorKind::Count, Some("r.ms")))
            .await,
    );
    assert_eq!(count, Some(4.0), "count counts events, numeric field or not");
}

/// Over no matching event, count is 0 and the other aggregates are `None`.
pub async fn aggregates_of_nothing(store: &dyn EventStore) {
    let query = EventQuery::tags([case_tag().as_str()]);
    assert_eq!(
        ok(
            "count",
            store
                .aggregate(&query, &aggregator(AggregatorKind::Count, None))
                .await
        ),
        Some(0.0)
    );
    assert_eq!(
        ok(
            "average",
            store
                .aggregate(&query, &aggregator(AggregatorKind::Average, None))
                .await
        ),
        None
    );
}

/// A subscription delivers matching events published after it, not earlier ones nor ones of another tag or type.
pub async fn subscribe_delivers_matching_events_published_after(store: &dyn EventStore) {
    let tag = case_tag();
    publish(
        store,
        event(&[tag.as_str()], json!("before"), at(0)).with_type("deploy"),
    )
    .await;
    let query = EventQuery {
        kind: Some("deploy".to_string()),
        ..EventQuery::tags([tag.as_str()])
    };
    let mut live = ok("subscribe", store.subscribe(&query).await);
    publish(
        store,
        event(&["elsewhere"], json!("other tag"), at(0)).with_type("deploy"),
    )
    .await;
    publish(store, event(&[tag.as_str()], json!("other type"), at(0))).await;
    publish(
        store,
        event(&[tag.as_str(), "extra:x"], json!("match"), at(0)).with_type("deploy"),
    )
    .await;
    let got = next_item("subscription", &mut live).await;
    assert_eq!(
        got.value,
        json!("match"),
        "the subscription delivered an event it should have left out"
    );
    assert!(got.id.is_some(), "subscribed events carry their id");
    assert!(
        !yields_within(&mut live, StdDuration::from_millis(200)).await,
        "the subscription delivered more"
    );
}

/// A subscription delivers events in publication order.
pub async fn subscribe_keeps_publication_order(store: &dyn EventStore) {
    let tag = case_tag();
    let mut live = ok(
        "subscribe",
        store.subscribe(&EventQuery::tags([tag.as_str()])).await,
    );
    for i in 0..5 {
        publish(
            store,
            event(&[tag.as_str()], json!(i), at(0) - Duration::seconds(i)),
        )
        .await;
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next_item("subscription", &mut live).await.value);
    }
    assert_eq!(got, [json!(0), json!(1), json!(2), json!(3), json!(4)]);
}

/// Prune deletes exactly the events stamped before the bound, whatever their tags, type or publication order,
/// counts them, and keeps the event stamped at the bound and everything after it.
pub async fn prune_deletes_exactly_the_events_before_the_bound(store: &dyn EventStore) {
    let (tag, other) = (case_tag(), case_tag());
    let bound = at(3600);
    publish(store, event(&[tag.as_str()], json!("recent"), at(10))).await;
    publish(store, event(&[tag.as_str()], json!("at the bound"), bound)).await;
    publish(
        store,
        event(
            &[tag.as_str()],
            json!("a second before"),
            bound - Duration::seconds(1),
        )
        .with_type("health"),
    )
    .await;
    publish(
        store,
        event(&[other.as_str(), "gateways:shop"], json!("old"), at(3 * 3600)).with_type("metrics"),
    )
    .await;
    publish(
        store,
        event(&[tag.as_str()], json!("just after"), bound + Duration::seconds(1)),
    )
    .await;
    for i in 0..20 {
        publish(store, event(&[other.as_str()], json!(i), at(2 * 3600 + i))).await;
    }
    assert_eq!(
        ok("prune", store.prune(bound).await),
        22,
        "prune counts what it deleted"
    );
    assert_eq!(
        values(store, &EventQuery::tags([tag.as_str()])).await,
        [json!("recent"), json!("just after"), json!("at the bound")]
    );
    assert!(values(store, &EventQuery::tags([other.as_str()]))
        .await
        .is_empty());
    assert!(
        values(store, &EventQuery::tags(["gateways"])).await.is_empty(),
        "the expanded tags of a pruned event are gone too"
    );
    let count = ok(
        "aggregate",
        store
            .aggregate(
                &EventQuery::tags([tag.as_str()]),
                &aggregator(AggregatorKind::Count, None),
            )
            .await,
    );
    assert_eq!(count, Some(3.0));
}

/// Pruning again with the same or an earlier bound deletes nothing and returns 0.
pub async fn prune_is_idempotent(store: &dyn EventStore) {
    let tag = case_tag();
    for age in [7200, 5400, 60] {
        publish(store, event(&[tag.as_str()], json!(age), at(age))).await;
    }
    let bound = at(3600);
    assert_eq!(ok("prune", store.prune(bound).await), 2);
    assert_eq!(ok("prune again", store.prune(bound).await), 0);
    assert_eq!(
        ok("prune earlier", store.prune(bound - Duration::hours(1)).await),
        0
    );
    assert_eq!(
        values(store, &EventQuery::tags([tag.as_str()])).await,
        [json!(60)]
    );
}

/// Pruning a store without events returns 0, and so does pruning before every event.
pub async fn prune_of_an_empty_store_is_zero(store: &dyn EventStore) {
    assert_eq!(ok("prune of an empty store", store.prune(at(0)).await), 0);
    let tag = case_tag();
    publish(store, event(&[tag.as_str()], json!("kept"), at(60))).await;
    assert_eq!(ok("prune before every event", store.prune(at(3600)).await), 0);
    assert_eq!(
        values(store, &EventQuery::tags([tag.as_str()])).await,
        [json!("kept")]
    );
}

/// Ids of events published after a prune differ from those of the pruned events, and those events sort after
/// every earlier one of the same timestamp.
pub async fn prune_does_not_hand_out_ids_again(store: &dyn EventStore) {
    let tag = case_tag();
    let when = at(60);
    let kept = publish(store, event(&[tag.as_str()], json!("kept"), when)).await;
    let mut pruned = BTreeSet::new();
    for i in 0..3 {
        let e = publish(store, event(&[tag.as_str()], json!(i), at(7200))).await;
        pruned.extend(e.id);
    }
    assert_eq!(ok("prune", store.prune(at(3600)).await), 3);
    let later = publish(store, event(&[tag.as_str()], json!("later"), when)).await;
    let Some(id) = later.id else {
        panic!("publish returned an event without id")
    };
    assert!(
        !pruned.contains(&id) && kept.id.as_ref() != Some(&id),
        "the id {id} was handed out before the prune"
    );
    assert_eq!(
        values(store, &EventQuery::tags([tag.as_str()])).await,
        [json!("later"), json!("kept")],
        "the event published after the prune is the later published one"
    );
}

/// A subscription made before a prune keeps delivering the matching events published after it, and one made
/// after a prune works too.
pub async fn prune_leaves_subscriptions_working(store: &dyn EventStore) {
    let tag = case_tag();
    let query = EventQuery::tags([tag.as_str()]);
    let mut before = ok("subscribe", store.subscribe(&query).await);
    publish(store, event(&[tag.as_str()], json!("old"), at(7200))).await;
    assert_eq!(next_item("subscription", &mut before).await.value, json!("old"));
    assert_eq!(ok("prune", store.prune(at(3600)).await), 1);
    let mut after = ok("subscribe after the prune", store.subscribe(&query).await);
    publish(store, event(&[tag.as_str()], json!("new"), at(0))).await;
    assert_eq!(
        next_item("subscription made before the prune", &mut before)
            .await
            .value,
        json!("new")
    );
    assert_eq!(
        next_item("subscription made after the prune", &mut after)
            .await
            .value,
        json!("new")
    );
}
