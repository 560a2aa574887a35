//! The Elasticsearch event store against the wire-level double of Elasticsearch's REST API (no Elasticsearch
//! server can be installed here): the event conformance suite, the original's index naming, deep paging, and
//! what it does with bad input and unreachable or unsuitable servers.

mod support;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::json;
use support::es_double::{EsDouble, Options};
use support::held::Held;
use vamp_core::model::{Aggregator, AggregatorKind, Event, EventQuery};
use vamp_core::store::{EventStore, Page};
use vamp_core::ErrorKind;
use vamp_persistence::elasticsearch::ElasticsearchStore;

/// A store and the double it talks to, dropped together (the store first).
type OverDouble = Held<ElasticsearchStore, EsDouble>;

async fn over(options: Options, query: &str) -> OverDouble {
    let double = EsDouble::start_with(options);
    let store = ElasticsearchStore::connect(&format!("elasticsearch://{}{query}", &double.url()[7..]))
        .await
        .expect("the store connects to the double");
    OverDouble { store, guard: double }
}

vamp_core::event_conformance!(
    elasticsearch_double,
    || async { Arc::new(over(Options::default(), "").await) },
    skip = "elasticsearch",
);

fn event_at(tags: &[&str], value: serde_json::Value, kind: &str) -> Event {
    let mut e = Event::new(tags.iter().copied(), value).with_type(kind);
    e.timestamp = Utc.with_ymd_and_hms(2017, 6, 28, 10, 0, 0).unwrap();
    e
}

#[tokio::test]
async fn events_go_to_the_originals_daily_index_per_type() {
    let es = over(Options::default(), "?namespace=shop").await;
    assert_eq!(es.store.index_name(), "vamp-pulse-shop");
    let stored = es
        .store
        .publish(event_at(&["gateways:shop"], json!(0.5), "Health"))
        .await
        .unwrap();
    assert_eq!(es.guard.indices(), ["vamp-pulse-shop-health-2017-06-28"]);
    let documents = es.guard.documents("vamp-pulse-shop-health-2017-06-28");
    let document = &documents[0];
    assert_eq!(
        document["Health"],
        json!(0.5),
        "a field named after the type holds the value"
    );
    assert_eq!(
        document["value"],
        json!("0.5"),
        "value is the JSON text, as the original stored it"
    );
    assert_eq!(document["type"], json!("Health"));
    assert_eq!(document["tags"], json!(["gateways", "gateways:shop"]));
    assert_eq!(document["timestamp"], json!("2017-06-28T10:00:00Z"));
    assert_eq!(document["id"], json!(stored.id.unwrap()));
}

#[tokio::test]
async fn connect_installs_the_index_template_for_the_event_indices() {
    let es = over(Options::default(), "").await;
    let template = es.guard.template("vamp-pulse-default").expect("a template");
    assert_eq!(template["index_patterns"], json!(["vamp-pulse-default-*"]));
    assert_eq!(template["template"]["aliases"], json!({"vamp-pulse-default": {}}));
    assert_eq!(
        template["template"]["mappings"]["properties"]["tags"],
        json!({"type": "keyword"})
    );
}

#[tokio::test]
async fn namespaces_whose_names_prefix_each_other_stay_apart() {
    let double = EsDouble::start();
    let address = &double.url()[7..];
    let a = ElasticsearchStore::connect(&format!("elasticsearch://{address}?namespace=a"))
        .await
        .unwrap();
    let ab = ElasticsearchStore::connect(&format!("elasticsearch://{address}?namespace=a-b"))
        .await
        .expect("overlapping templates get different priorities");
    a.publish(Event::new(["t"], json!("a"))).await.unwrap();
    ab.publish(Event::new(["t"], json!("a-b"))).await.unwrap();
    let seen: Vec<_> = a
        .query(&EventQuery::tags(["t"]), Page::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.value)
        .collect();
    assert_eq!(seen, [json!("a")]);
}

#[tokio::test]
async fn pages_past_the_result_window_are_walked_with_search_after() {
    let options = Options {
        max_result_window: 20,
        ..Options::default()
    };
    let es = over(options, "").await;
    let store = es.store.with_result_window(20);
    let base = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    let events: Vec<Event> = (0..65)
        .map(|i| {
            let mut e = Event::new(["deep"], json!(i));
            e.timestamp = base + chrono::Duration::seconds(i);
            e
        })
        .collect();
    store.publish_all(events).await.unwrap();
    let query = EventQuery::tags(["deep"]);
    for (page, first) in [(1, 64), (3, 44), (5, 24), (7, 4)] {
        let found = store.query(&query, Page::new(page, 10).unwrap()).await.unwrap();
        assert_eq!(found.total, 65);
        let values: Vec<i64> = found.items.iter().filter_map(|e| e.value.as_i64()).collect();
        let expected: Vec<i64> = (0..10).map(|k| first - k).filter(|v| *v >= 0).collect();
        assert_eq!(values, expected, "page {page}");
    }
    let wide = store.query(&query, Page::new(2, 25).unwrap()).await.unwrap();
    let values: Vec<i64> = wide.items.iter().filter_map(|e| e.value.as_i64()).collect();
    assert_eq!(
        values,
        (15..=39).rev().collect::<Vec<i64>>(),
        "a page wider than the window comes in several steps"
    );
    assert_eq!(wide.total, 65);
    let past = store.query(&query, Page::new(9, 10).unwrap()).await.unwrap();
    assert_eq!((past.items.len(), past.total), (0, 65));
}

async fn count(store: &ElasticsearchStore, tag: &str) -> Option<f64> {
    let counter = Aggregator {
        kind: AggregatorKind::Count,
        field: None,
    };
    store.aggregate(&EventQuery::tags([tag]), &counter).await.unwrap()
}

#[tokio::test]
async fn events_of_other_writers_appear_after_the_refresh_interval() {
    let options = Options {
        refresh_interval: std::time::Duration::from_secs(3600),
        ..Options::default()
    };
    let double = EsDouble::start_with(options);
    let url = format!("elasticsearch://{}", &double.url()[7..]);
    let reader = ElasticsearchStore::connect(&url).await.unwrap();
    let writer = ElasticsearchStore::connect(&url).await.unwrap();
    writer.publish(Event::new(["nrt"], json!("other"))).await.unwrap();
    assert_eq!(count(&reader, "nrt").await, Some(0.0), "not refreshed yet");
    reader.publish(Event::new(["nrt"], json!("own"))).await.unwrap();
    assert_eq!(
        count(&reader, "nrt").await,
        Some(2.0),
        "the reader's refresh shows both"
    );
}

#[tokio::test]
async fn publish_all_sends_one_bulk_request_and_feeds_subscribers() {
    use futures::StreamExt;
    let es = over(Options::default(), "").await;
    let mut live = es.store.subscribe(&EventQuery::tags(["bulk"])).await.unwrap();
    let before = es.guard.requests();
    let stored = es
        .store
        .publish_all((0..3).map(|i| Event::new(["bulk"], json!(i))).collect())
        .await
        .unwrap();
    assert_eq!(es.guard.requests() - before, 1);
    assert_eq!(stored.len(), 3);
    for i in 0..3 {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), live.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.value, json!(i));
    }
}

#[tokio::test]
async fn publish_all_sends_nothing_when_one_event_is_invalid() {
    let es = over(Options::default(), "").await;
    let before = es.guard.requests();
    let e = es
        .store
        .publish_all(vec![
            Event::new(["ok"], json!(1)),
            Event::new(["ok"], json!(2)).with_type("bad type"),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(es.guard.requests(), before);
}

#[tokio::test]
async fn an_oversized_event_is_invalid_before_it_is_sent() {
    let es = over(Options::default(), "").await;
    let store = es.store.with_max_event_bytes(4096);
    let e = store
        .publish(Event::new(["big"], json!("x".repeat(5000))))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(
        e.message().contains("over the limit of 4096 bytes"),
        "{}",
        e.message()
    );
    assert!(es.guard.indices().is_empty());
}

#[tokio::test]
async fn a_request_over_the_servers_content_length_is_invalid() {
    let options = Options {
        max_content_length: 2048,
        ..Options::default()
    };
    let es = over(options, "").await;
    let e = es
        .store
        .publish(Event::new(["big"], json!("x".repeat(3000))))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("too large"), "{}", e.message());
}

#[tokio::test]
async fn malformed_queries_are_invalid_everywhere() {
    let es = over(Options::default(), "").await;
    let bad = [
        EventQuery::tags([""]),
        EventQuery {
            kind: Some("no spaces".to_string()),
            ..EventQuery::tags(["t"])
        },
    ];
    let count = Aggregator {
        kind: AggregatorKind::Count,
        field: None,
    };
    for query in &bad {
        let query_error = es.store.query(query, Page::default()).await.unwrap_err();
        assert_eq!(query_error.kind(), ErrorKind::Invalid);
        assert_eq!(
            es.store.aggregate(query, &count).await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
        assert!(matches!(es.store.subscribe(query).await, Err(e) if e.kind() == ErrorKind::Invalid));
    }
}

#[tokio::test]
async fn an_event_type_too_long_for_an_index_name_is_invalid() {
    let es = over(Options::default(), "").await;
    let e = es
        .store
        .publish(Event::new(["t"], json!(1)).with_type("t".repeat(300)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("too long"), "{}", e.message());
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let port = vamp_core::testkit::servers::free_port().unwrap();
    let e = ElasticsearchStore::connect(&format!("elasticsearch://127.0.0.1:{port}?timeout=5"))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Unavailable { retryable: true });
    assert!(e.message().contains("cannot be reached"), "{}", e.message());
}

#[tokio::test]
async fn an_elasticsearch_older_than_7_8_is_unsupported() {
    let double = EsDouble::start_with(Options {
        version: "7.4.2".to_string(),
        ..Options::default()
    });
    let e = ElasticsearchStore::connect(&format!("elasticsearch://{}", &double.url()[7..]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.message().contains("7.4.2"), "{}", e.message());
}

#[tokio::test]
async fn a_foreign_document_in_the_event_indices_is_a_backend_error() {
    let es = over(Options::default(), "").await;
    es.guard.put_searchable(
        "vamp-pulse-default-event-2020-01-01",
        "foreign",
        json!({"namespace": "default", "tags": ["t"], "timestamp": "2020-01-01T00:00:00Z"}),
    );
    let e = es
        .store
        .query(&EventQuery::tags(["t"]), Page::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(e.message().contains("'foreign'"), "{}", e.message());
}

#[tokio::test]
async fn aggregates_ignore_numbers_under_keys_no_dotted_path_can_reach() {
    let es = over(Options::default(), "").await;
    es.store
        .publish(Event::new(["agg"], json!({"a.b": 100, "a": {"b": 1}})))
        .await
        .unwrap();
    let sum = es
        .store
        .aggregate(
            &EventQuery::tags(["agg"]),
            &Aggregator {
                kind: AggregatorKind::Sum,
                field: Some("a.b".to_string()),
            },
        )
        .await
        .unwrap();
    assert_eq!(sum, Some(1.0));
}

fn stamped(tags: &[&str], value: serde_json::Value, kind: &str, at: chrono::DateTime<Utc>) -> Event {
    let mut e = Event::new(tags.iter().copied(), value).with_type(kind);
    e.timestamp = at;
    e
}

fn day(d: u32, h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2017, 6, d, h, 0, 0).unwrap()
}

#[tokio::test]
async fn prune_drops_the_indices_of_whole_days_and_deletes_the_rest_by_query() {
    let es = over(Options::default(), "?namespace=shop").await;
    for (value, kind, at) in [
        ("27 health", "health", day(27, 10)),
        ("27 metrics", "metrics", day(27, 23)),
        ("28 early", "health", day(28, 10)),
        ("28 late", "health", day(28, 14)),
    ] {
        es.store
            .publish(stamped(&["gateways:shop"], json!(value), kind, at))
            .await
            .unwrap();
    }
    let before = es.guard.requests();
    assert_eq!(es.store.prune(day(28, 12)).await.unwrap(), 3);
    assert_eq!(
        es.guard.indices(),
        ["vamp-pulse-shop-health-2017-06-28"],
        "the indices of the 27th are deleted whole"
    );
    assert_eq!(es.guard.documents("vamp-pulse-shop-health-2017-06-28").len(), 1);
    let found = es
        .store
        .query(&EventQuery::tags(["gateways"]), Page::default())
        .await
        .unwrap();
    let values: Vec<_> = found.items.into_iter().map(|e| e.value).collect();
    assert_eq!(values, [json!("28 late")]);
    assert!(es.guard.requests() > before);
}

#[tokio::test]
async fn prune_counts_events_not_refreshed_yet() {
    let es = over(
        Options {
            refresh_interval: std::time::Duration::from_secs(3600),
            ..Options::default()
        },
        "",
    )
    .await;
    for at in [day(27, 10), day(28, 10), day(28, 11)] {
        es.store
            .publish(stamped(&["nrt"], json!(1), "health", at))
            .await
            .unwrap();
    }
    assert_eq!(es.store.prune(day(28, 12)).await.unwrap(), 3);
    assert_eq!(count(&es.store, "nrt").await, Some(0.0));
}

#[tokio::test]
async fn prune_leaves_the_events_of_other_namespaces_and_their_indices() {
    let double = EsDouble::start();
    let address = &double.url()[7..];
    let a = ElasticsearchStore::connect(&format!("elasticsearch://{address}?namespace=a"))
        .await
        .unwrap();
    let ab = ElasticsearchStore::connect(&format!("elasticsearch://{address}?namespace=a-b"))
        .await
        .unwrap();
    let shared = ElasticsearchStore::connect(&format!(
        "elasticsearch://{address}?namespace=c&index=vamp-pulse-a"
    ))
    .await
    .unwrap();
    a.publish(stamped(&["t"], json!("a"), "health", day(27, 10)))
        .await
        .unwrap();
    a.publish(stamped(&["t"], json!("a, own index"), "metrics", day(27, 10)))
        .await
        .unwrap();
    ab.publish(stamped(&["t"], json!("a-b"), "health", day(27, 10)))
        .await
        .unwrap();
    shared
        .publish(stamped(&["t"], json!("c"), "health", day(27, 11)))
        .await
        .unwrap();
    assert_eq!(a.prune(day(28, 0)).await.unwrap(), 2);
    assert_eq!(
        double.indices(),
        [
            "vamp-pulse-a-b-health-2017-06-27",
            "vamp-pulse-a-health-2017-06-27",
        ],
        "the index a shares with c stays, a's own goes"
    );
    assert_eq!(count(&a, "t").await, Some(0.0));
    assert_eq!(count(&ab, "t").await, Some(1.0));
    assert_eq!(count(&shared, "t").await, Some(1.0));
}
