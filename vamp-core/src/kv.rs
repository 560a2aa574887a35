//! The `KeyValueStore` trait: where gateway configuration is published for agents to watch.
