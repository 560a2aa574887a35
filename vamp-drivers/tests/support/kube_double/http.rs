//! The HTTP side of the double: the routes of the documented REST paths it serves, request bodies in, JSON and
//! `Status` objects out.
//!
//! | path | verbs |
//! |---|---|
//! | `/version` | GET |
//! | `/api/v1/namespaces[/{name}]` | GET, POST, DELETE (at once, with everything in it) |
//! | `/apis/apps/v1/namespaces/{ns}/deployments[/{name}]` | GET (list with `labelSelector`), POST, PUT, PATCH, DELETE |
//! | `/api/v1/namespaces/{ns}/services[/{name}]` | the same |
//! | `/api/v1/namespaces/{ns}/pods[/{name}]` | GET |

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::status::Failure;
use super::store::{Resource, State};

/// One request as the router sees it.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: HashMap<String, String>,
    pub content_type: &'a str,
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "37", "gitVersion": "v1.37.0-vamp-double", "gitCommit": "0000000",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24",
        "compiler": "gc", "platform": "linux/amd64",
    })
}

fn json_body(request: &Request<'_>) -> Result<Value, Failure> {
    serde_json::from_slice(request.body).map_err(|e| {
        Failure::bad_request(format!(
            "the request body is not JSON (the double reads JSON, which is also the YAML sent by apply): {e}"
        ))
    })
}

fn resource_of(segment: &str) -> Option<Resource> {
    match segment {
        "deployments" => Some(Resource::Deployments),
        "pods" => Some(Resource::Pods),
        "services" => Some(Resource::Services),
        _ => None,
    }
}

fn propagation(request: &Request<'_>) -> String {
    let from_body = serde_json::from_slice::<Value>(request.body).ok().and_then(|b| {
        b.get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    from_body
        .or_else(|| request.query.get("propagationPolicy").cloned())
        .unwrap_or_default()
}

fn namespaced(
    state: &mut State,
    request: &Request<'_>,
    resource: Resource,
    namespace: &str,
    name: Option<&str>,
) -> Result<(u16, Value), Failure> {
    let served = match resource {
        Resource::Pods => matches!(request.method, "GET"),
        Resource::Deployments | Resource::Services => true,
    };
    if !served {
        return Err(Failure::method_not_allowed(request.method));
    }
    match (request.method, name) {
        ("GET", None) => Ok((
            200,
            state.list(
                resource,
                namespace,
                request.query.get("labelSelector").map(String::as_str),
            )?,
        )),
        ("POST", None) => state.create(resource, namespace, &json_body(request)?),
        ("GET", Some(name)) => Ok((200, state.get(resource, namespace, name)?)),
        ("PUT", Some(name)) => state.replace(resource, namespace, name, &json_body(request)?),
        ("PATCH", Some(name)) => match request.content_type.split(';').next().unwrap_or_default().trim() {
            "application/apply-patch+yaml" => {
                if request.query.get("fieldManager").is_none_or(String::is_empty) {
                    return Err(Failure::bad_request(
                        "PATCH with apply-patch+yaml requires a fieldManager",
                    ));
                }
                state.apply(resource, namespace, name, &json_body(request)?)
            }
            "application/merge-patch+json" => state.merge(resource, namespace, name, &json_body(request)?),
            other => Err(Failure::unsupported_media_type(other)),
        },
        ("DELETE", Some(name)) => state.delete(resource, namespace, name, &propagation(request)),
        (method, _) => Err(Failure::method_not_allowed(method)),
    }
}

fn route(state: &mut State, request: &Request<'_>) -> Result<(u16, Value), Failure> {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method, segments.as_slice()) {
        ("GET", ["version"]) => Ok((200, version())),
        ("GET", ["api", "v1", "namespaces"]) => Ok((200, state.list_namespaces())),
        ("POST", ["api", "v1", "namespaces"]) => state.create_namespace(&json_body(request)?),
        ("DELETE", ["api", "v1", "namespaces", name]) => state.delete_namespace(name),
        ("GET", ["api", "v1", "namespaces", name]) => state
            .namespace(name)
            .map(|n| (200, n))
            .ok_or_else(|| Failure::not_found("namespaces", "", name)),
        (_, ["api", "v1", "namespaces", namespace, plural, rest @ ..])
        | (_, ["apis", "apps", "v1", "namespaces", namespace, plural, rest @ ..]) => {
            let resource = resource_of(plural).ok_or_else(Failure::no_route)?;
            let core = segments.first() == Some(&"api");
            if core == (resource == Resource::Deployments) {
                return Err(Failure::no_route());
            }
            match rest {
                [] => namespaced(state, request, resource, namespace, None),
                [name] => namespaced(state, request, resource, namespace, Some(name)),
                _ => Err(Failure::no_route()),
            }
        }
        _ => Err(Failure::no_route()),
    }
}

/// Answers one request: the HTTP status and the JSON body.
pub fn handle(state: &Arc<Mutex<State>>, request: &Request<'_>) -> (u16, Value) {
    let Ok(mut state) = state.lock() else {
        return (
            500,
            Failure::bad_request("the double's state is poisoned").to_json(),
        );
    };
    state.requests.push(format!(
        "{} {}{} {}",
        request.method,
        request.path,
        if request.query.is_empty() {
            String::new()
        } else {
            format!("?{}", {
                let mut pairs: Vec<String> = request.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                pairs.sort();
                pairs.join("&")
            })
        },
        request.content_type
    ));
    if let Some(authorization) = request.authorization {
        state.authorizations.push(authorization.to_string());
    }
    state.collect_garbage();
    match route(&mut state, request) {
        Ok(answer) => answer,
        Err(failure) => (failure.code, failure.to_json()),
    }
}
