//! The Redis backend against a real Redis whose `default` user is off (`TestServer::redis_with_acl`): the
//! conformance suite through a URL with the ACL user, and wrong or missing credentials refused at connect
//! without the password showing.
//!
//! `VAMP_TEST_SKIP=redis` skips these tests; otherwise a server that cannot start fails them.

mod support;

use std::sync::Arc;

use support::{Leased, Shared};
use vamp_core::kv::KeyValueStore;
use vamp_core::testkit::servers::{TestServer, REDIS_TEST_USER, TEST_PASSWORD};

static REDIS: Shared = Shared::new("Redis (ACL)", TestServer::redis_with_acl);

async fn with_acl_user() -> Arc<Leased<dyn KeyValueStore>> {
    let lease = REDIS.lease();
    let url = format!("redis://{REDIS_TEST_USER}:{TEST_PASSWORD}@{}", lease.address());
    match vamp_kv::url::connect(&url).await {
        Ok(store) => Arc::new(Leased::new(store, lease)),
        Err(e) => panic!("Redis with ACLs at {} is not reachable: {e}", lease.address()),
    }
}

vamp_core::kv_conformance!(redis_acl_user, with_acl_user, skip = "redis");

#[tokio::test]
async fn wrong_or_missing_credentials_are_refused_without_being_shown() {
    if vamp_core::testkit::skip("redis") {
        return;
    }
    let lease = REDIS.lease();
    for url in [
        format!(
            "redis://{REDIS_TEST_USER}:wrong-password-4711@{}",
            lease.address()
        ),
        format!("redis://default:wrong-password-4711@{}", lease.address()),
        format!("redis://{}", lease.address()),
    ] {
        let failed = match vamp_kv::url::connect(&url).await {
            Ok(store) => store
                .get(&vamp_core::kv::Key::parse("/probe").unwrap())
                .await
                .err(),
            Err(e) => Some(e),
        };
        let Some(e) = failed else {
            panic!("{} reached the store", vamp_kv::url::redacted(&url));
        };
        let message = format!("{e} {e:?}");
        assert!(!message.contains("wrong-password-4711"), "{message}");
        assert!(
            ["WRONGPASS", "NOAUTH", "NOPERM", "uthentication"]
                .iter()
                .any(|w| message.contains(w)),
            "the refusal does not say it was the credentials: {message}"
        );
    }
}
