//! In-memory implementations of every trait: the embedded default and the reference behaviour.
//!
//! Each one implements its trait's contract exactly and runs the trait's conformance suite on every
//! `cargo test`, so when a real backend disagrees with a memory one, the memory one is the reference.

mod artifacts;
mod driver;
mod events;
mod kv;
mod marshaller;
mod metrics;

pub use artifacts::MemoryArtifactStore;
pub use driver::{DriverCall, MemoryDriver};
pub use events::MemoryEventStore;
pub use kv::MemoryKeyValueStore;
pub use marshaller::JsonMarshaller;
pub use metrics::MemoryMetrics;

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, going on with the data when a panicking thread poisoned it: every critical section in this
/// module leaves the data consistent before anything that can panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
