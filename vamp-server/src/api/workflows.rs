//! `/api/v1/workflows/{name}/status`: a workflow's status as plain text, and setting it (`running`,
//! `suspended`, `restarting`, …) from a plain-text body; `…/executions`: the runs this server keeps;
//! `…/logs`: the log as server-sent events, the recent lines first, then live. Workflows themselves are
//! artifacts ([`super::artifacts`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use vamp_core::model::WorkflowStatus;

use super::artifacts::write_options;
use super::error::ApiError;
use super::negotiation::{plain, render, text_body, Format};
use super::query::Query;
use super::state::ApiState;
use crate::workflows::LogMessage;

/// The recent lines a log stream starts with unless `?lines=` says otherwise.
const RECENT_LINES: usize = 100;
/// The most recent lines a log stream may ask for.
const MAX_RECENT_LINES: usize = 10_000;

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

/// `GET /api/v1/workflows/{name}/executions`: 200 with the kept executions, newest first (each with its trigger,
/// start, end, outcome, error and log lines); 404 when there is no such workflow.
pub async fn executions(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let executions = state.vamp.workflow_executions(&name).await?;
    let value = serde_json::to_value(executions)
        .map_err(|e| ApiError::from(vamp_core::Error::backend(format!("cannot write executions: {e}"))))?;
    render(StatusCode::OK, format, &value)
}

fn sse(message: &LogMessage) -> SseEvent {
    let data = serde_json::to_string(message).unwrap_or_else(|_| "{}".to_string());
    SseEvent::default().event(message.name()).data(data)
}

/// What a replay already sent, so the live messages that raced with it are not sent twice.
#[derive(Default)]
struct Sent {
    started: std::collections::HashSet<u64>,
    lines: HashMap<u64, u64>,
    finished: std::collections::HashSet<u64>,
}

impl Sent {
    fn of(replay: &[LogMessage]) -> Sent {
        let mut sent = Sent::default();
        for m in replay {
            match m {
                LogMessage::Start { execution, .. } => {
                    sent.started.insert(*execution);
                }
                LogMessage::Line { execution, line, .. } => {
                    let seq = sent.lines.entry(*execution).or_default();
                    *seq = (*seq).max(line.seq);
                }
                LogMessage::Finish { execution, .. } => {
                    sent.finished.insert(*execution);
                }
            }
        }
        sent
    }

    fn is_new(&self, m: &LogMessage) -> bool {
        match m {
            LogMessage::Start { execution, .. } => !self.started.contains(execution),
            LogMessage::Line { execution, line, .. } => {
                self.lines.get(execution).is_none_or(|s| line.seq > *s)
            }
            LogMessage::Finish { execution, .. } => !self.finished.contains(execution),
        }
    }
}

/// `GET /api/v1/workflows/{name}/logs`: server-sent events `execution-start`, `execution-log` and
/// `execution-finish` (data: JSON with `workflow`, `execution` and the line or outcome), first the recent ones
/// (`?lines=` log lines, default 100), then live, with a keep-alive comment every `sse_keep_alive_s` seconds. 404
/// when there is no such workflow. A client that falls far behind misses lines rather than slowing the runs.
/// Each stream takes one of the token's [`super::streams`] slots while it is open (429 or 503 when none is free).
pub async fn logs(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let slot = state.streams.take(&headers)?;
    let lines = match Query::of(&uri).first("lines") {
        None => RECENT_LINES,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .map_err(|_| {
                ApiError::bad_request(format!(
                    "lines must be a number of log lines; '{text}' is not one."
                ))
            })?
            .min(MAX_RECENT_LINES),
    };
    let (replay, live) = state.vamp.workflow_log(&name, lines).await?;
    let sent = Sent::of(&replay);
    let recent = futures::stream::iter(replay.iter().map(sse).collect::<Vec<_>>());
    let live = BroadcastStream::new(live).filter_map(move |m| {
        let keep = match m {
            Ok(m) if m.workflow() == name && sent.is_new(&m) => Some(sse(&m)),
            _ => None,
        };
        std::future::ready(keep)
    });
    let stream = recent.chain(live).map(move |m| {
        let _open = &slot;
        Ok::<_, Infallible>(m)
    });
    let keep_alive = KeepAlive::new().interval(Duration::from_secs(state.options.sse_keep_alive_s.max(1)));
    Ok(Sse::new(stream).keep_alive(keep_alive).into_response())
}
