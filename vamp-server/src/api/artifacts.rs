//! `/api/v1/{kind}` and `/api/v1/{kind}/{name}`: list, read, create, update and delete artifacts of every kind
//! (static kinds, gateways — whose names may contain `/` — and workflows), with `validate_only`,
//! `expand_references` and `only_references`; and `POST /api/v1/docker-compose`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use vamp_core::dsl;
use vamp_core::model::{Artifact, Kind};

use super::error::ApiError;
use super::negotiation::{artifact_json, artifacts_json, document_body, render, Format};
use super::query::Query;
use super::state::ApiState;
use crate::ops::{ReadOptions, WriteOptions};

/// The kind a path segment names (singular or plural); events and unknown names are 404.
pub fn kind_of(segment: &str) -> Result<Kind, ApiError> {
    match segment.parse::<Kind>() {
        Ok(Kind::Event) | Err(_) => Err(ApiError::not_found(format!(
            "There is no resource '{segment}'. Known kinds: {}; events are under /api/v1/events.",
            Kind::ALL
                .iter()
                .filter(|k| **k != Kind::Event)
                .map(|k| k.plural())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        Ok(kind) => Ok(kind),
    }
}

/// Whether writes of `kind` are asynchronous (202): their effect comes from a loop.
pub fn is_asynchronous(kind: Kind) -> bool {
    matches!(kind, Kind::Gateway | Kind::Workflow | Kind::Deployment)
}

/// The read options of a query.
pub fn read_options(query: &Query) -> Result<ReadOptions, ApiError> {
    Ok(ReadOptions {
        as_blueprint: query.flag("as_blueprint")?,
        expand_references: query.flag("expand_references")?,
        only_references: query.flag("only_references")?,
    })
}

/// The write options of a query, with `source` as the archived body.
pub fn write_options(query: &Query, source: String) -> Result<WriteOptions, ApiError> {
    Ok(WriteOptions {
        validate_only: query.flag("validate_only")?,
        source: Some(source),
    })
}

fn parse(kind: Kind, text: &str) -> Result<Artifact, ApiError> {
    if kind == Kind::Deployment {
        return super::deployments::parse_request(text);
    }
    Ok(dsl::read(kind, text)?)
}

/// What a write answers with: gateways and workflows as the single object, `validate_only` the artifact itself,
/// otherwise the list the store wrote (a blueprint's inline breeds first).
fn write_result(
    kind: Kind,
    validate_only: bool,
    written: &[Artifact],
) -> Result<serde_json::Value, ApiError> {
    let single = matches!(kind, Kind::Gateway | Kind::Workflow) || validate_only;
    match (single, written.last()) {
        (true, Some(last)) => artifact_json(last),
        _ => artifacts_json(written),
    }
}

/// `GET /api/v1/{kind}`.
pub async fn list(
    State(state): State<ApiState>,
    Path(kind): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    list_kind(state, kind_of(&kind)?, uri, headers).await
}

/// A listing of `kind` with paging headers.
pub async fn list_kind(
    state: ApiState,
    kind: Kind,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let query = Query::of(&uri);
    let page = query.page(state.options.max_per_page)?;
    let paged = state.vamp.list_with(kind, page, &read_options(&query)?).await?;
    let mut response = render(StatusCode::OK, format, &artifacts_json(&paged.items)?)?;
    state.page_headers(&mut response, &uri, &headers, &paged);
    Ok(response)
}

/// `POST /api/v1/{kind}`.
pub async fn create(
    State(state): State<ApiState>,
    Path(kind): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    create_kind(state, kind_of(&kind)?, uri, headers, body).await
}

/// A create of `kind`: 201 for static kinds, 202 for gateways and workflows.
pub async fn create_kind(
    state: ApiState,
    kind: Kind,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if kind == Kind::Deployment {
        return super::deployments::create(State(state), uri, headers, body).await;
    }
    let format = Format::from_accept(&headers)?;
    let query = Query::of(&uri);
    let text = document_body(&headers, &body)?;
    let options = write_options(&query, text.clone())?;
    let artifact = state.readers.read(move || parse(kind, &text)).await?;
    let written = state.vamp.create(artifact, &options).await?;
    let status = if is_asynchronous(kind) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    render(
        status,
        format,
        &write_result(kind, options.validate_only, &written)?,
    )
}

/// `GET /api/v1/{kind}/{name}`.
pub async fn get(
    State(state): State<ApiState>,
    Path((kind, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    get_named(state, kind_of(&kind)?, name, uri, headers).await
}

/// A read of `kind`/`name`; 404 when there is none.
pub async fn get_named(
    state: ApiState,
    kind: Kind,
    name: String,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let query = Query::of(&uri);
    match state.vamp.get_with(kind, &name, &read_options(&query)?).await? {
        Some(a) => render(StatusCode::OK, format, &artifact_json(&a)?),
        None => Err(ApiError::not_found(format!("There is no {kind} '{name}'."))),
    }
}

/// `PUT /api/v1/{kind}/{name}`.
pub async fn update(
    State(state): State<ApiState>,
    Path((kind, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    update_named(state, kind_of(&kind)?, name, uri, headers, body).await
}

/// An update of `kind`/`name`: the body's name must be `name`; 200 for static kinds, 202 for gateways and
/// workflows.
pub async fn update_named(
    state: ApiState,
    kind: Kind,
    name: String,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if kind == Kind::Deployment {
        return super::deployments::update(State(state), Path(name), uri, headers, body).await;
    }
    let format = Format::from_accept(&headers)?;
    let query = Query::of(&uri);
    let text = document_body(&headers, &body)?;
    let options = write_options(&query, text.clone())?;
    let artifact = state.readers.read(move || parse(kind, &text)).await?;
    dsl::validate::name_matches(&artifact, &name)?;
    let written = state.vamp.update(artifact, &options).await?;
    let status = if is_asynchronous(kind) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    render(
        status,
        format,
        &write_result(kind, options.validate_only, &written)?,
    )
}

/// `DELETE /api/v1/{kind}/{name}`.
pub async fn delete(
    State(state): State<ApiState>,
    Path((kind, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    delete_named(state, kind_of(&kind)?, name, uri, headers, body).await
}

/// A delete of `kind`/`name` (the body is ignored): 204 for static kinds, 202 for gateways and workflows (a
/// workflow is stopped, then removed by its loop); 404 when there is none.
pub async fn delete_named(
    state: ApiState,
    kind: Kind,
    name: String,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if kind == Kind::Deployment {
        return super::deployments::delete(State(state), Path(name), uri, headers, body).await;
    }
    let query = Query::of(&uri);
    let options = WriteOptions {
        validate_only: query.flag("validate_only")?,
        source: None,
    };
    if !state.vamp.delete(kind, &name, &options).await? {
        return Err(ApiError::not_found(format!("There is no {kind} '{name}'.")));
    }
    let status = if is_asynchronous(kind) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::NO_CONTENT
    };
    Ok(status.into_response())
}

/// GET, PUT and DELETE of one artifact of `kind` whose name is the `name` path parameter: the routes of
/// `/api/v1/gateways/{*name}` (gateway names contain `/`, also accepted URL-encoded) and
/// `/api/v1/workflows/{name}`.
pub fn named(kind: Kind) -> MethodRouter<ApiState> {
    axum::routing::get(
        move |State(state): State<ApiState>, Path(name): Path<String>, uri: Uri, headers: HeaderMap| {
            get_named(state, kind, name, uri, headers)
        },
    )
    .put(
        move |State(state): State<ApiState>,
              Path(name): Path<String>,
              uri: Uri,
              headers: HeaderMap,
              body: Bytes| { update_named(state, kind, name, uri, headers, body) },
    )
    .delete(
        move |State(state): State<ApiState>,
              Path(name): Path<String>,
              uri: Uri,
              headers: HeaderMap,
              body: Bytes| { delete_named(state, kind, name, uri, headers, body) },
    )
}

/// `POST /api/v1/docker-compose?name={blueprint}`: a docker-compose file converted to a blueprint (201, not
/// stored); the notes on what was not converted are logged.
pub async fn docker_compose(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let query = Query::of(&uri);
    let name = query
        .first("name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("Give the blueprint's name as the query parameter 'name'."))?
        .to_string();
    let text = document_body(&headers, &body)?;
    let compose_name = name.clone();
    let (blueprint, notes) = state
        .readers
        .read(move || Ok(dsl::read_compose(&text, &compose_name)?))
        .await?;
    for note in notes {
        tracing::info!(blueprint = %name, "docker-compose: {note}");
    }
    render(
        StatusCode::CREATED,
        format,
        &artifact_json(&Artifact::Blueprint(blueprint))?,
    )
}
