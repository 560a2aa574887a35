//! The etcd backend against a real etcd that takes only TLS clients with a certificate of its CA and has
//! authentication on (`TestServer::etcd_secured`): the conformance suite through a URL with the root user, its
//! password from a file, the CA and the client certificate; and every wrong way in refused at connect, loudly
//! and without showing the password.
//!
//! `VAMP_TEST_SKIP=etcd` skips these tests; otherwise a server that cannot start fails them.

mod support;

use std::sync::Arc;

use support::{Lease, Leased, Shared};
use vamp_core::kv::KeyValueStore;
use vamp_core::testkit::servers::{TestServer, TEST_PASSWORD};
use vamp_core::{Error, ErrorKind};

static ETCD: Shared = Shared::new("etcd (TLS, auth)", TestServer::etcd_secured);

/// `etcd://<user part>@<address>?<query>` with the lease's CA and client certificate unless `query` says
/// otherwise.
fn url(lease: &Lease, user: &str, query: &str) -> String {
    let certs = lease.certs().expect("a secured etcd has certificates");
    let tls = format!(
        "ca={}&cert={}&key={}",
        certs.ca.display(),
        certs.client_cert.display(),
        certs.client_key.display()
    );
    let query = if query.is_empty() {
        tls
    } else {
        query.replace("{tls}", &tls)
    };
    format!("etcd://{user}@{}?{query}", lease.address())
}

/// The password file, written once: tests run in parallel, and rewriting it under a reader that opens it at that
/// moment would hand that reader an empty password.
fn password_file() -> std::path::PathBuf {
    static FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("vamp-etcd-secured-{}.pw", std::process::id()));
        std::fs::write(&path, format!("{TEST_PASSWORD}\n")).unwrap();
        path
    })
    .clone()
}

async fn secured() -> Arc<Leased<dyn KeyValueStore>> {
    let lease = ETCD.lease();
    let url = url(
        &lease,
        "root",
        &format!("password-file={}&{{tls}}", password_file().display()),
    );
    match vamp_kv::url::connect(&url).await {
        Ok(store) => Arc::new(Leased::new(store, lease)),
        Err(e) => panic!(
            "etcd with TLS and auth at {} is not reachable: {e}",
            lease.address()
        ),
    }
}

vamp_core::kv_conformance!(etcd_tls_and_auth, secured, skip = "etcd");

async fn refused(url: &str) -> Error {
    match vamp_kv::url::connect(url).await {
        Ok(_) => panic!("{} was accepted", vamp_kv::url::redacted(url)),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_being_shown() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let lease = ETCD.lease();
    let e = refused(&url(&lease, "root:wrong-password-4711", "")).await;
    let message = e.to_string();
    assert!(message.contains("authentication failed"), "{message}");
    assert!(!message.contains("wrong-password-4711"), "{message}");
    assert!(!format!("{e:?}").contains("wrong-password-4711"));
}

#[tokio::test]
async fn no_credentials_reach_nothing() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let lease = ETCD.lease();
    let no_user = url(&lease, "", "").replace("etcd://@", "etcd://");
    let e = refused(&no_user).await;
    assert!(matches!(e.kind(), ErrorKind::Backend | ErrorKind::Invalid), "{e}");
}

#[tokio::test]
async fn plain_http_another_ca_or_no_client_certificate_do_not_connect() {
    if vamp_core::testkit::skip("etcd") {
        return;
    }
    let lease = ETCD.lease();
    let pw = password_file();
    let pw = format!("password-file={}", pw.display());
    refused(&format!("etcd://root@{}?{pw}", lease.address())).await;
    let certs = lease.certs().unwrap();
    let ca_only = format!("{pw}&ca={}", certs.ca.display());
    refused(&url(&lease, "root", &ca_only)).await;
    let other = std::env::temp_dir().join(format!("vamp-etcd-other-ca-{}", std::process::id()));
    let other_ca = vamp_core::testkit::certs::TestCerts::create(&other).unwrap();
    let wrong_ca = format!(
        "{pw}&ca={}&cert={}&key={}",
        other_ca.ca.display(),
        certs.client_cert.display(),
        certs.client_key.display()
    );
    refused(&url(&lease, "root", &wrong_ca)).await;
    let _ = std::fs::remove_dir_all(&other);
}
