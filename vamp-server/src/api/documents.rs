//! The root `/api/v1`: several artifacts of any kinds in one body (YAML documents separated by `---`, or a
//! list), each dispatched as if sent to its own endpoint — `POST` creates, `PUT` updates (deployments merge),
//! `DELETE` deletes (deployments are sliced). Always 202, with one result list per document.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;

use super::error::ApiError;
use super::negotiation::{artifacts_json, document_body, render, Format};
use super::query::Query;
use super::state::ApiState;
use crate::ops::{Verb, WriteOptions};

/// `POST|PUT|DELETE /api/v1`.
pub async fn apply(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let verb = match method {
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        _ => Verb::Delete,
    };
    let text = document_body(&headers, &body)?;
    let options = WriteOptions {
        validate_only: Query::of(&uri).flag("validate_only")?,
        source: None,
    };
    let documents = state
        .readers
        .read(move || Ok(crate::ops::read_documents(&text)?))
        .await?;
    let results = state.vamp.apply_read_documents(documents, verb, &options).await?;
    let items = results
        .iter()
        .map(|r| artifacts_json(r))
        .collect::<Result<Vec<_>, _>>()?;
    render(StatusCode::ACCEPTED, format, &serde_json::Value::Array(items))
}
