//! Fuzzes the REST API's request handling: any method, path, `Host`, `Origin`, `Content-Type`, `Accept`, token and
//! body reach the real router (memory backends, an admin and a read-only token) in process. Every request must be
//! answered — never a panic, a hang or a 500 — and one without the admin token must never change anything.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use vamp_server::api::{ApiOptions, ApiSecurity};
use vamp_server::Vamp;

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"];
const PATHS: &[&str] = &[
    "/api/v1",
    "/api/v1/breeds",
    "/api/v1/blueprints",
    "/api/v1/deployments",
    "/api/v1/gateways",
    "/api/v1/workflows",
    "/api/v1/events",
    "/api/v1/events/stream",
    "/api/v1/vga/haproxy/2.6/template",
    "/api/v1/health",
    "/api/v1/metrics/gateways/",
    "/api/v1/config",
    "/",
];
const TYPES: &[&str] = &["application/json", "application/x-yaml", "text/plain", "application/x-www-form-urlencoded", ""];
const HOSTS: &[&str] = &["127.0.0.1:8080", "localhost", "evil.example", ""];
const ORIGINS: &[&str] = &["", "http://127.0.0.1:8080", "https://evil.example", "null"];
const TOKENS: &[&str] = &["admin", "reader", "wrong", ""];

struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let router = runtime.block_on(async {
            let options = ApiOptions {
                security: ApiSecurity {
                    admin_tokens: vec!["admin".into()],
                    read_tokens: vec!["reader".into()],
                    open: false,
                },
                ..ApiOptions::default()
            };
            vamp_server::api::router(Vamp::builder().build().unwrap(), options)
        });
        Fixture { runtime, router }
    })
}

fn pick<'a>(list: &[&'a str], byte: u8) -> &'a str {
    list[byte as usize % list.len()]
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (head, rest) = data.split_at(8);
    let split = rest.iter().position(|b| *b == 0).unwrap_or(0);
    let (suffix, body) = rest.split_at(split);
    let suffix = String::from_utf8_lossy(suffix);
    let path = format!("{}{}", pick(PATHS, head[1]), suffix.trim_matches(|c: char| c.is_whitespace() || c == '\0'));
    let method = pick(METHODS, head[0]);
    let token = pick(TOKENS, head[5]);
    let mut request = Request::builder().method(method).uri(&path);
    for (name, value) in [
        ("content-type", pick(TYPES, head[2])),
        ("host", pick(HOSTS, head[3])),
        ("origin", pick(ORIGINS, head[4])),
        ("accept", pick(TYPES, head[6])),
    ] {
        if !value.is_empty() {
            request = request.header(name, value);
        }
    }
    if !token.is_empty() {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = body.get(1..).unwrap_or_default().to_vec();
    if !body.is_empty() {
        request = request.header("content-length", body.len());
    }
    let Ok(request) = request.body(Body::from(body)) else { return };
    let f = fixture();
    let status = f.runtime.block_on(async {
        let answer = tokio::time::timeout(std::time::Duration::from_secs(20), f.router.clone().oneshot(request))
            .await
            .expect("the API answers within 20 s");
        answer.unwrap().status()
    });
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}: 500");
    if token != "admin" && !matches!(method, "GET" | "HEAD" | "OPTIONS") {
        assert!(!status.is_success(), "{method} {path} without the admin token answered {status}");
    }
});
