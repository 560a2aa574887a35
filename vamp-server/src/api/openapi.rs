//! The OpenAPI 3.0 document served at `/api/v1/openapi.json`, written out from a hand-kept list of operations
//! (summary, success status, body, paging). A test checks that this list and the router's route table
//! ([`super::routes::route_table`]) hold the same `(method, path)` pairs.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::negotiation::{render, Format};

/// What an operation takes and answers.
struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    success: u16,
    body: Body,
    query: &'static [&'static str],
    tag: &'static str,
}

#[derive(Clone, Copy, PartialEq)]
enum Body {
    None,
    Document,
    Text,
}

const WRITE: &[&str] = &["validate_only"];
const LIST_READ: &[&str] = &["page", "per_page", "expand_references", "only_references"];
const DEPLOYMENT_LIST: &[&str] = &[
    "page",
    "per_page",
    "as_blueprint",
    "expand_references",
    "only_references",
];
const DEPLOYMENT_READ: &[&str] = &["as_blueprint", "expand_references", "only_references"];
const READ: &[&str] = &["expand_references", "only_references"];
const EVENTS: &[&str] = &["tag", "type", "page", "per_page"];
const STREAM: &[&str] = &["tag", "type"];
const PULSE: &[&str] = &["window"];

macro_rules! op {
    ($m:literal $p:literal, $tag:literal, $s:literal, $code:literal, $body:ident, $q:expr) => {
        Op {
            method: $m,
            path: $p,
            summary: $s,
            success: $code,
            body: Body::$body,
            query: $q,
            tag: $tag,
        }
    };
}

const OPS: &[Op] = &[
    op!("POST" "/api/v1", "documents", "Create every artifact of a multi-document body", 202, Document, WRITE),
    op!("PUT" "/api/v1", "documents", "Update every artifact of a multi-document body (deployments merge)", 202, Document, WRITE),
    op!("DELETE" "/api/v1", "documents", "Delete every artifact of a multi-document body (deployments are sliced)", 202, Document, WRITE),
    op!("GET" "/api/v1/openapi.json", "system", "This document", 200, None, &[]),
    op!("GET" "/api/v1/health", "system", "Whether every component answers (503 if not)", 200, None, &[]),
    op!("GET" "/api/v1/info", "system", "Version, uuid, running since and components", 200, None, &["on"]),
    op!("GET" "/api/v1/information", "system", "Alias of /info", 200, None, &["on"]),
    op!("GET" "/api/v1/config", "system", "The effective settings, tokens redacted", 200, None, &[]),
    op!("GET" "/api/v1/configuration", "system", "Alias of /config", 200, None, &[]),
    op!("GET" "/api/v1/metrics", "system", "Server metrics in the Prometheus text format", 200, None, &[]),
    op!("GET" "/api/v1/metrics/gateways/{path}", "metrics", "A gateway or route figure, live: {gateway}[/routes/{route}]/{rate|responseTime|requests|p50|p95|p99|errors|errorRate|health|score|figures}", 200, None, PULSE),
    op!("GET" "/api/v1/metrics/deployments/{path}", "metrics", "A deployment, cluster or service figure, live: {d}[/clusters/{c}[/services/{s}]][/ports/{p}]/{metric}", 200, None, PULSE),
    op!("GET" "/api/v1/health/gateways/{path}", "metrics", "A gateway's or route's health, 0 with any 5xx in the window else 1: {gateway}[/routes/{route}]", 200, None, PULSE),
    op!("GET" "/api/v1/health/deployments/{path}", "metrics", "A deployment's, cluster's or service's health (products of the parts'): {d}[/clusters/{c}[/services/{s}]]", 200, None, PULSE),
    op!("GET" "/api/v1/events", "events", "Query events, newest first", 200, None, EVENTS),
    op!("POST" "/api/v1/events", "events", "Publish an event", 201, Document, &[]),
    op!("GET" "/api/v1/events/stream", "events", "Server-sent events matching the query", 200, None, STREAM),
    op!("GET" "/api/v1/deployments", "deployments", "List deployments", 200, None, DEPLOYMENT_LIST),
    op!("POST" "/api/v1/deployments", "deployments", "Deploy a blueprint (named after it)", 202, Document, WRITE),
    op!("GET" "/api/v1/deployments/{name}", "deployments", "Read a deployment", 200, None, DEPLOYMENT_READ),
    op!("PUT" "/api/v1/deployments/{name}", "deployments", "Create or merge into a deployment", 202, Document, WRITE),
    op!("DELETE" "/api/v1/deployments/{name}", "deployments", "Slice a deployment by the body's blueprint", 202, Document, WRITE),
    op!("GET" "/api/v1/deployments/{deployment}/clusters/{cluster}/sla", "deployments", "A cluster's SLA", 200, None, &[]),
    op!("PUT" "/api/v1/deployments/{deployment}/clusters/{cluster}/sla", "deployments", "Set a cluster's SLA", 202, Document, WRITE),
    op!("POST" "/api/v1/deployments/{deployment}/clusters/{cluster}/sla", "deployments", "Set a cluster's SLA", 202, Document, WRITE),
    op!("DELETE" "/api/v1/deployments/{deployment}/clusters/{cluster}/sla", "deployments", "Remove a cluster's SLA", 204, None, WRITE),
    op!("GET" "/api/v1/deployments/{deployment}/clusters/{cluster}/services/{service}/scale", "deployments", "A service's scale", 200, None, &[]),
    op!("PUT" "/api/v1/deployments/{deployment}/clusters/{cluster}/services/{service}/scale", "deployments", "Set a service's scale (redeploys it)", 202, Document, WRITE),
    op!("POST" "/api/v1/deployments/{deployment}/clusters/{cluster}/services/{service}/scale", "deployments", "Set a service's scale (redeploys it)", 202, Document, WRITE),
    op!("GET" "/api/v1/gateways/{name}", "artifacts", "Read a gateway (the name may contain '/')", 200, None, &[]),
    op!("PUT" "/api/v1/gateways/{name}", "artifacts", "Update a gateway", 202, Document, WRITE),
    op!("DELETE" "/api/v1/gateways/{name}", "artifacts", "Delete a gateway", 202, None, WRITE),
    op!("GET" "/api/v1/workflows/{name}", "artifacts", "Read a workflow", 200, None, &[]),
    op!("PUT" "/api/v1/workflows/{name}", "artifacts", "Update a workflow", 202, Document, WRITE),
    op!("DELETE" "/api/v1/workflows/{name}", "artifacts", "Stop and remove a workflow", 202, None, WRITE),
    op!("GET" "/api/v1/workflows/{name}/status", "artifacts", "A workflow's status (text)", 200, None, &[]),
    op!("PUT" "/api/v1/workflows/{name}/status", "artifacts", "Set a workflow's status (text)", 202, Text, WRITE),
    op!("GET" "/api/v1/workflows/{name}/executions", "workflows", "The runs of a workflow this server keeps, newest first, with their logs", 200, None, &[]),
    op!("GET" "/api/v1/workflows/{name}/logs", "workflows", "A workflow's log as server-sent events: recent lines, then live", 200, None, &["lines"]),
    op!("POST" "/api/v1/docker-compose", "artifacts", "Convert a docker-compose file to a blueprint", 201, Document, &["name"]),
    op!("GET" "/api/v1/vga/{type}/{name}/configuration", "gateways", "The gateway configuration last written", 200, None, &[]),
    op!("GET" "/api/v1/vga/{type}/{name}/config", "gateways", "Alias of …/configuration", 200, None, &[]),
    op!("GET" "/api/v1/vga/{type}/{name}/template", "gateways", "The gateway template in use", 200, None, &[]),
    op!("PUT" "/api/v1/vga/{type}/{name}/template", "gateways", "Store a gateway template (checked first)", 202, Text, &[]),
    op!("POST" "/api/v1/vga/{type}/{name}/template", "gateways", "Store a gateway template (checked first)", 202, Text, &[]),
    op!("DELETE" "/api/v1/vga/{type}/{name}/template", "gateways", "Go back to the bundled template", 204, None, &[]),
    op!("GET" "/api/v1/{kind}", "artifacts", "List artifacts of a kind", 200, None, LIST_READ),
    op!("POST" "/api/v1/{kind}", "artifacts", "Create an artifact (201; 202 for gateways and workflows)", 201, Document, WRITE),
    op!("GET" "/api/v1/{kind}/{name}", "artifacts", "Read an artifact", 200, None, READ),
    op!("PUT" "/api/v1/{kind}/{name}", "artifacts", "Update an artifact (200; 202 for gateways and workflows)", 200, Document, WRITE),
    op!("DELETE" "/api/v1/{kind}/{name}", "artifacts", "Delete an artifact (204; 202 for gateways and workflows)", 204, None, WRITE),
];

fn parameter(name: &str, location: &str) -> Value {
    let schema = match name {
        "page" | "per_page" => json!({ "type": "integer", "minimum": 1 }),
        "validate_only" | "as_blueprint" | "expand_references" | "only_references" => {
            json!({ "type": "boolean" })
        }
        _ => json!({ "type": "string" }),
    };
    json!({ "name": name, "in": location, "required": location == "path", "schema": schema })
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn operation(op: &Op) -> Value {
    let mut parameters: Vec<Value> = path_parameters(op.path).map(|p| parameter(p, "path")).collect();
    parameters.extend(op.query.iter().map(|q| parameter(q, "query")));
    let document = json!({ "schema": { "type": "object", "additionalProperties": true } });
    let mut responses = Map::new();
    let success = match op.success {
        204 => json!({ "description": "No content" }),
        _ => {
            let mut r = json!({
                "description": "Success",
                "content": {
                    "application/json": document,
                    "application/x-yaml": document,
                },
            });
            if op.query.contains(&"page") {
                r["headers"] = json!({
                    "X-Total-Count": { "schema": { "type": "integer" } },
                    "Link": { "schema": { "type": "string" } },
                });
            }
            r
        }
    };
    responses.insert(op.success.to_string(), success);
    responses.insert(
        "default".into(),
        json!({
            "description": "An error",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        }),
    );
    let mut out = json!({
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": format!("{} {}", op.method, op.path),
        "parameters": parameters,
        "responses": responses,
    });
    match op.body {
        Body::Document => {
            out["requestBody"] = json!({
                "required": true,
                "content": { "application/json": document, "application/x-yaml": document },
            });
        }
        Body::Text => {
            out["requestBody"] = json!({
                "required": true,
                "content": { "text/plain": { "schema": { "type": "string" } } },
            });
        }
        Body::None => {}
    }
    out
}

/// The OpenAPI document.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(op.method.to_ascii_lowercase(), operation(op));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Vamp REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Compatible with the original Vamp's /api/v1. Bodies and responses are JSON or YAML (Content-Type / Accept: application/x-yaml). Errors are {\"message\": …}.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["message"],
                    "properties": { "message": { "type": "string" } },
                },
            },
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
        },
        "security": [{ "bearer": [] }],
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn document(headers: HeaderMap) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    render(StatusCode::OK, format, &openapi())
}
