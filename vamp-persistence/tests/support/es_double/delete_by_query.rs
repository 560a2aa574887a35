//! `_delete_by_query` of the double: deletes the documents a search of the targets finds, as Elasticsearch does
//! from a point-in-time snapshot: writes not yet refreshed are not seen, and documents deleted since the last
//! refresh are still seen and reported as version conflicts (failing the request under `conflicts=abort`, the
//! default; counted and skipped under `conflicts=proceed`).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::search::visible_hits;
use super::{
    mark_deleted, parse_json, periodic_refresh, refresh_indices, resolve_targets, Answer, EsError, Options,
    State,
};

/// The documents Elasticsearch's scroll fetches per batch by default (`scroll_size`).
const SCROLL_SIZE: u64 = 1000;

fn illegal(reason: impl Into<String>) -> EsError {
    EsError::bad_request("illegal_argument_exception", reason)
}

/// Whether a boolean parameter is set: present and empty or `true`; `false` is false; anything else is refused.
fn flag(params: &BTreeMap<String, String>, key: &str, default: bool) -> Result<bool, EsError> {
    match params.get(key).map(String::as_str) {
        None => Ok(default),
        Some("" | "true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(illegal(format!(
            "Failed to parse value [{other}] as only [true] or [false] are allowed."
        ))),
    }
}

pub(crate) fn delete_by_query(
    state: &mut State,
    options: &Options,
    targets: &str,
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Answer {
    let proceed = match params.get("conflicts").map(String::as_str) {
        None | Some("abort") => false,
        Some("proceed") => true,
        Some(other) => {
            return Err(illegal(format!(
                "conflicts may only be \"proceed\" or \"abort\" but was [{other}]"
            )))
        }
    };
    let refresh = flag(params, "refresh", false)?;
    if !flag(params, "wait_for_completion", true)? {
        return Err(illegal(
            "wait_for_completion=false (a task) is not supported by the double; it answers when done",
        ));
    }
    let body = parse_json(body, "parsing_exception")?;
    let fields = body.as_object().ok_or_else(|| {
        EsError::bad_request(
            "action_request_validation_exception",
            "Validation Failed: 1: query is missing;",
        )
    })?;
    if let Some(unknown) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "query" | "max_docs"))
    {
        return Err(EsError::bad_request(
            "parsing_exception",
            format!("Unknown key for a START_OBJECT in [{unknown}]."),
        ));
    }
    let query = fields.get("query").cloned().ok_or_else(|| {
        EsError::bad_request(
            "action_request_validation_exception",
            "Validation Failed: 1: query is missing;",
        )
    })?;
    let max_docs = match params.get("max_docs").map(|v| v.parse::<u64>()) {
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return Err(illegal("Failed to parse int parameter [max_docs]")),
        None => fields.get("max_docs").and_then(Value::as_u64),
    };

    let names = resolve_targets(state, targets, params)?;
    periodic_refresh(state, options, &names);
    let found: Vec<(String, String)> = visible_hits(state, &names, &query)?
        .into_iter()
        .map(|h| (h.index.to_string(), h.id.to_string()))
        .take(max_docs.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX)))
        .collect();
    let total = found.len() as u64;
    let (mut deleted, mut conflicts, mut failures) = (0_u64, 0_u64, Vec::new());
    for (index, id) in &found {
        let Some(stored) = state.indices.get_mut(index) else {
            continue;
        };
        if mark_deleted(stored, id).is_some() {
            deleted += 1;
            continue;
        }
        conflicts += 1;
        if !proceed {
            failures.push(json!({
                "index": index,
                "id": id,
                "cause": {
                    "type": "version_conflict_engine_exception",
                    "reason": format!("[{id}]: version conflict, document already deleted"),
                    "index": index,
                },
                "status": 409,
            }));
            break;
        }
    }
    if refresh {
        refresh_indices(state, &names);
    }
    let status = if failures.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    Ok((
        status,
        json!({
            "took": 1,
            "timed_out": false,
            "total": total,
            "deleted": deleted,
            "batches": total.div_ceil(SCROLL_SIZE),
            "version_conflicts": conflicts,
            "noops": 0,
            "retries": {"bulk": 0, "search": 0},
            "throttled_millis": 0,
            "requests_per_second": -1.0,
            "throttled_until_millis": 0,
            "failures": failures,
        }),
    ))
}
