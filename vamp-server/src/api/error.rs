//! Errors as the API answers them: `{"message": …}` with the status of the error's kind (Invalid 400, NotFound
//! 404, Conflict 409, Unavailable 503, Unsupported 501, Backend 500), and the middleware that gives every other
//! error response — axum's rejections, unknown routes, wrong methods, bodies too large — the same shape.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vamp_core::{Error, ErrorKind};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// The status of an error kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = status_of(e.kind());
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %e, "request failed");
        }
        ApiError {
            status,
            message: e.to_string(),
        }
    }
}

impl From<vamp_core::dsl::DslError> for ApiError {
    fn from(e: vamp_core::dsl::DslError) -> Self {
        ApiError::from(Error::from(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        message_response(self.status, &self.message)
    }
}

/// A `{"message": …}` JSON response.
pub fn message_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Turns an error response that is not JSON (axum's plain-text rejections, the empty 404 of an unknown route,
/// 405, 413) into `{"message": …}`, keeping its status. The rejection's text, when it has one, is the message.
pub async fn normalize_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty());
    let message = match text {
        Some(t) => t.trim().to_string(),
        None => default_message(status),
    };
    let mut out = message_response(status, &message);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "There is no such resource; see /api/v1/openapi.json for the routes.".into(),
        StatusCode::METHOD_NOT_ALLOWED => "This method is not allowed on this resource.".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is larger than the configured limit.".into(),
        StatusCode::INTERNAL_SERVER_ERROR => "Internal server error.".into(),
        other => other
            .canonical_reason()
            .unwrap_or("The request failed.")
            .to_string(),
    }
}
