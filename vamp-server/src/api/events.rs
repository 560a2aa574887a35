//! `/api/v1/events`: publish (201), query with paging (`?tag=…&type=…` or an event-query body), and the live
//! stream `/api/v1/events/stream` as server-sent events (`event:` the event's type, `data:` its JSON).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use vamp_core::dsl;
use vamp_core::model::{Event, EventQuery};

use super::error::ApiError;
use super::negotiation::{document_body, render, Format};
use super::query::Query;
use super::state::ApiState;

fn event_json(event: &Event) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(event)
        .map_err(|e| ApiError::from(vamp_core::Error::backend(format!("cannot write an event: {e}"))))
}

/// The query of a request: an event-query body when there is one (read off the async workers, within the
/// body limits), else `tag` (repeatable) and `type`.
async fn event_query(
    state: &ApiState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<EventQuery, ApiError> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        let text = document_body(headers, body)?;
        return state
            .readers
            .read(move || Ok(dsl::read_event_query(&text)?))
            .await;
    }
    let query = Query::of(uri);
    let mut out = EventQuery::tags(query.all("tag"));
    out.kind = query.first("type").map(str::to_string);
    Ok(out)
}

/// `GET /api/v1/events`: newest first, paged.
pub async fn query(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let page = Query::of(&uri).page(state.options.max_per_page)?;
    let query = event_query(&state, &uri, &headers, &body).await?;
    let paged = state.vamp.query(&query, page).await?;
    let items = paged
        .items
        .iter()
        .map(event_json)
        .collect::<Result<Vec<_>, _>>()?;
    let mut response = render(StatusCode::OK, format, &serde_json::Value::Array(items))?;
    state.page_headers(&mut response, &uri, &headers, &paged);
    Ok(response)
}

/// `POST /api/v1/events`: 201 with the event as stored; an event without tags is 400.
pub async fn publish(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let text = document_body(&headers, &body)?;
    let event = state.readers.read(move || Ok(dsl::read_event(&text)?)).await?;
    let stored = state.vamp.publish(event).await?;
    render(StatusCode::CREATED, format, &event_json(&stored)?)
}

/// `GET /api/v1/events/stream`: the events matching the query published from now on, as server-sent events,
/// with a keep-alive comment every `sse_keep_alive_s` seconds. Each stream takes one of the token's
/// [`super::streams`] slots while it is open (429 or 503 when none is free).
pub async fn stream(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let slot = state.streams.take(&headers)?;
    let query = event_query(&state, &uri, &headers, &body).await?;
    let events = state.vamp.subscribe(&query).await?;
    let sse = events.map(move |event| {
        let _open = &slot;
        let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".to_string());
        let name: String = event.kind.chars().filter(|c| !c.is_control()).collect();
        Ok::<_, Infallible>(SseEvent::default().event(name).data(data))
    });
    let keep_alive = KeepAlive::new().interval(Duration::from_secs(state.options.sse_keep_alive_s.max(1)));
    Ok(Sse::new(sse).keep_alive(keep_alive).into_response())
}
