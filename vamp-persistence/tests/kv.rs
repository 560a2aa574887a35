//! The key-value artifact store over the in-memory key-value store: the artifact conformance suite, the
//! layout the original used, and what it does with bad input and foreign data.

use std::sync::Arc;

use serde_json::json;
use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::memory::MemoryKeyValueStore;
use vamp_core::model::Kind;
use vamp_core::store::ArtifactStore;
use vamp_core::ErrorKind;
use vamp_persistence::kv::KvArtifactStore;

fn base() -> Key {
    Key::parse("/vamp/default").expect("a valid key")
}

fn store_over(kv: Arc<MemoryKeyValueStore>) -> KvArtifactStore {
    KvArtifactStore::new(kv, base())
}

vamp_core::artifact_conformance!(
    kv_memory,
    || async { Arc::new(store_over(Arc::new(MemoryKeyValueStore::new()))) },
    skip = "kv-memory",
);

#[tokio::test]
async fn current_documents_sit_where_the_original_kept_them() {
    let kv = Arc::new(MemoryKeyValueStore::new());
    let store = store_over(kv.clone());
    store
        .put(
            Kind::Breed,
            "sava:1.0",
            json!({"deployable": "magneticio/sava:1.0"}),
            None,
        )
        .await
        .unwrap();
    let key = Key::parse("/vamp/default/persistence/breeds/sava:1.0").unwrap();
    let stored = kv.get(&key).await.unwrap().and_then(|v| v.value).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(value["revision"], json!(1));
    assert_eq!(value["document"], json!({"deployable": "magneticio/sava:1.0"}));
    assert_eq!(
        kv.children(&Key::parse("/vamp/default/history/breeds/sava:1.0").unwrap())
            .await
            .unwrap(),
        ["1"]
    );
}

#[tokio::test]
async fn names_with_slashes_and_unicode_are_stored_and_listed() {
    let store = store_over(Arc::new(MemoryKeyValueStore::new()));
    for name in ["shop/frontend/8080", "café", "100%", ".."] {
        store.put(Kind::Gateway, name, json!(name), None).await.unwrap();
        assert_eq!(
            store.get(Kind::Gateway, name).await.unwrap().map(|s| s.document),
            Some(json!(name))
        );
    }
    let listed = store
        .list(Kind::Gateway, vamp_core::store::Page::default())
        .await
        .unwrap();
    let names: Vec<&str> = listed.items.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["..", "100%", "café", "shop/frontend/8080"]);
}

#[tokio::test]
async fn an_oversized_document_is_invalid_and_writes_nothing() {
    let store = store_over(Arc::new(MemoryKeyValueStore::new())).with_max_document_bytes(1024);
    let e = store
        .put(Kind::Blueprint, "big", json!("x".repeat(2000)), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(
        e.message()
            .contains("over this key-value store's limit of 1024 bytes"),
        "{}",
        e.message()
    );
    assert!(e.message().contains("'big'"));
    assert!(store.history(Kind::Blueprint, "big").await.unwrap().is_empty());
    assert_eq!(
        store
            .put(Kind::Blueprint, "big", json!("small"), None)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_value_that_is_not_utf8_is_a_backend_error_naming_the_key() {
    let kv = Arc::new(MemoryKeyValueStore::new());
    let key = Key::parse("/vamp/default/persistence/breeds/broken").unwrap();
    kv.set(&key, vec![0xff, 0xfe, b'{']).await.unwrap();
    let e = store_over(kv).get(Kind::Breed, "broken").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(e.message().contains("not UTF-8"), "{}", e.message());
    assert!(e.message().contains(key.as_str()));
}

#[tokio::test]
async fn a_bare_document_in_the_originals_format_is_reported_not_guessed() {
    let kv = Arc::new(MemoryKeyValueStore::new());
    let key = Key::parse("/vamp/default/persistence/breeds/legacy").unwrap();
    kv.set(&key, br#"{"name":"legacy","deployable":"x"}"#.to_vec())
        .await
        .unwrap();
    let e = store_over(kv).get(Kind::Breed, "legacy").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(
        e.message().contains("not a Vamp artifact revision"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn a_foreign_key_under_the_kind_makes_list_fail_clearly() {
    let kv = Arc::new(MemoryKeyValueStore::new());
    kv.set(
        &Key::parse("/vamp/default/persistence/breeds/%zz").unwrap(),
        b"{}".to_vec(),
    )
    .await
    .unwrap();
    let e = store_over(kv)
        .list(Kind::Breed, vamp_core::store::Page::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(e.message().contains("%zz"), "{}", e.message());
}

#[tokio::test]
async fn revisions_continue_after_a_lost_current_write() {
    let kv = Arc::new(MemoryKeyValueStore::new());
    let store = store_over(kv.clone());
    store.put(Kind::Scale, "s", json!(1), None).await.unwrap();
    kv.set(
        &Key::parse("/vamp/default/history/scales/s").unwrap(),
        b"5".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(store.put(Kind::Scale, "s", json!(2), Some(1)).await.unwrap(), 6);
}

#[tokio::test]
async fn concurrent_unconditional_puts_get_distinct_revisions() {
    let store = Arc::new(store_over(Arc::new(MemoryKeyValueStore::new())));
    let puts = (0..16).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.put(Kind::Route, "r", json!(i), None).await })
    });
    let mut revisions: Vec<u64> = futures::future::join_all(puts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=16).collect::<Vec<u64>>());
    assert_eq!(store.history(Kind::Route, "r").await.unwrap().len(), 16);
}
