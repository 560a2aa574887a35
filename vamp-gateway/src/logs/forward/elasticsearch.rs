//! `ElasticsearchSink`: lines written with the bulk API into daily indices `vamp-vga-YYYY-MM-dd` (or
//! `vamp-vga-<namespace>-YYYY-MM-dd`), as Filebeat did for the original agent from 0.9.3. Each document is the
//! access log's JSON fields plus `message` (the syslog message) and `@timestamp` (when the agent received the
//! line, which also picks the index day, in UTC — Filebeat's behaviour).
//!
//! Lines are sent in batches of what the queue holds (up to `batch_size`). A batch that fails with a
//! connection error, a timeout, 429 or a 5xx is retried with exponential backoff up to `max_retries` times,
//! then dropped and counted as failed; meanwhile the queue keeps dropping its oldest lines, so a down
//! Elasticsearch never slows the pipeline.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use vamp_core::{Error, Result};

use super::queue::BoundedQueue;
use super::{LogLine, SinkStats};
use crate::logs::{access_log, syslog};

/// Where and how to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticsearchOptions {
    /// The base URL, e.g. `http://elasticsearch:9200`; user and password in it are sent as basic auth.
    pub url: String,
    /// Optional namespace inside the index name (`[a-z0-9_.-]`, not starting with `-`, `_` or `.`).
    pub namespace: Option<String>,
    /// Lines buffered while Elasticsearch is slow or down; the oldest are dropped beyond it.
    pub queue_capacity: usize,
    /// The most lines in one bulk request.
    pub batch_size: usize,
    /// Retries of a failed batch before it is dropped.
    pub max_retries: u32,
    /// The first pause before a retry; doubled each time up to `max_backoff`.
    pub backoff: Duration,
    /// The longest pause between retries.
    pub max_backoff: Duration,
    /// The timeout of one bulk request.
    pub timeout: Duration,
}

impl ElasticsearchOptions {
    /// Options for `url` without namespace: queue 10000, batches of 500, 5 retries from 200 ms to 10 s, 10 s
    /// request timeout.
    pub fn new(url: impl Into<String>) -> Self {
        ElasticsearchOptions {
            url: url.into(),
            namespace: None,
            queue_capacity: 10_000,
            batch_size: 500,
            max_retries: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Checks a namespace for the index name: Elasticsearch index names are lowercase and exclude most
/// punctuation.
pub fn validate_namespace(namespace: &str) -> Result<()> {
    let allowed = namespace
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if namespace.is_empty() || namespace.len() > 100 || !allowed || namespace.starts_with(['-', '_', '.']) {
        return Err(Error::invalid(format!(
            "The Elasticsearch log namespace '{}' is not usable in an index name: use 1 to 100 characters of \
             a-z, 0-9, '-', '_' and '.', not starting with '-', '_' or '.'.",
            namespace.escape_debug()
        )));
    }
    Ok(())
}

/// The daily index of a line received at `at`.
pub fn index_name(namespace: Option<&str>, at: DateTime<Utc>) -> String {
    match namespace {
        Some(ns) => format!("vamp-vga-{ns}-{}", at.format("%Y-%m-%d")),
        None => format!("vamp-vga-{}", at.format("%Y-%m-%d")),
    }
}

/// The document of one line: the access log's fields when its message is one, then `message` and
/// `@timestamp`.
pub fn document(line: &LogLine) -> Map<String, Value> {
    let message = syslog::parse(&line.raw).message;
    let mut doc = access_log::parse_fields(message).unwrap_or_default();
    doc.insert("message".to_string(), Value::String(message.to_string()));
    doc.insert(
        "@timestamp".to_string(),
        Value::String(line.received_at.to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    doc
}

fn bulk_body(namespace: Option<&str>, lines: &[LogLine]) -> String {
    let mut body = String::new();
    for line in lines {
        let action = serde_json::json!({"index": {"_index": index_name(namespace, line.received_at)}});
        let doc = Value::Object(document(line));
        let _ = writeln!(body, "{action}");
        let _ = writeln!(body, "{doc}");
    }
    body
}

/// A validated sink configuration: the bulk URL without credentials, and the credentials.
pub(super) struct Target {
    bulk: reqwest::Url,
    user: Option<(String, Option<String>)>,
    client: reqwest::Client,
}

impl Target {
    /// Checks the options: an `http`/`https` URL and a valid namespace.
    pub(super) fn new(options: &ElasticsearchOptions) -> Result<Target> {
        if let Some(ns) = &options.namespace {
            validate_namespace(ns)?;
        }
        let mut url = reqwest::Url::parse(&options.url).map_err(|e| {
            Error::invalid(format!(
                "The Elasticsearch URL '{}' is not a URL: {e}.",
                options.url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid(format!(
                "The Elasticsearch URL '{}' must start with http:// or https://.",
                options.url
            )));
        }
        let user = (!url.username().is_empty())
            .then(|| (url.username().to_string(), url.password().map(str::to_string)));
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let path = format!("{}/_bulk", url.path().trim_end_matches('/'));
        url.set_path(&path);
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(|e| Error::backend(format!("Cannot create the Elasticsearch client: {e}.")))?;
        Ok(Target {
            bulk: url,
            user,
            client,
        })
    }

    /// The URL without credentials, for logs and metrics labels.
    pub(super) fn display(&self) -> String {
        self.bulk.to_string()
    }
}

enum Outcome {
    /// Written; the number of items Elasticsearch refused.
    Done {
        refused: u64,
    },
    Retry(String),
    Fail(String),
}

async fn send(target: &Target, body: String) -> Outcome {
    let mut request = target
        .client
        .post(target.bulk.clone())
        .header("content-type", "application/x-ndjson")
        .body(body);
    if let Some((user, password)) = &target.user {
        request = request.basic_auth(user, password.as_deref());
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Retry(format!("request failed: {e}")),
    };
    let status = response.status();
    if status.as_u16() == 429 || status.is_server_error() {
        return Outcome::Retry(format!("Elasticsearch answered {status}"));
    }
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Outcome::Fail(format!("Elasticsearch answered {status}: {text}"));
    }
    match response.json::<Value>().await {
        Ok(answer) => {
            let refused = answer
                .get("items")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter(|item| {
                            item.as_object()
                                .and_then(|o| o.values().next())
                                .and_then(|v| v.get("error"))
                                .is_some()
                        })
                        .count() as u64
                })
                .unwrap_or(0);
            Outcome::Done { refused }
        }
        Err(e) => Outcome::Retry(format!("unreadable bulk answer: {e}")),
    }
}

/// Writes lines from `queue` until it is closed.
pub(super) async fn run(
    options: ElasticsearchOptions,
    target: Target,
    queue: Arc<BoundedQueue<LogLine>>,
    stats: Arc<SinkStats>,
) {
    let namespace = options.namespace.as_deref();
    let shown = target.display();
    loop {
        let batch = queue.pop_batch(options.batch_size).await;
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let body = bulk_body(namespace, &batch);
        let mut backoff = options.backoff;
        let mut attempt = 0;
        loop {
            match send(&target, body.clone()).await {
                Outcome::Done { refused } => {
                    stats.forwarded(n.saturating_sub(refused));
                    if refused > 0 {
                        stats.failed(refused);
                        tracing::warn!(url = %shown, refused, "Elasticsearch refused log documents");
                    }
                    break;
                }
                Outcome::Retry(why) if attempt < options.max_retries => {
                    attempt += 1;
                    tracing::debug!(url = %shown, attempt, %why, "retrying a log batch");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(options.max_backoff);
                }
                Outcome::Retry(why) | Outcome::Fail(why) => {
                    stats.failed(n);
                    tracing::warn!(url = %shown, lines = n, %why, "dropping a log batch Elasticsearch did not take");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn daily_indices_with_and_without_namespace() {
        let at = Utc.with_ymd_and_hms(2026, 3, 7, 23, 59, 59).unwrap();
        assert_eq!(index_name(None, at), "vamp-vga-2026-03-07");
        assert_eq!(index_name(Some("prod"), at), "vamp-vga-prod-2026-03-07");
    }

    #[test]
    fn namespaces_that_break_index_names_are_invalid() {
        for bad in ["", "Prod", "a b", "a*", "_x", "a/b", "a,b"] {
            assert!(validate_namespace(bad).is_err(), "{bad}");
        }
        assert!(validate_namespace("team-1.prod_x").is_ok());
    }

    #[test]
    fn documents_hold_the_fields_the_message_and_the_time() {
        let line = LogLine {
            received_at: Utc.with_ymd_and_hms(2026, 3, 7, 1, 2, 3).unwrap(),
            raw: Arc::from(
                r#"<134>Mar  7 01:02:03 haproxy[1]: {"ft":"g_a","ST":200,"r":"GET /\] HTTP/1.1"}"#,
            ),
        };
        let doc = document(&line);
        assert_eq!(doc["ST"], 200);
        assert_eq!(doc["r"], "GET /] HTTP/1.1");
        assert_eq!(doc["message"], r#"{"ft":"g_a","ST":200,"r":"GET /\] HTTP/1.1"}"#);
        assert_eq!(doc["@timestamp"], "2026-03-07T01:02:03.000Z");
    }

    #[test]
    fn lines_that_are_not_access_logs_are_documents_too() {
        let line = LogLine::now("<129>Mar  7 01:02:03 haproxy[1]: Server g_a_r0/s1 is DOWN");
        assert_eq!(document(&line)["message"], "Server g_a_r0/s1 is DOWN");
    }

    #[test]
    fn credentials_leave_the_url_and_bulk_is_appended() {
        let mut options = ElasticsearchOptions::new("http://elastic:secret@es:9200/prefix/");
        let target = Target::new(&options).unwrap();
        assert_eq!(target.display(), "http://es:9200/prefix/_bulk");
        assert_eq!(target.user, Some(("elastic".into(), Some("secret".into()))));
        options.url = "ftp://es".into();
        assert!(Target::new(&options).is_err());
    }
}
