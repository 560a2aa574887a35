//! A wire-level double of Consul's KV HTTP API, written from Consul's documentation (KV store endpoints, blocking
//! queries), for the tests and the benchmark of `vamp_kv::consul` on machines where Consul cannot be installed.
//!
//! What it serves, on `127.0.0.1:<port>`:
//! - `GET /v1/kv/<key>`: `200` with `[{"LockIndex","Key","Flags","Value","CreateIndex","ModifyIndex"}]`, `Value`
//!   base64 (`null` for the empty value), or `404` with an empty body; `?raw` answers the bare value.
//!   `?recurse` lists every entry whose key starts with `<key>`; `?keys` lists the keys, rolled up after the first
//!   `separator` past the prefix (`?keys&separator=/`); both answer `404` when nothing matches (except for the
//!   empty prefix of `?keys`, which answers `[]`).
//! - `PUT /v1/kv/<key>` stores the body as the value and answers `true`; `?cas=0` writes only an absent key,
//!   `?cas=N` only a key whose `ModifyIndex` is `N` (else `false`); `?flags=N`. A body above 512 KiB
//!   (`kv_max_value_size`) is refused with `413`.
//! - `DELETE /v1/kv/<key>` answers `true`; `?recurse` deletes the prefix; `?cas=N` deletes only at `ModifyIndex`
//!   `N` (else `false`).
//! - `GET /v1/status/leader` answers the leader's address.
//! - Every KV answer carries `X-Consul-Index`: the key's `ModifyIndex` when it exists, else the highest index of
//!   the KV table (writes and deletions); for `?recurse`/`?keys` the highest index under the prefix (writes and
//!   deletions) or, when there is none, the table's. Never 0.
//! - Blocking queries: `?index=N&wait=<duration>` (`wait` in Go syntax such as `10s`, `500ms`, `1m`; default 5 min,
//!   at most 10 min) answers once the index above is greater than `N`, or when `wait` has passed; as in Consul,
//!   it answers at once when the index already is greater, so a client may see answers without a change.
//!
//! - ACL tokens, when [`ConsulDouble::require_token`] set one (default-deny ACLs): every request but the leader
//!   check needs it in `X-Consul-Token`; without it or with another token KV requests answer `403 Permission
//!   denied`, and `GET /v1/acl/token/self` answers `403 ACL not found` (`200` with the token's `SecretID` when
//!   it is the one).
//!
//! What it does not model: ACL policies (one token may do everything), sessions and locks (`?acquire`, `?release`, `LockIndex` stays 0),
//! transactions (`/v1/txn`), datacenters (`?dc`), consistency modes (`?stale`, `?consistent`), the jitter
//! Consul adds to `wait`, tombstone reaping, a cluster (one node, always leader), and HTTP/2 or TLS.
//!
//! [`ConsulDouble::stop`] closes the listener and every open connection (blocked queries included);
//! [`ConsulDouble::start`] serves again on the same port with the same data, like a restarted agent.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;

/// Consul's default `kv_max_value_size`.
pub const MAX_VALUE_BYTES: usize = 512 * 1024;
const DEFAULT_WAIT: Duration = Duration::from_secs(300);
const MAX_WAIT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    flags: u64,
    create_index: u64,
    modify_index: u64,
}

/// The KV table. `index` stands for the Raft index, which starts at 1 before any write, as in Consul (where
/// "index 1 is impossible due to Raft internals"), so the first write is 2 and an empty table answers 1.
#[derive(Debug)]
struct Table {
    index: u64,
    entries: BTreeMap<String, Entry>,
    tombstones: BTreeMap<String, u64>,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            index: 1,
            entries: BTreeMap::new(),
            tombstones: BTreeMap::new(),
        }
    }
}

impl Table {
    /// The highest index of a write or deletion anywhere in the table, at least 1.
    fn table_index(&self) -> u64 {
        self.index.max(1)
    }

    /// The highest index of a write or deletion of a key starting with `prefix`, or the table's when none.
    fn prefix_index(&self, prefix: &str) -> u64 {
        let written = self
            .entries
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e.modify_index)
            .max();
        let deleted = self
            .tombstones
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max();
        match written.max(deleted) {
            Some(index) if index > 0 => index,
            _ => self.table_index(),
        }
    }

    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    fn put(&mut self, key: &str, value: Vec<u8>, flags: u64) {
        let index = self.next_index();
        let create_index = self
            .entries
            .get(key)
            .map_or(index, |existing| existing.create_index);
        self.tombstones.remove(key);
        self.entries.insert(
            key.to_string(),
            Entry {
                value,
                flags,
                create_index,
                modify_index: index,
            },
        );
    }

    fn remove(&mut self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        let index = self.next_index();
        for key in keys {
            self.entries.remove(&key);
            self.tombstones.insert(key, index);
        }
    }

    fn with_prefix(&self, prefix: &str) -> Vec<(&String, &Entry)> {
        self.entries
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .collect()
    }
}

struct State {
    table: Mutex<Table>,
    changes: tokio::sync::watch::Sender<u64>,
    token: Mutex<Option<String>>,
}

impl State {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct Running {
    shutdown: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

/// A running (or stopped) double on a fixed loopback port, keeping its data across stop and start.
pub struct ConsulDouble {
    port: u16,
    state: Arc<State>,
    running: Option<Running>,
}

impl ConsulDouble {
    /// Starts a double with an empty KV store on a free loopback port.
    pub fn new() -> ConsulDouble {
        let (changes, _) = tokio::sync::watch::channel(0);
        let mut double = ConsulDouble {
            port: 0,
            state: Arc::new(State {
                table: Mutex::new(Table::default()),
                changes,
                token: Mutex::new(None),
            }),
            running: None,
        };
        double.start();
        double
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves (again) on its port, with the data it had.
    pub fn start(&mut self) {
        if self.running.is_some() {
            return;
        }
        let listener = match TcpListener::bind(("127.0.0.1", self.port)) {
            Ok(listener) => listener,
            Err(e) => panic!("the Consul double cannot listen on port {}: {e}", self.port),
        };
        if let Ok(SocketAddr::V4(address)) = listener.local_addr() {
            self.port = address.port();
        }
        if let Err(e) = listener.set_nonblocking(true) {
            panic!("the Consul double cannot use its listener: {e}");
        }
        let (shutdown, stopped) = tokio::sync::oneshot::channel();
        let state = Arc::clone(&self.state);
        let thread = std::thread::spawn(move || serve(listener, state, stopped));
        self.running = Some(Running { shutdown, thread });
    }

    /// Stops serving: the listener and every open connection close. The data stays for [`ConsulDouble::start`].
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown.send(());
            let _ = running.thread.join();
        }
    }

    /// From now on, requests need `token` (see the module documentation).
    pub fn require_token(&self, token: &str) {
        *self
            .state
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(token.to_string());
    }

    /// Whether it serves now.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

impl Default for ConsulDouble {
    fn default() -> Self {
        ConsulDouble::new()
    }
}

impl Drop for ConsulDouble {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(listener: TcpListener, state: Arc<State>, mut stopped: tokio::sync::oneshot::Receiver<()>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => panic!("the Consul double cannot build its runtime: {e}"),
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => panic!("the Consul double cannot use its listener: {e}"),
        };
        loop {
            let stream = tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(handle(&state, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EntryJson<'a> {
    lock_index: u64,
    key: &'a str,
    flags: u64,
    value: Option<String>,
    create_index: u64,
    modify_index: u64,
}

fn entry_json<'a>(key: &'a str, entry: &Entry) -> EntryJson<'a> {
    EntryJson {
        lock_index: 0,
        key,
        flags: entry.flags,
        value: (!entry.value.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&entry.value)),
        create_index: entry.create_index,
        modify_index: entry.modify_index,
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, index: Option<u64>, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(index) = index {
        if let Ok(value) = index.to_string().parse() {
            headers.insert("x-consul-index", value);
        }
        headers.insert("x-consul-knownleader", HeaderValue::from_static("true"));
        headers.insert("x-consul-lastcontact", HeaderValue::from_static("0"));
    }
    response
}

fn json(status: StatusCode, index: Option<u64>, value: &impl Serialize) -> Answer {
    match serde_json::to_vec(value) {
        Ok(body) => answer(status, index, body),
        Err(e) => answer(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()),
    }
}

fn bad_request(message: &str) -> Answer {
    let mut response = answer(StatusCode::BAD_REQUEST, None, message.to_string());
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    response
}

/// Decodes `%XX` escapes (and `+` as space in query values).
pub fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Option<Query> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((percent_decode(name, true)?, percent_decode(value, true)?));
        }
        Some(Query { pairs })
    }

    fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str) -> Result<Option<u64>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| format!("Invalid {name}: {text}")),
        }
    }
}

/// Parses a Go duration such as `10s`, `1m30s`, `250ms`.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match rest.get(..unit_len)? {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(number * seconds);
        rest = rest.get(unit_len..)?;
    }
    Some(total)
}

async fn handle(state: &State, request: Request<Incoming>) -> Answer {
    let path = request.uri().path().to_string();
    let Some(query) = Query::parse(request.uri().query()) else {
        return bad_request("Invalid query string");
    };
    if path == "/v1/status/leader" && request.method() == Method::GET {
        return answer(StatusCode::OK, None, "\"127.0.0.1:8300\"");
    }
    let required = state
        .token
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let presented = request
        .headers()
        .get("x-consul-token")
        .and_then(|v| v.to_str().ok());
    let allowed = required.as_deref().is_none_or(|t| presented == Some(t));
    if path == "/v1/acl/token/self" && request.method() == Method::GET {
        return match (allowed, presented) {
            (true, Some(token)) => answer(StatusCode::OK, None, format!("{{\"SecretID\":\"{token}\"}}")),
            _ => answer(StatusCode::FORBIDDEN, None, "ACL not found"),
        };
    }
    if !allowed {
        return answer(StatusCode::FORBIDDEN, None, "Permission denied");
    }
    let Some(raw_key) = path.strip_prefix("/v1/kv/") else {
        return answer(StatusCode::NOT_FOUND, None, "");
    };
    let Some(key) = percent_decode(raw_key, false) else {
        return bad_request("Invalid key encoding");
    };
    match *request.method() {
        Method::GET => get(state, &key, &query).await,
        Method::PUT => {
            let body = match Limited::new(request.into_body(), MAX_VALUE_BYTES).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    return answer(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        None,
                        format!(
                            "Request body too large, max size: {MAX_VALUE_BYTES} bytes. See \
                             https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size."
                        ),
                    )
                }
            };
            put(state, &key, &query, body.to_vec())
        }
        Method::DELETE => delete(state, &key, &query),
        _ => answer(StatusCode::METHOD_NOT_ALLOWED, None, ""),
    }
}

/// The index a read of `key` with `query` answers with.
fn read_index(table: &Table, key: &str, query: &Query) -> u64 {
    if query.has("recurse") || query.has("keys") {
        table.prefix_index(key)
    } else {
        table
            .entries
            .get(key)
            .map_or_else(|| table.table_index(), |e| e.modify_index)
    }
}

async fn get(state: &State, key: &str, query: &Query) -> Answer {
    let min_index = match query.number("index") {
        Ok(index) => index.unwrap_or(0),
        Err(bad) => return bad_request(&bad),
    };
    let wait = match query.get("wait") {
        None => DEFAULT_WAIT,
        Some(text) => match parse_go_duration(text) {
            Some(wait) => wait.min(MAX_WAIT),
            None => return bad_request(&format!("Invalid wait time: {text}")),
        },
    };
    if key.is_empty() && !query.has("keys") && !query.has("recurse") {
        return bad_request("Missing key name");
    }
    if min_index > 0 {
        let mut changes = state.changes.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        while read_index(&state.table(), key, query) <= min_index {
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
    }
    let table = state.table();
    let index = read_index(&table, key, query);
    if query.has("keys") {
        let separator = query.get("separator").filter(|s| !s.is_empty());
        let mut keys = BTreeSet::new();
        for (name, _) in table.with_prefix(key) {
            let rest = &name[key.len()..];
            let rolled = separator
                .and_then(|sep| rest.find(sep).map(|at| &name[..key.len() + at + sep.len()]))
                .unwrap_or(name);
            keys.insert(rolled.to_string());
        }
        if keys.is_empty() && !key.is_empty() {
            return answer(StatusCode::NOT_FOUND, Some(index), "");
        }
        return json(StatusCode::OK, Some(index), &keys);
    }
    if query.has("recurse") {
        let entries: Vec<EntryJson<'_>> = table
            .with_prefix(key)
            .into_iter()
            .map(|(name, entry)| entry_json(name, entry))
            .collect();
        if entries.is_empty() {
            return answer(StatusCode::NOT_FOUND, Some(index), "");
        }
        return json(StatusCode::OK, Some(index), &entries);
    }
    match table.entries.get(key) {
        None => answer(StatusCode::NOT_FOUND, Some(index), ""),
        Some(entry) if query.has("raw") => answer(StatusCode::OK, Some(index), entry.value.clone()),
        Some(entry) => json(StatusCode::OK, Some(index), &[entry_json(key, entry)]),
    }
}

fn put(state: &State, key: &str, query: &Query, value: Vec<u8>) -> Answer {
    if key.is_empty() {
        return bad_request("Missing key name");
    }
    let (cas, flags) = match (query.number("cas"), query.number("flags")) {
        (Ok(cas), Ok(flags)) => (cas, flags.unwrap_or(0)),
        (Err(bad), _) | (_, Err(bad)) => return bad_request(&bad),
    };
    let written = {
        let mut table = state.table();
        let current = table.entries.get(key).map(|e| e.modify_index);
        let allowed = match cas {
            None => true,
            Some(0) => current.is_none(),
            Some(index) => current == Some(index),
        };
        if allowed {
            table.put(key, value, flags);
        }
        allowed.then_some(table.index)
    };
    if let Some(index) = written {
        state.changes.send_replace(index);
    }
    json(StatusCode::OK, None, &written.is_some())
}

fn delete(state: &State, key: &str, query: &Query) -> Answer {
    let cas = match query.number("cas") {
        Ok(cas) => cas,
        Err(bad) => return bad_request(&bad),
    };
    let (done, index) = {
        let mut table = state.table();
        let doomed: Vec<String> = if query.has("recurse") {
            table
                .with_prefix(key)
                .into_iter()
                .map(|(k, _)| k.clone())
                .collect()
        } else {
            let current = table.entries.get(key).map(|e| e.modify_index);
            let allowed = match cas {
                None => true,
                Some(index) => current == Some(index),
            };
            if !allowed {
                return json(StatusCode::OK, None, &false);
            }
            current.map(|_| key.to_string()).into_iter().collect()
        };
        let changed = !doomed.is_empty();
        table.remove(doomed);
        (changed, table.index)
    };
    if done {
        state.changes.send_replace(index);
    }
    json(StatusCode::OK, None, &true)
}
