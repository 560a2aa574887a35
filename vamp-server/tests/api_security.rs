//! Security over HTTP: bearer tokens (admin writes, read-only reads, 401 without or with a wrong token, 403 for
//! a read token on writes), CORS preflights and headers, and TLS with a certificate signed by a test CA.

mod api_support;

use std::path::PathBuf;

use api_support::*;
use reqwest::StatusCode;
use vamp_server::api::{ApiOptions, ApiSecurity, CorsOptions, TlsOptions};
use vamp_server::Vamp;

fn secured() -> ApiOptions {
    ApiOptions {
        security: ApiSecurity {
            admin_tokens: vec!["admin-secret".into()],
            read_tokens: vec!["read-secret".into()],
            open: false,
        },
        ..ApiOptions::default()
    }
}

async fn send(api: &TestApi, method: reqwest::Method, path: &str, token: Option<&str>) -> Reply {
    let mut request = api
        .client
        .request(method, api.url(path))
        .header("content-type", YAML)
        .body(SAVA);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    Reply::from(request.send().await.unwrap()).await
}

#[tokio::test]
async fn tokens_decide_who_reads_and_who_writes() {
    use reqwest::Method;
    let api = TestApi::with(Vamp::builder().build().unwrap(), secured()).await;
    let anonymous = send(&api, Method::GET, "/api/v1/breeds", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.header("www-authenticate").as_deref(), Some("Bearer"));
    assert!(!anonymous.message().is_empty());
    let wrong = send(&api, Method::GET, "/api/v1/breeds", Some("admin-secreT")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let prefix = send(&api, Method::GET, "/api/v1/breeds", Some("admin")).await;
    assert_eq!(prefix.status, StatusCode::UNAUTHORIZED);

    let read_write = send(&api, Method::POST, "/api/v1/breeds", Some("read-secret")).await;
    assert_eq!(read_write.status, StatusCode::FORBIDDEN);
    assert!(!read_write.message().is_empty());
    let admin_write = send(&api, Method::POST, "/api/v1/breeds", Some("admin-secret")).await;
    assert_eq!(admin_write.status, StatusCode::CREATED, "{}", admin_write.text);
    let read = send(&api, Method::GET, "/api/v1/breeds/sava:1.0", Some("read-secret")).await;
    assert_eq!(read.status, StatusCode::OK);
    let delete = send(
        &api,
        Method::DELETE,
        "/api/v1/breeds/sava:1.0",
        Some("read-secret"),
    )
    .await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    let unknown_route = send(&api, Method::GET, "/api/v1/nothing", None).await;
    assert_eq!(unknown_route.status, StatusCode::UNAUTHORIZED);

    let config = send(&api, Method::GET, "/api/v1/config", Some("read-secret")).await;
    assert_eq!(config.status, StatusCode::OK);
    assert!(!config.text.contains("admin-secret") && !config.text.contains("read-secret"));
    assert_eq!(config.json()["api"]["security"]["admin-tokens"][0], "<redacted>");
}

#[tokio::test]
async fn without_tokens_the_api_is_open_only_when_opened_explicitly() {
    let api = TestApi::start().await;
    let reply = send(&api, reqwest::Method::POST, "/api/v1/breeds", None).await;
    assert_eq!(reply.status, StatusCode::CREATED);

    let closed = TestApi::with(Vamp::builder().build().unwrap(), ApiOptions::default()).await;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let reply = send(&closed, method.clone(), "/api/v1/breeds", None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method}");
        assert!(reply.text.contains("no API token configured"), "{}", reply.text);
    }
}

#[tokio::test]
async fn cors_preflights_are_answered_for_allowed_origins_only() {
    let options = ApiOptions {
        cors: CorsOptions {
            origins: vec!["https://ui.example.com".into()],
        },
        ..secured()
    };
    let api = TestApi::with(Vamp::builder().build().unwrap(), options).await;
    let preflight = api
        .client
        .request(reqwest::Method::OPTIONS, api.url("/api/v1/breeds"))
        .header("origin", "https://ui.example.com")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    let preflight = Reply::from(preflight).await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.header("access-control-allow-origin").as_deref(),
        Some("https://ui.example.com")
    );
    assert!(preflight
        .header("access-control-allow-methods")
        .unwrap()
        .contains("PUT"));
    assert_eq!(
        preflight.header("access-control-max-age").as_deref(),
        Some("1800")
    );

    let get = api
        .client
        .get(api.url("/api/v1/breeds"))
        .header("origin", "https://ui.example.com")
        .bearer_auth("read-secret")
        .send()
        .await
        .unwrap();
    let get = Reply::from(get).await;
    assert_eq!(get.status, StatusCode::OK);
    let exposed = get
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("x-total-count") && exposed.contains("link"),
        "{exposed}"
    );

    let foreign = api
        .client
        .request(reqwest::Method::OPTIONS, api.url("/api/v1/breeds"))
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "DELETE")
        .send()
        .await
        .unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_cors_origins_no_cors_headers_are_sent() {
    let api = TestApi::start().await;
    let reply = api
        .client
        .get(api.url("/api/v1/breeds"))
        .header("origin", "https://ui.example.com")
        .send()
        .await
        .unwrap();
    assert!(reply.headers().get("access-control-allow-origin").is_none());
}

fn support(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/api_support")
        .join(file)
}

#[tokio::test]
async fn tls_serves_https_with_the_configured_certificate() {
    let options = ApiOptions {
        tls: Some(TlsOptions {
            cert: support("test-cert.pem"),
            key: support("test-key.pem"),
        }),
        ..ApiOptions::insecure_open()
    };
    let mut api = TestApi::with(Vamp::builder().build().unwrap(), options).await;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(support("test-ca.pem")).unwrap()).unwrap();
    api.client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    assert!(api.base.starts_with("https://"));
    let created = api.post_yaml("/api/v1/breeds", SAVA).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let listed = api.get("/api/v1/breeds").await;
    assert!(listed.header("link").unwrap().contains("<https://localhost:"));

    let untrusting = reqwest::Client::new().get(api.url("/api/v1/breeds")).send().await;
    assert!(
        untrusting.is_err(),
        "a client without the CA must refuse the certificate"
    );
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/api/v1/breeds", api.addr.port()))
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    api.stop().await;
}

#[tokio::test]
async fn missing_tls_files_fail_serving_with_a_message() {
    let options = ApiOptions {
        tls: Some(TlsOptions {
            cert: support("no-such-cert.pem"),
            key: support("test-key.pem"),
        }),
        ..ApiOptions::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let e = vamp_server::api::serve_on(Vamp::builder().build().unwrap(), options, listener, async {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid);
    assert!(e.to_string().contains("no-such-cert.pem"), "{e}");
}
