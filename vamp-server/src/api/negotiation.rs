//! Content negotiation: request bodies are JSON or YAML (`Content-Type`), responses are YAML iff `Accept` starts
//! with a YAML media type and JSON otherwise (vamp-behaviour.md §3.1).

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use vamp_core::dsl::write::json_to_yaml_string;
use vamp_core::model::Artifact;

use super::error::ApiError;

const YAML_TYPES: [&str; 4] = [
    "application/x-yaml",
    "application/yaml",
    "text/yaml",
    "text/x-yaml",
];

/// The representation of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/x-yaml`.
    Yaml,
}

impl Format {
    /// The response format `headers` ask for. No `Accept` means JSON; an `Accept` that allows neither JSON nor
    /// YAML (nor `*/*`, `application/*`) is 406.
    pub fn from_accept(headers: &HeaderMap) -> Result<Format, ApiError> {
        let Some(accept) = headers.get(header::ACCEPT) else {
            return Ok(Format::Json);
        };
        let accept = accept
            .to_str()
            .map_err(|_| ApiError::bad_request("The Accept header is not readable text."))?
            .trim()
            .to_ascii_lowercase();
        if YAML_TYPES.iter().any(|t| accept.starts_with(t)) {
            return Ok(Format::Yaml);
        }
        let acceptable = accept.is_empty()
            || accept.contains("*/*")
            || accept.contains("application/*")
            || accept.contains("application/json")
            || accept.contains("+json")
            || accept.contains("text/event-stream")
            || accept.contains("text/plain")
            || YAML_TYPES.iter().any(|t| accept.contains(t));
        if acceptable {
            Ok(Format::Json)
        } else {
            Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "Only the following media types are supported: application/json, application/x-yaml; Accept was '{accept}'."
                ),
            ))
        }
    }
}

/// The text of a request body holding JSON or YAML. `Content-Type` must be JSON or YAML when given (415
/// otherwise); a body without one is read as YAML, of which JSON is a subset. The body must be UTF-8 (400).
pub fn document_body(headers: &HeaderMap, body: &Bytes) -> Result<String, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct
            .to_str()
            .map_err(|_| ApiError::bad_request("The Content-Type header is not readable text."))?
            .to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or_default().trim().to_string();
        let ok =
            media == "application/json" || media.ends_with("+json") || YAML_TYPES.contains(&media.as_str());
        if !ok {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Only the following media types are supported: application/json, application/x-yaml; Content-Type was '{media}'."
                ),
            ));
        }
    }
    text_body(body)
}

/// A body as UTF-8 text (400 otherwise).
pub fn text_body(body: &Bytes) -> Result<String, ApiError> {
    String::from_utf8(body.to_vec()).map_err(|_| ApiError::bad_request("The request body is not UTF-8 text."))
}

/// A response with `value` written in `format`.
pub fn render(status: StatusCode, format: Format, value: &serde_json::Value) -> Result<Response, ApiError> {
    let (text, content_type) = match format {
        Format::Json => (
            serde_json::to_string(value)
                .map_err(|e| ApiError::from(vamp_core::Error::backend(format!("cannot write JSON: {e}"))))?,
            "application/json",
        ),
        Format::Yaml => (json_to_yaml_string(value)?, "application/x-yaml"),
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// A plain-text response.
pub fn plain(status: StatusCode, text: String) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The canonical JSON of an artifact.
pub fn artifact_json(artifact: &Artifact) -> Result<serde_json::Value, ApiError> {
    Ok(vamp_core::dsl::to_json(artifact)?)
}

/// The canonical JSON of several artifacts, as an array.
pub fn artifacts_json(artifacts: &[Artifact]) -> Result<serde_json::Value, ApiError> {
    artifacts
        .iter()
        .map(artifact_json)
        .collect::<Result<Vec<_>, _>>()
        .map(serde_json::Value::Array)
}
