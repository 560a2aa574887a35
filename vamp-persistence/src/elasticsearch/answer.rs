//! Elasticsearch's answers as values or `vamp_core::Error`s of the right kind.
//!
//! A request that does not reach the server, or times out, is `Unavailable` (retryable); so are 429 (too many
//! requests) and 502–504. 400 (a request Elasticsearch cannot parse or accept) and 413 (over
//! `http.max_content_length`) are `Invalid`, 409 `Conflict`, everything else `Backend`. Messages name
//! Elasticsearch, what the store was doing, and Elasticsearch's own error type and reason.

use elasticsearch::http::response::Response;
use elasticsearch::http::StatusCode;
use serde_json::Value;
use vamp_core::{Error, Result};

/// The JSON body of a successful answer to the request described by `what` ("indexing an event").
pub(crate) async fn answer(
    sent: std::result::Result<Response, elasticsearch::Error>,
    what: &str,
) -> Result<Value> {
    let response = sent.map_err(|e| unreachable_error(&e, what))?;
    let status = response.status_code();
    let body = response.bytes().await.map_err(|e| unreachable_error(&e, what))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| {
            Error::backend(format!(
                "Elasticsearch answered {what} with a body that is not JSON: {e}."
            ))
        });
    }
    Err(status_error(status, &body, what))
}

fn unreachable_error(e: &elasticsearch::Error, what: &str) -> Error {
    let how = if e.is_timeout() {
        "did not answer in time"
    } else {
        "cannot be reached"
    };
    Error::unavailable(format!("Elasticsearch {how} while {what}: {e}."))
}

/// The error for a non-success status, with Elasticsearch's error type and reason when the body has them.
pub(crate) fn status_error(status: StatusCode, body: &[u8], what: &str) -> Error {
    let detail = reason(body);
    let code = status.as_u16();
    match code {
        400 => Error::invalid(format!("Elasticsearch refused {what}: {detail}.")),
        413 => Error::invalid(format!(
            "Elasticsearch refused {what} as too large (413, over its http.max_content_length); send less at once."
        )),
        409 => Error::conflict(format!("Elasticsearch reported a conflict while {what}: {detail}.")),
        429 | 502..=504 => Error::unavailable(format!(
            "Elasticsearch is busy or unavailable ({code}) while {what}: {detail}."
        )),
        _ => Error::backend(format!("Elasticsearch failed ({code}) while {what}: {detail}.")),
    }
}

/// `type: reason` of an Elasticsearch error body, or the body's text.
fn reason(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |name: &str| error.and_then(|e| e.get(name)).and_then(Value::as_str);
    match (field("type"), field("reason")) {
        (Some(kind), Some(reason)) => format!("{kind}: {reason}"),
        (Some(kind), None) => kind.to_string(),
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "no details given".to_string()
            } else {
                text.chars().take(500).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use vamp_core::ErrorKind;

    use super::*;

    fn kind_of(code: u16, body: &str) -> (ErrorKind, String) {
        let e = status_error(
            StatusCode::from_u16(code).unwrap(),
            body.as_bytes(),
            "searching events",
        );
        (e.kind(), e.message().to_string())
    }

    #[test]
    fn statuses_map_to_the_error_kinds_callers_act_on() {
        let body = r#"{"error":{"type":"parsing_exception","reason":"unknown query [nope]"},"status":400}"#;
        let (kind, message) = kind_of(400, body);
        assert_eq!(kind, ErrorKind::Invalid);
        assert!(
            message.contains("parsing_exception: unknown query [nope]"),
            "{message}"
        );
        assert_eq!(kind_of(413, "").0, ErrorKind::Invalid);
        assert_eq!(kind_of(409, "{}").0, ErrorKind::Conflict);
        assert!(kind_of(429, "").0.http_status() == 503);
        assert_eq!(kind_of(503, "").0, ErrorKind::Unavailable { retryable: true });
        assert_eq!(kind_of(500, "boom").0, ErrorKind::Backend);
        assert!(kind_of(500, "boom").1.contains("boom"));
    }
}
