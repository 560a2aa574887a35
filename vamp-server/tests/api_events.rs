//! Events over HTTP: publish (201; no tags is 400), query by tag and type with paging headers, and the
//! server-sent event stream delivering an event published after it opened.

mod api_support;

use std::time::Duration;

use api_support::*;
use reqwest::StatusCode;

#[tokio::test]
async fn events_are_published_and_queried_by_tag() {
    let api = TestApi::start().await;
    for i in 0..4 {
        let body = serde_json::json!({"tags": ["deployments:shop", format!("n:{i}")], "value": i, "type": "metrics"});
        let reply = api.post_json("/api/v1/events", &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        assert!(reply.json()["tags"]
            .as_array()
            .unwrap()
            .contains(&"deployments".into()));
    }
    api.post_json(
        "/api/v1/events",
        &serde_json::json!({"tags": ["other"], "value": 1}),
    )
    .await;
    let page = api.get("/api/v1/events?tag=deployments:shop&per_page=3").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("x-total-count").as_deref(), Some("4"));
    assert_eq!(page.json().as_array().unwrap().len(), 3);
    assert!(page.header("link").unwrap().contains("tag=deployments%3Ashop"));
    let typed = api.get("/api/v1/events?type=metrics&tag=n:2").await;
    assert_eq!(typed.header("x-total-count").as_deref(), Some("1"));
    assert_eq!(typed.json()[0]["value"], 2);
    let none = api.get("/api/v1/events?type=nothing").await;
    assert_eq!(none.header("x-total-count").as_deref(), Some("0"));
}

#[tokio::test]
async fn an_event_without_tags_is_refused() {
    let api = TestApi::start().await;
    let reply = api
        .post_json("/api/v1/events", &serde_json::json!({"tags": [], "value": 1}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(!reply.message().is_empty());
}

#[tokio::test]
async fn the_stream_delivers_events_published_after_it_opened() {
    let api = TestApi::start().await;
    let mut response = api
        .client
        .get(api.url("/api/v1/events/stream?tag=deployments:shop"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // published from another task until the stream shows it: the subscription starts with the response
    let publisher = api.client.clone();
    let url = api.url("/api/v1/events");
    let publishing = tokio::spawn(async move {
        for i in 0..100 {
            publisher
                .post(&url)
                .header("content-type", "application/json")
                .body(
                    serde_json::json!({"tags": ["deployments:shop"], "value": i, "type": "deployed"})
                        .to_string(),
                )
                .send()
                .await
                .unwrap();
            publisher
                .post(&url)
                .header("content-type", "application/json")
                .body(serde_json::json!({"tags": ["unrelated"], "value": i}).to_string())
                .send()
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\n\n") && seen.contains("event: deployed") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    publishing.abort();
    assert!(found, "no event in the stream: {seen}");
    assert!(seen.contains("data: {"), "{seen}");
    assert!(seen.contains("deployments:shop"), "{seen}");
    assert!(!seen.contains("unrelated"), "{seen}");
    drop(response);
    api.stop().await;
}
