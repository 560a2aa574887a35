//! A wire-level double of Elasticsearch's bulk API (`POST /_bulk`, `POST /{index}/_bulk`), written from the
//! Elasticsearch 8.x REST reference (adapted from vamp-persistence's double): the `Content-Type` check (406),
//! newline-terminated NDJSON (400), `index`/`create` actions with their source lines, index-name rules
//! (`invalid_index_name_exception` per item), per-item results with `errors`, and Elasticsearch's error body.
//! Faults can be injected: the next requests answer given statuses.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

#[derive(Default)]
struct EsState {
    indices: BTreeMap<String, Vec<Value>>,
    fail_next: VecDeque<u16>,
    requests: usize,
    authorization: Vec<Option<String>>,
    next_id: u64,
}

/// The running double; stops on drop.
pub struct EsDouble {
    pub url: String,
    state: Arc<Mutex<EsState>>,
    task: JoinHandle<()>,
}

fn error(status: StatusCode, kind: &str, reason: &str) -> Response {
    let body = json!({
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status.as_u16(),
    });
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

/// Elasticsearch's index-name rules.
fn index_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name == "." || name == ".." {
        return Some("must not be empty, '.' or '..'");
    }
    if name.len() > 255 {
        return Some("index name is too long");
    }
    if name.chars().any(|c| c.is_uppercase()) {
        return Some("must be lowercase");
    }
    if name.starts_with(['-', '_', '+']) {
        return Some("must not start with '_', '-', or '+'");
    }
    if name.chars().any(|c| "\\/*?\"<>| ,#:".contains(c)) {
        return Some("must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?, #, :]");
    }
    None
}

async fn handle(
    State(state): State<Arc<Mutex<EsState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = state.lock().unwrap();
    st.requests += 1;
    st.authorization.push(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    );
    if let Some(status) = st.fail_next.pop_front() {
        let status = StatusCode::from_u16(status).unwrap();
        return error(status, "injected_fault", "the test asked for this failure");
    }
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let default_index = match (method.clone(), segments.as_slice()) {
        (Method::POST | Method::PUT, ["_bulk"]) => None,
        (Method::POST | Method::PUT, [index, "_bulk"]) => Some(index.to_string()),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("no handler found for uri [{}] and method [{method}]", uri.path()),
            )
        }
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(mime, "application/json" | "application/x-ndjson") {
        let body = json!({
            "error": format!("Content-Type header [{content_type}] is not supported"),
            "status": 406,
        });
        return json_response(StatusCode::NOT_ACCEPTABLE, &body);
    }
    if body.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        );
    }
    if body.last() != Some(&b'\n') {
        return error(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]",
        );
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "illegal_argument_exception", "not UTF-8");
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut items = Vec::new();
    let mut errors = false;
    while let Some(line) = lines.next() {
        let Ok(Value::Object(action)) = serde_json::from_str::<Value>(line) else {
            return error(
                StatusCode::BAD_REQUEST,
                "x_content_parse_exception",
                "Malformed action/metadata line, expected START_OBJECT",
            );
        };
        let Some((kind, meta)) = action.iter().next().map(|(k, v)| (k.clone(), v.clone())) else {
            return error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                "empty action",
            );
        };
        if kind != "index" && kind != "create" {
            return error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("Malformed action/metadata line, unsupported action [{kind}]"),
            );
        }
        let Some(index) = meta
            .get("_index")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(default_index.clone())
        else {
            return error(
                StatusCode::BAD_REQUEST,
                "action_request_validation_exception",
                "Validation Failed: 1: index is missing;",
            );
        };
        let Some(source) = lines.next() else {
            return error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                "expected a source line",
            );
        };
        let item = if let Some(why) = index_name_problem(&index) {
            errors = true;
            json!({"_index": index, "status": 400, "error": {
                "type": "invalid_index_name_exception", "reason": format!("Invalid index name [{index}], {why}")}})
        } else {
            match serde_json::from_str::<Value>(source) {
                Ok(doc @ Value::Object(_)) => {
                    st.next_id += 1;
                    let id = format!("doc-{}", st.next_id);
                    st.indices.entry(index.clone()).or_default().push(doc);
                    json!({"_index": index, "_id": id, "_version": 1, "result": "created", "status": 201,
                        "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": st.next_id, "_primary_term": 1})
                }
                _ => {
                    errors = true;
                    json!({"_index": index, "status": 400, "error": {
                        "type": "mapper_parsing_exception", "reason": "failed to parse"}})
                }
            }
        };
        items.push(json!({ kind: item }));
    }
    json_response(
        StatusCode::OK,
        &json!({"took": 1, "errors": errors, "items": items}),
    )
}

impl EsDouble {
    pub async fn start() -> EsDouble {
        let state = Arc::new(Mutex::new(EsState::default()));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        EsDouble { url, state, task }
    }

    /// The documents of `index`, in write order.
    pub fn docs(&self, index: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .indices
            .get(index)
            .cloned()
            .unwrap_or_default()
    }

    /// The names of the indices written to.
    pub fn indices(&self) -> Vec<String> {
        self.state.lock().unwrap().indices.keys().cloned().collect()
    }

    /// Documents in every index.
    pub fn total_docs(&self) -> usize {
        self.state.lock().unwrap().indices.values().map(Vec::len).sum()
    }

    /// The next requests answer these statuses (with an Elasticsearch error body), in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap().fail_next.extend(statuses);
    }

    /// Requests received.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    /// The `Authorization` header of each request.
    pub fn authorization(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().authorization.clone()
    }
}

impl Drop for EsDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}
