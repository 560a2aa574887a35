//! The ZooKeeper store wrapped in `LargeValues` (per-write limit `ZooKeeperStore::MAX_VALUE_BYTES`) against a real
//! ZooKeeper: the whole conformance suite, its 4 MiB case included, and an 8 MiB configuration and 3 MiB of
//! incompressible bytes through `get` and a watch.

mod support;

use std::sync::Arc;

use support::{Leased, Shared};
use vamp_core::testkit::servers::TestServer;
use vamp_kv::large::LargeValues;
use vamp_kv::zookeeper::ZooKeeperStore;

static ZOOKEEPER: Shared = Shared::new("ZooKeeper", TestServer::zookeeper);

async fn wrapped() -> Arc<Leased<LargeValues<ZooKeeperStore>>> {
    let lease = ZOOKEEPER.lease();
    let store = ZooKeeperStore::connect(&[lease.address().to_string()], None)
        .await
        .unwrap_or_else(|e| panic!("ZooKeeper is not reachable: {e}"));
    Arc::new(Leased::new(
        LargeValues::new(store, ZooKeeperStore::MAX_VALUE_BYTES),
        lease,
    ))
}

vamp_core::kv_conformance!(zookeeper_large_values, wrapped, skip = "zookeeper");

#[test]
fn an_8_mib_configuration_and_3_mib_of_incompressible_bytes_round_trip() {
    vamp_core::testkit::run_case(&["zookeeper"], "large values", async {
        let store = wrapped().await;
        support::large_values_round_trip(&*store).await;
    });
}
