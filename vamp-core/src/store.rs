//! The `ArtifactStore` and `EventStore` traits: durable desired state and events.
