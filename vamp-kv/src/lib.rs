//! Key-value stores for Vamp.
//!
//! This crate will hold the `KeyValueStore` backends of `vamp_core::kv`: etcd (v3), ZooKeeper, Consul and Redis,
//! chosen by URL. Until they land, use `vamp_core::memory::MemoryKeyValueStore`.

pub use vamp_core::kv::KeyValueStore;
