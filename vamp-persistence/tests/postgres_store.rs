//! PostgreSQL behaviour beyond the conformance suites, against a real server from the testkit (a fresh one per
//! test): bad input, large pages, batches, aggregation corner cases, reconnecting, two stores on one database,
//! the schema ledger and an unreachable server.
#![cfg(feature = "sql")]

mod sql_support;

use sql_support::postgres_url;
use vamp_core::testkit::servers::{free_port, TestServer};
use vamp_persistence::sql::{SqlOptions, SqlStore};

fn postgres_test<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F) {
    sql_support::run_unless_skipped("postgres", test);
}

fn server() -> TestServer {
    TestServer::postgres().unwrap_or_else(|e| panic!("PostgreSQL: {e}"))
}

sql_support::checks_on_both_databases!("postgres", postgres);

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
        sql_support::a_newer_schema_is_refused::<sqlx::PgConnection>(&postgres_url(&server)).await;
    });
}

#[test]
fn concurrent_openers_migrate_once() {
    postgres_test(|| async {
        let server = server();
        let url = postgres_url(&server);
        let opens = (0..4).map(|_| SqlStore::connect(&url));
        for store in futures::future::join_all(opens).await {
            assert_eq!(
                store.unwrap().schema_version().await.unwrap(),
                vamp_persistence::sql::migrate::latest_version(vamp_persistence::sql::Dialect::Postgres)
            );
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
