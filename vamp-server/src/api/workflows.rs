//! `/api/v1/workflows/{name}/status`: a workflow's status as plain text, and setting it (`running`,
//! `suspended`, `restarting`, …) from a plain-text body. Workflows themselves are artifacts
//! ([`super::artifacts`]).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use vamp_core::model::WorkflowStatus;

use super::artifacts::write_options;
use super::error::ApiError;
use super::negotiation::{plain, text_body};
use super::query::Query;
use super::state::ApiState;

fn status_text(status: WorkflowStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `GET /api/v1/workflows/{name}/status`: 200 text, 404 when there is no such workflow.
pub async fn get_status(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    match state.vamp.workflow_status(&name).await? {
        Some(status) => Ok(plain(StatusCode::OK, status_text(status))),
        None => Err(ApiError::not_found(format!("There is no workflow '{name}'."))),
    }
}

/// `PUT /api/v1/workflows/{name}/status`: the body is the status (optionally quoted). 202 with the status set.
pub async fn set_status(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = text_body(&body)?;
    let wanted = text.trim().trim_matches('"');
    let status = WorkflowStatus::parse(wanted).ok_or_else(|| {
        ApiError::bad_request(format!(
            "'{wanted}' is not a workflow status; use starting, running, stopping, suspending, suspended or restarting."
        ))
    })?;
    let options = write_options(&Query::of(&uri), text.clone())?;
    let workflow = state.vamp.set_workflow_status(&name, status, &options).await?;
    Ok(plain(StatusCode::ACCEPTED, status_text(workflow.status)))
}
