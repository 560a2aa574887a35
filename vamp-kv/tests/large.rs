//! The KeyValueStore conformance suite on `LargeValues` over the in-memory store, with a 1 KiB per-write limit so
//! that the suite's large value and any value above 1 KiB go through compression and chunking.

use std::sync::Arc;

use vamp_core::memory::MemoryKeyValueStore;
use vamp_kv::large::LargeValues;

vamp_core::kv_conformance!(large_values_over_memory, || async {
    Arc::new(LargeValues::new(MemoryKeyValueStore::new(), 1024))
});
