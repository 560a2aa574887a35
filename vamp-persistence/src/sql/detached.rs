//! Running a store operation on its own task, so the caller cannot cancel it half way.
//!
//! A request handler's future is dropped when its client hangs up. Dropped in the middle of a transaction, sqlx
//! leaves the SQLite connection unusable ("begin_with at non-zero transaction depth" on every later query) and
//! the pool wedged. Every operation that opens a transaction therefore runs detached: it completes (commits or
//! rolls back) whether or not anyone still waits for the answer.

use std::future::Future;

use vamp_core::{Error, Result};

/// Runs `work` on its own tokio task and returns its result; a dropped caller no longer cancels it.
pub(super) async fn detached<T: Send + 'static>(
    what: &str,
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(work)
        .await
        .map_err(|e| Error::backend(format!("The SQL store's {what} did not complete: {e}.")))?
}
