//! `/api/v1/vga/{type}/{name}/…`: the gateway configuration the gateway loop last wrote (e.g.
//! `/vga/haproxy/2.6/configuration`), and the template it renders with — read, replaced (checked with
//! `haproxy -c` before it is stored) or reset to the bundled one.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::negotiation::{plain, text_body};
use super::state::ApiState;

/// `GET /api/v1/vga/{type}/{name}/configuration` (also `/config`): 200 text, 404 before the gateway loop wrote
/// one.
pub async fn configuration(
    State(state): State<ApiState>,
    Path((kind, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    match state.vamp.gateway_configuration(&kind, &version).await? {
        Some(text) => Ok(plain(StatusCode::OK, text)),
        None => Err(ApiError::not_found(format!(
            "No configuration has been written for {kind}/{version} yet."
        ))),
    }
}

/// `GET /api/v1/vga/{type}/{name}/template`: 200 text, 404 for a marshaller this server does not use.
pub async fn template(
    State(state): State<ApiState>,
    Path((kind, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    match state.vamp.gateway_template(&kind, &version).await? {
        Some(text) => Ok(plain(StatusCode::OK, text)),
        None => Err(ApiError::not_found(format!(
            "There is no template for {kind}/{version}."
        ))),
    }
}

/// `PUT|POST /api/v1/vga/{type}/{name}/template`: the body is the template text; 202 once it passed the check
/// and is stored (400 when it does not pass, 501 for another marshaller).
pub async fn set_template(
    State(state): State<ApiState>,
    Path((kind, version)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = text_body(&body)?;
    state.vamp.set_gateway_template(&kind, &version, &text).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `DELETE /api/v1/vga/{type}/{name}/template`: back to the bundled template. 204.
pub async fn reset_template(
    State(state): State<ApiState>,
    Path((kind, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state.vamp.reset_gateway_template(&kind, &version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
