//! The web UI: its static assets, served at `/` next to the API (which stays under `/api`).
//!
//! The assets are compiled into the binary by `build.rs` from `vamp-server/ui/dist` (`npm ci && npm run build` in
//! `vamp-server/ui`). Without a built UI, [`UiAssets::embedded`] is a single page saying how to build it, so the
//! crate builds without npm. Paths that are not assets are client-side routes of the single-page app and get
//! `index.html`, except under `/assets/` (Vite's content-hashed output), where a missing file is 404.
//!
//! The UI is served without a token even when the API needs one: it holds no data, and asks for the token
//! itself (a sign-in page) before it calls the API.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;

/// One file of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The URL path it is served at, starting with `/` (`/index.html`, `/assets/index-3f2a.js`).
    pub path: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

/// The assets `build.rs` found in `ui/dist` when the crate was compiled; empty when the UI was not built.
const BUILT: &[Asset] = include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// The page served at every UI path when the crate was compiled without a built UI.
const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vamp</title>
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:4rem auto;line-height:1.5;color:#223}
code{background:#eef;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>Vamp</h1>
<p>This <code>vamp</code> binary was built without its web UI. The REST API is at <a href="/api/v1/info"><code>/api/v1</code></a>.</p>
<p>To include the UI, build it and then the binary again:</p>
<pre><code>cd vamp-server/ui &amp;&amp; npm ci &amp;&amp; npm run build &amp;&amp; cd ../.. &amp;&amp; cargo build -p vamp-server --bin vamp</code></pre>
<p><code>bash .ci/demo</code> does both.</p>
</body></html>
"#;

/// The content-hashed assets Vite writes: cached for a year, never revalidated.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (`index.html` above all): revalidated on every load, so a new build is picked up at once.
const REVALIDATE: &str = "no-cache";
/// What the UI may load: only itself. CodeMirror and uPlot set inline styles; no inline scripts are needed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; \
                   form-action 'self'";

/// A set of UI assets to serve.
#[derive(Debug, Clone)]
pub struct UiAssets {
    assets: Vec<Asset>,
    built: bool,
}

impl UiAssets {
    /// The assets compiled into this binary, or the "UI not built" page when there were none.
    pub fn embedded() -> Self {
        let has_index = BUILT.iter().any(|a| a.path == "/index.html");
        if has_index {
            Self::from_assets(BUILT.to_vec())
        } else {
            Self::not_built()
        }
    }

    /// Exactly `assets`; one of them should be `/index.html`, the single-page app's entry.
    pub fn from_assets(assets: Vec<Asset>) -> Self {
        UiAssets { assets, built: true }
    }

    /// Only the page that says how to build the UI, served at every UI path.
    pub fn not_built() -> Self {
        UiAssets {
            assets: vec![Asset {
                path: "/index.html",
                body: NOT_BUILT.as_bytes(),
                content_type: "text/html; charset=utf-8",
            }],
            built: false,
        }
    }

    /// Whether these are a built UI (not the "UI not built" page).
    pub fn is_built(&self) -> bool {
        self.built
    }

    fn find(&self, path: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.path == path)
    }
}

/// The response with `asset`; for `HEAD` too, as hyper sends a `HEAD` response's headers only.
fn respond(status: StatusCode, asset: &Asset, cache: &'static str) -> Response {
    let mut response = Response::new(Body::from(asset.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    security_headers(response.headers_mut());
    response
}

fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    response
}

/// Whether `path` belongs to the API (`/api` and everything under it).
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The middleware in front of the API: requests for the API pass on to it (its tokens, CORS and error shape
/// apply); every other request is answered from `assets` by [`serve`].
pub async fn serve_outside_api(
    State(assets): State<Arc<UiAssets>>,
    request: Request,
    next: Next,
) -> Response {
    if is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    serve(&assets, request.method(), request.uri())
}

/// Answers one UI request: the asset at the path; a missing `/assets/…` file is 404; any other path is a
/// client-side route and gets `index.html`. Only `GET` and `HEAD` are allowed (405 otherwise).
pub fn serve(assets: &UiAssets, method: &Method, uri: &Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "The web UI is read-only: use GET.\n",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let path = uri.path();
    let path = if path == "/" { "/index.html" } else { path };
    if let Some(asset) = assets.find(path) {
        let cache = if assets.is_built() && path.starts_with("/assets/") {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        return respond(StatusCode::OK, asset, cache);
    }
    if path.starts_with("/assets/") {
        return plain(StatusCode::NOT_FOUND, "No such UI asset.\n");
    }
    match assets.find("/index.html") {
        Some(index) => respond(StatusCode::OK, index, REVALIDATE),
        None => plain(StatusCode::NOT_FOUND, "This UI has no index.html.\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_page_says_how_to_build_the_ui() {
        let assets = UiAssets::not_built();
        assert!(!assets.is_built());
        let page = assets.find("/index.html").unwrap();
        let text = std::str::from_utf8(page.body).unwrap();
        assert!(text.contains("npm run build"));
    }

    #[test]
    fn api_paths_are_slash_api_and_below() {
        assert!(is_api_path("/api"));
        assert!(is_api_path("/api/"));
        assert!(is_api_path("/api/v1/info"));
        assert!(!is_api_path("/apis"));
        assert!(!is_api_path("/gateways/api"));
    }

    #[test]
    fn embedded_assets_always_have_an_index() {
        assert!(UiAssets::embedded().find("/index.html").is_some());
    }
}
