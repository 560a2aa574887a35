//! The Consul store wrapped in `LargeValues` (per-write limit `ConsulStore::MAX_VALUE_BYTES`, 512 KiB) against the
//! Consul double: the whole conformance suite, its 4 MiB case included, and an 8 MiB configuration and 3 MiB of
//! incompressible bytes through `get` and a watch.

#[path = "support/consul_double.rs"]
mod consul_double;
mod support;

use std::sync::Arc;

use consul_double::ConsulDouble;
use support::Leased;
use vamp_kv::consul::ConsulStore;
use vamp_kv::large::LargeValues;

async fn wrapped() -> Arc<Leased<LargeValues<ConsulStore>, ConsulDouble>> {
    let double = ConsulDouble::new();
    let store = ConsulStore::connect(&double.url())
        .await
        .unwrap_or_else(|e| panic!("the Consul double is not reachable: {e}"));
    Arc::new(Leased::new(
        LargeValues::new(store, ConsulStore::MAX_VALUE_BYTES),
        double,
    ))
}

vamp_core::kv_conformance!(consul_large_values, wrapped, skip = "consul");

#[test]
fn an_8_mib_configuration_and_3_mib_of_incompressible_bytes_round_trip() {
    vamp_core::testkit::run_case(&["consul"], "large values", async {
        let store = wrapped().await;
        support::large_values_round_trip(&*store).await;
    });
}
