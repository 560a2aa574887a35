//! The Consul double's own tests: it answers as Consul's KV HTTP API documentation says, over real HTTP.

#[path = "support/consul_double.rs"]
mod consul_double;

use std::time::{Duration, Instant};

use consul_double::{parse_go_duration, percent_decode, ConsulDouble, MAX_VALUE_BYTES};

struct Answer {
    status: u16,
    index: Option<u64>,
    body: String,
}

async fn send(method: reqwest::Method, url: String, body: Vec<u8>) -> Answer {
    let response = reqwest::Client::new()
        .request(method, url)
        .body(body)
        .send()
        .await
        .expect("the double answers");
    let status = response.status().as_u16();
    let index = response
        .headers()
        .get("x-consul-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = response.text().await.unwrap_or_default();
    Answer { status, index, body }
}

async fn get(double: &ConsulDouble, path: &str) -> Answer {
    send(
        reqwest::Method::GET,
        format!("{}{path}", double.url()),
        Vec::new(),
    )
    .await
}

async fn put(double: &ConsulDouble, path: &str, body: &[u8]) -> Answer {
    send(
        reqwest::Method::PUT,
        format!("{}{path}", double.url()),
        body.to_vec(),
    )
    .await
}

async fn delete(double: &ConsulDouble, path: &str) -> Answer {
    send(
        reqwest::Method::DELETE,
        format!("{}{path}", double.url()),
        Vec::new(),
    )
    .await
}

fn json(answer: &Answer) -> serde_json::Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body))
}

#[tokio::test]
async fn put_then_get_answers_the_entry_with_a_base64_value_and_its_indexes() {
    let double = ConsulDouble::new();
    assert_eq!(put(&double, "/v1/kv/a/b", b"hello").await.body, "true");
    let answer = get(&double, "/v1/kv/a/b").await;
    assert_eq!(answer.status, 200);
    let entry = &json(&answer)[0];
    assert_eq!(entry["Key"], "a/b");
    assert_eq!(entry["Value"], "aGVsbG8=");
    assert_eq!(entry["LockIndex"], 0);
    assert_eq!(entry["Flags"], 0);
    let modify = entry["ModifyIndex"].as_u64().unwrap();
    assert_eq!(answer.index, Some(modify));
    put(&double, "/v1/kv/a/b", b"again").await;
    let entry = &json(&get(&double, "/v1/kv/a/b").await)[0];
    assert!(entry["ModifyIndex"].as_u64().unwrap() > modify);
    assert_eq!(entry["CreateIndex"].as_u64().unwrap(), modify);
    assert_eq!(get(&double, "/v1/kv/a/b?raw").await.body, "again");
}

#[tokio::test]
async fn an_empty_value_is_null_and_a_missing_key_is_404_with_an_index() {
    let double = ConsulDouble::new();
    put(&double, "/v1/kv/e", b"").await;
    assert_eq!(
        json(&get(&double, "/v1/kv/e").await)[0]["Value"],
        serde_json::Value::Null
    );
    let missing = get(&double, "/v1/kv/nothing").await;
    assert_eq!(missing.status, 404);
    assert!(missing.index.is_some_and(|i| i >= 1), "X-Consul-Index is never 0");
}

#[tokio::test]
async fn keys_roll_up_after_the_separator_and_recurse_lists_the_prefix() {
    let double = ConsulDouble::new();
    for key in ["r/a", "r/b/x", "r/b/y", "rr/z"] {
        put(&double, &format!("/v1/kv/{key}"), b"v").await;
    }
    let keys = json(&get(&double, "/v1/kv/r/?keys&separator=/").await);
    assert_eq!(keys, serde_json::json!(["r/a", "r/b/"]));
    let all = json(&get(&double, "/v1/kv/r?keys").await);
    assert_eq!(all, serde_json::json!(["r/a", "r/b/x", "r/b/y", "rr/z"]));
    let entries = json(&get(&double, "/v1/kv/r/b?recurse").await);
    assert_eq!(entries.as_array().unwrap().len(), 2);
    assert_eq!(get(&double, "/v1/kv/q/?keys&separator=/").await.status, 404);
    assert_eq!(get(&double, "/v1/kv/q?recurse").await.status, 404);
}

#[tokio::test]
async fn cas_writes_and_deletes_only_at_the_given_index() {
    let double = ConsulDouble::new();
    assert_eq!(put(&double, "/v1/kv/c?cas=0", b"1").await.body, "true");
    assert_eq!(put(&double, "/v1/kv/c?cas=0", b"2").await.body, "false");
    let index = json(&get(&double, "/v1/kv/c").await)[0]["ModifyIndex"]
        .as_u64()
        .unwrap();
    assert_eq!(
        delete(&double, &format!("/v1/kv/c?cas={}", index + 1)).await.body,
        "false"
    );
    assert_eq!(get(&double, "/v1/kv/c").await.status, 200);
    assert_eq!(
        delete(&double, &format!("/v1/kv/c?cas={index}")).await.body,
        "true"
    );
    assert_eq!(get(&double, "/v1/kv/c").await.status, 404);
}

#[tokio::test]
async fn delete_recurse_removes_the_prefix() {
    let double = ConsulDouble::new();
    put(&double, "/v1/kv/d/a", b"v").await;
    put(&double, "/v1/kv/d/b/c", b"v").await;
    put(&double, "/v1/kv/e", b"v").await;
    delete(&double, "/v1/kv/d?recurse").await;
    assert_eq!(get(&double, "/v1/kv/d?recurse").await.status, 404);
    assert_eq!(get(&double, "/v1/kv/e").await.status, 200);
}

#[tokio::test]
async fn a_body_above_512_kib_is_refused_with_413() {
    let double = ConsulDouble::new();
    assert_eq!(
        put(&double, "/v1/kv/big", &vec![1u8; MAX_VALUE_BYTES])
            .await
            .status,
        200
    );
    let refused = put(&double, "/v1/kv/big", &vec![1u8; MAX_VALUE_BYTES + 1]).await;
    assert_eq!(refused.status, 413);
    assert!(refused.body.contains("too large"), "{}", refused.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_query_answers_on_a_change_of_its_key() {
    let double = ConsulDouble::new();
    put(&double, "/v1/kv/w", b"1").await;
    let index = get(&double, "/v1/kv/w").await.index.unwrap();
    let url = format!("{}/v1/kv/w?index={index}&wait=10s", double.url());
    let started = Instant::now();
    let blocked = tokio::spawn(send(reqwest::Method::GET, url, Vec::new()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !blocked.is_finished(),
        "the query must block while nothing changes"
    );
    put(&double, "/v1/kv/other", b"x").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !blocked.is_finished(),
        "a change of another key must not answer it"
    );
    put(&double, "/v1/kv/w", b"2").await;
    let answer = blocked.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(answer.index.unwrap() > index);
    assert_eq!(json(&answer)[0]["Value"], "Mg==");
}

#[tokio::test]
async fn a_blocking_query_answers_when_its_wait_is_over_or_at_once_when_behind() {
    let double = ConsulDouble::new();
    put(&double, "/v1/kv/t", b"1").await;
    let index = get(&double, "/v1/kv/t").await.index.unwrap();
    let started = Instant::now();
    let answer = get(&double, &format!("/v1/kv/t?index={index}&wait=300ms")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(answer.index, Some(index));
    let started = Instant::now();
    let behind = get(&double, &format!("/v1/kv/t?index={}&wait=10s", index - 1)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(behind.index, Some(index));
    assert_eq!(get(&double, "/v1/kv/t?index=1&wait=forever").await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_connections_and_start_serves_the_same_data_on_the_same_port() {
    let mut double = ConsulDouble::new();
    let port = double.port();
    put(&double, "/v1/kv/kept", b"v").await;
    let index = get(&double, "/v1/kv/kept").await.index.unwrap();
    let blocked = tokio::spawn(
        reqwest::Client::new()
            .get(format!("{}/v1/kv/kept?index={index}&wait=60s", double.url()))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::task::block_in_place(|| double.stop());
    let cut = tokio::time::timeout(Duration::from_secs(5), blocked)
        .await
        .expect("a blocked query must end when the double stops")
        .unwrap();
    assert!(cut.is_err(), "the blocked query must fail, not answer");
    assert!(reqwest::get(format!("{}/v1/kv/kept", double.url()))
        .await
        .is_err());
    tokio::task::block_in_place(|| double.start());
    assert_eq!(double.port(), port);
    assert_eq!(get(&double, "/v1/kv/kept").await.status, 200);
}

#[test]
fn go_durations_and_percent_escapes_parse() {
    assert_eq!(parse_go_duration("10s"), Some(Duration::from_secs(10)));
    assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_go_duration("10"), None);
    assert_eq!(percent_decode("a%2Fb%25", false).as_deref(), Some("a/b%"));
    assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
    assert_eq!(percent_decode("a%2", false), None);
}
