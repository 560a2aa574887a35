//! A wire-level double of the Kubernetes API server: an HTTP server on a loopback port implementing the subset of
//! the documented REST API the Kubernetes driver uses (see `http.rs` for the paths), with the API's semantics as
//! documented (see `store.rs`), for tests on machines where no real API server can run.
//!
//! Written from the Kubernetes API documentation, not checked against a real API server. It simulates the
//! deployment controller: each Deployment keeps `replicas` pods, Running and Ready at once (or Pending, see
//! [`KubeDouble::set_pods_pending`]). Each double runs on its own thread and runtime, so it serves tests on any
//! runtime; [`KubeDouble::stop`] closes the port and every open connection, as a crashed API server would.

#![allow(dead_code)]

mod http;
mod selector;
mod status;
mod store;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use store::State;
pub use store::{Resource, FOREGROUND_DELAY};

/// A running double. Stops when dropped.
pub struct KubeDouble {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

async fn answer(
    state: Arc<Mutex<State>>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let content_type = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let request = http::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        content_type,
        authorization: parts
            .headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        body: &body,
    };
    let (code, json) = http::handle(&state, &request);
    let response = hyper::Response::builder()
        .status(code)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(json.to_string())));
    Ok(response.unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()))))
}

impl KubeDouble {
    /// Starts a double on a free loopback port.
    pub fn start() -> KubeDouble {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for the double");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let address = listener.local_addr().expect("listener address");
        let state = Arc::new(Mutex::new(State::default()));
        let (shutdown, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime for the double");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let state = served.clone();
                            tokio::spawn(async move {
                                let service = service_fn(move |request| answer(state.clone(), request));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    }
                }
            });
            runtime.shutdown_background();
        });
        KubeDouble {
            address,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The driver URL of this double: `kubernetes://127.0.0.1:<port>` (plain HTTP).
    pub fn url(&self) -> String {
        format!("kubernetes://{}", self.address)
    }

    /// Stops serving: the port closes and open connections drop. Returns once the server is gone.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().expect("double state");
        state.collect_garbage();
        f(&mut state)
    }

    /// A stored Deployment.
    pub fn deployment(&self, namespace: &str, name: &str) -> Option<Value> {
        self.with(|s| s.object(Resource::Deployments, namespace, name))
    }

    /// A stored Service.
    pub fn service(&self, namespace: &str, name: &str) -> Option<Value> {
        self.with(|s| s.object(Resource::Services, namespace, name))
    }

    /// Every stored object of `resource` in `namespace`, by name.
    pub fn objects(&self, resource: Resource, namespace: &str) -> Vec<Value> {
        self.with(|s| s.objects(resource, namespace))
    }

    /// A stored namespace.
    pub fn namespace(&self, name: &str) -> Option<Value> {
        self.with(|s| s.namespace(name))
    }

    /// Every request served so far: `METHOD path?sorted-query content-type`.
    pub fn requests(&self) -> Vec<String> {
        self.with(|s| s.requests.clone())
    }

    /// The `Authorization` headers of every request that had one.
    pub fn authorizations(&self) -> Vec<String> {
        self.with(|s| s.authorizations.clone())
    }

    /// Makes pods created from now on stay Pending without an IP (`true`), or lets every pod run (`false`, the
    /// default; pending pods start running at once).
    pub fn set_pods_pending(&self, pending: bool) {
        self.with(|s| s.set_pods_pending(pending));
    }
}

impl Drop for KubeDouble {
    fn drop(&mut self) {
        self.stop();
    }
}
