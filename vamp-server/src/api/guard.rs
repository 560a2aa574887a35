//! Checks of where a request comes from ([`check`], before its token is looked at) and what it carries
//! ([`content_type`], after):
//!
//! - **Host** (DNS rebinding): a request naming a host the API does not answer to is refused with 421. IP
//!   addresses and `localhost` are always answered (a page cannot rebind them); other names only when listed in
//!   [`ApiOptions::allowed_hosts`], or, with none listed, when the API listens on a non-loopback address. A
//!   request without `Host` (HTTP/1.0, in-process callers) is not a browser's and passes.
//! - **Origin** (CSRF): a request a browser sent from another origin is refused with 403 unless that origin is one
//!   of the configured CORS origins. Same-origin requests (the web UI served by this server) pass.
//! - **Content-Type** (CSRF through "simple requests"): a write (`POST`, `PUT`, `PATCH`, `DELETE`) with a body must
//!   say it is JSON or YAML, else 415; an HTML form or a `text/plain` fetch can therefore never write. The one
//!   exception is `text/plain` on `PUT` (the text endpoints: a HAProxy template, a workflow's status): browsers
//!   never send a `PUT` across origins without a preflight, which the CORS settings answer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error::message_response;
use super::options::ApiOptions;

/// What the guard checks against, from [`ApiOptions`].
#[derive(Debug, Clone)]
pub struct RequestGuard {
    listen: SocketAddr,
    allowed_hosts: Vec<String>,
    cors_origins: Vec<String>,
}

impl RequestGuard {
    /// The guard of `options`.
    pub fn new(options: &ApiOptions) -> RequestGuard {
        RequestGuard {
            listen: options.listen,
            allowed_hosts: options
                .allowed_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            cors_origins: options
                .cors
                .origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether a request naming `host` (the `Host` header: a name or address with an optional port) is answered.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = host_name(&host);
        if name.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if !self.allowed_hosts.is_empty() {
            return self.allowed_hosts.iter().any(|a| *a == host || *a == name);
        }
        !self.listen.ip().is_loopback()
    }

    /// Whether a request with `Origin: origin` and `Host: host` may be served: same-origin, or a configured CORS
    /// origin (`*` allows all).
    pub fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if self.cors_origins.iter().any(|o| o == "*" || *o == origin) {
            return true;
        }
        let Some(host) = host.map(|h| h.trim().to_ascii_lowercase()) else {
            return false;
        };
        match origin.split_once("://") {
            Some((scheme, authority)) if matches!(scheme, "http" | "https") => {
                authority == host || with_default_port(authority, scheme) == with_default_port(&host, scheme)
            }
            _ => false,
        }
    }
}

/// The host part of `host[:port]`, without the brackets of an IPv6 address.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.contains(':') => name,
        _ => host,
    }
}

/// `authority` with the scheme's default port made explicit.
fn with_default_port(authority: &str, scheme: &str) -> String {
    let has_port = match authority.strip_prefix('[') {
        Some(rest) => rest.contains("]:"),
        None => authority.contains(':'),
    };
    if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if scheme == "https" { 443 } else { 80 })
    }
}

/// Whether `headers` announce a body.
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// Whether `content_type` names JSON or YAML.
pub fn is_document_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/json" | "application/x-yaml" | "application/yaml" | "text/yaml" | "text/x-yaml"
    ) || (essence.starts_with("application/") && (essence.ends_with("+json") || essence.ends_with("+yaml")))
}

/// Whether `content_type` is `text/plain`.
fn is_plain_text(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case("text/plain")
}

/// The middleware checking `Host` and `Origin`; it runs before the token is looked at.
pub async fn check(State(guard): State<Arc<RequestGuard>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(host) = host {
        if !guard.host_allowed(host) {
            return message_response(
                StatusCode::MISDIRECTED_REQUEST,
                &format!(
                    "This server does not answer to host '{host}'; add it to api.allowed-hosts if it is a name of \
                     this server."
                ),
            );
        }
    } else if headers.contains_key(header::HOST) {
        return message_response(StatusCode::BAD_REQUEST, "The Host header is not valid text.");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if request.method() != Method::OPTIONS && !guard.origin_allowed(origin, host) {
            return message_response(
                StatusCode::FORBIDDEN,
                &format!(
                    "Cross-origin requests from '{origin}' are refused; add the origin to api.cors.origins to \
                     allow it."
                ),
            );
        }
    }
    next.run(request).await
}

/// The middleware checking the `Content-Type` of writes; it runs after the token is checked, so a request without
/// a valid token learns nothing but 401.
pub async fn content_type(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if write && has_body(headers) {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let text_put = request.method() == Method::PUT && content_type.is_some_and(is_plain_text);
        if !text_put && !content_type.is_some_and(is_document_type) {
            return message_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!(
                    "A {} with a body needs 'Content-Type: application/json' or 'application/x-yaml' (got {}).",
                    request.method(),
                    content_type.map_or_else(|| "none".to_string(), |c| format!("'{c}'"))
                ),
            );
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(listen: &str, allowed: &[&str], cors: &[&str]) -> RequestGuard {
        let mut options = ApiOptions {
            listen: listen.parse().unwrap(),
            allowed_hosts: allowed.iter().map(|s| s.to_string()).collect(),
            ..ApiOptions::default()
        };
        options.cors.origins = cors.iter().map(|s| s.to_string()).collect();
        RequestGuard::new(&options)
    }

    #[test]
    fn loopback_answers_addresses_and_localhost_only() {
        let g = guard("127.0.0.1:8080", &[], &[]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "10.1.2.3",
            "a.localhost:1",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "evil.example",
            "127.0.0.1.nip.io:8080",
            "localhost.evil.com",
        ] {
            assert!(!g.host_allowed(refused), "{refused}");
        }
    }

    #[test]
    fn allowed_hosts_with_or_without_port() {
        let g = guard("0.0.0.0:8080", &["vamp.example.com"], &[]);
        assert!(g.host_allowed("vamp.example.com:8080"));
        assert!(g.host_allowed("VAMP.example.com"));
        assert!(!g.host_allowed("other.example.com"));
        let open = guard("0.0.0.0:8080", &[], &[]);
        assert!(open.host_allowed("anything.example"));
    }

    #[test]
    fn origins_same_or_configured() {
        let g = guard("127.0.0.1:8080", &[], &["https://ui.example.com"]);
        assert!(g.origin_allowed("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(g.origin_allowed("https://ui.example.com/", Some("127.0.0.1:8080")));
        assert!(g.origin_allowed("http://localhost", Some("localhost:80")));
        assert!(!g.origin_allowed("http://127.0.0.1:9999", Some("127.0.0.1:8080")));
        assert!(!g.origin_allowed("https://evil.example", Some("127.0.0.1:8080")));
        assert!(!g.origin_allowed("null", Some("127.0.0.1:8080")));
        assert!(!g.origin_allowed("http://127.0.0.1:8080", None));
        assert!(guard("127.0.0.1:1", &[], &["*"]).origin_allowed("https://x.example", None));
    }

    #[test]
    fn document_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/x-yaml",
            "text/yaml",
            "application/vnd.x+json",
        ] {
            assert!(is_document_type(ok), "{ok}");
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            assert!(!is_document_type(refused), "{refused}");
        }
    }
}
