//! The Rust side of the `vamp` object: what a script's synchronous calls do. Each call runs its async work on
//! the server's tokio runtime with `Handle::block_on` from the run's blocking thread, bounded by the run's time
//! limit and abandoned when the workflow is stopped.
//!
//! REST calls drive this server's own API router in-process (`tower::ServiceExt::oneshot`): no socket, no
//! token, and it works the same in an embedded Vamp. Events and metrics go through the [`Vamp`] facade;
//! `http` uses a `reqwest` client built by [`Egress::client`], so it reaches only what the egress policy
//! allows (public addresses and `workflows.http-allow`), after every redirect and DNS answer.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request};
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tower::ServiceExt;
use vamp_core::model::{Event, EventQuery, TimeBound};
use vamp_core::store::Page;

use super::egress::{refusal, Egress};
use crate::vamp::Vamp;

/// The largest response body a REST or HTTP call reads (16 MB).
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// How long one `vamp.http` request may take in all (connecting, sending, reading the answer), unless the
/// run's time limit ends it sooner.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed call, thrown in the script as an `Error` with this message and, for HTTP answers, a `status`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostError {
    /// The HTTP status of a non-2xx API answer.
    pub status: Option<u16>,
    /// What went wrong.
    pub message: String,
}

impl HostError {
    /// An error without a status.
    pub fn new(message: impl Into<String>) -> Self {
        HostError {
            status: None,
            message: message.into(),
        }
    }
}

impl From<vamp_core::Error> for HostError {
    fn from(e: vamp_core::Error) -> Self {
        HostError::new(e.message().to_string())
    }
}

type HostResult<T> = Result<T, HostError>;

/// What a run's calls reach and the bounds they respect.
#[derive(Clone)]
pub struct Host {
    pub(crate) vamp: Vamp,
    pub(crate) handle: Handle,
    pub(crate) router: Router,
    /// The `vamp.http` client of [`Egress::client`] (built with `egress`), or why it could not be built.
    pub(crate) http: Result<reqwest::Client, String>,
    /// Where `vamp.http` may connect; a URL naming an address is checked with it before the request.
    pub(crate) egress: Egress,
    /// When the run's time limit passes; `None` = no limit.
    pub(crate) deadline: Option<Instant>,
    /// Becomes `true` when the run is to stop.
    pub(crate) cancel: watch::Receiver<bool>,
    /// The largest event value `vamp.event` publishes, serialized, in bytes: the API's `body-limit`.
    pub(crate) body_limit: usize,
    /// How long one `vamp.http` request may take ([`HTTP_TIMEOUT`]).
    pub(crate) http_timeout: Duration,
}

impl Host {
    /// Runs `work` to its end on the runtime, unless the deadline passes or the run is stopped first.
    fn block<T>(&self, work: impl Future<Output = HostResult<T>>) -> HostResult<T> {
        if *self.cancel.borrow() {
            return Err(HostError::new("the workflow is stopping"));
        }
        let mut cancel = self.cancel.clone();
        let deadline = self.deadline;
        self.handle.block_on(async move {
            let bounded = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(tokio::time::Instant::from_std(d), work)
                        .await
                        .unwrap_or_else(|_| {
                            Err(HostError::new("the run's time limit passed during the call"))
                        }),
                    None => work.await,
                }
            };
            tokio::select! {
                biased;
                _ = cancel.wait_for(|stop| *stop) => Err(HostError::new("the workflow is stopping")),
                result = bounded => result,
            }
        })
    }

    /// A call of this server's REST API: `path` relative to `/api/v1` (a leading `/` or `/api/v1` is accepted),
    /// `query` an object of parameters (arrays repeat the parameter), `body` JSON (a string is sent as it is,
    /// as YAML, which JSON also is). The answer's JSON, its text when it is not JSON, `null` when empty.
    /// Non-2xx answers fail with their status and message.
    pub fn rest(
        &self,
        method: Method,
        path: &str,
        query: Option<&Value>,
        body: Option<&Value>,
    ) -> HostResult<Value> {
        let uri = api_uri(path, query)?;
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(header::ACCEPT, "application/json");
        let body = match body {
            None | Some(Value::Null) => Body::empty(),
            Some(Value::String(text)) => {
                request = request.header(header::CONTENT_TYPE, "application/x-yaml");
                Body::from(text.clone())
            }
            Some(other) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(other.to_string())
            }
        };
        let request = request
            .body(body)
            .map_err(|e| HostError::new(format!("{method} {uri}: cannot build the request: {e}")))?;
        let router = self.router.clone();
        self.block(async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status();
            let is_json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.contains("json"));
            let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY)
                .await
                .map_err(|e| HostError::new(format!("{method} {uri}: cannot read the answer: {e}")))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let value = if text.trim().is_empty() {
                Value::Null
            } else if is_json {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            } else {
                Value::String(text)
            };
            if status.is_success() {
                return Ok(value);
            }
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| value.as_str().map(str::to_string))
                .unwrap_or_default();
            Err(HostError {
                status: Some(status.as_u16()),
                message: format!("{method} {uri} answered {}: {message}", status.as_u16()),
            })
        })
    }

    /// Publishes an event with `tags`, `value` and `kind` (default `event`); the event as stored.
    pub fn publish(&self, tags: Vec<String>, value: Value, kind: Option<String>) -> HostResult<Value> {
        if tags.is_empty() {
            return Err(HostError::new("vamp.event needs at least one tag"));
        }
        let size = value.to_string().len();
        if size > self.body_limit {
            return Err(HostError::new(format!(
                "vamp.event: the value is {size} bytes as JSON; at most {} bytes (the API's body limit) are allowed",
                self.body_limit
            )));
        }
        let mut event = Event::new(tags, value);
        if let Some(kind) = kind {
            event = event.with_type(kind);
        }
        let vamp = self.vamp.clone();
        self.block(async move {
            let stored = vamp.publish(event).await?;
            serde_json::to_value(stored).map_err(|e| HostError::new(format!("cannot write the event: {e}")))
        })
    }

    /// The events carrying every tag of `tags`, newest first: at most `limit` (default 30, at most 1000), of
    /// type `kind` when given, not before `since` (RFC 3339 or `now-1m`) when given.
    pub fn events(
        &self,
        tags: Vec<String>,
        since: Option<String>,
        limit: Option<u32>,
        kind: Option<String>,
    ) -> HostResult<Value> {
        let mut query = EventQuery::tags(tags);
        query.kind = kind;
        if let Some(since) = since {
            let bound = TimeBound::parse(&since).ok_or_else(|| {
                HostError::new(format!(
                    "vamp.events: since '{since}' is not an ISO-8601 date-time or 'now-<n><s|m|h|d|w>'"
                ))
            })?;
            query.time.from = Some((bound, true));
        }
        let page = Page::first(limit.unwrap_or(30));
        let vamp = self.vamp.clone();
        self.block(async move {
            let found = vamp.query(&query, page).await?;
            serde_json::to_value(found.items)
                .map_err(|e| HostError::new(format!("cannot write the events: {e}")))
        })
    }

    /// The figures of the requests through `gateway` (and `route`) over the last `window`: `requests`, `rate`
    /// (per second), `responseTime` (mean, ms), `p50`, `p95`, `p99` (ms), `errors` (5xx) and `errorRate` (their
    /// share); times and the error rate are `null` without requests.
    pub fn metrics(&self, gateway: String, route: Option<String>, window: Duration) -> HostResult<Value> {
        if window.is_zero() {
            return Err(HostError::new(
                "vamp.metrics: the window must be longer than 0 seconds",
            ));
        }
        let vamp = self.vamp.clone();
        self.block(async move {
            let w = vamp.metrics(&gateway, route.as_deref(), window).await?;
            Ok(json!({
                "requests": w.requests,
                "rate": w.rate_per_second(window),
                "responseTime": w.latency.mean(),
                "p50": w.latency.percentile(50.0),
                "p95": w.latency.percentile(95.0),
                "p99": w.latency.percentile(99.0),
                "errors": w.status[4],
                "errorRate": w.error_rate(),
            }))
        })
    }

    /// An HTTP request to `url`: `method` (default GET), `headers`, `body` (a string as it is, other JSON as
    /// JSON). `{status, headers, body}` with the body as text; any status is an answer, only a failed transport
    /// or a refusal of the egress policy (`vamp.http GET <url>: refused: <why>`) fails.
    pub fn http(
        &self,
        url: &str,
        method: Option<String>,
        headers: Option<Map<String, Value>>,
        body: Option<Value>,
    ) -> HostResult<Value> {
        let method = match method {
            None => reqwest::Method::GET,
            Some(m) => reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| HostError::new(format!("vamp.http: '{m}' is not an HTTP method")))?,
        };
        let client = self
            .http
            .as_ref()
            .map_err(|e| HostError::new(format!("vamp.http is unavailable: {e}")))?;
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| HostError::new(format!("vamp.http {method} {url}: not a URL: {e}")))?;
        if let Err(refused) = self.egress.check_url(&parsed) {
            return Err(HostError::new(format!(
                "vamp.http {method} {url}: refused: {refused}"
            )));
        }
        let mut request = client.request(method.clone(), parsed);
        let mut has_content_type = false;
        for (name, value) in headers.unwrap_or_default() {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            has_content_type |= name.eq_ignore_ascii_case("content-type");
            request = request.header(name, text);
        }
        request = match body {
            None | Some(Value::Null) => request,
            Some(Value::String(text)) => request.body(text),
            Some(other) => {
                if !has_content_type {
                    request =
                        request.header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                request.body(other.to_string())
            }
        };
        let url = url.to_string();
        let timeout = self.http_timeout;
        self.block(async move {
            let exchange = async {
                let mut response = request
                    .send()
                    .await
                    .map_err(|e| HostError::new(transport_error(&method, &url, &e)))?;
                if let Some(length) = response.content_length().filter(|l| *l > MAX_BODY as u64) {
                    return Err(HostError::new(format!(
                        "vamp.http {method} {url}: the answer is {length} bytes, larger than {MAX_BODY} bytes"
                    )));
                }
                let status = response.status().as_u16();
                let headers: Map<String, Value> = response
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                        )
                    })
                    .collect();
                let mut bytes = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(|e| {
                    HostError::new(format!("vamp.http {method} {url}: cannot read the answer: {e}"))
                })? {
                    if bytes.len() + chunk.len() > MAX_BODY {
                        return Err(HostError::new(format!(
                            "vamp.http {method} {url}: the answer is larger than {MAX_BODY} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(json!({
                    "status": status,
                    "headers": headers,
                    "body": String::from_utf8_lossy(&bytes),
                }))
            };
            tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_| {
                Err(HostError::new(format!(
                    "vamp.http {method} {url}: no complete answer within {} s",
                    timeout.as_secs_f64()
                )))
            })
        })
    }

    /// Waits `duration` (bounded by the time limit; ends early when the workflow stops).
    pub fn sleep(&self, duration: Duration) -> HostResult<()> {
        self.block(async move {
            tokio::time::sleep(duration).await;
            Ok(())
        })
    }
}

/// The message of a failed request: the policy's refusal when it refused, else the error and its causes.
fn transport_error(method: &reqwest::Method, url: &str, error: &reqwest::Error) -> String {
    if let Some(refused) = refusal(error) {
        return format!("vamp.http {method} {url}: refused: {refused}");
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    format!("vamp.http {method} {url}: {text}")
}

/// `/api/v1/<path>?<query>` for a script's path and query object.
fn api_uri(path: &str, query: Option<&Value>) -> HostResult<String> {
    let trimmed = path.trim().trim_start_matches('/');
    let relative = trimmed
        .strip_prefix("api/v1/")
        .or_else(|| (trimmed == "api/v1").then_some(""))
        .unwrap_or(trimmed);
    let (relative, inline_query) = match relative.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (relative, None),
    };
    let mut uri = if relative.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/api/v1/{relative}")
    };
    let mut pairs = url::form_urlencoded::Serializer::new(inline_query.unwrap_or_default().to_string());
    match query {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                let values = match value {
                    Value::Array(items) => items.clone(),
                    other => vec![other.clone()],
                };
                for v in values {
                    match v {
                        Value::Null => {}
                        Value::String(s) => {
                            pairs.append_pair(key, &s);
                        }
                        other => {
                            pairs.append_pair(key, &other.to_string());
                        }
                    }
                }
            }
        }
        Some(_) => {
            return Err(HostError::new(
                "the query must be an object of parameters, e.g. {page: 2}",
            ))
        }
    }
    let query = pairs.finish();
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query);
    }
    uri.parse::<axum::http::Uri>()
        .map_err(|e| HostError::new(format!("'{path}' is not a usable API path: {e}")))?;
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::api_uri;
    use serde_json::json;

    #[test]
    fn paths_are_relative_to_the_api() {
        assert_eq!(api_uri("gateways/shop", None).unwrap(), "/api/v1/gateways/shop");
        assert_eq!(api_uri("/gateways", None).unwrap(), "/api/v1/gateways");
        assert_eq!(api_uri("/api/v1/info", None).unwrap(), "/api/v1/info");
    }

    #[test]
    fn queries_are_encoded_and_arrays_repeat() {
        let q = json!({"tag": ["a:b", "c d"], "page": 2, "skip": null});
        assert_eq!(
            api_uri("events", Some(&q)).unwrap(),
            "/api/v1/events?tag=a%3Ab&tag=c+d&page=2"
        );
        assert_eq!(
            api_uri("events?type=x", Some(&json!({"tag": "y"}))).unwrap(),
            "/api/v1/events?type=x&tag=y"
        );
        assert!(api_uri("events", Some(&json!([1]))).is_err());
    }
}
