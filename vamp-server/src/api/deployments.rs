//! `/api/v1/deployments`: list and read (with `as_blueprint`, `expand_references`, `only_references`),
//! create-or-merge (`POST`, `PUT`), slice (`DELETE` with a body), and the sub-resources of a deployment: a
//! cluster's SLA and a service's scale. Every write is asynchronous (202): the deployment loop carries it out.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use vamp_core::dsl::{self, Value};
use vamp_core::model::{Artifact, Kind, Ref};

use super::artifacts::{list_kind, write_options};
use super::error::ApiError;
use super::negotiation::{artifact_json, artifacts_json, document_body, render, Format};
use super::query::Query;
use super::state::ApiState;

/// Reads a deployment request body: a blueprint, a blueprint reference (`name` only) or a deployment in its
/// canonical form.
pub fn parse_request(text: &str) -> Result<Artifact, ApiError> {
    match dsl::read_deployment_request(text) {
        Ok(blueprint) => Ok(Artifact::Blueprint(blueprint)),
        Err(first) => match dsl::read_deployment(text) {
            Ok(deployment) => Ok(Artifact::Deployment(deployment)),
            Err(_) => Err(first.into()),
        },
    }
}

/// `GET /api/v1/deployments`.
pub async fn list(State(state): State<ApiState>, uri: Uri, headers: HeaderMap) -> Result<Response, ApiError> {
    list_kind(state, Kind::Deployment, uri, headers).await
}

/// `GET /api/v1/deployments/{name}`.
pub async fn get(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    super::artifacts::get_named(state, Kind::Deployment, name, uri, headers).await
}

/// `POST /api/v1/deployments`: the deployment is named after the blueprint. 202 with the stored inline breeds
/// and the merged deployment.
pub async fn create(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let text = document_body(&headers, &body)?;
    let options = write_options(&Query::of(&uri), text.clone())?;
    let request = state.readers.read(move || parse_request(&text)).await?;
    let name = request.name().to_string();
    let written = state.vamp.deploy(&name, request, &options).await?;
    render(StatusCode::ACCEPTED, format, &artifacts_json(&written)?)
}

/// `PUT /api/v1/deployments/{name}`: create-or-merge into `name`. 202.
pub async fn update(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let text = document_body(&headers, &body)?;
    let options = write_options(&Query::of(&uri), text.clone())?;
    let request = state.readers.read(move || parse_request(&text)).await?;
    let written = state.vamp.deploy(&name, request, &options).await?;
    render(StatusCode::ACCEPTED, format, &artifacts_json(&written)?)
}

/// `DELETE /api/v1/deployments/{name}` with a blueprint (or deployment) naming what to remove: a slice. An
/// empty body removes nothing (as in the original). 202 with the deployment after the slice; 404 when there is
/// no such deployment.
pub async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        document_body(&headers, &body)?
    };
    let options = write_options(&Query::of(&uri), text.clone())?;
    let request = if text.is_empty() {
        Artifact::Blueprint(dsl::read_deployment_request(
            &serde_json::json!({ "name": name }).to_string(),
        )?)
    } else {
        state.readers.read(move || parse_request(&text)).await?
    };
    match state.vamp.undeploy(&name, request, &options).await? {
        Some(after) => render(StatusCode::ACCEPTED, format, &artifact_json(&after)?),
        None => Err(ApiError::not_found(format!("There is no deployment '{name}'."))),
    }
}

/// A body that is a reference to a stored artifact (`name`, `{reference: name}` or `{ref: name}`) or the
/// artifact inline (its name optional).
fn parse_ref(kind: Kind, text: &str) -> Result<Ref<Artifact>, ApiError> {
    let node = dsl::reading::single_document(kind, text)?;
    if let Value::Str(name) = &node.value {
        return Ok(Ref::Named(name.clone()));
    }
    let keys: Vec<&str> = match &node.value {
        Value::Map(entries) => entries.iter().map(|(k, _)| k.as_str()).collect(),
        _ => Vec::new(),
    };
    if keys.len() == 1 {
        if let Some(name) = node
            .get("reference")
            .or_else(|| node.get("ref"))
            .and_then(|n| n.as_text())
        {
            return Ok(Ref::Named(name.to_string()));
        }
    }
    let mut json = node.to_json();
    let anonymous = json.get("name").is_none();
    if let Some(obj) = json.as_object_mut() {
        if anonymous {
            obj.insert("name".into(), serde_json::Value::String("inline".into()));
        }
    }
    let mut artifact = dsl::read(kind, &json.to_string())?;
    if anonymous {
        match &mut artifact {
            Artifact::Scale(s) => s.name.clear(),
            Artifact::Sla(s) => s.name.clear(),
            _ => {}
        }
    }
    Ok(Ref::Inline(artifact))
}

fn ref_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::from(vamp_core::Error::backend(format!("cannot write JSON: {e}"))))
}

/// `GET /api/v1/deployments/{deployment}/clusters/{cluster}/sla`: 404 when the cluster has none.
pub async fn get_sla(
    State(state): State<ApiState>,
    Path((deployment, cluster)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    match state.vamp.sla(&deployment, &cluster).await? {
        Some(sla) => render(StatusCode::OK, format, &ref_json(&sla)?),
        None => Err(ApiError::not_found(format!(
            "Cluster '{cluster}' of deployment '{deployment}' has no SLA."
        ))),
    }
}

/// `PUT|POST /api/v1/deployments/{deployment}/clusters/{cluster}/sla`: an SLA inline or by reference. 202.
pub async fn set_sla(
    State(state): State<ApiState>,
    Path((deployment, cluster)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let text = document_body(&headers, &body)?;
    let options = write_options(&Query::of(&uri), text.clone())?;
    let sla = match state.readers.read(move || parse_ref(Kind::Sla, &text)).await? {
        Ref::Named(n) => Ref::Named(n),
        Ref::Inline(Artifact::Sla(s)) => Ref::Inline(s),
        Ref::Inline(_) => return Err(ApiError::bad_request("The body is not an SLA.")),
    };
    let set = state.vamp.set_sla(&deployment, &cluster, sla, &options).await?;
    render(StatusCode::ACCEPTED, format, &ref_json(&set)?)
}

/// `DELETE /api/v1/deployments/{deployment}/clusters/{cluster}/sla`: 204 (also when there was none).
pub async fn delete_sla(
    State(state): State<ApiState>,
    Path((deployment, cluster)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let options = write_options(&Query::of(&uri), String::new())?;
    state.vamp.delete_sla(&deployment, &cluster, &options).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/deployments/{deployment}/clusters/{cluster}/services/{service}/scale`: 404 when the service has
/// no scale.
pub async fn get_scale(
    State(state): State<ApiState>,
    Path((deployment, cluster, service)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    match state.vamp.scale(&deployment, &cluster, &service).await? {
        Some(scale) => render(StatusCode::OK, format, &artifact_json(&Artifact::Scale(scale))?),
        None => Err(ApiError::not_found(format!(
            "Service '{service}' of cluster '{cluster}' in deployment '{deployment}' has no scale."
        ))),
    }
}

/// `PUT|POST /api/v1/deployments/{deployment}/clusters/{cluster}/services/{service}/scale`: a scale inline or
/// by reference; the service is redeployed. 202 with the scale applied.
pub async fn set_scale(
    State(state): State<ApiState>,
    Path((deployment, cluster, service)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let text = document_body(&headers, &body)?;
    let options = write_options(&Query::of(&uri), text.clone())?;
    let scale = match state.readers.read(move || parse_ref(Kind::Scale, &text)).await? {
        Ref::Named(n) => Ref::Named(n),
        Ref::Inline(Artifact::Scale(s)) => Ref::Inline(s),
        Ref::Inline(_) => return Err(ApiError::bad_request("The body is not a scale.")),
    };
    let set = state
        .vamp
        .set_scale(&deployment, &cluster, &service, scale, &options)
        .await?;
    render(
        StatusCode::ACCEPTED,
        format,
        &artifact_json(&Artifact::Scale(set))?,
    )
}
