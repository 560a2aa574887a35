//! A test double of the REST API for the CLI's tests: the `/api/v1` endpoints the CLI calls (vamp-behaviour.md
//! §3.2: list with paging and `X-Total-Count`, get with `as_blueprint`, create/update/delete of every kind,
//! deployments' PUT (create or merge) and DELETE (slice), events, info, health), translated to the same
//! `Vamp` facade the real API uses, with memory backends and running loops, plus bearer-token checks. It runs
//! on a thread of its own, so tests run the real `vamp` binary against it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tokio::sync::oneshot;
use vamp_core::dsl;
use vamp_core::memory::MemoryDriver;
use vamp_core::model::{Artifact, EventQuery, Kind};
use vamp_core::store::Page;
use vamp_core::Error;
use vamp_server::{ReadOptions, ServerSettings, Vamp, WriteOptions};

/// A running double; stopped on drop.
pub struct ApiDouble {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The facade behind it.
    pub vamp: Vamp,
    /// The driver, to make deployments fail.
    pub driver: Arc<MemoryDriver>,
    /// GETs of each deployment served so far.
    gets: Arc<std::sync::Mutex<BTreeMap<String, usize>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How the double behaves.
#[derive(Default, Clone)]
pub struct DoubleOptions {
    /// Tokens accepted; empty = open.
    pub tokens: Vec<String>,
    /// Services never start (deployments stay `Updating` until the deploy timeout).
    pub never_starts: bool,
    /// The deploy timeout in seconds (default 1).
    pub deploy_timeout_s: Option<u64>,
}

impl ApiDouble {
    /// An open double with a working driver.
    pub fn start() -> ApiDouble {
        Self::start_with(DoubleOptions::default())
    }

    /// A double with `options`.
    pub fn start_with(options: DoubleOptions) -> ApiDouble {
        let driver = Arc::new(MemoryDriver::new());
        if options.never_starts {
            driver.set_auto_start(false);
        }
        let mut settings = ServerSettings::default();
        settings.synchronization.period_ms = 200;
        settings.synchronization.busy_period_ms = 20;
        settings.synchronization.deploy_timeout_s = options.deploy_timeout_s.unwrap_or(1);
        settings.synchronization.undeploy_timeout_s = 1;
        let vamp = Vamp::builder()
            .driver(driver.clone())
            .config(settings)
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let v = vamp.clone();
        let tokens = Arc::new(options.tokens);
        let gets: Arc<std::sync::Mutex<BTreeMap<String, usize>>> = Arc::default();
        let counted = gets.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let (loops_stop, loops_stopped) = tokio::sync::watch::channel(false);
                let lv = v.clone();
                let loops = tokio::spawn(async move {
                    let mut rx = loops_stopped;
                    let _ = lv
                        .run(async move {
                            let _ = rx.wait_for(|s| *s).await;
                        })
                        .await;
                });
                let app = Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let vamp = v.clone();
                        let tokens = tokens.clone();
                        if method == Method::GET {
                            if let Some(name) = uri.path().strip_prefix("/api/v1/deployments/") {
                                *counted.lock().unwrap().entry(decode(name)).or_default() += 1;
                            }
                        }
                        async move { handle(vamp, &tokens, method, uri, headers, body).await }
                    },
                );
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
                let _ = loops_stop.send(true);
                let _ = loops.await;
            });
        });
        ApiDouble {
            url,
            vamp,
            driver,
            gets,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// How many times deployment `name` was read.
    pub fn polls(&self, name: &str) -> usize {
        self.gets.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    /// Runs `vamp ARGS… --url <double>` with `stdin`, returning its output.
    pub fn vamp(&self, args: &[&str]) -> Output {
        self.vamp_with(args, None, &[])
    }

    /// [`ApiDouble::vamp`] with standard input and extra environment.
    pub fn vamp_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        run_vamp(args, stdin, &[&[("VAMP_URL", self.url.as_str())], env].concat())
    }
}

impl Drop for ApiDouble {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the `vamp` binary with `args`, `stdin` and `env` (and no inherited `VAMP_*`).
pub fn run_vamp(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vamp"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("VAMP_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.stdin(std::process::Stdio::piped());
    cmd.stdout(std::process::Stdio::piped());
    cmd.stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after `label`.
    pub fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "vamp-cli-{label}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A path inside.
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn reply(status: StatusCode, body: Value, total: Option<u64>) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(t) = total {
        r.headers_mut()
            .insert("x-total-count", t.to_string().parse().unwrap());
    }
    r
}

fn error(e: Error) -> Response {
    let status = StatusCode::from_u16(e.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NOT_FOUND {
        return (status, "").into_response();
    }
    reply(status, serde_json::json!({ "message": e.message() }), None)
}

fn json(a: &Artifact) -> Value {
    dsl::to_json(a).unwrap()
}

fn query(uri: &Uri) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(k.to_string()).or_default().push(decode(v));
    }
    out
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    vamp: Vamp,
    tokens: &[String],
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = decode(uri.path());
    if path == "/health" {
        return reply(
            StatusCode::OK,
            serde_json::to_value(vamp.health().await).unwrap(),
            None,
        );
    }
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    if !tokens.is_empty() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| tokens.iter().any(|t| t == g)) {
            return reply(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "message": "A valid bearer token is required." }),
                None,
            );
        }
    }
    let q = query(&uri);
    let flag = |k: &str| q.get(k).is_some_and(|v| v.iter().any(|x| x == "true"));
    let write = WriteOptions {
        validate_only: flag("validate_only"),
        source: None,
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let (kind_text, name) = match rest.split_once('/') {
        Some((k, n)) => (k, Some(n.to_string())),
        None => (rest, None),
    };
    if kind_text == "info" {
        return reply(
            StatusCode::OK,
            serde_json::to_value(vamp.info().await).unwrap(),
            None,
        );
    }
    let kind: Kind = match kind_text.parse() {
        Ok(k) => k,
        Err(e) => return error(e),
    };
    let result: Result<Response, Error> = async {
        match (kind, method.clone(), name) {
            (Kind::Event, Method::GET, None) => {
                let mut query = EventQuery::tags(q.get("tag").cloned().unwrap_or_default());
                query.kind = q.get("type").and_then(|t| t.first().cloned());
                let page = page(&q)?;
                let events = vamp.query(&query, page).await?;
                Ok(reply(
                    StatusCode::OK,
                    serde_json::to_value(&events.items).unwrap(),
                    Some(events.total),
                ))
            }
            (Kind::Event, Method::POST, None) => {
                let event = dsl::read_event(&text).map_err(Error::from)?;
                let event = vamp.publish(event).await?;
                Ok(reply(
                    StatusCode::CREATED,
                    serde_json::to_value(&event).unwrap(),
                    None,
                ))
            }
            (_, Method::GET, None) => {
                let options = read_options(&q);
                let list = vamp.list_with(kind, page(&q)?, &options).await?;
                Ok(reply(
                    StatusCode::OK,
                    Value::Array(list.items.iter().map(json).collect()),
                    Some(list.total),
                ))
            }
            (_, Method::GET, Some(name)) => match vamp.get_with(kind, &name, &read_options(&q)).await? {
                Some(a) => Ok(reply(StatusCode::OK, json(&a), None)),
                None => Ok((StatusCode::NOT_FOUND, "").into_response()),
            },
            (Kind::Deployment, Method::PUT, Some(name)) => {
                let bp = Artifact::Blueprint(dsl::read_deployment_request(&text).map_err(Error::from)?);
                let out = vamp.deploy(&name, bp, &write).await?;
                Ok(reply(
                    StatusCode::ACCEPTED,
                    Value::Array(out.iter().map(json).collect()),
                    None,
                ))
            }
            (Kind::Deployment, Method::DELETE, Some(name)) => {
                let bp = Artifact::Blueprint(dsl::read_deployment_request(&text).map_err(Error::from)?);
                let out = vamp.undeploy(&name, bp, &write).await?;
                Ok(reply(
                    StatusCode::ACCEPTED,
                    out.as_ref().map(json).unwrap_or(Value::Null),
                    None,
                ))
            }
            (_, Method::POST, None) => {
                let a = dsl::read(kind, &text).map_err(Error::from)?;
                let out = vamp.create(a, &write).await?;
                let status = if matches!(kind, Kind::Gateway | Kind::Workflow) {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::CREATED
                };
                Ok(reply(status, Value::Array(out.iter().map(json).collect()), None))
            }
            (_, Method::PUT, Some(name)) => {
                let a = dsl::read(kind, &text).map_err(Error::from)?;
                if a.name() != name {
                    return Err(Error::invalid(format!(
                        "Inconsistent artifact name: '{}' is not '{name}'.",
                        a.name()
                    )));
                }
                let out = vamp.update(a, &write).await?;
                let status = if matches!(kind, Kind::Gateway | Kind::Workflow) {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::OK
                };
                Ok(reply(status, Value::Array(out.iter().map(json).collect()), None))
            }
            (_, Method::DELETE, Some(name)) => {
                if vamp.delete(kind, &name, &write).await? {
                    let status = if matches!(kind, Kind::Gateway | Kind::Workflow) {
                        StatusCode::ACCEPTED
                    } else {
                        StatusCode::NO_CONTENT
                    };
                    Ok((status, "").into_response())
                } else {
                    Ok((StatusCode::NOT_FOUND, "").into_response())
                }
            }
            _ => Err(Error::invalid(format!(
                "{method} {path} is not an endpoint of this double"
            ))),
        }
    }
    .await;
    result.unwrap_or_else(error)
}

fn page(q: &BTreeMap<String, Vec<String>>) -> Result<Page, Error> {
    let n = |k: &str, d: u32| {
        q.get(k)
            .and_then(|v| v.first())
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    Page::new(n("page", 1), n("per_page", 30).min(30))
}

fn read_options(q: &BTreeMap<String, Vec<String>>) -> ReadOptions {
    let flag = |k: &str| q.get(k).is_some_and(|v| v.iter().any(|x| x == "true"));
    ReadOptions {
        as_blueprint: flag("as_blueprint"),
        expand_references: flag("expand_references"),
        only_references: flag("only_references"),
    }
}
