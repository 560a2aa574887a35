//! Conformance cases of [`KeyValueStore`]: values, versions, deletes, children, watches and key validation.
//!
//! Every case writes under its own random key below `/vamp-conformance/` and leaves what it wrote there.

use futures::stream::BoxStream;

use super::{err, next_item, ok, unique, ITEM_TIMEOUT};
use crate::kv::{Key, KeyValueStore, Versioned};
use crate::{ErrorKind, Result};

/// A random key of its own for one case.
fn scratch() -> Key {
    ok(
        "building the scratch key",
        Key::parse("/vamp-conformance").and_then(|k| k.join(&unique("kv"))),
    )
}

fn child(key: &Key, segment: &str) -> Key {
    ok("joining a key", key.join(segment))
}

async fn set(kv: &dyn KeyValueStore, key: &Key, value: &[u8]) -> u64 {
    ok(&format!("set {key}"), kv.set(key, value.to_vec()).await)
}

async fn value_of(kv: &dyn KeyValueStore, key: &Key) -> Option<Vec<u8>> {
    ok(&format!("get {key}"), kv.get(key).await).and_then(|v| v.value)
}

/// Reads the watch until it delivers `expected`, checking versions never go back; returns that item.
async fn watch_until(
    stream: &mut BoxStream<'static, Result<Versioned>>,
    what: &str,
    expected: Option<&[u8]>,
) -> Versioned {
    let deadline = tokio::time::Instant::now() + ITEM_TIMEOUT;
    let mut last_version = 0;
    loop {
        let item = match tokio::time::timeout_at(deadline, next_item(what, stream)).await {
            Ok(item) => ok(what, item),
            Err(_) => panic!("{what}: the watch did not deliver {expected:?} within {ITEM_TIMEOUT:?}."),
        };
        if item.value.is_some() {
            assert!(
                item.version >= last_version,
                "{what}: the watch went back from version {last_version} to {}.",
                item.version
            );
            last_version = item.version;
        }
        if item.value.as_deref() == expected {
            return item;
        }
    }
}

/// `get` of a key never set is `None`.
pub async fn get_of_an_absent_key_is_none(kv: &dyn KeyValueStore) {
    let key = scratch();
    assert_eq!(
        ok("get", kv.get(&key).await),
        None,
        "get of a key never set must be None"
    );
}

/// `get` after `set` returns the value with the version `set` returned.
pub async fn set_then_get_returns_the_value_and_version(kv: &dyn KeyValueStore) {
    let key = scratch();
    let version = set(kv, &key, b"hello").await;
    let got = ok("get", kv.get(&key).await);
    assert_eq!(
        got,
        Some(Versioned {
            value: Some(b"hello".to_vec()),
            version
        })
    );
}

/// Every `set` of a key returns a greater version than the one before.
pub async fn versions_increase_with_every_set(kv: &dyn KeyValueStore) {
    let key = scratch();
    let (v1, v2, v3) = (
        set(kv, &key, b"1").await,
        set(kv, &key, b"2").await,
        set(kv, &key, b"2").await,
    );
    assert!(
        v1 < v2 && v2 < v3,
        "versions must increase with every set, also of an equal value: {v1}, {v2}, {v3}"
    );
    assert_eq!(ok("get", kv.get(&key).await).map(|v| v.version), Some(v3));
}

/// A key deleted and set again gets a version greater than every version it had before.
pub async fn versions_increase_across_delete_and_set(kv: &dyn KeyValueStore) {
    let key = scratch();
    let before = set(kv, &key, b"1").await;
    ok("delete", kv.delete(&key).await);
    let after = set(kv, &key, b"1").await;
    assert!(
        after > before,
        "a re-created key must not reuse an old version: {before} then {after}"
    );
}

/// `delete` says whether the key held a value, removes it, and deleting again is `Ok(false)`.
pub async fn delete_says_whether_the_key_existed(kv: &dyn KeyValueStore) {
    let key = scratch();
    set(kv, &key, b"x").await;
    assert!(
        ok("first delete", kv.delete(&key).await),
        "deleting a key with a value must return true"
    );
    assert_eq!(
        value_of(kv, &key).await,
        None,
        "a deleted key must read as absent"
    );
    assert!(
        !ok("second delete", kv.delete(&key).await),
        "deleting an absent key must return false"
    );
}

/// Deleting a key never set is `Ok(false)`.
pub async fn delete_of_a_never_set_key_is_false(kv: &dyn KeyValueStore) {
    assert!(!ok("delete", kv.delete(&scratch()).await));
}

/// `delete` removes only the key's own value; its children stay.
pub async fn delete_leaves_children_in_place(kv: &dyn KeyValueStore) {
    let key = scratch();
    let below = child(&key, "below");
    set(kv, &key, b"parent").await;
    set(kv, &below, b"child").await;
    ok("delete", kv.delete(&key).await);
    assert_eq!(
        value_of(kv, &below).await,
        Some(b"child".to_vec()),
        "a child must survive the delete of its parent"
    );
    assert_eq!(ok("children", kv.children(&key).await), ["below"]);
}

/// `children` lists the direct child names under which values are stored, sorted, each once.
pub async fn children_are_the_sorted_direct_names(kv: &dyn KeyValueStore) {
    let key = scratch();
    for path in ["b/x", "a", "c", "a/deep/er"] {
        let mut k = key.clone();
        for segment in path.split('/') {
            k = child(&k, segment);
        }
        set(kv, &k, b"v").await;
    }
    assert_eq!(ok("children", kv.children(&key).await), ["a", "b", "c"]);
}

/// A key without children (or without any value at all) has no children.
pub async fn children_of_a_leaf_are_empty(kv: &dyn KeyValueStore) {
    let key = scratch();
    set(kv, &key, b"leaf").await;
    assert!(ok("children of a leaf", kv.children(&key).await).is_empty());
    assert!(ok(
        "children of an absent key",
        kv.children(&child(&key, "none")).await
    )
    .is_empty());
}

/// A child whose last value was deleted is no longer listed.
pub async fn children_forget_a_subtree_without_values(kv: &dyn KeyValueStore) {
    let key = scratch();
    let gone = child(&child(&key, "gone"), "x");
    set(kv, &gone, b"v").await;
    set(kv, &child(&key, "kept"), b"v").await;
    ok("delete", kv.delete(&gone).await);
    assert_eq!(ok("children", kv.children(&key).await), ["kept"]);
}

/// `children` of `/r/a` does not list what lies under `/r/ab`: names match whole segments.
pub async fn children_match_whole_segments(kv: &dyn KeyValueStore) {
    let key = scratch();
    set(kv, &child(&child(&key, "ab"), "wrong"), b"v").await;
    set(kv, &child(&child(&key, "a"), "right"), b"v").await;
    assert_eq!(ok("children", kv.children(&child(&key, "a")).await), ["right"]);
}

/// Values are bytes: non-UTF-8 bytes round-trip and the empty value is a value, not an absence.
pub async fn values_are_bytes(kv: &dyn KeyValueStore) {
    let key = scratch();
    let bytes = [0u8, 255, 10, 0, 13, 128];
    set(kv, &key, &bytes).await;
    assert_eq!(value_of(kv, &key).await, Some(bytes.to_vec()));
    set(kv, &key, b"").await;
    assert_eq!(
        value_of(kv, &key).await,
        Some(Vec::new()),
        "the empty value must read back as Some(empty)"
    );
}

/// A 4 MiB value (a large HAProxy configuration) round-trips unchanged.
pub async fn a_large_value_round_trips(kv: &dyn KeyValueStore) {
    let key = scratch();
    let value: Vec<u8> = (0..4 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    set(kv, &key, &value).await;
    let back = value_of(kv, &key).await;
    assert!(
        back.as_deref() == Some(value.as_slice()),
        "a 4 MiB value did not round-trip"
    );
}

/// The first item of a watch is the current value with its version.
pub async fn watch_starts_with_the_current_value(kv: &dyn KeyValueStore) {
    let key = scratch();
    let version = set(kv, &key, b"now").await;
    let mut watch = kv.watch(&key);
    let first = ok("first watch item", next_item("watch", &mut watch).await);
    assert_eq!(
        first,
        Versioned {
            value: Some(b"now".to_vec()),
            version
        }
    );
}

/// The first item of a watch of an absent key has no value.
pub async fn watch_of_an_absent_key_starts_without_value(kv: &dyn KeyValueStore) {
    let mut watch = kv.watch(&scratch());
    let first = ok("first watch item", next_item("watch", &mut watch).await);
    assert_eq!(
        first.value, None,
        "the first item of a watch of an absent key must have no value"
    );
}

/// A set after the watch started is delivered with its version.
pub async fn watch_sees_a_later_set(kv: &dyn KeyValueStore) {
    let key = scratch();
    let mut watch = kv.watch(&key);
    ok("first watch item", next_item("watch", &mut watch).await);
    let version = set(kv, &key, b"later").await;
    let seen = watch_until(&mut watch, "watch after set", Some(b"later")).await;
    assert_eq!(seen.version, version);
}

/// A delete after the watch started is delivered as an item without value.
pub async fn watch_sees_a_delete(kv: &dyn KeyValueStore) {
    let key = scratch();
    set(kv, &key, b"doomed").await;
    let mut watch = kv.watch(&key);
    watch_until(&mut watch, "watch before delete", Some(b"doomed")).await;
    ok("delete", kv.delete(&key).await);
    watch_until(&mut watch, "watch after delete", None).await;
}

/// After a burst of 100 sets the watch delivers the final value (it may skip intermediate ones), and
/// versions never go back.
pub async fn watch_delivers_the_final_value_of_a_burst(kv: &dyn KeyValueStore) {
    let key = scratch();
    let mut watch = kv.watch(&key);
    ok("first watch item", next_item("watch", &mut watch).await);
    let mut last = 0;
    for i in 0..100 {
        last = set(kv, &key, format!("{i}").as_bytes()).await;
    }
    let seen = watch_until(&mut watch, "watch after a burst", Some(b"99")).await;
    assert_eq!(
        seen.version, last,
        "the final item must carry the version of the final set"
    );
}

/// Changes of children and of keys sharing a prefix are not changes of the watched key.
pub async fn watch_ignores_other_keys(kv: &dyn KeyValueStore) {
    let key = scratch();
    let mut watch = kv.watch(&key);
    ok("first watch item", next_item("watch", &mut watch).await);
    set(kv, &child(&key, "child"), b"other").await;
    let sibling = ok("sibling key", Key::parse(&format!("{key}x")));
    set(kv, &sibling, b"other").await;
    set(kv, &key, b"mine").await;
    let next = ok("next watch item", next_item("watch", &mut watch).await);
    assert_eq!(
        next.value.as_deref(),
        Some(&b"mine"[..]),
        "the watch delivered a change of another key"
    );
}

/// Two watches of one key both see a change.
pub async fn every_watcher_sees_the_change(kv: &dyn KeyValueStore) {
    let key = scratch();
    let (mut a, mut b) = (kv.watch(&key), kv.watch(&key));
    ok("first item of a", next_item("watch a", &mut a).await);
    ok("first item of b", next_item("watch b", &mut b).await);
    set(kv, &key, b"both").await;
    watch_until(&mut a, "watch a", Some(b"both")).await;
    watch_until(&mut b, "watch b", Some(b"both")).await;
}

/// Keys are validated before any backend sees them: no relative, empty or white-space segments, no missing `/`.
pub async fn keys_are_validated(_kv: &dyn KeyValueStore) {
    for bad in [
        "",
        "/",
        "vamp/x",
        "/vamp//x",
        "/vamp/x/",
        "/vamp/../x",
        "/vamp/./x",
        "/vamp/a b",
        "/vamp/a\nb",
    ] {
        let e = err(&format!("Key::parse({bad:?})"), Key::parse(bad));
        assert_eq!(e.kind(), ErrorKind::Invalid, "{bad:?}");
    }
}
