//! A running API on a free loopback port over a `Vamp` with the memory backends, and a small HTTP client for
//! the API tests. The server stops when the `TestApi` is dropped.

#![allow(dead_code)]

use std::net::SocketAddr;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use vamp_server::api::{serve_on, ApiOptions};
use vamp_server::Vamp;

pub const JSON: &str = "application/json";
pub const YAML: &str = "application/x-yaml";

/// An API server for one test.
pub struct TestApi {
    pub vamp: Vamp,
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApi {
    /// The API over a fresh memory-backed `Vamp`, default options.
    pub async fn start() -> TestApi {
        Self::with(Vamp::builder().build().unwrap(), ApiOptions::insecure_open()).await
    }

    /// The API over `vamp` with `options` (plain HTTP unless `options.tls` is set).
    pub async fn with(vamp: Vamp, options: ApiOptions) -> TestApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if options.tls.is_some() { "https" } else { "http" };
        let (stop, stopped) = oneshot::channel::<()>();
        let v = vamp.clone();
        let task = tokio::spawn(async move {
            serve_on(v, options, listener, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestApi {
            vamp,
            addr,
            base: format!("{scheme}://localhost:{}", addr.port()),
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with `Accept` and, for a body, `Content-Type`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<&str>,
        accept: &str,
    ) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(accept).unwrap());
        if let Some(ct) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        let mut request = self.client.request(method, self.url(path)).headers(headers);
        if let Some(b) = body {
            request = request.body(b.to_string());
        }
        Reply::from(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None, JSON).await
    }

    pub async fn get_yaml(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None, YAML).await
    }

    pub async fn post_yaml(&self, path: &str, body: &str) -> Reply {
        self.call(Method::POST, path, Some(YAML), Some(body), JSON).await
    }

    pub async fn put_yaml(&self, path: &str, body: &str) -> Reply {
        self.call(Method::PUT, path, Some(YAML), Some(body), JSON).await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.call(Method::POST, path, Some(JSON), Some(&body.to_string()), JSON)
            .await
    }

    pub async fn delete(&self, path: &str, body: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, body.map(|_| YAML), body, JSON)
            .await
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply {
            status,
            headers,
            text,
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string())
    }

    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default()
    }

    /// The `message` of an error body; panics when the body is not `{"message": …}`.
    pub fn message(&self) -> String {
        let v = self.json();
        v.get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_else(|| panic!("no message in {}", self.text))
            .to_string()
    }
}

pub const SAVA: &str = "name: sava:1.0\ndeployable: magneticio/sava:1.0.0\nports:\n  web: 8080/http\n";
pub const SHOP_V1: &str = "name: shop\ngateways:\n  9060/http: frontend/web\nclusters:\n  frontend:\n    services:\n      breed:\n        name: web:1.0\n        deployable: acme/web:1.0\n        ports: {web: 8080/http}\n";
pub const SHOP_V2: &str = "name: shop\nclusters:\n  frontend:\n    services:\n      breed:\n        name: web:2.0\n        deployable: acme/web:2.0\n        ports: {web: 8080/http}\n";
