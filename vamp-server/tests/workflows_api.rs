//! Workflows through the REST API with the loops running: an event-scheduled workflow triggered by a POSTed
//! event (the event as `vamp.data`), `GET /workflows/{name}/executions`, and `GET /workflows/{name}/logs` as
//! server-sent events with the recent lines first, then live ones.

mod api_support;

use std::time::Duration;

use api_support::{TestApi, JSON};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::time::Instant;
use vamp_core::model::EventQuery;
use vamp_core::store::Page;
use vamp_server::api::ApiOptions;
use vamp_server::{ServerSettings, Vamp};

const DEADLINE: Duration = Duration::from_secs(20);

/// The API over a `Vamp` whose loops run until the returned sender is dropped.
async fn start() -> (TestApi, oneshot::Sender<()>) {
    let mut settings = ServerSettings::default();
    settings.synchronization.period_ms = 200;
    settings.synchronization.busy_period_ms = 50;
    let vamp = Vamp::builder().config(settings).build().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let v = vamp.clone();
    tokio::spawn(async move {
        v.run(async {
            let _ = rx.await;
        })
        .await
    });
    (TestApi::with(vamp, ApiOptions::insecure_open()).await, tx)
}

fn workflow(name: &str, schedule: serde_json::Value, script: &str) -> serde_json::Value {
    json!({
        "name": name,
        "breed": {
            "name": format!("{name}-script"),
            "deployable": {"type": "application/javascript", "definition": script},
            "environment_variables": {"VAMP_WORKFLOW_EXECUTION_PERIOD": "0.1"},
        },
        "schedule": schedule,
    })
}

async fn until_json(
    api: &TestApi,
    path: &str,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let reply = api.get(path).await;
        if reply.status == StatusCode::OK {
            let value = reply.json();
            if done(&value) {
                return value;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}: {}",
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_event_triggers_the_workflow_with_the_event_as_data() {
    let (api, _loops) = start().await;
    let script = "vamp.event(['pong'], {got: vamp.data.value, tags: vamp.data.tags});";
    let created = api
        .post_json(
            "/api/v1/workflows",
            &workflow("echo", json!({"event": ["ping", "team:a"]}), script),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text);
    let deadline = Instant::now() + DEADLINE;
    while api.get("/api/v1/workflows/echo/status").await.text != "running" {
        assert!(Instant::now() < deadline, "the workflow never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The subscription starts with the scheduler, so keep posting until the first reply.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let posted = api
            .post_json("/api/v1/events", &json!({"tags": ["ping", "team:a"], "value": 7}))
            .await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pongs = api
            .vamp
            .query(&EventQuery::tags(["pong"]), Page::default())
            .await
            .unwrap();
        if pongs.total > 0 {
            let value = &pongs.items[0].value;
            assert_eq!(value["got"], 7);
            assert!(value["tags"].as_array().unwrap().contains(&json!("team")));
            break;
        }
        assert!(Instant::now() < deadline, "the workflow never answered a ping");
    }
    // Only events carrying every tag trigger it.
    let partial = api
        .post_json("/api/v1/events", &json!({"tags": ["ping"], "value": 0}))
        .await;
    assert_eq!(partial.status, StatusCode::CREATED);
    let full = api
        .post_json("/api/v1/events", &json!({"tags": ["ping", "team:a"], "value": 8}))
        .await;
    assert_eq!(full.status, StatusCode::CREATED);
    let runs = until_json(&api, "/api/v1/workflows/echo/executions", "the runs ended", |v| {
        v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|e| e["outcome"] != "running"))
    })
    .await;
    assert!(runs.as_array().unwrap().iter().all(|e| e["trigger"] == "event"));
    let deadline = Instant::now() + DEADLINE;
    while !api
        .vamp
        .query(&EventQuery::tags(["pong"]), Page::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(|e| e.value["got"] == 8)
    {
        assert!(Instant::now() < deadline, "the last ping was not answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !api.vamp
            .query(&EventQuery::tags(["pong"]), Page::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| e.value["got"] == 0),
        "an event without every tag triggered a run"
    );
    let pongs = api
        .vamp
        .query(&EventQuery::tags(["pong"]), Page::default())
        .await
        .unwrap();
    let runs = api.get("/api/v1/workflows/echo/executions").await.json();
    assert_eq!(
        runs.as_array().unwrap().len() as u64,
        pongs.total,
        "a run for an event without every tag"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_list_runs_with_their_logs_and_errors() {
    let (api, _loops) = start().await;
    let script = "var n = vamp.events('counted').length; vamp.event('counted', n); console.log('run', n); if (n % 2 == 1) throw new Error('odd ' + n);";
    let created = api
        .post_json("/api/v1/workflows", &workflow("counter", json!("daemon"), script))
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text);
    let runs = until_json(
        &api,
        "/api/v1/workflows/counter/executions",
        "four runs ended",
        |v| {
            v.as_array()
                .is_some_and(|a| a.iter().filter(|e| e["outcome"] != "running").count() >= 4)
        },
    )
    .await;
    let runs = runs.as_array().unwrap();
    let ids: Vec<u64> = runs.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "not newest first: {ids:?}");
    let failed = runs.iter().find(|e| e["outcome"] == "failed").unwrap();
    assert_eq!(failed["reason"], "error");
    assert!(failed["error"].as_str().unwrap().starts_with("Error: odd"));
    let first = runs.iter().find(|e| e["id"] == 1).unwrap();
    assert_eq!(first["outcome"], "succeeded");
    assert_eq!(first["trigger"], "daemon");
    assert_eq!(first["log"][0]["text"], "run 0");
    assert_eq!(first["log"][0]["stream"], "stdout");
    assert!(first["duration_ms"].is_u64());
    let missing = api.get("/api/v1/workflows/none/executions").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get("/api/v1/workflows/none/logs").await.status,
        StatusCode::NOT_FOUND
    );
}

/// Reads the SSE stream until `done` holds for what was read, failing after the deadline.
async fn read_until(response: &mut reqwest::Response, what: &str, done: impl Fn(&str) -> bool) -> String {
    let mut seen = String::new();
    let read = tokio::time::timeout(DEADLINE, async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if done(&seen) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(read, Ok(true)),
        "the log stream never showed {what}: {seen}"
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_streams_recent_lines_first_then_live_ones() {
    let (api, _loops) = start().await;
    let script = "var n = vamp.events('beat').length; vamp.event('beat', n); console.log('beat ' + n);";
    let created = api
        .post_json("/api/v1/workflows", &workflow("beats", json!("daemon"), script))
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text);
    until_json(&api, "/api/v1/workflows/beats/executions", "three runs", |v| {
        v.as_array().is_some_and(|a| a.len() >= 3)
    })
    .await;
    let mut response = api
        .client
        .get(api.url("/api/v1/workflows/beats/logs?lines=2"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let beats_now = api
        .vamp
        .query(&EventQuery::tags(["beat"]), Page::default())
        .await
        .unwrap()
        .total;
    let live = format!("beat {}", beats_now + 2);
    let seen = read_until(&mut response, &live, |s| {
        s.contains(&format!("\"text\":\"{live}\""))
    })
    .await;
    assert!(seen.contains("event: execution-start"));
    assert!(seen.contains("event: execution-log"));
    assert!(seen.contains("event: execution-finish"));
    let first_line = seen
        .lines()
        .find(|l| l.starts_with("data:") && l.contains("\"text\""))
        .unwrap();
    let first: serde_json::Value =
        serde_json::from_str(first_line.trim_start_matches("data:").trim()).unwrap();
    assert_eq!(first["workflow"], "beats");
    let n: u64 = first["text"]
        .as_str()
        .unwrap()
        .trim_start_matches("beat ")
        .parse()
        .unwrap();
    assert!(
        n + 2 <= beats_now + 1,
        "the stream did not start with recent lines: {first}"
    );
    let texts: Vec<&str> = seen.lines().filter(|l| l.contains("\"text\":\"beat ")).collect();
    let unique: std::collections::HashSet<&&str> = texts.iter().collect();
    assert_eq!(unique.len(), texts.len(), "a line was sent twice: {seen}");
    let bad = api
        .call(
            Method::GET,
            "/api/v1/workflows/beats/logs?lines=many",
            None,
            None,
            JSON,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
