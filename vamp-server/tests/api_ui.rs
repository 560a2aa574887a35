//! The web UI beside the API: its entry page, content-hashed assets and client-side routes (served with
//! `index.html`), the page shown when the binary was built without the UI, cache headers, and tokens — the UI
//! loads without one while the API still demands it. Over real HTTP on a free loopback port.

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use reqwest::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use vamp_server::api::ui::{Asset, UiAssets};
use vamp_server::api::{router, router_with_ui, ApiOptions, ApiSecurity};
use vamp_server::Vamp;

const INDEX: &str = "<!doctype html><title>Vamp UI</title><div id=app></div>";
const SCRIPT: &str = "console.log('vamp')";

fn built_ui() -> UiAssets {
    UiAssets::from_assets(vec![
        Asset {
            path: "/index.html",
            body: INDEX.as_bytes(),
            content_type: "text/html; charset=utf-8",
        },
        Asset {
            path: "/assets/index-4f2a9c.js",
            body: SCRIPT.as_bytes(),
            content_type: "text/javascript; charset=utf-8",
        },
        Asset {
            path: "/favicon.svg",
            body: b"<svg/>",
            content_type: "image/svg+xml",
        },
    ])
}

/// A server for one test; it stops when dropped.
struct Server {
    base: String,
    client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start(app: axum::Router) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Server {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    async fn with_ui(assets: UiAssets, options: ApiOptions) -> Server {
        let vamp = Vamp::builder().build().unwrap();
        Self::start(router_with_ui(vamp, options, assets)).await
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_entry_page_is_served_at_the_root_and_always_revalidated() {
    let server = Server::with_ui(built_ui(), ApiOptions::insecure_open()).await;
    for path in ["/", "/index.html"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(header(&response, CACHE_CONTROL), "no-cache");
        assert!(header(&response, CONTENT_SECURITY_POLICY).contains("default-src 'self'"));
        assert_eq!(response.text().await.unwrap(), INDEX);
    }
}

#[tokio::test]
async fn hashed_assets_are_served_with_their_type_and_cached_for_good() {
    let server = Server::with_ui(built_ui(), ApiOptions::insecure_open()).await;
    let response = server.get("/assets/index-4f2a9c.js").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_TYPE), "text/javascript; charset=utf-8");
    assert_eq!(
        header(&response, CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(response.text().await.unwrap(), SCRIPT);

    let unhashed = server.get("/favicon.svg").await;
    assert_eq!(unhashed.status(), StatusCode::OK);
    assert_eq!(header(&unhashed, CACHE_CONTROL), "no-cache");
}

#[tokio::test]
async fn client_side_routes_get_the_entry_page_but_missing_assets_are_404() {
    let server = Server::with_ui(built_ui(), ApiOptions::insecure_open()).await;
    for path in [
        "/deployments",
        "/gateways/demo/frontend/web",
        "/breeds/demo-frontend:2.0",
        "/admin?tab=vga",
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, CACHE_CONTROL), "no-cache", "{path}");
        assert_eq!(response.text().await.unwrap(), INDEX, "{path}");
    }
    let missing = server.get("/assets/index-000000.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_api_keeps_its_paths_and_headers_beside_the_ui() {
    let server = Server::with_ui(built_ui(), ApiOptions::insecure_open()).await;
    let info = server.get("/api/v1/info").await;
    assert_eq!(info.status(), StatusCode::OK);
    assert_eq!(header(&info, CACHE_CONTROL), "no-store");
    let body: serde_json::Value = info.json().await.unwrap();
    assert!(body["version"].is_string());
    for path in ["/api", "/api/", "/api/v1/no-such-kind/x/y", "/api/v2"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["message"].is_string(), "{path}: {body}");
    }
}

#[tokio::test]
async fn only_get_and_head_reach_the_ui() {
    let server = Server::with_ui(built_ui(), ApiOptions::insecure_open()).await;
    let head = server
        .client
        .head(format!("{}/deployments", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header(&head, reqwest::header::CONTENT_LENGTH),
        INDEX.len().to_string()
    );
    assert!(head.text().await.unwrap().is_empty());
    let post = server
        .client
        .post(format!("{}/", server.base))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn without_a_built_ui_every_ui_path_says_how_to_build_it() {
    let server = Server::with_ui(UiAssets::not_built(), ApiOptions::insecure_open()).await;
    for path in ["/", "/deployments", "/gateways/demo/9050"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, CACHE_CONTROL), "no-cache");
        let text = response.text().await.unwrap();
        assert!(text.contains("npm ci &amp;&amp; npm run build"), "{text}");
    }
    let info = server.get("/api/v1/info").await;
    assert_eq!(info.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_tokens_the_ui_loads_without_one_and_the_api_still_demands_it() {
    let options = ApiOptions {
        security: ApiSecurity {
            admin_tokens: vec!["s3cret".into()],
            read_tokens: vec![],
            open: false,
        },
        ..ApiOptions::default()
    };
    let server = Server::with_ui(built_ui(), options).await;
    for path in ["/", "/gateways", "/assets/index-4f2a9c.js"] {
        assert_eq!(server.get(path).await.status(), StatusCode::OK, "{path}");
    }
    for path in ["/api/v1/info", "/api/v1/no-such-kind/x/y", "/api/"] {
        assert_eq!(
            server.get(path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let with_token = server
        .client
        .get(format!("{}/api/v1/info", server.base))
        .header("Authorization", "Bearer s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_default_router_serves_the_ui_compiled_into_the_binary() {
    let vamp = Vamp::builder().build().unwrap();
    let server = Server::start(router(vamp, ApiOptions::insecure_open())).await;
    let response = server.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_TYPE), "text/html; charset=utf-8");
    let text = response.text().await.unwrap();
    if UiAssets::embedded().is_built() {
        assert!(text.contains("<script type=\"module\""), "{text}");
    } else {
        assert!(text.contains("npm run build"), "{text}");
    }
}
