//! `_search` and `_count` of the double: the query DSL subset, sorting, paging and metric aggregations.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::DateTime;
use serde_json::{json, Map, Value};

use super::{parse_json, periodic_refresh, resolve_targets, shards, Answer, EsError, Options, State};

/// The total Elasticsearch counts exactly when `track_total_hits` is not given.
const DEFAULT_TRACK_TOTAL_HITS: u64 = 10_000;

const SEARCH_KEYS: [&str; 9] = [
    "query",
    "sort",
    "from",
    "size",
    "search_after",
    "track_total_hits",
    "_source",
    "aggs",
    "aggregations",
];

fn parsing(reason: impl Into<String>) -> EsError {
    EsError::bad_request("parsing_exception", reason)
}

/// A searchable document of a resolved index.
pub(crate) struct Hit<'a> {
    pub(crate) index: &'a str,
    pub(crate) id: &'a str,
    source: &'a Value,
    seq_no: u64,
}

/// The documents of `names` a search sees (refreshed, deleted ones included until the next refresh) that match
/// `query`, in index order.
pub(crate) fn visible_hits<'a>(
    state: &'a State,
    names: &[String],
    query: &Value,
) -> Result<Vec<Hit<'a>>, EsError> {
    let mut hits = Vec::new();
    for name in names {
        let Some((name, index)) = state.indices.get_key_value(name) else {
            continue;
        };
        for (id, doc) in &index.docs {
            if doc.searchable && matches(query, id, &doc.source)? {
                hits.push(Hit {
                    index: name,
                    id,
                    source: &doc.source,
                    seq_no: doc.seq_no,
                });
            }
        }
    }
    hits.sort_by_key(|h| h.seq_no);
    Ok(hits)
}

fn as_u64(body: &Value, key: &str, default: u64) -> Result<u64, EsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().ok_or_else(|| {
            EsError::bad_request(
                "illegal_argument_exception",
                format!("[{key}] parameter cannot be negative or a non-integer, found [{v}]"),
            )
        }),
    }
}

pub(crate) fn search(
    state: &mut State,
    options: &Options,
    targets: &str,
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Answer {
    let mut body = parse_json(body, "parsing_exception")?;
    if body.is_null() {
        body = json!({});
    }
    let fields = body
        .as_object()
        .ok_or_else(|| parsing("the search body must be an object"))?;
    if let Some(unknown) = fields.keys().find(|k| !SEARCH_KEYS.contains(&k.as_str())) {
        return Err(parsing(format!("Unknown key for a START_OBJECT in [{unknown}].")));
    }
    for key in ["size", "from"] {
        if let Some(v) = params.get(key) {
            let n: u64 = v.parse().map_err(|_| {
                EsError::bad_request(
                    "illegal_argument_exception",
                    format!("Failed to parse int parameter [{key}] with value [{v}]"),
                )
            })?;
            body[key] = json!(n);
        }
    }
    let names = resolve_targets(state, targets, params)?;
    periodic_refresh(state, options, &names);
    let query = body
        .get("query")
        .cloned()
        .unwrap_or_else(|| json!({"match_all": {}}));
    let sort = parse_sort(body.get("sort"))?;
    let from = as_u64(&body, "from", 0)?;
    let size = as_u64(&body, "size", 10)?;
    let search_after = body.get("search_after").cloned();
    if let Some(after) = &search_after {
        let after = after
            .as_array()
            .ok_or_else(|| parsing("[search_after] must be an array"))?;
        if sort.is_empty() {
            return Err(EsError::bad_request(
                "illegal_argument_exception",
                "Sort must contain at least one field.",
            ));
        }
        if after.len() != sort.len() {
            return Err(EsError::bad_request(
                "illegal_argument_exception",
                format!(
                    "search_after has {} value(s) but sort has {}.",
                    after.len(),
                    sort.len()
                ),
            ));
        }
        if from > 0 {
            return Err(EsError::bad_request(
                "illegal_argument_exception",
                "`from` parameter must be set to 0 when `search_after` is used.",
            ));
        }
    }
    if from + size > options.max_result_window {
        return Err(EsError::bad_request(
            "illegal_argument_exception",
            format!(
                "Result window is too large, from + size must be less than or equal to: [{}] but was [{}]. See \
                 the scroll api for a more efficient way to request large data sets. This limit can be set by \
                 changing the [index.max_result_window] index level setting.",
                options.max_result_window,
                from + size
            ),
        ));
    }
    let with_source = match body.get("_source") {
        None | Some(Value::Bool(true)) => true,
        Some(Value::Bool(false)) => false,
        Some(other) => {
            return Err(parsing(format!(
                "[_source] {other} is not supported by the double; it takes true or false only"
            )))
        }
    };
    let aggregations = body.get("aggs").or_else(|| body.get("aggregations")).cloned();

    let mut hits = visible_hits(state, &names, &query)?;
    let aggregated = match &aggregations {
        Some(aggs) => Some(aggregate(aggs, &hits)?),
        None => None,
    };
    let matched = hits.len() as u64;
    let mut keyed: Vec<(Vec<Value>, Hit)> = hits
        .drain(..)
        .map(|h| (sort.iter().map(|s| sort_value(s, &h)).collect(), h))
        .collect();
    if !sort.is_empty() {
        keyed.sort_by(|(ka, a), (kb, b)| compare_keys(&sort, ka, kb).then(a.seq_no.cmp(&b.seq_no)));
    }
    if let Some(Value::Array(after)) = &search_after {
        keyed.retain(|(k, _)| compare_keys(&sort, k, after) == Ordering::Greater);
    }
    let page: Vec<Value> = keyed
        .into_iter()
        .skip(usize::try_from(from).unwrap_or(usize::MAX))
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .map(|(keys, h)| {
            let mut hit = json!({"_index": h.index, "_id": h.id, "_score": if sort.is_empty() { json!(1.0) } else { Value::Null }});
            if with_source {
                hit["_source"] = h.source.clone();
            }
            if !sort.is_empty() {
                hit["sort"] = Value::Array(keys);
            }
            hit
        })
        .collect();

    let mut hits_object = Map::new();
    let tracked = match body.get("track_total_hits") {
        None | Some(Value::Null) => Some(DEFAULT_TRACK_TOTAL_HITS),
        Some(Value::Bool(true)) => Some(u64::MAX),
        Some(Value::Bool(false)) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| parsing(format!("[track_total_hits] {v} is not a boolean or a count")))?,
        ),
    };
    if let Some(limit) = tracked {
        let (value, relation) = if matched > limit {
            (limit, "gte")
        } else {
            (matched, "eq")
        };
        hits_object.insert("total".to_string(), json!({"value": value, "relation": relation}));
    }
    hits_object.insert("max_score".to_string(), Value::Null);
    hits_object.insert("hits".to_string(), Value::Array(page));
    let mut answer = json!({
        "took": 1,
        "timed_out": false,
        "_shards": shards(names.len()),
        "hits": hits_object,
    });
    if let Some(aggregated) = aggregated {
        answer["aggregations"] = aggregated;
    }
    Ok((StatusCode::OK, answer))
}

pub(crate) fn count(
    state: &mut State,
    options: &Options,
    targets: &str,
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Answer {
    let body = parse_json(body, "parsing_exception")?;
    if let Some(fields) = body.as_object() {
        if let Some(unknown) = fields.keys().find(|k| k.as_str() != "query") {
            return Err(parsing(format!("request does not support [{unknown}]")));
        }
    }
    let names = resolve_targets(state, targets, params)?;
    periodic_refresh(state, options, &names);
    let query = body
        .get("query")
        .cloned()
        .unwrap_or_else(|| json!({"match_all": {}}));
    let n = visible_hits(state, &names, &query)?.len();
    Ok((
        StatusCode::OK,
        json!({"count": n, "_shards": shards(names.len())}),
    ))
}

/// The values of a field, found by its dotted path (also where `_source` holds dotted keys), arrays flattened.
pub(crate) fn field_values<'a>(source: &'a Value, path: &str) -> Vec<&'a Value> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    collect(source, &parts, &mut out);
    out
}

fn collect<'a>(value: &'a Value, parts: &[&str], out: &mut Vec<&'a Value>) {
    if parts.is_empty() {
        match value {
            Value::Array(items) => items.iter().for_each(|i| collect(i, parts, out)),
            Value::Null => {}
            other => out.push(other),
        }
        return;
    }
    match value {
        Value::Object(fields) => {
            for take in 1..=parts.len() {
                if let Some(inner) = fields.get(&parts[..take].join(".")) {
                    collect(inner, &parts[take..], out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, parts, out)),
        _ => {}
    }
}

/// One field's single condition: `{"field": value}` or `{"field": {"value": v}}`.
fn single_field<'a>(clause: &'a Value, query: &str) -> Result<(&'a str, &'a Value), EsError> {
    let fields = clause
        .as_object()
        .filter(|f| f.len() == 1)
        .ok_or_else(|| parsing(format!("[{query}] query doesn't support multiple fields")))?;
    let Some((field, condition)) = fields.iter().next() else {
        return Err(parsing(format!("[{query}] query malformed, no field")));
    };
    Ok((field.as_str(), condition))
}

fn clauses(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    }
}

/// Whether the document matches the query.
pub(crate) fn matches(query: &Value, id: &str, source: &Value) -> Result<bool, EsError> {
    let fields = query
        .as_object()
        .filter(|f| f.len() == 1)
        .ok_or_else(|| parsing("a query must be an object with exactly one query type"))?;
    let Some((kind, clause)) = fields.iter().next() else {
        return Err(parsing("a query must be an object with exactly one query type"));
    };
    match kind.as_str() {
        "match_all" => Ok(true),
        "match_none" => Ok(false),
        "bool" => {
            let b = clause
                .as_object()
                .ok_or_else(|| parsing("[bool] query malformed"))?;
            if let Some(unknown) = b.keys().find(|k| {
                !matches!(
                    k.as_str(),
                    "filter" | "must" | "must_not" | "should" | "minimum_should_match"
                )
            }) {
                return Err(parsing(format!("[bool] query does not support [{unknown}]")));
            }
            for required in clauses(b.get("filter")).into_iter().chain(clauses(b.get("must"))) {
                if !matches(required, id, source)? {
                    return Ok(false);
                }
            }
            for excluded in clauses(b.get("must_not")) {
                if matches(excluded, id, source)? {
                    return Ok(false);
                }
            }
            let should = clauses(b.get("should"));
            let only_should = clauses(b.get("filter")).is_empty() && clauses(b.get("must")).is_empty();
            let minimum = b
                .get("minimum_should_match")
                .and_then(Value::as_u64)
                .unwrap_or(u64::from(only_should && !should.is_empty()));
            let mut satisfied = 0;
            for optional in should {
                if matches(optional, id, source)? {
                    satisfied += 1;
                }
            }
            Ok(satisfied >= minimum)
        }
        "term" => {
            let (field, condition) = single_field(clause, "term")?;
            let wanted = match condition {
                Value::Object(o) => o
                    .get("value")
                    .ok_or_else(|| parsing("[term] query does not support the given object"))?,
                other => other,
            };
            Ok(field_values(source, field).iter().any(|v| equal(v, wanted)))
        }
        "terms" => {
            let (field, condition) = single_field(clause, "terms")?;
            let wanted = condition
                .as_array()
                .ok_or_else(|| parsing("[terms] query requires an array of values"))?;
            Ok(field_values(source, field)
                .iter()
                .any(|v| wanted.iter().any(|w| equal(v, w))))
        }
        "range" => {
            let (field, condition) = single_field(clause, "range")?;
            let bounds = condition
                .as_object()
                .ok_or_else(|| parsing("[range] query malformed, no start_object after field name"))?;
            for key in bounds.keys() {
                if !matches!(key.as_str(), "gt" | "gte" | "lt" | "lte" | "format") {
                    return Err(parsing(format!("[range] query does not support [{key}]")));
                }
            }
            Ok(field_values(source, field).iter().any(|v| {
                bounds.iter().all(|(op, bound)| {
                    let order = compare(v, bound);
                    match op.as_str() {
                        "gt" => order == Some(Ordering::Greater),
                        "gte" => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
                        "lt" => order == Some(Ordering::Less),
                        "lte" => matches!(order, Some(Ordering::Less | Ordering::Equal)),
                        _ => true,
                    }
                })
            }))
        }
        "exists" => {
            let field = clause
                .get("field")
                .and_then(Value::as_str)
                .ok_or_else(|| parsing("[exists] must be provided with a [field]"))?;
            Ok(!field_values(source, field).is_empty())
        }
        "ids" => {
            let values = clause
                .get("values")
                .and_then(Value::as_array)
                .ok_or_else(|| parsing("[ids] requires [values]"))?;
            Ok(values.iter().any(|v| v.as_str() == Some(id)))
        }
        other => Err(parsing(format!("unknown query [{other}]"))),
    }
}

fn equal(stored: &Value, wanted: &Value) -> bool {
    match (stored, wanted) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Number(a), Value::String(b)) => b.parse::<f64>().ok() == a.as_f64(),
        _ => stored == wanted,
    }
}

fn instant_nanos(text: &str) -> Option<i128> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos()))
}

/// How two field values order: numbers by value, RFC 3339 dates by instant, other strings by bytes.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => match (instant_nanos(x), instant_nanos(y)) {
            (Some(p), Some(q)) => Some(p.cmp(&q)),
            _ => Some(x.cmp(y)),
        },
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct SortKey {
    field: String,
    descending: bool,
}

fn parse_sort(sort: Option<&Value>) -> Result<Vec<SortKey>, EsError> {
    let entries = match sort {
        None => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries.clone(),
        Some(one) => vec![one.clone()],
    };
    entries
        .iter()
        .map(|entry| match entry {
            Value::String(field) => Ok(SortKey {
                descending: field == "_score",
                field: field.clone(),
            }),
            Value::Object(o) if o.len() == 1 => {
                let Some((field, how)) = o.iter().next() else {
                    return Err(parsing("malformed sort"));
                };
                let order = match how {
                    Value::String(order) => order.as_str(),
                    Value::Object(options) => options.get("order").and_then(Value::as_str).unwrap_or("asc"),
                    _ => return Err(parsing(format!("malformed sort of [{field}]"))),
                };
                match order {
                    "asc" | "desc" => Ok(SortKey {
                        field: field.clone(),
                        descending: order == "desc",
                    }),
                    other => Err(EsError::bad_request(
                        "illegal_argument_exception",
                        format!("Unknown SortOrder [{other}]"),
                    )),
                }
            }
            other => Err(parsing(format!("malformed sort entry {other}"))),
        })
        .collect()
}

/// The value a hit sorts by on one key: the smallest for ascending, the largest for descending; null when missing.
fn sort_value(key: &SortKey, hit: &Hit) -> Value {
    if key.field == "_doc" {
        return json!(hit.seq_no);
    }
    let values = field_values(hit.source, &key.field);
    let chosen = values.into_iter().reduce(|best, v| {
        let better = match compare(v, best) {
            Some(Ordering::Less) => !key.descending,
            Some(Ordering::Greater) => key.descending,
            _ => false,
        };
        if better {
            v
        } else {
            best
        }
    });
    chosen.cloned().unwrap_or(Value::Null)
}

/// How two sort keys order in the listing (missing values last in either direction).
fn compare_keys(sort: &[SortKey], a: &[Value], b: &[Value]) -> Ordering {
    for (key, (x, y)) in sort.iter().zip(a.iter().zip(b.iter())) {
        let order = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let natural = compare(x, y).unwrap_or(Ordering::Equal);
                if key.descending {
                    natural.reverse()
                } else {
                    natural
                }
            }
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

fn aggregate(aggs: &Value, hits: &[Hit]) -> Result<Value, EsError> {
    let requests = aggs
        .as_object()
        .ok_or_else(|| parsing("[aggs] must be an object"))?;
    let mut out = Map::new();
    for (name, request) in requests {
        let body = request
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| parsing(format!("Expected exactly one aggregation type for [{name}]")))?;
        let Some((kind, options)) = body.iter().next() else {
            return Err(parsing(format!("Missing definition for aggregation [{name}]")));
        };
        let field = options
            .get("field")
            .and_then(Value::as_str)
            .ok_or_else(|| parsing(format!("[{kind}] aggregation [{name}] needs a [field]")))?;
        let numbers: Vec<f64> = hits
            .iter()
            .flat_map(|h| field_values(h.source, field))
            .filter_map(Value::as_f64)
            .collect();
        let value = match kind.as_str() {
            "value_count" => json!(numbers.len()),
            "sum" => json!(numbers.iter().sum::<f64>()),
            "avg" if numbers.is_empty() => Value::Null,
            "avg" => json!(numbers.iter().sum::<f64>() / numbers.len() as f64),
            "min" => numbers
                .iter()
                .copied()
                .reduce(f64::min)
                .map_or(Value::Null, |v| json!(v)),
            "max" => numbers
                .iter()
                .copied()
                .reduce(f64::max)
                .map_or(Value::Null, |v| json!(v)),
            other => {
                return Err(EsError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_named_object_exception",
                    format!("Unknown aggregation type [{other}] did you mean [avg]?"),
                ))
            }
        };
        out.insert(name.clone(), json!({"value": value}));
    }
    Ok(Value::Object(out))
}
