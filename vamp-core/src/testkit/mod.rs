//! Conformance suites every backend runs (feature `testkit`).
//!
//! Each trait's contract, as written in its doc comments, made executable: one `pub async fn` per contract
//! point, taking the backend as `&dyn Trait`, in [`kv`], [`artifacts`], [`events`], [`driver`], [`metrics`] and
//! [`marshaller`]. A case panics (like `assert!`) when the backend breaks the contract, with a message saying
//! which point.
//!
//! A backend crate runs a whole suite with one macro, which expands into one named `#[test]` per case, so a
//! failing contract point shows by name:
//!
//! ```ignore
//! vamp_core::kv_conformance!(etcd, || async { Arc::new(EtcdStore::connect(URL).await.expect("etcd")) }, skip = "etcd");
//! ```
//!
//! The constructor is called once per case. Cases isolate themselves from each other (unique keys, tags and
//! namespaces per case, see [`unique`]) so they may share one server, with two exceptions: the artifact cases
//! that list a kind and the event cases that prune need a store no other case writes to, so artifact and event
//! store constructors must return a fresh store (a new SQLite file, a new PostgreSQL schema, a new
//! Elasticsearch double) on every call.
//!
//! A backend whose server is unreachable must FAIL, never pass silently. The only opt-out is explicit: the
//! environment variable `VAMP_TEST_SKIP` lists backends not to test (`VAMP_TEST_SKIP=consul,elasticsearch`);
//! the macros honour it for the name given with `skip = "..."`, and hand-written tests call [`skip`].

pub mod artifacts;
pub mod certs;
pub mod driver;
pub mod events;
pub mod kv;
pub mod marshaller;
pub mod metrics;
pub mod servers;
mod suites;

use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{Stream, StreamExt};

use crate::Result;

/// The environment variable listing backends whose tests are skipped.
pub const SKIP_VARIABLE: &str = "VAMP_TEST_SKIP";
/// How long one case may take before it fails as hung.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a case waits for one item of a watch or subscription.
pub const ITEM_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `list` (the value of [`SKIP_VARIABLE`]: names separated by commas or white space, any case) names
/// `backend`.
pub fn skip_list_names(list: &str, backend: &str) -> bool {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .any(|name| !name.is_empty() && name.eq_ignore_ascii_case(backend))
}

/// Whether the person running the tests opted out of `backend` through [`SKIP_VARIABLE`]. Says so on standard
/// error when they did, so the skip shows in the test output. Call it first in a hand-written backend test:
///
/// ```ignore
/// if vamp_core::testkit::skip("consul") { return; }
/// ```
///
/// Everything else (no variable, another backend named) returns `false`, so an unreachable server fails the test.
pub fn skip(backend: &str) -> bool {
    let skipped = std::env::var(SKIP_VARIABLE).is_ok_and(|list| skip_list_names(&list, backend));
    if skipped {
        eprintln!("skipped: {SKIP_VARIABLE} names '{backend}'; this test did not run.");
    }
    skipped
}

/// A name no other case of this or a concurrent test run uses: `prefix` followed by lowercase hex of the process,
/// the time and a counter. Valid as a key segment, a tag, a Docker name part and a Kubernetes name.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "{prefix}{:x}{:x}{n:x}",
        std::process::id(),
        nanos & 0xffff_ffff_ffff
    )
}

/// Runs one conformance case on a fresh current-thread runtime, failing it when it takes longer than
/// [`CASE_TIMEOUT`]; skips it when one of `backends` is named in [`SKIP_VARIABLE`]. What the suite macros
/// expand to.
pub fn run_case<F: Future<Output = ()>>(backends: &[&str], case: &str, case_future: F) {
    if backends.iter().any(|b| skip(b)) {
        return;
    }
    run_within(CASE_TIMEOUT, case, case_future);
}

fn run_within<F: Future<Output = ()>>(limit: Duration, case: &str, case_future: F) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => panic!("{case}: no tokio runtime could be built: {e}"),
    };
    if runtime
        .block_on(async { tokio::time::timeout(limit, case_future).await })
        .is_err()
    {
        panic!("{case}: did not finish within {limit:?}; the backend hangs.");
    }
}

/// The value of a call the case expects to succeed; fails the case naming `what` otherwise.
#[track_caller]
fn ok<T>(what: &str, result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what} failed: {e} ({:?})", e.kind()),
    }
}

/// The error of a call the case expects to fail; fails the case naming `what` when it succeeds.
#[track_caller]
fn err<T: Debug>(what: &str, result: Result<T>) -> crate::Error {
    match result {
        Ok(value) => panic!("{what} succeeded with {value:?}, but the contract says it fails."),
        Err(e) => e,
    }
}

/// The next item of `stream` within [`ITEM_TIMEOUT`]; fails the case naming `what` when none comes.
async fn next_item<S: Stream + Unpin>(what: &str, stream: &mut S) -> S::Item {
    match tokio::time::timeout(ITEM_TIMEOUT, stream.next()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("{what}: the stream ended."),
        Err(_) => panic!("{what}: no item within {ITEM_TIMEOUT:?}."),
    }
}

/// Whether `stream` yields an item within `wait`, for cases that check nothing more arrives.
async fn yields_within<S: Stream + Unpin>(stream: &mut S, wait: Duration) -> bool {
    matches!(tokio::time::timeout(wait, stream.next()).await, Ok(Some(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skip_list_names_backends_by_comma_or_space_in_any_case() {
        assert!(skip_list_names("consul,elasticsearch", "consul"));
        assert!(skip_list_names("etcd Consul", "consul"));
        assert!(!skip_list_names("consul-ish", "consul"));
        assert!(!skip_list_names("", "consul"));
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique("t"), unique("t"));
        assert!(unique("t")
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }

    #[test]
    #[should_panic(expected = "did not finish")]
    fn a_hanging_case_fails() {
        run_within(Duration::from_millis(20), "hang", std::future::pending::<()>());
    }

    #[test]
    fn a_finishing_case_passes() {
        run_within(Duration::from_secs(5), "quick", async {});
    }
}
