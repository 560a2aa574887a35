//! Conformance cases of [`ArtifactStore`]: documents, revisions, conflicts, deletes, listing and history.
//!
//! Cases use random artifact names; the listing cases (`list_*`) also need a store no other case writes to.

use chrono::{Duration, Utc};
use serde_json::json;

use super::{err, ok, unique};
use crate::model::Kind;
use crate::store::{ArtifactStore, Page, Stored};
use crate::ErrorKind;

/// Clock difference tolerated between the test and a store that stamps `updated` on its server.
const CLOCK_SKEW_SECONDS: i64 = 60;

fn name() -> String {
    unique("art")
}

async fn put(store: &dyn ArtifactStore, kind: Kind, name: &str, doc: serde_json::Value) -> u64 {
    ok(
        &format!("put {kind} {name}"),
        store.put(kind, name, doc, None).await,
    )
}

async fn get(store: &dyn ArtifactStore, kind: Kind, name: &str) -> Option<Stored> {
    ok(&format!("get {kind} {name}"), store.get(kind, name).await)
}

fn names(items: &[Stored]) -> Vec<&str> {
    items.iter().map(|s| s.name.as_str()).collect()
}

/// `get` of an artifact never put is `None`.
pub async fn get_of_an_absent_artifact_is_none(store: &dyn ArtifactStore) {
    assert!(get(store, Kind::Breed, &name()).await.is_none());
}

/// `get` after the first `put` returns the document at revision 1 with its kind, name and a current `updated`.
pub async fn put_then_get_returns_the_document(store: &dyn ArtifactStore) {
    let n = name();
    let before = Utc::now();
    let revision = put(
        store,
        Kind::Breed,
        &n,
        json!({"name": n, "deployable": "magneticio/sava:1.0"}),
    )
    .await;
    assert_eq!(revision, 1, "the first put must be revision 1");
    let stored = get(store, Kind::Breed, &n).await;
    let Some(stored) = stored else {
        panic!("get after put returned None")
    };
    assert_eq!(
        (stored.kind, stored.name.as_str(), stored.revision),
        (Kind::Breed, n.as_str(), 1)
    );
    assert_eq!(
        stored.document,
        json!({"name": n, "deployable": "magneticio/sava:1.0"})
    );
    let skew = Duration::seconds(CLOCK_SKEW_SECONDS);
    assert!(
        stored.updated >= before - skew && stored.updated <= Utc::now() + skew,
        "updated {} is not now",
        stored.updated
    );
}

/// Each put of an artifact adds one to its revision; `get` returns the last document.
pub async fn revisions_increase_by_one_per_put(store: &dyn ArtifactStore) {
    let n = name();
    let revisions = [
        put(store, Kind::Gateway, &n, json!(1)).await,
        put(store, Kind::Gateway, &n, json!(2)).await,
        put(store, Kind::Gateway, &n, json!(3)).await,
    ];
    assert_eq!(revisions, [1, 2, 3]);
    let stored = get(store, Kind::Gateway, &n)
        .await
        .map(|s| (s.revision, s.document));
    assert_eq!(stored, Some((3, json!(3))));
}

/// A put expecting a revision the artifact has moved past fails with `Conflict` and changes nothing.
pub async fn a_stale_expected_revision_is_a_conflict(store: &dyn ArtifactStore) {
    let n = name();
    put(store, Kind::Deployment, &n, json!("first")).await;
    put(store, Kind::Deployment, &n, json!("second")).await;
    let e = err(
        "put expecting revision 1",
        store.put(Kind::Deployment, &n, json!("stale"), Some(1)).await,
    );
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let stored = get(store, Kind::Deployment, &n)
        .await
        .map(|s| (s.revision, s.document));
    assert_eq!(
        stored,
        Some((2, json!("second"))),
        "a conflicting put must not change the artifact"
    );
}

/// A put expecting the current revision writes the next one.
pub async fn the_current_expected_revision_writes(store: &dyn ArtifactStore) {
    let n = name();
    put(store, Kind::Deployment, &n, json!("first")).await;
    assert_eq!(
        ok(
            "put expecting revision 1",
            store.put(Kind::Deployment, &n, json!("second"), Some(1)).await
        ),
        2
    );
}

/// Expecting revision 0 creates an absent artifact and conflicts with an existing one.
pub async fn expected_revision_zero_only_creates(store: &dyn ArtifactStore) {
    let n = name();
    assert_eq!(
        ok(
            "create",
            store.put(Kind::Blueprint, &n, json!("a"), Some(0)).await
        ),
        1
    );
    let e = err(
        "create again",
        store.put(Kind::Blueprint, &n, json!("b"), Some(0)).await,
    );
    assert_eq!(e.kind(), ErrorKind::Conflict);
}

/// The same name in two kinds is two artifacts.
pub async fn kinds_do_not_share_names(store: &dyn ArtifactStore) {
    let n = name();
    put(store, Kind::Breed, &n, json!("breed")).await;
    assert!(
        get(store, Kind::Blueprint, &n).await.is_none(),
        "a breed must not be readable as a blueprint"
    );
    assert_eq!(
        put(store, Kind::Blueprint, &n, json!("blueprint")).await,
        1,
        "revisions are counted per kind and name"
    );
    assert_eq!(
        get(store, Kind::Breed, &n).await.map(|s| s.document),
        Some(json!("breed"))
    );
}

/// `delete` says whether the artifact existed and removes it; deleting again is `Ok(false)`.
pub async fn delete_says_whether_the_artifact_existed(store: &dyn ArtifactStore) {
    let n = name();
    put(store, Kind::Sla, &n, json!({})).await;
    assert!(ok("first delete", store.delete(Kind::Sla, &n).await));
    assert!(
        get(store, Kind::Sla, &n).await.is_none(),
        "a deleted artifact must read as absent"
    );
    assert!(!ok("second delete", store.delete(Kind::Sla, &n).await));
}

/// `list` returns the artifacts of one kind sorted by name in byte order, with the total. Needs a fresh store.
pub async fn list_is_sorted_by_name_with_the_total(store: &dyn ArtifactStore) {
    for n in ["web-b", "Web-c", "web-a", "web-a1"] {
        put(store, Kind::Breed, n, json!(n)).await;
    }
    put(store, Kind::Blueprint, "web-0", json!("another kind")).await;
    let page = ok("list", store.list(Kind::Breed, Page::default()).await);
    assert_eq!(
        names(&page.items),
        ["Web-c", "web-a", "web-a1", "web-b"],
        "byte order: upper case first"
    );
    assert_eq!(page.total, 4);
}

/// Pages of a listing cover every artifact exactly once; a page past the end is empty with the same total.
/// Needs a fresh store.
pub async fn list_pages_cover_every_artifact_once(store: &dyn ArtifactStore) {
    for i in 0..5 {
        put(store, Kind::Route, &format!("route-{i}"), json!(i)).await;
    }
    let mut seen = Vec::new();
    for p in 1..=3 {
        let page = ok("list", store.list(Kind::Route, ok("page", Page::new(p, 2))).await);
        assert_eq!((page.page, page.per_page, page.total), (p, 2, 5));
        seen.extend(page.items.into_iter().map(|s| s.name));
    }
    assert_eq!(seen, ["route-0", "route-1", "route-2", "route-3", "route-4"]);
    let past = ok(
        "list past the end",
        store.list(Kind::Route, ok("page", Page::new(4, 2))).await,
    );
    assert!(past.items.is_empty());
    assert_eq!(past.total, 5);
}

/// Deleted artifacts are not listed or counted. Needs a fresh store.
pub async fn list_leaves_out_deleted_artifacts(store: &dyn ArtifactStore) {
    put(store, Kind::Condition, "kept", json!(1)).await;
    put(store, Kind::Condition, "gone", json!(2)).await;
    ok("delete", store.delete(Kind::Condition, "gone").await);
    let page = ok("list", store.list(Kind::Condition, Page::default()).await);
    assert_eq!((names(&page.items), page.total), (vec!["kept"], 1));
}

/// `history` lists every revision with its document, oldest first; empty for an artifact never put.
pub async fn history_lists_every_revision_oldest_first(store: &dyn ArtifactStore) {
    let n = name();
    assert!(ok("history of nothing", store.history(Kind::Workflow, &n).await).is_empty());
    for doc in ["a", "b", "c"] {
        put(store, Kind::Workflow, &n, json!(doc)).await;
    }
    let history = ok("history", store.history(Kind::Workflow, &n).await);
    let revisions: Vec<(u64, serde_json::Value)> =
        history.into_iter().map(|s| (s.revision, s.document)).collect();
    assert_eq!(revisions, [(1, json!("a")), (2, json!("b")), (3, json!("c"))]);
}

/// History survives a delete, and a put after the delete continues the revision count.
pub async fn history_survives_delete_and_revisions_continue(store: &dyn ArtifactStore) {
    let n = name();
    put(store, Kind::Escalation, &n, json!(1)).await;
    put(store, Kind::Escalation, &n, json!(2)).await;
    ok("delete", store.delete(Kind::Escalation, &n).await);
    assert_eq!(
        ok("history after delete", store.history(Kind::Escalation, &n).await).len(),
        2
    );
    assert_eq!(
        ok(
            "re-create expecting 0",
            store.put(Kind::Escalation, &n, json!(3), Some(0)).await
        ),
        3
    );
    let revisions: Vec<u64> = ok("history", store.history(Kind::Escalation, &n).await)
        .iter()
        .map(|s| s.revision)
        .collect();
    assert_eq!(revisions, [1, 2, 3]);
}

/// A document comes back equal to what was put: nesting, Unicode, null, large integers, booleans.
pub async fn documents_round_trip_unchanged(store: &dyn ArtifactStore) {
    let n = name();
    let doc = json!({
        "name": n,
        "nested": {"list": [1, "two", null, true, {"deep": []}], "empty": {}},
        "unicode": "café ☕ \u{1F680} \"quoted\" \\ back",
        "big": 9_007_199_254_740_993u64,
        "negative": -42,
    });
    put(store, Kind::Template, &n, doc.clone()).await;
    assert_eq!(
        get(store, Kind::Template, &n).await.map(|s| s.document),
        Some(doc)
    );
}

/// An empty artifact name is `Invalid`.
pub async fn an_empty_name_is_invalid(store: &dyn ArtifactStore) {
    let e = err(
        "put with an empty name",
        store.put(Kind::Breed, "", json!({}), None).await,
    );
    assert_eq!(e.kind(), ErrorKind::Invalid);
}

/// Of concurrent puts expecting the same revision exactly one succeeds; the others conflict.
pub async fn concurrent_conditional_puts_have_one_winner(store: &dyn ArtifactStore) {
    let n = name();
    put(store, Kind::Scale, &n, json!(0)).await;
    let attempts = (1..=8).map(|i| store.put(Kind::Scale, &n, json!(i), Some(1)));
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "exactly one conditional put may win: {results:?}");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| e.kind() == ErrorKind::Conflict));
    assert_eq!(get(store, Kind::Scale, &n).await.map(|s| s.revision), Some(2));
}
