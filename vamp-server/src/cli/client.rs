//! The HTTP client of the CLI commands: finds the server (`--url`, `VAMP_URL`), sends the bearer token, speaks
//! JSON to the `/api/v1` endpoints and turns every answer that is not a success into a [`CliError`] with the
//! server's `message`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::exit::{CliError, CliResult};

/// The server the CLI talks to unless `--url` or `VAMP_URL` says otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// A client of one Vamp server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// A successful answer: the status, the JSON body (`Null` when empty) and the paging total if sent.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body as JSON; a body that is not JSON is a JSON string.
    pub body: Value,
    /// `X-Total-Count`, for lists.
    pub total: Option<u64>,
}

impl Client {
    /// A client of the server at `url` (`http://host:port`, with or without a trailing `/`), authenticating with
    /// `token` when given. Fails with a usage error when `url` is not an http(s) URL.
    pub fn new(url: &str, token: Option<String>) -> CliResult<Client> {
        let base = url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| CliError::usage(format!("The server URL '{url}' is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CliError::usage(format!(
                "The server URL '{url}' must start with http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| CliError::Failed(format!("The HTTP client cannot start: {e}")))?;
        Ok(Client {
            base,
            token: token.filter(|t| !t.is_empty()),
            http,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /api/v1/<path>`; `None` for 404.
    pub async fn get(&self, path: &str) -> CliResult<Option<Answer>> {
        match self.request(Method::GET, path, None).await {
            Ok(a) => Ok(Some(a)),
            Err(CliError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v1/<path>`, where 404 is an error naming `what`.
    pub async fn get_existing(&self, path: &str, what: &str) -> CliResult<Value> {
        self.get(path)
            .await?
            .map(|a| a.body)
            .ok_or_else(|| CliError::Refused {
                status: 404,
                message: format!("{what} does not exist"),
            })
    }

    /// `<method> /api/v1/<path>` with `body` as JSON.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> CliResult<Answer> {
        self.request(method, path, body).await
    }

    async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> CliResult<Answer> {
        let url = format!("{}/api/v1/{}", self.base, path.trim_start_matches('/'));
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            let text = serde_json::to_string(body)
                .map_err(|e| CliError::usage(format!("The request body cannot be written as JSON: {e}")))?;
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(text);
        }
        let response = request.send().await.map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        let total = response
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let text = response.text().await.map_err(|e| unreachable(&self.base, &e))?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(Answer {
                status: status.as_u16(),
                body,
                total,
            });
        }
        Err(refused(status, &method, path, &body))
    }
}

fn unreachable(base: &str, e: &reqwest::Error) -> CliError {
    let why = if e.is_timeout() {
        "it did not answer in time".to_string()
    } else if e.is_connect() {
        "the connection failed".to_string()
    } else {
        e.to_string()
    };
    CliError::Unreachable(format!(
        "The Vamp server at {base} cannot be reached: {why}. Give its address with --url or VAMP_URL."
    ))
}

fn refused(status: StatusCode, method: &Method, path: &str, body: &Value) -> CliError {
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| body.as_str().map(str::to_string))
        .unwrap_or_else(|| match status {
            StatusCode::NOT_FOUND => format!("/api/v1/{path} does not exist"),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                "Not authorized; give a token with --token or VAMP_TOKEN".to_string()
            }
            _ => format!(
                "{method} /api/v1/{path} failed: {}",
                status.canonical_reason().unwrap_or("error")
            ),
        });
    CliError::Refused {
        status: status.as_u16(),
        message,
    }
}

/// `text` with every character that is not safe in a URL path segment percent-encoded, keeping `/` (artifact
/// names such as gateway `deployment/cluster/port` are paths).
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
