//! PostgreSQL behaviour beyond the conformance suites, against a real server from the testkit (a fresh one per
//! test): bad input, large pages, batches, aggregation corner cases, reconnecting, two stores on one database,
//! the schema ledger and an unreachable server.
#![cfg(feature = "sql")]

mod sql_support;

use sql_support::{block_on, postgres, postgres_url, small_documents};
use sqlx::Connection;
use vamp_core::testkit::servers::{free_port, TestServer};
use vamp_core::testkit::skip;
use vamp_core::ErrorKind;
use vamp_persistence::sql::{SqlOptions, SqlStore};

fn postgres_test<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F) {
    if skip("postgres") {
        return;
    }
    block_on(test());
}

fn server() -> TestServer {
    TestServer::postgres().unwrap_or_else(|e| panic!("PostgreSQL: {e}"))
}

#[test]
fn oversized_documents_are_invalid() {
    postgres_test(|| async {
        let held = postgres(small_documents()).await;
        sql_support::oversized_documents_are_invalid(&held.store).await;
    });
}

#[test]
fn bad_names_are_invalid() {
    postgres_test(|| async {
        sql_support::bad_names_are_invalid(&postgres(SqlOptions::default()).await.store).await;
    });
}

#[test]
fn unicode_and_escapes_round_trip() {
    postgres_test(|| async {
        sql_support::unicode_and_escapes_round_trip(&postgres(SqlOptions::default()).await.store).await;
    });
}

#[test]
fn invalid_events_carry_their_error_codes() {
    postgres_test(|| async {
        let held = postgres(SqlOptions::default()).await;
        sql_support::invalid_events_carry_their_error_codes(&held.store).await;
    });
}

#[test]
fn malformed_queries_are_invalid() {
    postgres_test(|| async {
        sql_support::malformed_queries_are_invalid(&postgres(SqlOptions::default()).await.store).await;
    });
}

#[test]
fn large_pages_cover_every_event() {
    postgres_test(|| async {
        sql_support::large_pages_cover_every_event(&postgres(SqlOptions::default()).await.store).await;
    });
}

#[test]
fn batches_are_all_or_nothing_and_ordered() {
    postgres_test(|| async {
        let held = postgres(SqlOptions::default()).await;
        sql_support::batches_are_all_or_nothing_and_ordered(&held.store).await;
    });
}

#[test]
fn aggregates_follow_the_memory_store() {
    postgres_test(|| async {
        let held = postgres(SqlOptions::default()).await;
        sql_support::aggregates_follow_the_memory_store(&held.store).await;
    });
}

#[test]
fn data_survives_reconnecting() {
    postgres_test(|| async {
        let server = server();
        let url = postgres_url(&server);
        let store = SqlStore::connect(&url).await.unwrap();
        sql_support::data_survives_reopening(store, &url).await;
    });
}

#[test]
fn two_stores_on_one_database_have_one_winner() {
    postgres_test(|| async {
        let server = server();
        sql_support::two_stores_on_one_database_have_one_winner(&postgres_url(&server)).await;
    });
}

#[test]
fn a_schema_written_by_a_newer_build_is_refused() {
    postgres_test(|| async {
        let server = server();
        let url = postgres_url(&server);
        SqlStore::connect(&url).await.unwrap().close().await;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO vamp_schema_migrations (version, description, checksum, applied_at) \
             VALUES (99, 'future', 'x', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        let e = SqlStore::connect(&url).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Backend);
        assert!(e.message().contains("migration 99"), "{e}");
    });
}

#[test]
fn concurrent_openers_migrate_once() {
    postgres_test(|| async {
        let server = server();
        let url = postgres_url(&server);
        let opens = (0..4).map(|_| SqlStore::connect(&url));
        for store in futures::future::join_all(opens).await {
            assert_eq!(store.unwrap().schema_version().await.unwrap(), 1);
        }
    });
}

#[test]
fn an_unreachable_server_is_unavailable() {
    postgres_test(|| async {
        let port = free_port().unwrap();
        let options = SqlOptions {
            timeout: std::time::Duration::from_secs(2),
            ..SqlOptions::default()
        };
        let e = SqlStore::connect_with(&format!("postgres://postgres@127.0.0.1:{port}/postgres"), options)
            .await
            .unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(e.message().starts_with("PostgreSQL"), "{e}");
    });
}

#[test]
fn a_stopped_server_is_unavailable_and_a_restarted_one_serves_again() {
    postgres_test(|| async {
        let mut server = server();
        let options = SqlOptions {
            timeout: std::time::Duration::from_secs(2),
            ..SqlOptions::default()
        };
        let store = SqlStore::connect_with(&postgres_url(&server), options)
            .await
            .unwrap();
        use vamp_core::store::ArtifactStore;
        store
            .put(vamp_core::model::Kind::Breed, "b", serde_json::json!(1), None)
            .await
            .unwrap();
        server.stop();
        let e = store.get(vamp_core::model::Kind::Breed, "b").await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        server.start().unwrap();
        let back = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                if let Ok(found) = store.get(vamp_core::model::Kind::Breed, "b").await {
                    return found;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the store serves again after the server restarts");
        assert_eq!(back.map(|s| s.revision), Some(1));
    });
}
