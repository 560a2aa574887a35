//! SQLite behaviour beyond the conformance suites: bad input, large pages, batches, aggregation corner cases,
//! reopening, two stores on one file, URLs and the schema ledger.
#![cfg(feature = "sql")]

mod sql_support;

use serde_json::json;
use sql_support::TempDir;
use sqlx::Connection;
use vamp_core::model::Event;
use vamp_core::model::Kind;
use vamp_core::store::{ArtifactStore, EventStore};
use vamp_core::ErrorKind;
use vamp_persistence::sql::SqlStore;
use vamp_persistence::url::{connect_artifacts, connect_events};

fn sqlite_test<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F) {
    sql_support::run_unless_skipped("sqlite", test);
}

sql_support::checks_on_both_databases!("sqlite", sqlite);

#[test]
fn data_survives_reopening() {
    sqlite_test(|| async {
        let dir = TempDir::new();
        let url = dir.sqlite_url("vamp.db");
        let store = SqlStore::connect(&url).await.unwrap();
        sql_support::data_survives_reopening(store, &url).await;
    });
}

#[test]
fn two_stores_on_one_file_have_one_winner() {
    sqlite_test(|| async {
        let dir = TempDir::new();
        sql_support::two_stores_on_one_database_have_one_winner(&dir.sqlite_url("vamp.db")).await;
    });
}

#[test]
fn the_file_and_its_directories_are_created_in_wal_mode() {
    sqlite_test(|| async {
        let dir = TempDir::new();
        let file = dir.path().join("nested/deeper/vamp.db");
        let store = SqlStore::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        store.put(Kind::Breed, "b", json!({}), None).await.unwrap();
        assert!(file.exists());
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    });
}

#[test]
fn bad_urls_and_unopenable_files_fail_clearly() {
    sqlite_test(|| async {
        let e = SqlStore::connect("sqlite://%FF.db").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert!(e.message().contains("not UTF-8"), "{e}");
        let dir = TempDir::new();
        std::fs::write(dir.path().join("a-file"), "not a directory").unwrap();
        let e = SqlStore::connect(&dir.sqlite_url("a-file/vamp.db"))
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Unavailable { retryable: false }),
            "{e}"
        );
        std::fs::write(dir.path().join("garbage.db"), vec![0x42u8; 8192]).unwrap();
        let e = SqlStore::connect(&dir.sqlite_url("garbage.db"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    });
}

#[test]
fn a_schema_written_by_a_newer_build_is_refused() {
    sqlite_test(|| async {
        let dir = TempDir::new();
        sql_support::a_newer_schema_is_refused::<sqlx::SqliteConnection>(&dir.sqlite_url("vamp.db")).await;
    });
}

#[test]
fn sqlite_urls_open_both_stores() {
    sqlite_test(|| async {
        let dir = TempDir::new();
        let url = dir.sqlite_url("vamp.db?synchronous=normal");
        let artifacts = connect_artifacts(&url).await.unwrap();
        artifacts
            .put(Kind::Sla, "s", json!({"a": 1}), None)
            .await
            .unwrap();
        let events = connect_events(&url).await.unwrap();
        let stored = events
            .publish(vamp_core::model::Event::new(["t"], json!(1)))
            .await
            .unwrap();
        assert!(stored.id.is_some());
        let again = connect_artifacts(&dir.sqlite_url("vamp.db")).await.unwrap();
        assert_eq!(
            again.get(Kind::Sla, "s").await.unwrap().map(|s| s.document),
            Some(json!({"a": 1}))
        );
    });
}

/// A database written before event retention (schema version 1) is migrated on opening, and the largest event
/// id it holds is recorded, so pruning its newest events does not hand their ids out again.
#[test]
fn a_version_1_database_is_upgraded_and_keeps_its_event_ids() {
    sqlite_test(|| async {
        let dir = TempDir::new();
        let url = dir.sqlite_url("vamp.db");
        let store = SqlStore::connect(&url).await.unwrap();
        let old = chrono::Utc::now() - chrono::Duration::days(2);
        let mut last_id = String::new();
        for i in 0..3 {
            let mut e = Event::new(["upgrade"], json!(i));
            e.timestamp = old;
            last_id = store.publish(e).await.unwrap().id.unwrap();
        }
        store.close().await;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        for undo in [
            "DROP TABLE vamp_event_ids",
            "DELETE FROM vamp_schema_migrations WHERE version > 1",
        ] {
            sqlx::query(undo).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();

        let store = SqlStore::connect(&url).await.unwrap();
        assert_eq!(
            store.schema_version().await.unwrap(),
            vamp_persistence::sql::migrate::latest_version(store.dialect())
        );
        assert_eq!(store.prune(chrono::Utc::now()).await.unwrap(), 3);
        let next = store
            .publish(Event::new(["upgrade"], json!("next")))
            .await
            .unwrap();
        let (last, next): (i64, i64) = (last_id.parse().unwrap(), next.id.unwrap().parse().unwrap());
        assert!(next > last, "id {next} after the prune of id {last}");
    });
}
