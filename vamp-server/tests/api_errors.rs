//! Bad input is never a 500: a table of malformed requests — broken YAML and JSON, wrong media types, bad query
//! values, unknown kinds and routes, wrong methods, bodies over the limit, bad paths — each answered with the
//! expected 4xx and a `{"message": …}` body.

mod api_support;

use api_support::*;
use reqwest::{Method, StatusCode};
use vamp_server::api::ApiOptions;
use vamp_server::Vamp;

struct Case {
    method: Method,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Option<String>,
    accept: &'static str,
    status: u16,
}

fn case(
    method: Method,
    path: &'static str,
    ct: Option<&'static str>,
    body: Option<&str>,
    status: u16,
) -> Case {
    Case {
        method,
        path,
        content_type: ct,
        body: body.map(str::to_string),
        accept: JSON,
        status,
    }
}

#[tokio::test]
async fn malformed_requests_are_4xx_with_a_message() {
    let options = ApiOptions {
        body_limit: 4096,
        ..ApiOptions::insecure_open()
    };
    let api = TestApi::with(Vamp::builder().build().unwrap(), options).await;
    api.post_yaml("/api/v1/deployments", SHOP_V1).await;
    api.post_yaml(
        "/api/v1/workflows",
        "name: tick\nbreed:\n  name: tick\n  deployable: {type: application/javascript, definition: 'x'}\nschedule: daemon\n",
    )
    .await;
    let huge = format!(
        "name: big\ndeployable: acme/x\nmetadata:\n  blob: \"{}\"\n",
        "x".repeat(10_000)
    );
    let cases = vec![
        case(
            Method::POST,
            "/api/v1/breeds",
            Some(YAML),
            Some("name: [unclosed"),
            400,
        ),
        case(
            Method::POST,
            "/api/v1/breeds",
            Some(JSON),
            Some("{\"name\": "),
            400,
        ),
        case(Method::POST, "/api/v1/breeds", Some(JSON), Some("[1, 2, 3]"), 400),
        case(Method::POST, "/api/v1/breeds", Some(YAML), Some(""), 400),
        case(Method::POST, "/api/v1/breeds", Some(YAML), Some("42"), 400),
        case(Method::POST, "/api/v1/breeds", Some(YAML), Some("name: x\n"), 400),
        case(
            Method::POST,
            "/api/v1/breeds",
            Some(YAML),
            Some("name: x\nkind: scale\ndeployable: a\n"),
            400,
        ),
        case(
            Method::POST,
            "/api/v1/breeds",
            Some(YAML),
            Some("- a\n- b\n"),
            400,
        ),
        case(
            Method::POST,
            "/api/v1/breeds",
            Some(YAML),
            Some(&format!("{SAVA}---\n{SAVA}")),
            400,
        ),
        case(Method::POST, "/api/v1/breeds", Some("text/html"), Some(SAVA), 415),
        case(
            Method::POST,
            "/api/v1/breeds",
            Some("application/x-www-form-urlencoded"),
            Some("a=b"),
            415,
        ),
        case(Method::POST, "/api/v1/breeds", Some(YAML), Some(&huge), 413),
        case(
            Method::POST,
            "/api/v1/scales",
            Some(YAML),
            Some("name: s\ncpu: lots\nmemory: 1GB\ninstances: 1\n"),
            400,
        ),
        case(
            Method::POST,
            "/api/v1/gateways",
            Some(YAML),
            Some("name: g\nport: nope\n"),
            400,
        ),
        case(
            Method::POST,
            "/api/v1/gateways",
            Some(YAML),
            Some("name: shop/frontend/web\nport: 9070/http\nroutes: {}\n"),
            400,
        ),
        case(
            Method::POST,
            "/api/v1/blueprints",
            Some(YAML),
            Some("name: b\nclusters: 7\n"),
            400,
        ),
        case(Method::POST, "/api/v1/nonsense", Some(YAML), Some(SAVA), 404),
        case(Method::GET, "/api/v1/nonsense", None, None, 404),
        case(Method::GET, "/api/v1/events/x", None, None, 404),
        case(Method::GET, "/api/nothing/here", None, None, 404),
        case(Method::GET, "/api/v2/breeds", None, None, 404),
        case(
            Method::PATCH,
            "/api/v1/breeds/sava:1.0",
            Some(YAML),
            Some(SAVA),
            405,
        ),
        case(Method::GET, "/api/v1", None, None, 405),
        case(Method::GET, "/api/v1/breeds?page=zero", None, None, 400),
        case(Method::GET, "/api/v1/breeds?page=0", None, None, 400),
        case(Method::GET, "/api/v1/breeds?per_page=-1", None, None, 400),
        case(
            Method::GET,
            "/api/v1/breeds?page=99999999999999999999",
            None,
            None,
            400,
        ),
        case(
            Method::GET,
            "/api/v1/blueprints?expand_references=maybe",
            None,
            None,
            400,
        ),
        case(
            Method::POST,
            "/api/v1/breeds?validate_only=perhaps",
            Some(YAML),
            Some(SAVA),
            400,
        ),
        case(Method::GET, "/api/v1/breeds/nope", None, None, 404),
        case(Method::GET, "/api/v1/breeds/%FF%FE", None, None, 400),
        case(Method::PUT, "/api/v1/breeds/other", Some(YAML), Some(SAVA), 400),
        case(Method::DELETE, "/api/v1/scales/none", None, None, 404),
        case(
            Method::POST,
            "/api/v1/deployments",
            Some(YAML),
            Some("clusters: {}\n"),
            400,
        ),
        case(
            Method::POST,
            "/api/v1/deployments",
            Some(YAML),
            Some("name: x\nclusters:\n  c:\n    services:\n      breed: missing:1\n"),
            404,
        ),
        case(
            Method::PUT,
            "/api/v1/deployments/shop",
            Some(YAML),
            Some("name: shop\nclusters: [1]\n"),
            400,
        ),
        case(
            Method::DELETE,
            "/api/v1/deployments/shop",
            Some(YAML),
            Some("{{{"),
            400,
        ),
        case(
            Method::PUT,
            "/api/v1/deployments/shop/clusters/frontend/services/web:1.0/scale",
            Some(YAML),
            Some("cpu: x\n"),
            400,
        ),
        case(
            Method::PUT,
            "/api/v1/deployments/shop/clusters/nope/services/web:1.0/scale",
            Some(YAML),
            Some("cpu: 1\nmemory: 1GB\ninstances: 1\n"),
            404,
        ),
        case(
            Method::PUT,
            "/api/v1/deployments/none/clusters/frontend/sla",
            Some(YAML),
            Some("reference: x\n"),
            404,
        ),
        case(
            Method::GET,
            "/api/v1/deployments/none/clusters/frontend/sla",
            None,
            None,
            404,
        ),
        case(
            Method::POST,
            "/api/v1/events",
            Some(JSON),
            Some("{\"tags\": [\"a\"], \"type\": \"bad type!\"}"),
            400,
        ),
        case(Method::GET, "/api/v1/events?per_page=abc", None, None, 400),
        case(
            Method::POST,
            "/api/v1",
            Some(YAML),
            Some("kind: unicorn\nname: x\n"),
            400,
        ),
        case(Method::POST, "/api/v1", Some(YAML), Some("name: x\n"), 400),
        case(
            Method::POST,
            "/api/v1",
            Some("text/plain"),
            Some("kind: breed\n"),
            415,
        ),
        case(
            Method::PUT,
            "/api/v1/workflows/tick/status",
            Some("text/plain"),
            Some("dancing"),
            400,
        ),
        case(
            Method::PUT,
            "/api/v1/workflows/none/status",
            Some("text/plain"),
            Some("running"),
            404,
        ),
        case(
            Method::GET,
            "/api/v1/vga/haproxy/2.6/configuration",
            None,
            None,
            404,
        ),
        case(Method::GET, "/api/v1/vga/nginx/1/template", None, None, 404),
        case(
            Method::PUT,
            "/api/v1/vga/nginx/1/template",
            Some("text/plain"),
            Some("x"),
            501,
        ),
        case(
            Method::GET,
            "/api/v1/vga/bad%20kind/1/configuration",
            None,
            None,
            400,
        ),
        case(Method::GET, "/api/v1/metrics/gateways/none/rate", None, None, 404),
        case(
            Method::GET,
            "/api/v1/metrics/gateways/shop/9060/speed",
            None,
            None,
            404,
        ),
        case(
            Method::GET,
            "/api/v1/metrics/deployments/shop/bad",
            None,
            None,
            404,
        ),
        case(
            Method::POST,
            "/api/v1/docker-compose?name=x",
            Some(YAML),
            Some("services: 5\n"),
            400,
        ),
        Case {
            accept: "text/html",
            ..case(Method::GET, "/api/v1/breeds", None, None, 406)
        },
        case(
            Method::POST,
            "/api/v1/breeds",
            Some(YAML),
            Some("name: \"\\xff\"\n\u{0}"),
            400,
        ),
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let reply = api
            .call(
                c.method.clone(),
                c.path,
                c.content_type,
                c.body.as_deref(),
                c.accept,
            )
            .await;
        let has_message = serde_json::from_str::<serde_json::Value>(&reply.text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(|m| !m.is_empty()))
            .unwrap_or(false);
        if reply.status.as_u16() != c.status || !has_message {
            failures.push(format!(
                "{} {} -> {} (expected {}): {}",
                c.method, c.path, reply.status, c.status, reply.text
            ));
        }
        assert!(
            !reply.status.is_server_error() || c.status == 501,
            "{} {} -> {}",
            c.method,
            c.path,
            reply.text
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_400() {
    let api = TestApi::start().await;
    let reply = api
        .client
        .post(api.url("/api/v1/breeds"))
        .header("content-type", YAML)
        .body(vec![0xff, 0xfe, 0x00, 0x41])
        .send()
        .await
        .unwrap();
    let reply = Reply::from(reply).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(!reply.message().is_empty());
}
