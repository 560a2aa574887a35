//! Every conformance suite run against the in-memory backends, the reference behaviour of each trait.
//! Run with `cargo test -p vamp-core --features testkit`.

use std::sync::Arc;

use vamp_core::memory::{
    JsonMarshaller, MemoryArtifactStore, MemoryDriver, MemoryEventStore, MemoryKeyValueStore, MemoryMetrics,
};

vamp_core::kv_conformance!(kv_memory, || async { Arc::new(MemoryKeyValueStore::new()) });
vamp_core::artifact_conformance!(artifacts_memory, || async {
    Arc::new(MemoryArtifactStore::new())
});
vamp_core::event_conformance!(events_memory, || async { Arc::new(MemoryEventStore::new()) });
vamp_core::driver_conformance!(driver_memory, || async { Arc::new(MemoryDriver::new()) });
vamp_core::metrics_conformance!(metrics_memory, || async { Arc::new(MemoryMetrics::new()) });
vamp_core::marshaller_conformance!(marshaller_json, || async { Arc::new(JsonMarshaller::new()) });

// A bounded event store still passes the suite: the cases stay far below its capacity.
vamp_core::event_conformance!(events_memory_bounded, || async {
    Arc::new(MemoryEventStore::with_capacity(64))
});

// The suite runs with an explicit fixture, as real drivers give one.
vamp_core::driver_conformance!(
    driver_memory_with_fixture,
    || async { Arc::new(MemoryDriver::new()) },
    skip = "memory-driver",
    fixture = vamp_core::testkit::driver::DriverFixture {
        settle: std::time::Duration::from_secs(1),
        ..Default::default()
    },
);

mod bounded_events {
    use vamp_core::model::{Event, EventQuery};
    use vamp_core::store::{EventStore, Page};

    use super::*;

    #[tokio::test]
    async fn past_its_capacity_the_store_drops_the_oldest_events() {
        let store = MemoryEventStore::with_capacity(3);
        for i in 0..5 {
            store
                .publish(Event::new(["cap"], serde_json::json!(i)))
                .await
                .unwrap();
        }
        let page = store
            .query(&EventQuery::tags(["cap"]), Page::default())
            .await
            .unwrap();
        let values: Vec<_> = page.items.iter().map(|e| e.value.clone()).collect();
        assert_eq!(
            values,
            [serde_json::json!(4), serde_json::json!(3), serde_json::json!(2)]
        );
        assert_eq!(store.len(), 3);
    }
}

mod failing_backends {
    use vamp_core::driver::{ContainerDriver, ServiceSpec};
    use vamp_core::testkit::driver::DriverFixture;
    use vamp_core::ErrorKind;

    use super::*;

    /// The suite is able to fail: a driver that is down fails the first case that touches it.
    #[tokio::test]
    #[should_panic(expected = "list")]
    async fn the_driver_suite_fails_against_a_driver_that_is_down() {
        let driver = MemoryDriver::new();
        driver.fail_with(ErrorKind::Unavailable { retryable: true }, "the daemon is down");
        vamp_core::testkit::driver::list_of_an_unused_namespace_is_empty(&driver, &DriverFixture::default())
            .await;
    }

    #[tokio::test]
    async fn a_down_driver_reports_unavailable_and_retryable() {
        let driver = MemoryDriver::new();
        driver.fail_with(ErrorKind::Unavailable { retryable: true }, "down");
        let spec: ServiceSpec = DriverFixture::default().spec("ns", "c", "s");
        assert!(driver.deploy(&spec).await.unwrap_err().is_retryable());
    }
}
