//! Throughput and latency of the SQL stores: `cargo bench -p vamp-persistence --bench sql`.
//!
//! Per database (SQLite with `synchronous=full` and `normal`, PostgreSQL from the testkit on loopback): the
//! bare database first (a one-row autocommit `INSERT` and a `SELECT 1`, the floor every store call stands on),
//! then artifact put and get, event publish one by one and in batches, and, over 1,000,000 events loaded with
//! `publish_many`, the latency of queries by tag and time range, by two tags, of an aggregate and of a deep
//! page. One client, calls in sequence. On PostgreSQL one broad query is also timed right after the load, before
//! the `VACUUM ANALYZE` that autovacuum would run. `VAMP_BENCH_EVENTS` changes the event count.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use sqlx::sqlite::SqliteSynchronous;
use sqlx::Connection;
use vamp_core::model::{Aggregator, AggregatorKind, Event, EventQuery, Kind, TimeBound, TimeRange};
use vamp_core::store::{ArtifactStore, EventStore, Page};
use vamp_core::testkit::servers::TestServer;
use vamp_persistence::sql::{Dialect, SqlStore};

/// How long each throughput figure is measured.
const WINDOW: Duration = Duration::from_millis(1500);
/// How many times each query is timed.
const QUERY_RUNS: usize = 200;
/// Events per `publish_many` call when loading.
const LOAD_BATCH: usize = 5000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let events: usize = std::env::var("VAMP_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("vamp-sql-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut rows = Vec::new();

    let full = format!("sqlite://{}", dir.join("full.db").display());
    let bare = Bare::Sqlite(dir.join("bare-full.db"), SqliteSynchronous::Full);
    runtime.block_on(bench_database(
        "SQLite (synchronous=full)",
        &full,
        &bare,
        Some(events),
        &mut rows,
    ));
    let normal = format!("sqlite://{}?synchronous=normal", dir.join("normal.db").display());
    let bare = Bare::Sqlite(dir.join("bare-normal.db"), SqliteSynchronous::Normal);
    runtime.block_on(bench_database(
        "SQLite (synchronous=normal)",
        &normal,
        &bare,
        None,
        &mut rows,
    ));
    let _ = std::fs::remove_dir_all(&dir);

    match TestServer::postgres() {
        Ok(server) => {
            let url = format!("postgres://postgres@{}/postgres", server.address());
            let bare = Bare::Postgres(url.clone());
            runtime.block_on(bench_database(
                "PostgreSQL 15 (loopback)",
                &url,
                &bare,
                Some(events),
                &mut rows,
            ));
            drop(server);
        }
        Err(e) => panic!("PostgreSQL: {e}"),
    }

    println!("\n| database | measurement | result |\n|---|---|---|");
    for (database, what, result) in rows {
        println!("| {database} | {what} | {result} |");
    }
}

/// Calls `op` (given a counter) for [`WINDOW`] and returns calls per second.
async fn per_second<F, Fut>(mut op: F) -> f64
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < WINDOW {
        op(n).await;
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Times `op` [`QUERY_RUNS`] times; returns the median, the 99th percentile and the calls per second.
async fn latency<F, Fut>(mut op: F) -> (Duration, Duration, f64)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(QUERY_RUNS);
    for _ in 0..QUERY_RUNS {
        let start = Instant::now();
        op().await;
        times.push(start.elapsed());
    }
    let total: Duration = times.iter().sum();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (at(0.5), at(0.99), times.len() as f64 / total.as_secs_f64())
}

fn ops(n: f64) -> String {
    format!("{n:.0} ops/s")
}

fn millis((p50, p99, per_second): (Duration, Duration, f64)) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms ({per_second:.0} queries/s)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    )
}

/// Write and read calls per second of the bare database through a one-connection pool: a one-row autocommit
/// `INSERT` and a `SELECT 1`.
async fn baseline(bare: &Bare) -> (f64, f64) {
    macro_rules! measure {
        ($pool:expr) => {{
            let pool = $pool;
            sqlx::query("CREATE TABLE IF NOT EXISTS bench_bare (v BIGINT NOT NULL)")
                .execute(&pool)
                .await
                .expect("create");
            let writes = per_second(|n| {
                let pool = &pool;
                async move {
                    sqlx::query("INSERT INTO bench_bare (v) VALUES ($1)")
                        .bind(n as i64)
                        .execute(pool)
                        .await
                        .expect("insert");
                }
            })
            .await;
            let reads = per_second(|_| {
                let pool = &pool;
                async move {
                    let _: i32 = sqlx::query_scalar("SELECT 1")
                        .fetch_one(pool)
                        .await
                        .expect("select");
                }
            })
            .await;
            pool.close().await;
            (writes, reads)
        }};
    }
    match bare {
        Bare::Sqlite(path, synchronous) => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(*synchronous);
            measure!(sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .expect("SQLite"))
        }
        Bare::Postgres(url) => measure!(sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .expect("PostgreSQL")),
    }
}

/// The bare database a baseline runs on.
enum Bare {
    Sqlite(PathBuf, SqliteSynchronous),
    Postgres(String),
}

async fn bench_database(
    database: &str,
    url: &str,
    bare: &Bare,
    events: Option<usize>,
    rows: &mut Vec<(String, String, String)>,
) {
    let store = SqlStore::connect(url).await.expect("the store opens");
    let mut row = |what: &str, result: String| {
        println!("{database}: {what}: {result}");
        rows.push((database.to_string(), what.to_string(), result));
    };
    let (bare_writes, bare_reads) = baseline(bare).await;
    row("baseline: bare one-row INSERT (autocommit)", ops(bare_writes));
    row("baseline: bare SELECT 1", ops(bare_reads));

    let document = json!({"name": "shop", "clusters": {"frontend": {"services": [
        {"breed": {"name": "shop-frontend:1.0", "deployable": "magneticio/sava:1.0.0",
          "ports": {"webport": "8080/http"}, "environment_variables": {"A": "1", "B": "2"}},
         "scale": {"cpu": 0.2, "memory": "256MB", "instances": 2}}]}},
        "gateways": {"9050": "frontend/webport"}, "padding": "x".repeat(600)});
    let puts = per_second(|n| {
        let (store, document) = (&store, document.clone());
        async move {
            store
                .put(Kind::Blueprint, &format!("bp-{}", n % 100), document, None)
                .await
                .expect("put");
        }
    })
    .await;
    row("artifact put (1 KB document, 100 names)", ops(puts));
    let gets = per_second(|n| {
        let store = &store;
        async move {
            store
                .get(Kind::Blueprint, &format!("bp-{}", n % 100))
                .await
                .expect("get");
        }
    })
    .await;
    row("artifact get", ops(gets));
    let lists = per_second(|_| {
        let store = &store;
        async move {
            store.list(Kind::Blueprint, Page::default()).await.expect("list");
        }
    })
    .await;
    row("artifact list (page of 30 of 100)", ops(lists));

    let publishes = per_second(|n| {
        let store = &store;
        async move {
            let e = Event::new(["publish:shop", "publish-cluster:frontend"], json!({"n": n}));
            store.publish(e).await.expect("publish");
        }
    })
    .await;
    row("event publish, one per call", ops(publishes));
    let batch = 1000;
    let batches = per_second(|n| {
        let store = &store;
        async move {
            let events = (0..batch)
                .map(|i| {
                    Event::new(
                        ["publish:shop", "publish-cluster:frontend"],
                        json!({"n": n, "i": i}),
                    )
                })
                .collect();
            store.publish_many(events).await.expect("publish_many");
        }
    })
    .await;
    row(
        "event publish, batches of 1,000 (publish_many)",
        format!("{:.0} events/s", batches * batch as f64),
    );
    let Some(count) = events else {
        return;
    };
    let load = Instant::now();
    let base = Utc::now() - chrono::Duration::seconds(count as i64);
    for start in (0..count).step_by(LOAD_BATCH) {
        let events = (start..(start + LOAD_BATCH).min(count))
            .map(|i| {
                let mut e = Event::new(
                    [format!("deployments:d{}", i % 100), format!("cluster:c{}", i % 7)],
                    json!({"response": {"ms": i % 1000}, "status": 200}),
                )
                .with_type(if i % 10 == 0 { "health" } else { "metrics" });
                e.timestamp = base + chrono::Duration::seconds(i as i64);
                e
            })
            .collect();
        store.publish_many(events).await.expect("load");
    }
    let loaded = load.elapsed();
    row(
        &format!("load {count} events (4 tag rows each) with publish_many"),
        format!(
            "{:.1} s, {:.0} events/s",
            loaded.as_secs_f64(),
            count as f64 / loaded.as_secs_f64()
        ),
    );

    let last_day = |tags: &[&str]| EventQuery {
        time: TimeRange {
            from: Some((TimeBound::Now(-86_400), true)),
            to: None,
        },
        ..EventQuery::tags(tags.iter().copied())
    };
    if store.dialect() == Dialect::Postgres {
        let broad = last_day(&["deployments"]);
        let timing = latency(|| {
            let (store, broad) = (&store, &broad);
            async move {
                store.query(broad, Page::default()).await.expect("query");
            }
        })
        .await;
        row(
            "query: tag (all events) + last 24 h, page of 30, right after the load (before VACUUM)",
            millis(timing),
        );
        let mut conn = sqlx::PgConnection::connect(url).await.expect("PostgreSQL");
        sqlx::query("VACUUM ANALYZE vamp_events, vamp_event_tags")
            .execute(&mut conn)
            .await
            .expect("vacuum");
        row("then VACUUM ANALYZE (what autovacuum does)", String::from("done"));
    }
    let deep_page = u32::try_from(count / 100 / 1000).unwrap_or(5).clamp(1, 5);
    let cases = [
        (
            "query: tag (1% of events) + last 24 h, page of 30",
            last_day(&["deployments:d7"]),
            Page::default(),
        ),
        (
            "query: tag (all events) + last 24 h, page of 30",
            last_day(&["deployments"]),
            Page::default(),
        ),
        (
            "query: two tags (1% and 14%) + last 24 h, page of 30",
            last_day(&["deployments:d7", "cluster:c3"]),
            Page::default(),
        ),
        (
            "query: tag (1%), all time, page 5 of 1,000",
            EventQuery::tags(["deployments:d7"]),
            Page::new(deep_page, 1000).expect("a page"),
        ),
        (
            "query: tag (all events) + type (10%) + last 24 h, page of 30",
            EventQuery {
                kind: Some("health".into()),
                ..last_day(&["deployments"])
            },
            Page::default(),
        ),
    ];
    for (what, query, page) in &cases {
        let total = store.query(query, *page).await.expect("query").total;
        let timing = latency(|| {
            let store = &store;
            async move {
                let found = store.query(query, *page).await.expect("query");
                assert!(!found.items.is_empty(), "{what}: nothing found");
            }
        })
        .await;
        row(&format!("{what} ({total} match)"), millis(timing));
    }
    let average = Aggregator {
        kind: AggregatorKind::Average,
        field: Some("response.ms".into()),
    };
    let query = last_day(&["deployments:d7"]);
    let timing = latency(|| {
        let (store, query, average) = (&store, &query, &average);
        async move {
            let value = store.aggregate(query, average).await.expect("aggregate");
            assert!(value.is_some());
        }
    })
    .await;
    row(
        "aggregate: average of response.ms, tag (1%) + last 24 h",
        millis(timing),
    );
    store.close().await;
}
