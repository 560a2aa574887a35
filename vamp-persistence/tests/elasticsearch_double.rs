//! The Elasticsearch double's own tests: what it answers over HTTP, checked against what Elasticsearch's REST
//! API reference documents for the same requests.

mod support;

use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::transport::Transport;
use elasticsearch::http::Method;
use elasticsearch::Elasticsearch;
use serde_json::{json, Value};
use support::es_double::{EsDouble, Options};

struct Client {
    es: Elasticsearch,
    _double: EsDouble,
}

fn client_with(options: Options) -> Client {
    let double = EsDouble::start_with(options);
    let transport = Transport::single_node(&double.url()).expect("a transport");
    Client {
        es: Elasticsearch::new(transport),
        _double: double,
    }
}

fn client() -> Client {
    client_with(Options::default())
}

impl Client {
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> (u16, Value) {
        let response = self
            .es
            .send(method, path, HeaderMap::new(), Some(query), body, None)
            .await
            .expect("the double answers");
        let status = response.status_code().as_u16();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn json(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, &[], Some(body.to_string())).await
    }

    async fn put_doc(&self, index: &str, id: &str, source: Value) {
        let (status, _) = self
            .call(
                Method::Put,
                &format!("/{index}/_doc/{id}"),
                &[("refresh", "true")],
                Some(source.to_string()),
            )
            .await;
        assert!(status == 200 || status == 201, "indexing {id}: {status}");
    }

    async fn search(&self, target: &str, body: Value) -> (u16, Value) {
        self.json(Method::Post, &format!("/{target}/_search"), body).await
    }
}

fn ids(answer: &Value) -> Vec<String> {
    answer["hits"]["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h["_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn error_type(answer: &Value) -> &str {
    answer["error"]["type"].as_str().unwrap_or("")
}

#[tokio::test]
async fn root_and_health_answer_like_elasticsearch() {
    let c = client();
    let (status, info) = c.call(Method::Get, "/", &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(info["version"]["number"], json!("8.15.0"));
    assert_eq!(info["tagline"], json!("You Know, for Search"));
    let (status, health) = c.call(Method::Get, "/_cluster/health", &[], None).await;
    assert_eq!((status, health["status"].clone()), (200, json!("green")));
}

#[tokio::test]
async fn a_write_is_searchable_after_a_refresh_but_get_is_real_time() {
    let c = client_with(Options {
        refresh_interval: std::time::Duration::from_secs(3600),
        ..Options::default()
    });
    let (status, created) = c.json(Method::Put, "/logs/_doc/1", json!({"tags": ["a"]})).await;
    assert_eq!(
        (status, created["result"].clone(), created["_version"].clone()),
        (201, json!("created"), json!(1))
    );
    let (_, got) = c.call(Method::Get, "/logs/_doc/1", &[], None).await;
    assert_eq!(
        (got["found"].clone(), got["_source"].clone()),
        (json!(true), json!({"tags": ["a"]}))
    );
    let (_, before) = c.search("logs", json!({})).await;
    assert_eq!(
        before["hits"]["total"]["value"],
        json!(0),
        "not searchable before a refresh"
    );
    let (status, _) = c.call(Method::Post, "/logs/_refresh", &[], None).await;
    assert_eq!(status, 200);
    let (_, after) = c.search("logs", json!({})).await;
    assert_eq!(ids(&after), ["1"]);
    let (status, missing) = c.call(Method::Get, "/logs/_doc/2", &[], None).await;
    assert_eq!((status, missing["found"].clone()), (404, json!(false)));
}

#[tokio::test]
async fn op_type_create_refuses_an_existing_id_with_409() {
    let c = client();
    c.put_doc("logs", "1", json!({"n": 1})).await;
    let (status, answer) = c
        .call(
            Method::Put,
            "/logs/_doc/1",
            &[("op_type", "create")],
            Some(json!({"n": 2}).to_string()),
        )
        .await;
    assert_eq!(
        (status, error_type(&answer)),
        (409, "version_conflict_engine_exception")
    );
    let (status, answer) = c.json(Method::Put, "/logs/_create/1", json!({"n": 3})).await;
    assert_eq!(
        (status, error_type(&answer)),
        (409, "version_conflict_engine_exception")
    );
    let (status, updated) = c.json(Method::Put, "/logs/_doc/1", json!({"n": 4})).await;
    assert_eq!((status, updated["_version"].clone()), (200, json!(2)));
}

#[tokio::test]
async fn index_names_follow_elasticsearchs_rules() {
    let c = client();
    for bad in ["Logs", "_logs", "a*b", "a,b", "a%3Ab"] {
        let (status, answer) = c.json(Method::Put, &format!("/{bad}/_doc/1"), json!({})).await;
        assert_eq!(
            (status, error_type(&answer)),
            (400, "invalid_index_name_exception"),
            "{bad}"
        );
    }
    let (status, _) = c.json(Method::Put, "/fine-name_1.x", json!({})).await;
    assert_eq!(status, 200);
    let (status, answer) = c.json(Method::Put, "/fine-name_1.x", json!({})).await;
    assert_eq!(
        (status, error_type(&answer)),
        (400, "resource_already_exists_exception")
    );
}

#[tokio::test]
async fn bool_filters_combine_term_terms_range_and_must_not() {
    let c = client();
    c.put_doc(
        "ev-1",
        "a",
        json!({"tags": ["x", "y"], "type": "health", "n": 1, "at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    c.put_doc(
        "ev-2",
        "b",
        json!({"tags": ["x"], "type": "metrics", "n": 5, "at": "2020-01-02T00:00:00.5Z"}),
    )
    .await;
    c.put_doc(
        "ev-2",
        "c",
        json!({"tags": ["y"], "type": "health", "n": 9, "at": "2020-01-03T00:00:00Z"}),
    )
    .await;
    let query = |q: Value| json!({"query": q, "sort": [{"n": "asc"}]});
    let (_, both) = c
        .search(
            "ev-*",
            query(json!({"bool": {"filter": [{"term": {"tags": "x"}}, {"term": {"tags": "y"}}]}})),
        )
        .await;
    assert_eq!(ids(&both), ["a"]);
    let (_, typed) = c
        .search("ev-*", query(json!({"terms": {"type": ["metrics", "other"]}})))
        .await;
    assert_eq!(ids(&typed), ["b"]);
    let (_, ranged) = c
        .search(
            "ev-*",
            query(json!({"range": {"at": {"gt": "2020-01-01T00:00:00Z", "lte": "2020-01-02T00:00:00.5Z"}}})),
        )
        .await;
    assert_eq!(ids(&ranged), ["b"]);
    let (_, excluded) = c
        .search(
            "ev-*",
            query(json!({"bool": {"must_not": [{"term": {"type": "health"}}]}})),
        )
        .await;
    assert_eq!(ids(&excluded), ["b"]);
    let (_, numeric) = c.search("ev-*", query(json!({"range": {"n": {"gte": 5}}}))).await;
    assert_eq!(ids(&numeric), ["b", "c"]);
}

#[tokio::test]
async fn sort_from_size_and_search_after_walk_the_same_order() {
    let c = client();
    for (id, t, s) in [("1", 3, 1), ("2", 3, 2), ("3", 1, 1), ("4", 2, 1), ("5", 5, 1)] {
        c.put_doc("walk", id, json!({"t": t, "s": s})).await;
    }
    let sort = json!([{"t": {"order": "desc"}}, {"s": {"order": "desc"}}]);
    let (_, all) = c.search("walk", json!({"sort": sort, "size": 10})).await;
    assert_eq!(ids(&all), ["5", "2", "1", "4", "3"]);
    let (_, second) = c
        .search("walk", json!({"sort": sort, "from": 2, "size": 2}))
        .await;
    assert_eq!(ids(&second), ["1", "4"]);
    let cursor = all["hits"]["hits"][1]["sort"].clone();
    assert_eq!(cursor, json!([3, 2]));
    let (_, after) = c
        .search("walk", json!({"sort": sort, "size": 2, "search_after": cursor}))
        .await;
    assert_eq!(ids(&after), ["1", "4"]);
    let (status, answer) = c.search("walk", json!({"sort": sort, "search_after": [3]})).await;
    assert_eq!((status, error_type(&answer)), (400, "illegal_argument_exception"));
}

#[tokio::test]
async fn the_result_window_bounds_from_plus_size() {
    let c = client_with(Options {
        max_result_window: 10,
        ..Options::default()
    });
    c.put_doc("w", "1", json!({})).await;
    let (status, answer) = c.search("w", json!({"from": 5, "size": 6})).await;
    assert_eq!(status, 400);
    assert!(answer["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("Result window is too large"));
    let (status, _) = c.search("w", json!({"from": 5, "size": 5})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn total_hits_are_tracked_as_asked() {
    let c = client();
    for id in 0..3 {
        c.put_doc("t", &id.to_string(), json!({})).await;
    }
    let (_, exact) = c.search("t", json!({"track_total_hits": true})).await;
    assert_eq!(exact["hits"]["total"], json!({"value": 3, "relation": "eq"}));
    let (_, capped) = c.search("t", json!({"track_total_hits": 2})).await;
    assert_eq!(capped["hits"]["total"], json!({"value": 2, "relation": "gte"}));
    let (_, untracked) = c
        .search("t", json!({"track_total_hits": false, "_source": false}))
        .await;
    assert!(untracked["hits"].get("total").is_none());
    assert!(untracked["hits"]["hits"][0].get("_source").is_none());
}

#[tokio::test]
async fn metric_aggregations_and_their_empty_answers() {
    let c = client();
    for (id, v) in [("1", json!(2)), ("2", json!(4.5)), ("3", json!("text"))] {
        c.put_doc("agg", id, json!({"m": {"v": v}})).await;
    }
    let aggs = json!({
        "a": {"avg": {"field": "m.v"}}, "b": {"min": {"field": "m.v"}}, "c": {"max": {"field": "m.v"}},
        "d": {"sum": {"field": "m.v"}}, "e": {"value_count": {"field": "m.v"}}
    });
    let (_, answer) = c.search("agg", json!({"size": 0, "aggs": aggs})).await;
    let values: Vec<Value> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|k| answer["aggregations"][k]["value"].clone())
        .collect();
    assert_eq!(
        values,
        [json!(3.25), json!(2.0), json!(4.5), json!(6.5), json!(2)]
    );
    let (_, empty) = c
        .search(
            "agg",
            json!({"size": 0, "query": {"match_none": {}}, "aggs": aggs}),
        )
        .await;
    assert_eq!(empty["aggregations"]["a"]["value"], Value::Null);
    assert_eq!(
        empty["aggregations"]["d"]["value"],
        json!(0.0),
        "sum of nothing is 0"
    );
    let (status, answer) = c
        .search("agg", json!({"aggs": {"x": {"median": {"field": "m.v"}}}}))
        .await;
    assert_eq!(
        (status, error_type(&answer)),
        (400, "unknown_named_object_exception")
    );
}

#[tokio::test]
async fn count_answers_the_number_of_matches() {
    let c = client();
    c.put_doc("c", "1", json!({"k": "a"})).await;
    c.put_doc("c", "2", json!({"k": "b"})).await;
    let (_, counted) = c
        .json(Method::Post, "/c/_count", json!({"query": {"term": {"k": "a"}}}))
        .await;
    assert_eq!(counted["count"], json!(1));
    let (status, _) = c.json(Method::Post, "/c/_count", json!({"size": 1})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bulk_reports_each_item_and_needs_a_final_newline() {
    let c = client();
    let body = concat!(
        "{\"create\":{\"_index\":\"b\",\"_id\":\"1\"}}\n{\"n\":1}\n",
        "{\"create\":{\"_index\":\"b\",\"_id\":\"1\"}}\n{\"n\":2}\n",
        "{\"index\":{\"_index\":\"b\"}}\n{\"n\":3}\n",
    );
    let (status, answer) = c
        .call(
            Method::Post,
            "/_bulk",
            &[("refresh", "true")],
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["errors"], json!(true));
    let statuses: Vec<Value> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_object().unwrap().values().next().unwrap()["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(201), json!(409), json!(201)]);
    let (status, _) = c
        .call(
            Method::Post,
            "/_bulk",
            &[],
            Some("{\"index\":{\"_index\":\"b\"}}\n{}".to_string()),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn unknown_queries_and_keys_are_parsing_exceptions() {
    let c = client();
    c.put_doc("q", "1", json!({})).await;
    let (status, answer) = c.search("q", json!({"query": {"fuzzy_magic": {}}})).await;
    assert_eq!((status, error_type(&answer)), (400, "parsing_exception"));
    let (status, answer) = c.search("q", json!({"quer": {}})).await;
    assert_eq!((status, error_type(&answer)), (400, "parsing_exception"));
    let (status, answer) = c
        .call(Method::Post, "/q/_search", &[], Some("{not json".to_string()))
        .await;
    assert_eq!((status, error_type(&answer)), (400, "parsing_exception"));
}

#[tokio::test]
async fn wildcards_may_match_nothing_but_a_missing_index_is_404() {
    let c = client();
    let (status, answer) = c.search("nothing-*", json!({})).await;
    assert_eq!((status, answer["hits"]["hits"].clone()), (200, json!([])));
    let (status, answer) = c.search("nothing", json!({})).await;
    assert_eq!((status, error_type(&answer)), (404, "index_not_found_exception"));
    let (status, _) = c
        .call(
            Method::Post,
            "/nothing/_search",
            &[("ignore_unavailable", "true")],
            Some("{}".to_string()),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn templates_apply_aliases_and_refuse_same_priority_overlaps() {
    let c = client();
    let template = |pattern: &str, priority: u64| json!({"index_patterns": [pattern], "priority": priority, "template": {"aliases": {"all-logs": {}}}});
    let (status, _) = c
        .json(Method::Put, "/_index_template/logs", template("logs-*", 5))
        .await;
    assert_eq!(status, 200);
    let (status, answer) = c
        .json(
            Method::Put,
            "/_index_template/logs-app",
            template("logs-app-*", 5),
        )
        .await;
    assert_eq!((status, error_type(&answer)), (400, "illegal_argument_exception"));
    let (status, _) = c
        .json(
            Method::Put,
            "/_index_template/logs-app",
            template("logs-app-*", 9),
        )
        .await;
    assert_eq!(status, 200);
    c.put_doc("logs-app-1", "1", json!({})).await;
    let (_, via_alias) = c.search("all-logs", json!({})).await;
    assert_eq!(ids(&via_alias), ["1"]);
}

#[tokio::test]
async fn a_body_over_max_content_length_is_413() {
    let c = client_with(Options {
        max_content_length: 100,
        ..Options::default()
    });
    let (status, _) = c
        .json(Method::Put, "/big/_doc/1", json!({"x": "y".repeat(200)}))
        .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn delete_removes_a_document_and_says_when_there_was_none() {
    let c = client();
    c.put_doc("d", "1", json!({})).await;
    let (status, deleted) = c.call(Method::Delete, "/d/_doc/1", &[], None).await;
    assert_eq!((status, deleted["result"].clone()), (200, json!("deleted")));
    let (status, again) = c.call(Method::Delete, "/d/_doc/1", &[], None).await;
    assert_eq!((status, again["result"].clone()), (404, json!("not_found")));
}

impl Client {
    async fn delete_by_query(&self, target: &str, query: &[(&str, &str)], body: Value) -> (u16, Value) {
        self.call(
            Method::Post,
            &format!("/{target}/_delete_by_query"),
            query,
            Some(body.to_string()),
        )
        .await
    }
}

#[tokio::test]
async fn delete_by_query_deletes_what_a_search_finds_and_counts_it() {
    let c = client_with(Options {
        refresh_interval: std::time::Duration::from_secs(3600),
        ..Options::default()
    });
    for (id, t) in [("1", 10), ("2", 20), ("3", 30)] {
        c.put_doc("dq", id, json!({"t": t})).await;
    }
    let (status, _) = c.json(Method::Put, "/dq/_doc/4", json!({"t": 5})).await;
    assert_eq!(status, 201, "indexed, not refreshed");
    let (status, answer) = c
        .delete_by_query("dq*", &[], json!({"query": {"range": {"t": {"lt": 25}}}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            answer["total"].clone(),
            answer["deleted"].clone(),
            answer["failures"].clone()
        ),
        (json!(2), json!(2), json!([])),
        "only what a search sees is deleted: 4 is not refreshed yet"
    );
    let (status, _) = c.call(Method::Get, "/dq/_doc/1", &[], None).await;
    assert_eq!(status, 404, "get is real-time");
    let (_, found) = c.search("dq", json!({"sort": ["t"]})).await;
    assert_eq!(
        ids(&found),
        ["1", "2", "3"],
        "searches see the deletions after a refresh"
    );
    c.call(Method::Post, "/dq/_refresh", &[], None).await;
    let (_, found) = c.search("dq", json!({"sort": ["t"]})).await;
    assert_eq!(ids(&found), ["4", "3"]);
    let (_, answer) = c
        .delete_by_query(
            "dq",
            &[("refresh", "true")],
            json!({"query": {"range": {"t": {"lt": 25}}}}),
        )
        .await;
    assert_eq!(answer["deleted"], json!(1));
    let (_, found) = c.search("dq", json!({})).await;
    assert_eq!(ids(&found), ["3"], "refresh=true shows the deletion at once");
}

#[tokio::test]
async fn delete_by_query_reports_documents_deleted_since_the_last_refresh_as_conflicts() {
    let c = client_with(Options {
        refresh_interval: std::time::Duration::from_secs(3600),
        ..Options::default()
    });
    for id in ["1", "2", "3"] {
        c.put_doc("vc", id, json!({})).await;
    }
    c.call(Method::Delete, "/vc/_doc/1", &[], None).await;
    let all = json!({"query": {"match_all": {}}});
    let (status, answer) = c.delete_by_query("vc", &[], all.clone()).await;
    assert_eq!(status, 409, "conflicts=abort is the default");
    assert_eq!(answer["version_conflicts"], json!(1));
    assert_eq!(
        answer["failures"][0]["cause"]["type"],
        json!("version_conflict_engine_exception")
    );
    let (status, answer) = c.delete_by_query("vc", &[("conflicts", "proceed")], all).await;
    assert_eq!(status, 200);
    assert_eq!(
        (answer["deleted"].clone(), answer["version_conflicts"].clone()),
        (json!(2), json!(1))
    );
}

#[tokio::test]
async fn delete_by_query_needs_a_query_and_knows_its_parameters() {
    let c = client();
    c.put_doc("p", "1", json!({})).await;
    let (status, answer) = c.call(Method::Post, "/p/_delete_by_query", &[], None).await;
    assert_eq!(
        (status, error_type(&answer)),
        (400, "action_request_validation_exception")
    );
    let (status, answer) = c
        .delete_by_query("p", &[], json!({"query": {"match_all": {}}, "size": 1}))
        .await;
    assert_eq!((status, error_type(&answer)), (400, "parsing_exception"));
    let (status, answer) = c
        .delete_by_query(
            "p",
            &[("conflicts", "ignore")],
            json!({"query": {"match_all": {}}}),
        )
        .await;
    assert_eq!((status, error_type(&answer)), (400, "illegal_argument_exception"));
    let (status, answer) = c
        .delete_by_query("missing", &[], json!({"query": {"match_all": {}}}))
        .await;
    assert_eq!((status, error_type(&answer)), (404, "index_not_found_exception"));
    let (status, answer) = c
        .delete_by_query("missing-*", &[], json!({"query": {"match_all": {}}}))
        .await;
    assert_eq!((status, answer["deleted"].clone()), (200, json!(0)));
}

#[tokio::test]
async fn get_index_takes_wildcards_and_delete_index_refuses_them() {
    let c = client();
    for index in ["logs-1", "logs-2", "other"] {
        c.put_doc(index, "1", json!({})).await;
    }
    let (status, answer) = c.call(Method::Get, "/logs-*", &[], None).await;
    assert_eq!(status, 200);
    let names: Vec<&String> = answer.as_object().unwrap().keys().collect();
    assert_eq!(names, ["logs-1", "logs-2"]);
    let (status, answer) = c.call(Method::Get, "/none-*", &[], None).await;
    assert_eq!((status, answer), (200, json!({})));
    let (status, answer) = c.call(Method::Get, "/none", &[], None).await;
    assert_eq!((status, error_type(&answer)), (404, "index_not_found_exception"));
    let (status, answer) = c.call(Method::Delete, "/logs-*", &[], None).await;
    assert_eq!((status, error_type(&answer)), (400, "illegal_argument_exception"));
    let (status, _) = c.call(Method::Delete, "/logs-1", &[], None).await;
    assert_eq!(status, 200);
    let (_, answer) = c.call(Method::Get, "/logs-*", &[], None).await;
    assert_eq!(answer.as_object().unwrap().len(), 1);
}
