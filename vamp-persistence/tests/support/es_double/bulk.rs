//! `_bulk` of the double: newline-delimited action and source lines, one item per action.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::{mark_deleted, no_such_index, refreshes, store_doc, Answer, EsError, Options, State};

fn malformed(line: usize, why: &str) -> EsError {
    EsError::bad_request(
        "illegal_argument_exception",
        format!("Malformed action/metadata line [{line}], {why}"),
    )
}

pub(crate) fn bulk(
    state: &mut State,
    _options: &Options,
    default_index: Option<&str>,
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Answer {
    if body.is_empty() {
        return Err(EsError::bad_request(
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        ));
    }
    if body.last() != Some(&b'\n') {
        return Err(EsError::bad_request(
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| EsError::bad_request("illegal_argument_exception", "the bulk body is not UTF-8"))?;
    let searchable = refreshes(params);
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let mut items = Vec::new();
    let mut errors = false;
    while let Some((at, line)) = lines.next() {
        let number = at + 1;
        let action: Value =
            serde_json::from_str(line).map_err(|_| malformed(number, "expected START_OBJECT"))?;
        let (kind, meta) = action
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
            .ok_or_else(|| malformed(number, "expected one action"))?;
        let index = meta
            .get("_index")
            .and_then(Value::as_str)
            .or(default_index)
            .ok_or_else(|| {
                EsError::bad_request(
                    "action_request_validation_exception",
                    format!("Validation Failed: 1: index is missing for the action on line [{number}];"),
                )
            })?
            .to_string();
        let id = meta.get("_id").and_then(Value::as_str).map(str::to_string);
        let result = match kind.as_str() {
            "index" | "create" => {
                let (_, source_line) = lines
                    .next()
                    .ok_or_else(|| malformed(number + 1, "expected a source line"))?;
                let source: Result<Value, EsError> = serde_json::from_str(source_line).map_err(|e| {
                    EsError::bad_request("mapper_parsing_exception", format!("failed to parse: {e}"))
                });
                source.and_then(|s| store_doc(state, &index, id.as_deref(), kind == "create", s, searchable))
            }
            "delete" => {
                let id = id.clone().unwrap_or_default();
                match state.indices.get_mut(&index) {
                    Some(stored) => Ok(match mark_deleted(stored, &id) {
                        Some(version) => (
                            StatusCode::OK,
                            json!({"_index": index, "_id": id, "_version": version, "result": "deleted"}),
                        ),
                        None => (
                            StatusCode::NOT_FOUND,
                            json!({"_index": index, "_id": id, "_version": 1, "result": "not_found"}),
                        ),
                    }),
                    None => Err(no_such_index(&index)),
                }
            }
            other => {
                return Err(malformed(
                    number,
                    &format!("unsupported action [{other}] (the double knows index, create and delete)"),
                ))
            }
        };
        let item = match result {
            Ok((status, mut answer)) => {
                answer["status"] = json!(status.as_u16());
                answer
            }
            Err(e) => {
                errors = true;
                json!({
                    "_index": index,
                    "_id": id,
                    "status": e.status.as_u16(),
                    "error": {"type": e.kind, "reason": e.reason},
                })
            }
        };
        items.push(json!({kind.as_str(): item}));
    }
    Ok((
        StatusCode::OK,
        json!({"took": 1, "errors": errors, "items": items}),
    ))
}
