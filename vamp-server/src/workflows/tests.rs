//! The engine and the `vamp` object against a `Vamp` with the memory backends: limits, failures, logging, and
//! every call of the JS API.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use indexmap::IndexMap;
use tokio::sync::watch;
use vamp_core::memory::MemoryMetrics;
use vamp_core::metrics::{MetricsRecorder, RequestSample};
use vamp_core::model::{EventQuery, Kind};
use vamp_core::store::Page;

use super::egress::Egress;
use super::engine::{run_script, Limits, RunResult};
use super::executions::{Execution, FailureReason, Outcome, Trigger};
use super::host::Host;
use super::js_api::RunContext;
use crate::api::ApiOptions;
use crate::vamp::Vamp;
use crate::WriteOptions;

const MB: usize = 1024 * 1024;

struct Ran {
    result: RunResult,
    execution: Execution,
    took: Duration,
}

impl Ran {
    fn lines(&self) -> Vec<String> {
        self.execution.log.iter().map(|l| l.text.clone()).collect()
    }
}

fn limits(timeout_ms: u64, memory_mb: usize) -> Limits {
    Limits {
        memory_bytes: memory_mb * MB,
        timeout: Duration::from_millis(timeout_ms),
    }
}

/// The egress policy of these tests: the test servers listen on loopback.
fn loopback_allowed() -> Egress {
    Egress::new(&["127.0.0.0/8".parse().unwrap()])
}

/// Runs `script` as workflow `w` of `vamp` on a blocking thread, stopping it after `stop_after` if given.
async fn run_with(
    vamp: &Vamp,
    script: &str,
    limits: Limits,
    data: Option<serde_json::Value>,
    stop_after: Option<Duration>,
) -> Ran {
    run_configured(vamp, script, limits, data, stop_after, |_| {}).await
}

/// As [`run_with`], with `configure` changing the host's bounds first.
async fn run_configured(
    vamp: &Vamp,
    script: &str,
    limits: Limits,
    data: Option<serde_json::Value>,
    stop_after: Option<Duration>,
    configure: impl FnOnce(&mut Host),
) -> Ran {
    let log = vamp.inner.workflow_executions.begin("w", Trigger::Daemon);
    let (cancel_tx, cancel) = watch::channel(false);
    let mut host = Host {
        vamp: vamp.clone(),
        handle: tokio::runtime::Handle::current(),
        router: crate::api::router(vamp.clone(), ApiOptions::insecure_open()),
        http: loopback_allowed().client(Duration::from_secs(10)),
        egress: loopback_allowed(),
        deadline: None,
        cancel,
        body_limit: ApiOptions::default().body_limit,
        http_timeout: super::host::HTTP_TIMEOUT,
    };
    configure(&mut host);
    let mut env = IndexMap::new();
    env.insert("GREETING".to_string(), "hello".to_string());
    let run = RunContext {
        workflow: "w".into(),
        namespace: vamp.namespace().to_string(),
        data,
        env,
    };
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(after) = stop_after {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            stop.store(true, Ordering::Relaxed);
            let _ = cancel_tx.send(true);
        });
    }
    let script = script.to_string();
    let run_log = log.clone();
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || run_script(&script, limits, host, &run, &run_log, stop))
        .await
        .unwrap();
    let took = started.elapsed();
    log.finish(result.outcome, result.reason, result.error.clone());
    let execution = vamp
        .inner
        .workflow_executions
        .list("w")
        .unwrap()
        .into_iter()
        .find(|e| e.id == log.id())
        .unwrap();
    Ran {
        result,
        execution,
        took,
    }
}

async fn run(vamp: &Vamp, script: &str) -> Ran {
    run_with(vamp, script, limits(10_000, 64), None, None).await
}

fn vamp() -> Vamp {
    Vamp::builder().build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_by_the_time_limit() {
    let ran = run_with(&vamp(), "while (true) {}", limits(300, 64), None, None).await;
    assert_eq!(ran.result.outcome, Outcome::Failed);
    assert_eq!(ran.result.reason, Some(FailureReason::Timeout));
    assert!(ran.took < Duration::from_secs(5), "took {:?}", ran.took);
    assert!(ran.result.error.unwrap().contains("time limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_is_stopped_by_the_memory_limit() {
    let hog = "var a = []; while (true) { a.push('x'.repeat(1000) + a.length); }";
    let ran = run_with(&vamp(), hog, limits(30_000, 16), None, None).await;
    assert_eq!(ran.result.outcome, Outcome::Failed, "{:?}", ran.result);
    assert_eq!(ran.result.reason, Some(FailureReason::Memory), "{:?}", ran.result);
    assert!(ran.result.error.unwrap().contains("16 MB"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_call_is_bounded_by_the_time_limit() {
    let ran = run_with(&vamp(), "vamp.sleep(60000)", limits(300, 64), None, None).await;
    assert_eq!(ran.result.reason, Some(FailureReason::Timeout));
    assert!(ran.took < Duration::from_secs(5), "took {:?}", ran.took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_request_ends_the_run_as_stopped() {
    for script in ["while (true) {}", "vamp.sleep(60000)"] {
        let ran = run_with(
            &vamp(),
            script,
            limits(60_000, 64),
            None,
            Some(Duration::from_millis(200)),
        )
        .await;
        assert_eq!(ran.result.outcome, Outcome::Stopped, "{script}");
        assert!(ran.took < Duration::from_secs(5), "{script} took {:?}", ran.took);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thrown_error_fails_the_run_with_its_message_and_a_log_line() {
    let ran = run(
        &vamp(),
        "function f() { throw new TypeError('bad input'); }\nf();",
    )
    .await;
    assert_eq!(ran.result.outcome, Outcome::Failed);
    assert_eq!(ran.result.reason, Some(FailureReason::Error));
    let error = ran.result.error.clone().unwrap();
    assert!(error.starts_with("TypeError: bad input"), "{error}");
    assert!(error.contains("at f"), "{error}");
    assert!(ran.lines().iter().any(|l| l.contains("TypeError: bad input")));
    let syntax = run(&vamp(), "let = ;").await;
    assert!(syntax.result.error.unwrap().starts_with("SyntaxError"));
    let thrown = run(&vamp(), "throw 'plain text'").await;
    assert_eq!(thrown.result.error.as_deref(), Some("plain text"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promises_run_to_their_end_and_unhandled_rejections_fail() {
    let ok = run(
        &vamp(),
        "async function main() { await null; console.log('after await'); }\nmain();",
    )
    .await;
    assert_eq!(ok.result.outcome, Outcome::Succeeded, "{:?}", ok.result);
    assert_eq!(ok.lines(), ["after await"]);
    let rejected = run(
        &vamp(),
        "async function main() { await null; throw new Error('later'); }\nmain();",
    )
    .await;
    assert_eq!(rejected.result.outcome, Outcome::Failed);
    assert!(rejected.result.error.unwrap().contains("later"));
    let handled = run(
        &vamp(),
        "Promise.reject(new Error('x')).catch(e => console.log('caught', e.message));",
    )
    .await;
    assert_eq!(handled.result.outcome, Outcome::Succeeded, "{:?}", handled.result);
    assert_eq!(handled.lines(), ["caught x"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_vamp_log_capture_lines() {
    let ran = run(
        &vamp(),
        "console.log('a', 1, {b: [true, null]}, undefined);\nconsole.error('oops');\nvamp.log('two\\nlines');",
    )
    .await;
    assert_eq!(ran.result.outcome, Outcome::Succeeded);
    assert_eq!(
        ran.lines(),
        ["a 1 {\"b\":[true,null]} undefined", "oops", "two", "lines"]
    );
    let streams: Vec<_> = ran.execution.log.iter().map(|l| l.stream).collect();
    assert_eq!(streams[1], super::executions::Stream::Stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_knows_its_workflow_namespace_data_and_environment() {
    let vamp = Vamp::builder().namespace("ops").build().unwrap();
    let data = serde_json::json!({"tags": ["deployments:shop"], "value": 3});
    let ran = run_with(
        &vamp,
        "console.log(vamp.workflow, vamp.namespace, vamp.data.value, vamp.env.GREETING, process.env.GREETING);",
        limits(10_000, 64),
        Some(data),
        None,
    )
    .await;
    assert_eq!(ran.lines(), ["w ops 3 hello hello"]);
    let ran = run(&vamp, "console.log(vamp.data === null)").await;
    assert_eq!(ran.lines(), ["true"]);
}

const EDGE: &str = "name: edge\nport: 9050/http\nroutes:\n  '[127.0.0.1:9000]': {weight: 90%}\n  '[127.0.0.1:9001]': {weight: 10%}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_called_in_process() {
    let vamp = vamp();
    vamp.create(
        vamp_core::dsl::read(Kind::Gateway, EDGE).unwrap(),
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    let script = r#"
        var g = vamp.get('gateways/edge');
        var keys = Object.keys(g.routes);
        console.log(keys.length, g.routes[keys[0]].weight);
        g.routes[keys[0]].weight = '50%';
        g.routes[keys[1]].weight = '50%';
        vamp.put('gateways/edge', g);
        console.log(vamp.get('/api/v1/gateways/edge').routes[keys[1]].weight);
        console.log(vamp.get('gateways', {per_page: 1}).length);
        try { vamp.get('gateways/nope'); } catch (e) { console.log(e.status, e.message); }
        vamp.post('breeds', {name: 'b:1', deployable: 'acme/b:1'});
        console.log(vamp.get('breeds/b:1').deployable.definition);
        vamp.delete('breeds/b:1');
        try { vamp.get('breeds/b:1'); } catch (e) { console.log(e.status); }
    "#;
    let ran = run(&vamp, script).await;
    assert_eq!(
        ran.result.outcome,
        Outcome::Succeeded,
        "{:?} {:?}",
        ran.result,
        ran.lines()
    );
    let lines = ran.lines();
    assert_eq!(lines[0], "2 90%");
    assert_eq!(lines[1], "50%");
    assert_eq!(lines[2], "1");
    assert!(
        lines[3].starts_with("404 GET /api/v1/gateways/nope answered 404"),
        "{}",
        lines[3]
    );
    assert_eq!(lines[4], "acme/b:1");
    assert_eq!(lines[5], "404");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_published_and_read() {
    let vamp = vamp();
    let script = r#"
        var stored = vamp.event(['deployments:shop', 'custom'], {n: 1}, 'release');
        console.log(stored.type, stored.tags.indexOf('deployments') >= 0);
        vamp.event('custom', 2);
        var found = vamp.events(['custom'], {limit: 5, since: 'now-1m'});
        console.log(found.length, found[0].value, found[1].value.n);
        console.log(vamp.events('custom', {type: 'release'}).length);
        try { vamp.events('custom', {since: 'yesterday'}); } catch (e) { console.log('bad since'); }
    "#;
    let ran = run(&vamp, script).await;
    assert_eq!(
        ran.result.outcome,
        Outcome::Succeeded,
        "{:?} {:?}",
        ran.result,
        ran.lines()
    );
    assert_eq!(ran.lines(), ["release true", "2 2 1", "1", "bad since"]);
    let stored = vamp
        .query(&EventQuery::tags(["custom"]), Page::default())
        .await
        .unwrap();
    assert_eq!(stored.total, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_read_from_the_metrics_source() {
    let metrics = Arc::new(MemoryMetrics::new());
    let now = Utc::now();
    let samples: Vec<RequestSample> = (0..10)
        .map(|i| RequestSample {
            gateway: "shop".into(),
            route: Some(if i < 8 { "v1" } else { "v2" }.into()),
            status: if i == 9 { 500 } else { 200 },
            latency_ms: 10.0 * f64::from(i + 1),
            at: now,
        })
        .collect();
    MetricsRecorder::record(metrics.as_ref(), &samples).await.unwrap();
    let vamp = Vamp::builder().metrics(metrics).build().unwrap();
    let script = r#"
        var all = vamp.metrics('shop', 10);
        console.log(all.requests, all.rate, all.errors, all.errorRate);
        console.log(all.p50 > 0, all.p99 >= all.p95, all.responseTime > 0);
        var v2 = vamp.metrics('shop', 'v2', 10);
        console.log(v2.requests, v2.errors);
        var none = vamp.metrics('empty');
        console.log(none.requests, none.responseTime, none.errorRate);
    "#;
    let ran = run(&vamp, script).await;
    assert_eq!(
        ran.result.outcome,
        Outcome::Succeeded,
        "{:?} {:?}",
        ran.result,
        ran.lines()
    );
    assert_eq!(
        ran.lines(),
        ["10 1 1 0.1", "true true true", "2 1", "0 null null"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_answer_status_headers_and_body() {
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::post(|body: String| async move { ([("x-seen", "yes")], format!("got {body}")) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let script = format!(
        r#"
        var r = vamp.http('http://127.0.0.1:{port}/echo', {{method: 'post', body: {{a: 1}}}});
        console.log(r.status, r.headers['x-seen'], r.body);
        console.log(vamp.http('http://127.0.0.1:{port}/missing').status);
        try {{ vamp.http('http://127.0.0.1:1/'); }} catch (e) {{ console.log('unreachable'); }}
    "#
    );
    let ran = run(&vamp(), &script).await;
    server.abort();
    assert_eq!(
        ran.result.outcome,
        Outcome::Succeeded,
        "{:?} {:?}",
        ran.result,
        ran.lines()
    );
    assert_eq!(ran.lines(), ["200 yes got {\"a\":1}", "404", "unreachable"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_throw_type_errors() {
    let script = r#"
        try { vamp.get(42); } catch (e) { console.log(e instanceof TypeError, e.message); }
        try { vamp.event([1]); } catch (e) { console.log(e.message); }
        try { vamp.metrics('g', 0); } catch (e) { console.log(e instanceof RangeError); }
    "#;
    let ran = run(&vamp(), script).await;
    assert_eq!(
        ran.lines(),
        [
            "true vamp.get: the path must be a string",
            "vamp.event: tags must be strings, found 1",
            "true"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_waits_throw_range_errors_instead_of_panicking() {
    let script = r#"
        try { vamp.sleep(1e300); } catch (e) { console.log(e instanceof RangeError, e.message); }
        try { vamp.metrics('g', 'r', 1e300); } catch (e) { console.log(e instanceof RangeError, e.message); }
    "#;
    let ran = run(&vamp(), script).await;
    assert_eq!(
        ran.result.outcome,
        Outcome::Succeeded,
        "{:?} {:?}",
        ran.result,
        ran.lines()
    );
    let lines = ran.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("true vamp.sleep: at most"), "{lines:?}");
    assert!(
        lines[1].starts_with("true vamp.metrics: the window must be at most"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_value_beyond_the_body_limit_throws() {
    let vamp = vamp();
    let script = r#"
        try { vamp.event(['big'], 'x'.repeat(2000)); } catch (e) { console.log(e.message); }
        vamp.event(['small'], 'x'.repeat(100));
    "#;
    let ran = run_configured(&vamp, script, limits(10_000, 64), None, None, |h| {
        h.body_limit = 1000
    })
    .await;
    assert_eq!(ran.result.outcome, Outcome::Succeeded, "{:?}", ran.result);
    let lines = ran.lines();
    assert!(lines[0].contains("at most 1000 bytes"), "{lines:?}");
    let big = vamp
        .query(&EventQuery::tags(["big".to_string()]), Page::first(10))
        .await
        .unwrap();
    assert!(big.items.is_empty());
}

/// A server answering every connection with `head` then `body_len` bytes of `x` (no answer at all when
/// `head` is empty); its address.
async fn raw_server(head: &'static str, body_len: usize) -> String {
    raw_server_counting(head, body_len, Arc::default()).await
}

/// As [`raw_server`], adding the body bytes it could write to `written`.
async fn raw_server_counting(
    head: &'static str,
    body_len: usize,
    written: Arc<std::sync::atomic::AtomicUsize>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let written = written.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                if head.is_empty() {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
                let _ = socket.write_all(head.as_bytes()).await;
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = body_len;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if socket.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    written.fetch_add(n, Ordering::Relaxed);
                    left -= n;
                }
            });
        }
    });
    format!("http://{address}/")
}

async fn http_error(url: &str, configure: impl FnOnce(&mut Host)) -> (String, Duration) {
    let script = format!(
        "try {{ vamp.http('{url}'); console.log('answered'); }} catch (e) {{ console.log(e.message); }}"
    );
    let ran = run_configured(&vamp(), &script, limits(20_000, 64), None, None, configure).await;
    assert_eq!(ran.result.outcome, Outcome::Succeeded, "{:?}", ran.result);
    (ran.lines().join("\n"), ran.took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_answer_announcing_too_many_bytes_is_refused_early() {
    let url = raw_server("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n", 1024).await;
    let (message, took) = http_error(&url, |_| {}).await;
    assert!(message.contains("1000000000 bytes, larger than"), "{message}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_answer_growing_past_the_limit_is_abandoned() {
    let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
    let url = raw_server_counting(head, 1 << 30, written.clone()).await;
    let (message, _) = http_error(&url, |_| {}).await;
    assert!(message.contains("the answer is larger than"), "{message}");
    let read = written.load(Ordering::Relaxed);
    assert!(read < 4 * super::host::MAX_BODY, "{read} bytes were read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_without_an_answer_times_out() {
    let url = raw_server("", 0).await;
    let (message, took) = http_error(&url, |h| h.http_timeout = Duration::from_millis(300)).await;
    assert!(message.contains("no complete answer within 0.3 s"), "{message}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A server on `ip` answering `/target` with `secret` and `/hop` with a redirect to `location`; its port.
async fn target_server(ip: &str, location: String) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/target", axum::routing::get(|| async { "secret" }))
        .route(
            "/hop",
            axum::routing::get(move || {
                let location = location.clone();
                async move { (axum::http::StatusCode::FOUND, [("location", location)], "") }
            }),
        );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, server)
}

fn policy(allow: &'static [&'static str]) -> impl FnOnce(&mut Host) {
    move |h: &mut Host| {
        let parsed: Vec<_> = allow.iter().map(|a| a.parse().unwrap()).collect();
        h.egress = Egress::new(&parsed);
        h.http = h.egress.client(Duration::from_secs(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_policy_refuses_loopback_by_address_by_name_and_after_a_redirect() {
    let (port, server) = target_server("127.0.0.1", String::new()).await;
    let target = format!("http://127.0.0.1:{port}/target");
    let (message, _) = http_error(&target, policy(&[])).await;
    assert!(
        message.contains("refused: 127.0.0.1 is a loopback address")
            && message.contains("workflows.http-allow"),
        "{message}"
    );
    let (message, _) = http_error(&format!("http://localhost:{port}/target"), policy(&[])).await;
    assert!(message.contains("refused: localhost resolves to"), "{message}");
    let (hop_port, hop) = target_server("127.0.0.2", target.clone()).await;
    let hop_url = format!("http://127.0.0.2:{hop_port}/hop");
    let (message, _) = http_error(&hop_url, policy(&["127.0.0.2"])).await;
    assert!(
        message.contains(&format!(
            "refused: redirected to {target}: 127.0.0.1 is a loopback"
        )),
        "{message}"
    );
    let (message, _) = http_error(&hop_url, policy(&["127.0.0.0/8"])).await;
    assert_eq!(message, "answered");
    server.abort();
    hop.abort();
}
