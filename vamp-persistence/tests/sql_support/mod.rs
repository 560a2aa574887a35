//! What the SQLite and PostgreSQL tests share: fresh stores that clean up after themselves (a temporary SQLite
//! file, a PostgreSQL server of the testkit), and behaviour checks beyond the conformance suites that both
//! databases must pass: bad input, large pages, batches, aggregation corner cases.
#![allow(dead_code, unused_macros)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde_json::json;
use vamp_core::dsl::ErrorCode;
use vamp_core::model::{Aggregator, AggregatorKind, Event, EventQuery, Kind, TimeBound, TimeRange};
use vamp_core::store::{ArtifactStore, EventStore, Page};
use vamp_core::testkit::servers::TestServer;
use vamp_core::testkit::unique;
use vamp_core::ErrorKind;
use vamp_persistence::sql::{SqlOptions, SqlStore};

#[path = "../support/held.rs"]
mod held;
pub use held::Held;

/// A directory removed, with everything in it, when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(unique("vamp-sql-test-"));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A `sqlite://` URL of a database file in this directory.
    pub fn sqlite_url(&self, file: &str) -> String {
        format!("sqlite://{}", self.0.join(file).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The URL of the `postgres` database of a testkit server.
pub fn postgres_url(server: &TestServer) -> String {
    format!("postgres://postgres@{}/postgres", server.address())
}

/// A store on a fresh SQLite file.
pub async fn sqlite(options: SqlOptions) -> Held<SqlStore, TempDir> {
    let dir = TempDir::new();
    let store = SqlStore::connect_with(&dir.sqlite_url("vamp.db"), options)
        .await
        .expect("a SQLite store");
    Held { store, guard: dir }
}

/// A store on a fresh PostgreSQL server. A server that cannot start fails the test.
pub async fn postgres(options: SqlOptions) -> Held<SqlStore, TestServer> {
    let server = TestServer::postgres().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
    let store = SqlStore::connect_with(&postgres_url(&server), options)
        .await
        .expect("a PostgreSQL store");
    Held { store, guard: server }
}

/// Options with a 1 KiB document limit, for the size checks.
pub fn small_documents() -> SqlOptions {
    SqlOptions {
        max_document_bytes: 1024,
        ..SqlOptions::default()
    }
}

/// Options that prune 7 events per transaction, so a prune of a few hundred takes many batches.
pub fn small_prune_batches() -> SqlOptions {
    SqlOptions {
        prune_batch: 7,
        ..SqlOptions::default()
    }
}

fn event_at(tags: &[&str], value: serde_json::Value, at: DateTime<Utc>) -> Event {
    let mut e = Event::new(tags.iter().copied(), value);
    e.timestamp = at;
    e
}

/// Runs `test` on a fresh runtime, unless `backend` is named in `VAMP_TEST_SKIP`.
pub fn run_unless_skipped<F: std::future::Future<Output = ()>>(backend: &str, test: impl FnOnce() -> F) {
    if vamp_core::testkit::skip(backend) {
        return;
    }
    block_on(test());
}

/// The checks below that both databases must pass, each a `#[test]` of its own name on a fresh store from
/// `$fresh` (`sqlite` or `postgres`), skipped when `$backend` is named in `VAMP_TEST_SKIP`.
macro_rules! checks_on_both_databases {
    ($backend:literal, $fresh:ident) => {
        $crate::sql_support::checks_on_both_databases!(@each $backend, $fresh, [
            oversized_documents_are_invalid => $crate::sql_support::small_documents(),
            bad_names_are_invalid => vamp_persistence::sql::SqlOptions::default(),
            unicode_and_escapes_round_trip => vamp_persistence::sql::SqlOptions::default(),
            invalid_events_carry_their_error_codes => vamp_persistence::sql::SqlOptions::default(),
            malformed_queries_are_invalid => vamp_persistence::sql::SqlOptions::default(),
            large_pages_cover_every_event => vamp_persistence::sql::SqlOptions::default(),
            batches_are_all_or_nothing_and_ordered => vamp_persistence::sql::SqlOptions::default(),
            aggregates_follow_the_memory_store => vamp_persistence::sql::SqlOptions::default(),
            cancelled_operations_leave_the_store_usable => vamp_persistence::sql::SqlOptions::default(),
            prune_deletes_in_batches_beside_publishers => $crate::sql_support::small_prune_batches(),
        ]);
    };
    (@each $backend:literal, $fresh:ident, [$($check:ident => $options:expr),* $(,)?]) => {
        $(
            #[test]
            fn $check() {
                $crate::sql_support::run_unless_skipped($backend, || async {
                    let held = $crate::sql_support::$fresh($options).await;
                    $crate::sql_support::$check(&held.store).await;
                });
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use checks_on_both_databases;

/// The SQL that records a migration this build does not know (99), as a newer build would have.
const FUTURE_MIGRATION: &str =
    "INSERT INTO vamp_schema_migrations (version, description, checksum, applied_at) \
                                VALUES (99, 'future', 'x', 0)";

/// A database whose schema ledger records a migration newer than this build knows is refused with `Backend`
/// naming that migration; `C` is the database's connection type, used to write the ledger row behind the
/// store's back.
pub async fn a_newer_schema_is_refused<C>(url: &str)
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
    for<'q> <C::Database as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, C::Database>,
{
    SqlStore::connect(url).await.unwrap().close().await;
    let mut conn = C::connect(url).await.unwrap();
    sqlx::query::<C::Database>(FUTURE_MIGRATION)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let e = SqlStore::connect(url).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(e.message().contains("migration 99"), "{e}");
}

/// Runs a future on a fresh runtime, like the conformance cases do.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// With a 1 KiB limit: a larger document or event value is `Invalid` and nothing is written.
pub async fn oversized_documents_are_invalid(store: &SqlStore) {
    let big = json!({"blob": "x".repeat(2000)});
    let e = store
        .put(Kind::Blueprint, "big", big.clone(), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("at most 1024 bytes"), "{e}");
    assert!(store.history(Kind::Blueprint, "big").await.unwrap().is_empty());
    let e = store.publish(Event::new(["big"], big)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(
        store
            .query(&EventQuery::tags(["big"]), Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .put(Kind::Blueprint, "small", json!({"ok": true}), None)
            .await
            .unwrap(),
        1
    );
}

/// Names the database cannot keep or that are absurdly long are `Invalid` on every method, not backend errors.
pub async fn bad_names_are_invalid(store: &SqlStore) {
    let long = "n".repeat(5000);
    for name in ["", "nul\0inside", long.as_str()] {
        let e = store.put(Kind::Breed, name, json!({}), None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "put {name:?}");
        let e = store.get(Kind::Breed, name).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "get {name:?}");
        let e = store.history(Kind::Breed, name).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "history {name:?}");
        let e = store.delete(Kind::Breed, name).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "delete {name:?}");
    }
}

/// Unicode in names, documents and tags is kept exactly, including text PostgreSQL would reject raw.
pub async fn unicode_and_escapes_round_trip(store: &SqlStore) {
    let doc = json!({"nul": "a\u{0}b", "emoji": "🚀", "rtl": "שלום"});
    store
        .put(Kind::Template, "naïve-☕", doc.clone(), None)
        .await
        .unwrap();
    let got = store.get(Kind::Template, "naïve-☕").await.unwrap().unwrap();
    assert_eq!(got.document, doc);
    let tag = unique("ünïcode:");
    store
        .publish(Event::new([tag.as_str()], json!("a\u{0}b")))
        .await
        .unwrap();
    let found = store
        .query(&EventQuery::tags([tag.as_str()]), Page::default())
        .await
        .unwrap();
    assert_eq!(found.items.first().map(|e| &e.value), Some(&json!("a\u{0}b")));
}

/// Publishing checks events with the DSL's catalogue: no tags is `NoTagEventError`, a bad type
/// `EventTypeError`; a tag with NUL is `Invalid` too.
pub async fn invalid_events_carry_their_error_codes(store: &SqlStore) {
    let mut untagged = Event::new(["x"], json!(1));
    untagged.tags.clear();
    let e = store.publish(untagged).await.unwrap_err();
    assert_eq!(e.dsl().map(|d| d.code), Some(ErrorCode::NoTagEventError));
    let e = store
        .publish(Event::new(["x"], json!(1)).with_type("no spaces"))
        .await
        .unwrap_err();
    assert_eq!(e.dsl().map(|d| d.code), Some(ErrorCode::EventTypeError));
    let e = store.publish(Event::new(["a\0b"], json!(1))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
}

/// A malformed query (an impossible type, a field path that is not one) is `Invalid` with a sentence saying why.
pub async fn malformed_queries_are_invalid(store: &SqlStore) {
    let query = EventQuery {
        kind: Some("not a type".into()),
        ..EventQuery::tags(["x"])
    };
    let e = store.query(&query, Page::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("not a type"), "{e}");
    for field in ["a..b", "a\"b"] {
        let aggregator = Aggregator {
            kind: AggregatorKind::Sum,
            field: Some(field.into()),
        };
        let e = store
            .aggregate(&EventQuery::tags(["x"]), &aggregator)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{field}");
        assert!(e.message().contains("dotted path"), "{e}");
    }
}

/// 2,500 events read in pages of 1,000 (the largest page) come back newest first, each exactly once, with the
/// total; the page past the end is empty. Runs the same with a time range that cuts the first 500.
pub async fn large_pages_cover_every_event(store: &SqlStore) {
    let tag = unique("paging:");
    let start = Utc::now() - Duration::hours(1);
    let events: Vec<Event> = (0..2500)
        .map(|i| {
            event_at(
                &[tag.as_str(), "bulk"],
                json!(i),
                start + Duration::milliseconds(i),
            )
        })
        .collect();
    store.publish_many(events).await.unwrap();
    let query = EventQuery::tags([tag.as_str(), "bulk"]);
    let mut seen = Vec::new();
    for p in 1..=3 {
        let page = store.query(&query, Page::new(p, 1000).unwrap()).await.unwrap();
        assert_eq!(page.total, 2500);
        seen.extend(page.items.into_iter().filter_map(|e| e.value.as_i64()));
    }
    assert_eq!(seen, (0..2500).rev().collect::<Vec<i64>>());
    let past = store.query(&query, Page::new(4, 1000).unwrap()).await.unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.total, 2500);
    let recent = EventQuery {
        time: TimeRange {
            from: Some((TimeBound::At(start + Duration::milliseconds(500)), true)),
            to: None,
        },
        ..query
    };
    let page = store.query(&recent, Page::new(2, 1000).unwrap()).await.unwrap();
    assert_eq!(page.total, 2000);
    assert_eq!(page.items.last().and_then(|e| e.value.as_i64()), Some(500));
}

/// A batch is published all or nothing: one invalid event fails it before anything is written; a valid batch
/// comes back in order with increasing ids and reaches subscribers in that order.
pub async fn batches_are_all_or_nothing_and_ordered(store: &SqlStore) {
    let tag = unique("batch:");
    let mut bad = Event::new([tag.as_str()], json!("bad"));
    bad.tags.clear();
    let e = store
        .publish_many(vec![Event::new([tag.as_str()], json!("good")), bad])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    let query = EventQuery::tags([tag.as_str()]);
    assert_eq!(store.query(&query, Page::default()).await.unwrap().total, 0);

    let mut live = store.subscribe(&query).await.unwrap();
    let published = store
        .publish_many((0..5).map(|i| Event::new([tag.as_str()], json!(i))).collect())
        .await
        .unwrap();
    let values: Vec<_> = published.iter().map(|e| e.value.clone()).collect();
    assert_eq!(values, (0..5).map(|i| json!(i)).collect::<Vec<_>>());
    let ids: Vec<i64> = published
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    for i in 0..5 {
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), live.next())
            .await
            .expect("a subscribed event")
            .expect("an open stream");
        assert_eq!(got.value, json!(i));
    }
}

/// Aggregates read a field the way the memory store does: a key applied to an array or a string finds nothing,
/// big integers and negative numbers count, and several tags narrow the events.
pub async fn aggregates_follow_the_memory_store(store: &SqlStore) {
    let tag = unique("agg:");
    for v in [
        json!({"a": [1, 2]}),
        json!({"a": "12"}),
        json!({"a": {"0": 7}}),
        json!({"a": {"0": -3.5}}),
        json!({"a": {"0": 9_007_199_254_740_993u64}}),
    ] {
        store.publish(Event::new([tag.as_str()], v)).await.unwrap();
    }
    store
        .publish(Event::new([tag.as_str(), "other"], json!({"a": {"0": 100}})))
        .await
        .unwrap();
    let agg = |kind| Aggregator {
        kind,
        field: Some("a.0".into()),
    };
    let all = EventQuery::tags([tag.as_str()]);
    assert_eq!(
        store.aggregate(&all, &agg(AggregatorKind::Min)).await.unwrap(),
        Some(-3.5)
    );
    assert_eq!(
        store.aggregate(&all, &agg(AggregatorKind::Max)).await.unwrap(),
        Some(9_007_199_254_740_993u64 as f64)
    );
    assert_eq!(
        store.aggregate(&all, &agg(AggregatorKind::Count)).await.unwrap(),
        Some(6.0)
    );
    let narrowed = EventQuery::tags([tag.as_str(), "other"]);
    assert_eq!(
        store
            .aggregate(&narrowed, &agg(AggregatorKind::Sum))
            .await
            .unwrap(),
        Some(100.0)
    );
    let none = Aggregator {
        kind: AggregatorKind::Average,
        field: Some("missing".into()),
    };
    assert_eq!(store.aggregate(&all, &none).await.unwrap(), None);
}

/// What was written is there after the store is closed and opened again from its URL, history included, and
/// the schema is at the version this build writes.
pub async fn data_survives_reopening(store: SqlStore, url: &str) {
    store.put(Kind::Gateway, "kept", json!(1), None).await.unwrap();
    store.put(Kind::Gateway, "kept", json!(2), None).await.unwrap();
    store.delete(Kind::Gateway, "kept").await.unwrap();
    let tag = unique("reopen:");
    store
        .publish(Event::new([tag.as_str()], json!("e")))
        .await
        .unwrap();
    store.close().await;
    drop(store);
    let again = SqlStore::connect(url).await.unwrap();
    assert_eq!(
        again.schema_version().await.unwrap(),
        vamp_persistence::sql::migrate::latest_version(again.dialect())
    );
    assert!(again.get(Kind::Gateway, "kept").await.unwrap().is_none());
    let revisions: Vec<u64> = again
        .history(Kind::Gateway, "kept")
        .await
        .unwrap()
        .iter()
        .map(|s| s.revision)
        .collect();
    assert_eq!(revisions, [1, 2]);
    assert_eq!(
        again.put(Kind::Gateway, "kept", json!(3), Some(0)).await.unwrap(),
        3
    );
    assert_eq!(
        again
            .query(&EventQuery::tags([tag.as_str()]), Page::default())
            .await
            .unwrap()
            .total,
        1
    );
}

/// Two stores on one database (two processes, in effect) settle conditional puts between them: one winner.
pub async fn two_stores_on_one_database_have_one_winner(url: &str) {
    let (a, b) = (
        SqlStore::connect(url).await.unwrap(),
        SqlStore::connect(url).await.unwrap(),
    );
    let name = unique("shared");
    a.put(Kind::Scale, &name, json!(0), None).await.unwrap();
    let tries: Vec<_> = (0..6)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let name = name.clone();
            async move { store.put(Kind::Scale, &name, json!(i), Some(1)).await }
        })
        .collect();
    let results = futures::future::join_all(tries).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| e.kind() == ErrorKind::Conflict));
    let unconditional: Vec<_> = (0..6)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let name = name.clone();
            async move { store.put(Kind::Scale, &name, json!(i), None).await }
        })
        .collect();
    let mut revisions: Vec<u64> = futures::future::join_all(unconditional)
        .await
        .into_iter()
        .map(|r| r.expect("an unconditional put succeeds"))
        .collect();
    revisions.sort_unstable();
    assert_eq!(revisions, (3..=8).collect::<Vec<u64>>());
    assert_eq!(
        b.get(Kind::Scale, &name).await.unwrap().map(|s| s.revision),
        Some(8)
    );
}

/// Callers that give up mid-operation (a client hanging up on the API) never wedge the store: every
/// transactional operation is cancelled at many points, then each kind of operation still answers.
pub async fn cancelled_operations_leave_the_store_usable(store: &SqlStore) {
    let tag = unique("cancel:");
    let query = EventQuery::tags([tag.as_str()]);
    for i in 0..200u64 {
        let budget = std::time::Duration::from_micros(20 * (i % 40));
        let name = format!("cancelled-{i}");
        let _ =
            tokio::time::timeout(budget, store.put(Kind::Breed, &name, json!({"name": name}), None)).await;
        let _ = tokio::time::timeout(budget, store.list(Kind::Breed, Page::new(1, 30).unwrap())).await;
        let _ = tokio::time::timeout(
            budget,
            store.publish(event_at(&[tag.as_str()], json!(i), Utc::now())),
        )
        .await;
        let _ = tokio::time::timeout(budget, store.query(&query, Page::new(1, 30).unwrap())).await;
    }
    let answer = std::time::Duration::from_secs(10);
    let put = tokio::time::timeout(
        answer,
        store.put(Kind::Breed, "after-cancel", json!({"name": "after-cancel"}), None),
    );
    assert!(put
        .await
        .expect("the store wedged after cancelled operations")
        .is_ok());
    let listed = tokio::time::timeout(answer, store.list(Kind::Breed, Page::new(1, 30).unwrap()));
    assert!(listed.await.expect("list wedged").is_ok());
    let published = tokio::time::timeout(
        answer,
        store.publish(event_at(&[tag.as_str()], json!("after"), Utc::now())),
    );
    assert!(published.await.expect("publish wedged").is_ok());
    let queried = tokio::time::timeout(answer, store.query(&query, Page::new(1, 30).unwrap()));
    assert!(queried.await.expect("query wedged").unwrap().total >= 1);
}

/// A prune in many small batches, with ties of timestamps across batch boundaries and publishers writing between
/// the batches, deletes and counts exactly the old events with their tag rows (a tag's count, which reads the
/// tag rows only, drops to 0), and keeps every event published meanwhile.
pub async fn prune_deletes_in_batches_beside_publishers(store: &SqlStore) {
    let (old_tag, new_tag) = (unique("old:"), unique("new:"));
    let now = Utc::now();
    let tie = now - Duration::hours(5);
    let old: Vec<Event> = (0..300)
        .map(|i| {
            let at = if i % 3 == 0 {
                tie
            } else {
                now - Duration::hours(2) - Duration::seconds(i)
            };
            let gateway = format!("gateways:g{}", i % 4);
            event_at(&[old_tag.as_str(), gateway.as_str()], json!(i), at)
        })
        .collect();
    store.publish_many(old).await.unwrap();
    let publishing = async {
        let mut ids = Vec::new();
        for i in 0..20 {
            let at = if i % 2 == 0 {
                now
            } else {
                now - Duration::minutes(30)
            };
            let e = event_at(&[new_tag.as_str(), "gateways:g0"], json!(i), at);
            ids.push(store.publish(e).await.unwrap().id.unwrap());
            tokio::task::yield_now().await;
        }
        ids
    };
    let (pruned, ids) = tokio::join!(store.prune(now - Duration::hours(1)), publishing);
    assert_eq!(pruned.unwrap(), 300);
    let count = |tag: String| async move {
        store
            .query(&EventQuery::tags([tag.as_str()]), Page::first(1))
            .await
            .unwrap()
            .total
    };
    assert_eq!(
        count(old_tag.clone()).await,
        0,
        "the old events' tag rows are gone"
    );
    assert_eq!(count("gateways:g1".to_string()).await, 0);
    assert_eq!(
        count(new_tag.clone()).await,
        20,
        "events published during the prune are kept"
    );
    assert_eq!(count("gateways".to_string()).await, 20);
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 20);
    assert_eq!(store.prune(now - Duration::hours(1)).await.unwrap(), 0);
}
