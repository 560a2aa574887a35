//! A wire-level double of Elasticsearch's REST API: an HTTP server on a free loopback port answering the part
//! of the documented API the event store uses, with Elasticsearch's status codes, response shapes and error
//! bodies (`{"error": {"root_cause": [...], "type", "reason"}, "status"}`).
//!
//! No Elasticsearch server can be installed on the machines this project is built on, so the store is tested
//! against this double, written from Elasticsearch's REST API reference (8.x). It covers:
//!
//! - `GET /`, `GET /_cluster/health`;
//! - `PUT|GET|DELETE /_index_template/{name}` (patterns, priority, aliases; the same-priority overlap check for
//!   patterns of the form `prefix*`);
//! - `PUT|GET|HEAD|DELETE /{index}` with Elasticsearch's index-name rules, auto-creation on the first write from
//!   the matching template (its aliases);
//! - `PUT|POST /{index}/_doc/{id}` (`op_type=create`, `refresh`), `POST /{index}/_doc`,
//!   `PUT|POST /{index}/_create/{id}`, `GET` and `DELETE /{index}/_doc/{id}`;
//! - `GET|POST /{targets}/_search` and `/_search` over comma-separated names, wildcards and aliases with
//!   `allow_no_indices`/`ignore_unavailable`: queries `match_all`, `match_none`, `bool` (`filter`, `must`,
//!   `must_not`, `should`), `term`, `terms`, `range` (`gt`, `gte`, `lt`, `lte`), `exists`, `ids`; `sort`,
//!   `from`, `size`, `search_after`, `track_total_hits`, `_source: true|false`, and the `avg`, `min`, `max`,
//!   `sum` and `value_count` aggregations; `index.max_result_window`;
//! - `GET|POST /{targets}/_count` and `/_count`;
//! - `POST /_bulk` and `/{index}/_bulk` with `index`, `create` and `delete` actions;
//! - `POST /{targets}/_delete_by_query` (`query`, `max_docs`; `conflicts=abort|proceed`, `refresh`,
//!   `allow_no_indices`, `ignore_unavailable`, `wait_for_completion=true`) with Elasticsearch's answer (`total`,
//!   `deleted`, `version_conflicts`, `failures`, …);
//! - `POST /_refresh` and `/{targets}/_refresh`, with near-real-time search: a write is searchable after a
//!   refresh (explicit, `refresh=true|wait_for`, or the periodic one after `refresh_interval`), and so is a
//!   delete: a deleted document is still found by searches, counts and `_delete_by_query` (which then reports a
//!   version conflict) until the next refresh; `GET` by id is real-time;
//! - `GET /{targets}` over names, wildcards and aliases, and `DELETE /{index}` by name (wildcards are refused,
//!   as `action.destructive_requires_name` defaults to true since 8.0);
//! - `http.max_content_length` (413).
//!
//! What it does not do: mappings and analysis (every string is matched exactly, as a `keyword` field is; the
//! template's mapping is accepted and not applied, so mapping conflicts and type coercion of real Elasticsearch
//! do not happen here), scoring (hits without `sort` come in index order), shards and replicas, dates in
//! formats other than RFC 3339, sort values (returned as the field's value from `_source`, where Elasticsearch
//! returns dates as epoch numbers; clients pass them back unread either way), any other API, security.

mod bulk;
mod delete_by_query;
mod search;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State as AxumState};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// How the double behaves where Elasticsearch is configurable.
#[derive(Debug, Clone)]
pub struct Options {
    /// `index.max_result_window` of every index.
    pub max_result_window: u64,
    /// `http.max_content_length`, in bytes.
    pub max_content_length: usize,
    /// `index.refresh_interval`: how long after a write the periodic refresh makes it searchable.
    pub refresh_interval: Duration,
    /// The version `GET /` reports.
    pub version: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_result_window: 10_000,
            max_content_length: 100 * 1024 * 1024,
            refresh_interval: Duration::from_secs(1),
            version: "8.15.0".to_string(),
        }
    }
}

/// A stored document.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub(crate) source: Value,
    pub(crate) version: u64,
    pub(crate) seq_no: u64,
    /// Whether it is searchable: false until a refresh after it was written.
    pub(crate) searchable: bool,
    pub(crate) written: Instant,
    /// When it was deleted: gone for `GET` at once, for searches at the next refresh, when it is removed.
    pub(crate) deleted: Option<Instant>,
}

impl Doc {
    /// Whether `GET` by id (real-time) finds it.
    pub(crate) fn live(&self) -> bool {
        self.deleted.is_none()
    }
}

/// One index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    pub(crate) docs: BTreeMap<String, Doc>,
    pub(crate) aliases: Vec<String>,
    pub(crate) mappings: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct Template {
    patterns: Vec<String>,
    priority: i64,
    body: Value,
}

/// Everything the double holds.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) indices: BTreeMap<String, Index>,
    templates: BTreeMap<String, Template>,
    next_seq_no: u64,
    next_auto_id: u64,
    pub(crate) requests: u64,
}

/// An error answer in Elasticsearch's format.
#[derive(Debug, Clone)]
pub(crate) struct EsError {
    pub(crate) status: StatusCode,
    pub(crate) kind: String,
    pub(crate) reason: String,
}

impl EsError {
    pub(crate) fn new(status: StatusCode, kind: &str, reason: impl Into<String>) -> EsError {
        EsError {
            status,
            kind: kind.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn bad_request(kind: &str, reason: impl Into<String>) -> EsError {
        EsError::new(StatusCode::BAD_REQUEST, kind, reason)
    }

    pub(crate) fn body(&self) -> Value {
        json!({
            "error": {
                "root_cause": [{"type": self.kind, "reason": self.reason}],
                "type": self.kind,
                "reason": self.reason,
            },
            "status": self.status.as_u16(),
        })
    }
}

type Answer = Result<(StatusCode, Value), EsError>;

struct Shared {
    state: Mutex<State>,
    options: Options,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running double; stopped when dropped.
pub struct EsDouble {
    address: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EsDouble {
    /// A double with default options on a free loopback port, served from a thread of its own.
    pub fn start() -> EsDouble {
        EsDouble::start_with(Options::default())
    }

    /// A double with `options`.
    pub fn start_with(options: Options) -> EsDouble {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let address = listener.local_addr().expect("the listener's address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            options,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime for the double");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        EsDouble {
            address,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The names of the indices that exist.
    pub fn indices(&self) -> Vec<String> {
        self.shared.lock().indices.keys().cloned().collect()
    }

    /// The `_source` of every document of `index`, in id order.
    pub fn documents(&self, index: &str) -> Vec<Value> {
        self.shared
            .lock()
            .indices
            .get(index)
            .map(|i| {
                i.docs
                    .values()
                    .filter(|d| d.live())
                    .map(|d| d.source.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The body of the index template `name`, as put.
    pub fn template(&self, name: &str) -> Option<Value> {
        self.shared.lock().templates.get(name).map(|t| t.body.clone())
    }

    /// Stores a document as if indexed and refreshed, bypassing the HTTP API (for foreign data in tests).
    pub fn put_searchable(&self, index: &str, id: &str, source: Value) {
        let mut state = self.shared.lock();
        store_doc(&mut state, index, Some(id), false, source, true).expect("a valid document");
    }

    /// How many requests the double has answered.
    pub fn requests(&self) -> u64 {
        self.shared.lock().requests
    }
}

impl Drop for EsDouble {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let answer = if body.len() > shared.options.max_content_length {
        Ok((StatusCode::PAYLOAD_TOO_LARGE, Value::Null))
    } else {
        let mut state = shared.lock();
        state.requests += 1;
        route(&mut state, &shared.options, &method, &uri, &body)
    };
    let (status, value) = match answer {
        Ok(ok) => ok,
        Err(e) => (e.status, e.body()),
    };
    let mut response = if value.is_null() {
        status.into_response()
    } else {
        (status, [("content-type", "application/json")], value.to_string()).into_response()
    };
    response
        .headers_mut()
        .insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
    response
}

/// The path's segments, percent-decoded, and the query parameters.
fn parse_uri(uri: &Uri) -> (Vec<String>, BTreeMap<String, String>) {
    let segments = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let params = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    (segments, params)
}

fn route(state: &mut State, options: &Options, method: &Method, uri: &Uri, body: &[u8]) -> Answer {
    let (segments, params) = parse_uri(uri);
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let m = method.as_str();
    match (m, parts.as_slice()) {
        ("GET" | "HEAD", []) => Ok((StatusCode::OK, info(options))),
        ("GET", ["_cluster", "health"]) => Ok((StatusCode::OK, health(state))),
        ("PUT" | "POST", ["_index_template", name]) => put_template(state, name, body),
        ("GET", ["_index_template", name]) => get_template(state, name),
        ("DELETE", ["_index_template", name]) => delete_template(state, name),
        ("POST" | "PUT", ["_bulk"]) => bulk::bulk(state, options, None, &params, body),
        ("POST" | "PUT", [index, "_bulk"]) => bulk::bulk(state, options, Some(index), &params, body),
        ("GET" | "POST", ["_search"]) => search::search(state, options, "_all", &params, body),
        ("GET" | "POST", [targets, "_search"]) => search::search(state, options, targets, &params, body),
        ("GET" | "POST", ["_count"]) => search::count(state, options, "_all", &params, body),
        ("GET" | "POST", [targets, "_count"]) => search::count(state, options, targets, &params, body),
        ("GET" | "POST", ["_refresh"]) => refresh(state, "_all", &params),
        ("GET" | "POST", [targets, "_refresh"]) => refresh(state, targets, &params),
        ("POST", [targets, "_delete_by_query"]) => {
            delete_by_query::delete_by_query(state, options, targets, &params, body)
        }
        ("PUT" | "POST", [index, "_doc", id]) => {
            let create = params.get("op_type").is_some_and(|o| o == "create");
            write_doc(state, options, index, Some(id), create, &params, body)
        }
        ("POST", [index, "_doc"]) => write_doc(state, options, index, None, false, &params, body),
        ("PUT" | "POST", [index, "_create", id]) => {
            write_doc(state, options, index, Some(id), true, &params, body)
        }
        ("GET", [index, "_doc", id]) => get_doc(state, index, id),
        ("DELETE", [index, "_doc", id]) => delete_doc(state, index, id, &params),
        ("PUT", [index]) if !index.starts_with('_') => create_index(state, index, body),
        ("HEAD", [index]) => Ok(if state.indices.contains_key(*index) {
            (StatusCode::OK, Value::Null)
        } else {
            (StatusCode::NOT_FOUND, Value::Null)
        }),
        ("GET", [targets]) if !targets.starts_with('_') => get_indices(state, targets, &params),
        ("DELETE", [index]) if !index.starts_with('_') => delete_index(state, index, &params),
        _ => Err(EsError::bad_request(
            "illegal_argument_exception",
            format!("no handler found for uri [{}] and method [{m}]", uri.path()),
        )),
    }
}

fn info(options: &Options) -> Value {
    json!({
        "name": "es-double",
        "cluster_name": "vamp-test",
        "cluster_uuid": "double",
        "version": {
            "number": options.version,
            "build_flavor": "default",
            "lucene_version": "9.11.1",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    })
}

fn health(state: &State) -> Value {
    json!({
        "cluster_name": "vamp-test",
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": state.indices.len(),
        "active_shards": state.indices.len(),
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
    })
}

pub(crate) fn parse_json(body: &[u8], kind: &str) -> Result<Value, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| EsError::bad_request(kind, format!("failed to parse: {e}")))
}

/// Elasticsearch's rules for index names.
pub(crate) fn check_index_name(name: &str) -> Result<(), EsError> {
    let invalid = |why: &str| {
        Err(EsError::bad_request(
            "invalid_index_name_exception",
            format!("Invalid index name [{name}], {why}"),
        ))
    };
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return invalid("must be lowercase");
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(
            c,
            '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'
        )
    }) {
        return invalid(&format!("must not contain the following characters [{c}]"));
    }
    if name.starts_with(['-', '_', '+']) {
        return invalid("must not start with '_', '-', or '+'");
    }
    if name == "." || name == ".." || name.is_empty() {
        return invalid("must not be '.' or '..'");
    }
    if name.len() > 255 {
        return invalid("index name is too long, (> 255)");
    }
    Ok(())
}

/// Whether `name` matches an index expression with `*` wildcards.
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The indices a comma-separated target expression names (indices, aliases, wildcards).
pub(crate) fn resolve_targets(
    state: &State,
    targets: &str,
    params: &BTreeMap<String, String>,
) -> Result<Vec<String>, EsError> {
    let allow_no_indices = params.get("allow_no_indices").is_none_or(|v| v != "false");
    let ignore_unavailable = params.get("ignore_unavailable").is_some_and(|v| v == "true");
    let mut found = Vec::new();
    for expression in targets.split(',').filter(|e| !e.is_empty()) {
        let expression = if expression == "_all" { "*" } else { expression };
        let matched: Vec<String> = state
            .indices
            .iter()
            .filter(|(name, index)| {
                wildcard_match(expression, name)
                    || index.aliases.iter().any(|a| wildcard_match(expression, a))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if matched.is_empty() {
            if expression.contains('*') {
                if !allow_no_indices {
                    return Err(EsError::new(
                        StatusCode::NOT_FOUND,
                        "index_not_found_exception",
                        format!("no such index [{expression}]"),
                    ));
                }
            } else if !ignore_unavailable {
                return Err(EsError::new(
                    StatusCode::NOT_FOUND,
                    "index_not_found_exception",
                    format!("no such index [{expression}]"),
                ));
            }
        }
        for name in matched {
            if !found.contains(&name) {
                found.push(name);
            }
        }
    }
    Ok(found)
}

fn shards(n: usize) -> Value {
    json!({"total": n, "successful": n, "skipped": 0, "failed": 0})
}

fn refresh(state: &mut State, targets: &str, params: &BTreeMap<String, String>) -> Answer {
    let names = resolve_targets(state, targets, params)?;
    refresh_indices(state, &names);
    Ok((StatusCode::OK, json!({"_shards": shards(names.len())})))
}

/// Refreshes `names`: every write becomes searchable and every deleted document is removed.
pub(crate) fn refresh_indices(state: &mut State, names: &[String]) {
    for name in names {
        if let Some(index) = state.indices.get_mut(name) {
            index.docs.retain(|_, doc| doc.live());
            for doc in index.docs.values_mut() {
                doc.searchable = true;
            }
        }
    }
}

/// Makes documents searchable, and removes deleted ones, whose periodic refresh has come.
pub(crate) fn periodic_refresh(state: &mut State, options: &Options, names: &[String]) {
    let now = Instant::now();
    let due = |at: Instant| now.duration_since(at) >= options.refresh_interval;
    for name in names {
        if let Some(index) = state.indices.get_mut(name) {
            index.docs.retain(|_, doc| !doc.deleted.is_some_and(due));
            for doc in index.docs.values_mut() {
                if !doc.searchable && due(doc.written) {
                    doc.searchable = true;
                }
            }
        }
    }
}

/// Deletes a document the way a delete request does: `GET` no longer finds it, searches do until the next
/// refresh. The version of the deletion, or `None` when there was no live document.
pub(crate) fn mark_deleted(index: &mut Index, id: &str) -> Option<u64> {
    let doc = index.docs.get_mut(id).filter(|d| d.live())?;
    doc.version += 1;
    doc.deleted = Some(Instant::now());
    Some(doc.version)
}

fn patterns_of(body: &Value) -> Result<Vec<String>, EsError> {
    let patterns: Vec<String> = match body.get("index_patterns") {
        Some(Value::String(p)) => vec![p.clone()],
        Some(Value::Array(ps)) => ps.iter().filter_map(|p| p.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    };
    if patterns.is_empty() {
        return Err(EsError::bad_request(
            "action_request_validation_exception",
            "Validation Failed: 1: index patterns are missing;",
        ));
    }
    if let Some(p) = patterns.iter().find(|p| p.trim_end_matches('*').contains('*')) {
        return Err(EsError::bad_request(
            "illegal_argument_exception",
            format!("the double supports index patterns with a trailing '*' only, not [{p}]"),
        ));
    }
    Ok(patterns)
}

/// Whether two patterns of the form `prefix*` or `literal` can match one index name.
fn patterns_overlap(a: &str, b: &str) -> bool {
    match (a.strip_suffix('*'), b.strip_suffix('*')) {
        (Some(pa), Some(pb)) => pa.starts_with(pb) || pb.starts_with(pa),
        (Some(pa), None) => b.starts_with(pa),
        (None, Some(pb)) => a.starts_with(pb),
        (None, None) => a == b,
    }
}

fn put_template(state: &mut State, name: &str, body: &[u8]) -> Answer {
    let body = parse_json(body, "x_content_parse_exception")?;
    let patterns = patterns_of(&body)?;
    let priority = body.get("priority").and_then(Value::as_i64).unwrap_or(0);
    for (other_name, other) in &state.templates {
        if other_name != name
            && other.priority == priority
            && patterns
                .iter()
                .any(|p| other.patterns.iter().any(|q| patterns_overlap(p, q)))
        {
            return Err(EsError::bad_request(
                "illegal_argument_exception",
                format!(
                    "index template [{name}] has index patterns {patterns:?} matching patterns from existing \
                     templates [{other_name}] with patterns ({other_name} => {:?}) that have the same priority \
                     [{priority}], multiple index templates may not match during index creation, please use a \
                     different priority",
                    other.patterns
                ),
            ));
        }
    }
    state.templates.insert(
        name.to_string(),
        Template {
            patterns,
            priority,
            body,
        },
    );
    Ok((StatusCode::OK, json!({"acknowledged": true})))
}

fn get_template(state: &State, name: &str) -> Answer {
    match state.templates.get(name) {
        Some(t) => Ok((
            StatusCode::OK,
            json!({"index_templates": [{"name": name, "index_template": t.body}]}),
        )),
        None => Err(EsError::new(
            StatusCode::NOT_FOUND,
            "resource_not_found_exception",
            format!("index template matching [{name}] not found"),
        )),
    }
}

fn delete_template(state: &mut State, name: &str) -> Answer {
    match state.templates.remove(name) {
        Some(_) => Ok((StatusCode::OK, json!({"acknowledged": true}))),
        None => Err(EsError::new(
            StatusCode::NOT_FOUND,
            "resource_not_found_exception",
            format!("index_template [{name}] missing"),
        )),
    }
}

/// A new index, shaped by the highest-priority template matching its name and then by `body`.
fn new_index(state: &State, name: &str, body: &Value) -> Index {
    let template = state
        .templates
        .values()
        .filter(|t| t.patterns.iter().any(|p| wildcard_match(p, name)))
        .max_by_key(|t| t.priority);
    let mut index = Index::default();
    let mut add_aliases = |aliases: Option<&Value>| {
        if let Some(Value::Object(aliases)) = aliases {
            index.aliases.extend(aliases.keys().cloned());
        }
    };
    add_aliases(template.and_then(|t| t.body.pointer("/template/aliases")));
    add_aliases(body.get("aliases"));
    index.mappings = body
        .get("mappings")
        .or_else(|| template.and_then(|t| t.body.pointer("/template/mappings")))
        .cloned()
        .unwrap_or_else(|| json!({}));
    index
}

fn create_index(state: &mut State, name: &str, body: &[u8]) -> Answer {
    check_index_name(name)?;
    let body = parse_json(body, "x_content_parse_exception")?;
    if state.indices.contains_key(name) {
        return Err(EsError::bad_request(
            "resource_already_exists_exception",
            format!("index [{name}/double] already exists"),
        ));
    }
    let index = new_index(state, name, &body);
    state.indices.insert(name.to_string(), index);
    Ok((
        StatusCode::OK,
        json!({"acknowledged": true, "shards_acknowledged": true, "index": name}),
    ))
}

/// `GET /{targets}`: every index the targets name, keyed by name (`{}` when wildcards match none).
fn get_indices(state: &State, targets: &str, params: &BTreeMap<String, String>) -> Answer {
    let mut answer = serde_json::Map::new();
    for name in resolve_targets(state, targets, params)? {
        let Some(index) = state.indices.get(&name) else {
            continue;
        };
        let aliases: serde_json::Map<String, Value> =
            index.aliases.iter().map(|a| (a.clone(), json!({}))).collect();
        answer.insert(
            name.clone(),
            json!({"aliases": aliases, "mappings": index.mappings, "settings": {"index": {"provided_name": name}}}),
        );
    }
    Ok((StatusCode::OK, Value::Object(answer)))
}

fn delete_index(state: &mut State, targets: &str, params: &BTreeMap<String, String>) -> Answer {
    if targets.contains('*') || targets == "_all" {
        return Err(EsError::bad_request(
            "illegal_argument_exception",
            "Wildcard expressions or all indices are not allowed",
        ));
    }
    for name in resolve_targets(state, targets, params)? {
        state.indices.remove(&name);
    }
    Ok((StatusCode::OK, json!({"acknowledged": true})))
}

pub(crate) fn no_such_index(name: &str) -> EsError {
    EsError::new(
        StatusCode::NOT_FOUND,
        "index_not_found_exception",
        format!("no such index [{name}]"),
    )
}

/// Whether a `refresh` parameter makes the write searchable at once.
pub(crate) fn refreshes(params: &BTreeMap<String, String>) -> bool {
    params
        .get("refresh")
        .is_some_and(|r| r.is_empty() || r == "true" || r == "wait_for")
}

/// Indexes one document; the answer of the document APIs and the item of `_bulk`.
pub(crate) fn store_doc(
    state: &mut State,
    index_name: &str,
    id: Option<&str>,
    create: bool,
    source: Value,
    searchable: bool,
) -> Result<(StatusCode, Value), EsError> {
    check_index_name(index_name)?;
    if !source.is_object() {
        return Err(EsError::bad_request(
            "mapper_parsing_exception",
            "failed to parse, document is empty or not an object",
        ));
    }
    let id = match id {
        Some(id) if id.len() > 512 => {
            return Err(EsError::bad_request(
                "action_request_validation_exception",
                format!(
                "Validation Failed: 1: id [{id}] is too long, must be no longer than 512 bytes but was: {};",
                id.len()
            ),
            ))
        }
        Some(id) => id.to_string(),
        None => {
            state.next_auto_id += 1;
            format!("auto{:012}", state.next_auto_id)
        }
    };
    if !state.indices.contains_key(index_name) {
        let index = new_index(state, index_name, &Value::Null);
        state.indices.insert(index_name.to_string(), index);
    }
    state.next_seq_no += 1;
    let seq_no = state.next_seq_no;
    let index = state
        .indices
        .get_mut(index_name)
        .ok_or_else(|| no_such_index(index_name))?;
    let previous = index.docs.get(&id).map(|d| (d.version, d.live()));
    if create {
        if let Some((version, true)) = previous {
            return Err(EsError::new(
                StatusCode::CONFLICT,
                "version_conflict_engine_exception",
                format!("[{id}]: version conflict, document already exists (current version [{version}])"),
            ));
        }
    }
    let version = previous.map_or(1, |(v, _)| v + 1);
    index.docs.insert(
        id.clone(),
        Doc {
            source,
            version,
            seq_no,
            searchable,
            written: Instant::now(),
            deleted: None,
        },
    );
    let (status, result) = if previous.is_some_and(|(_, live)| live) {
        (StatusCode::OK, "updated")
    } else {
        (StatusCode::CREATED, "created")
    };
    Ok((
        status,
        json!({
            "_index": index_name,
            "_id": id,
            "_version": version,
            "result": result,
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": seq_no,
            "_primary_term": 1,
        }),
    ))
}

fn write_doc(
    state: &mut State,
    _options: &Options,
    index: &str,
    id: Option<&str>,
    create: bool,
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Answer {
    let source = serde_json::from_slice(body)
        .map_err(|e| EsError::bad_request("mapper_parsing_exception", format!("failed to parse: {e}")))?;
    store_doc(state, index, id, create, source, refreshes(params))
}

fn get_doc(state: &State, index: &str, id: &str) -> Answer {
    let stored = state.indices.get(index).ok_or_else(|| no_such_index(index))?;
    Ok(match stored.docs.get(id).filter(|d| d.live()) {
        Some(doc) => (
            StatusCode::OK,
            json!({
                "_index": index, "_id": id, "_version": doc.version, "_seq_no": doc.seq_no,
                "_primary_term": 1, "found": true, "_source": doc.source,
            }),
        ),
        None => (
            StatusCode::NOT_FOUND,
            json!({"_index": index, "_id": id, "found": false}),
        ),
    })
}

fn delete_doc(state: &mut State, index: &str, id: &str, _params: &BTreeMap<String, String>) -> Answer {
    state.next_seq_no += 1;
    let seq_no = state.next_seq_no;
    let stored = state.indices.get_mut(index).ok_or_else(|| no_such_index(index))?;
    let (status, result, version) = match mark_deleted(stored, id) {
        Some(version) => (StatusCode::OK, "deleted", version),
        None => (StatusCode::NOT_FOUND, "not_found", 1),
    };
    Ok((
        status,
        json!({
            "_index": index, "_id": id, "_version": version, "result": result,
            "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": seq_no, "_primary_term": 1,
        }),
    ))
}
