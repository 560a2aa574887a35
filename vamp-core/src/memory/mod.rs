//! In-memory implementations of every trait: the embedded default and the reference behaviour.
//!
//! Each one implements its trait's contract exactly and runs the trait's conformance suite
//! (`tests/memory_conformance.rs`, run by `cargo test --features testkit` and by the project's test command), so
//! when a real backend disagrees with a memory one, the memory one is the reference.

mod artifacts;
mod driver;
mod events;
mod kv;
mod marshaller;
mod metrics;

pub use artifacts::MemoryArtifactStore;
pub use driver::{DriverCall, MemoryDriver, MEMORY_DRIVER_HOST};
pub use events::{MemoryEventStore, DEFAULT_EVENT_CAPACITY};
pub use kv::MemoryKeyValueStore;
pub use marshaller::{JsonMarshaller, JSON_MARSHALLER_KIND, JSON_MARSHALLER_VERSION};
pub use metrics::{MemoryMetrics, DEFAULT_RETENTION};

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, going on with the data when a panicking thread poisoned it: every critical section in this
/// module leaves the data consistent before anything that can panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
