//! Bearer tokens: admin tokens may do everything, read tokens only `GET` and `HEAD`. Without configured tokens
//! every request is refused (401) unless the API was opened explicitly. A missing or unknown token is 401 (with
//! `WWW-Authenticate: Bearer`), a read token on a write 403. Tokens are compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error::message_response;
use super::options::ApiSecurity;

/// Whether `a` equals `b`, in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `token` is one of `tokens`; every configured token is compared, so the time does not say which.
fn any_matches(tokens: &[String], token: &str) -> bool {
    tokens.iter().fold(false, |found, t| {
        constant_time_eq(t.as_bytes(), token.as_bytes()) | found
    })
}

fn unauthorized(message: &str) -> Response {
    let mut response = message_response(StatusCode::UNAUTHORIZED, message);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The middleware. CORS preflights (`OPTIONS`) pass: browsers send them without credentials.
pub async fn authorize(State(security): State<Arc<ApiSecurity>>, request: Request, next: Next) -> Response {
    if security.is_open() || request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    if security.has_no_tokens() {
        return unauthorized(
            "This server has no API token configured, so it refuses every request: configure a token \
             (--api-token-file, VAMP_API_TOKENS) or open the API knowingly (--insecure-open-api).",
        );
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = token else {
        return unauthorized("This server needs a bearer token: send 'Authorization: Bearer <token>'.");
    };
    if any_matches(&security.admin_tokens, token) {
        return next.run(request).await;
    }
    if any_matches(&security.read_tokens, token) {
        if matches!(*request.method(), Method::GET | Method::HEAD) {
            return next.run(request).await;
        }
        return message_response(
            StatusCode::FORBIDDEN,
            "This token may only read (GET, HEAD); writes need an admin token.",
        );
    }
    unauthorized("The bearer token is not valid for this server.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_exactly() {
        let tokens = vec!["secret".to_string(), "other".to_string()];
        assert!(any_matches(&tokens, "secret"));
        assert!(any_matches(&tokens, "other"));
        assert!(!any_matches(&tokens, "secre"));
        assert!(!any_matches(&tokens, "secret2"));
        assert!(!any_matches(&tokens, ""));
    }
}
