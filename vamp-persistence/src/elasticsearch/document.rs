//! An event as an Elasticsearch document, the index it goes to, and the event read back from `_source`.
//!
//! The index is `<index.name>-<type lowercased>-<date>` with the date of the event's timestamp as `YYYY-MM-dd`
//! (UTC), as the original named it (vamp-behaviour.md §4.7). The document holds the event's fields, the value
//! as a JSON string under `value` (as the original stored it) and as it is under a field named after the type
//! (`"health": 1`), plus what the queries of this store need:
//!
//! ```json
//! {"id": "…", "namespace": "default", "tags": ["deployments", "deployments:shop"], "type": "health",
//!  "timestamp": "2026-01-01T10:00:00.5Z", "sequence": 1767261600500000, "value": "{\"ms\":10}",
//!  "numbers": {"v/ms": 10.0}, "health": {"ms": 10}}
//! ```
//!
//! `sequence` orders events of the same timestamp by publication; `numbers` holds every JSON number of the value
//! by its path (`v` for the value itself, `v/a/b` for the dotted path `a.b`, each segment with `%` and `/`
//! percent-encoded) so `min`, `max`, `average` and `sum` run as Elasticsearch aggregations. The field named after
//! the type is left out when the type is one of the fields above or starts with `_` (Elasticsearch's metadata).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use vamp_core::model::Event;
use vamp_core::{Error, Result};

use super::config::MAX_INDEX_NAME_BYTES;

/// The fields this store writes itself; a type-named field with one of these names is left out.
pub(crate) const RESERVED_FIELDS: [&str; 8] = [
    "id",
    "namespace",
    "tags",
    "type",
    "timestamp",
    "sequence",
    "value",
    "numbers",
];

/// How many numbers of one value are indexed for aggregations; numbers past this (in document order) are kept
/// in the stored value but not aggregated, so one event cannot exhaust an index's field limit.
pub const MAX_INDEXED_NUMBERS: usize = 256;
/// How deep into a value numbers are indexed for aggregations.
pub const MAX_INDEXED_DEPTH: usize = 16;

/// The earliest timestamp an index with `date_nanos` timestamps holds.
pub(crate) fn earliest() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The latest timestamp an index with `date_nanos` timestamps holds (nanoseconds in a signed 64-bit number).
pub(crate) fn latest() -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(i64::MAX)
}

/// The index an event goes to.
pub(crate) fn index_for(index_name: &str, event: &Event) -> Result<String> {
    let index = format!(
        "{index_name}-{}-{}",
        event.kind.to_ascii_lowercase(),
        event.timestamp.format("%Y-%m-%d")
    );
    if index.len() > MAX_INDEX_NAME_BYTES {
        return Err(Error::invalid(format!(
            "The event type '{}' is too long: its index '{index_name}-<type>-<date>' would pass Elasticsearch's \
             limit of {MAX_INDEX_NAME_BYTES} bytes; use a shorter type.",
            event.kind
        )));
    }
    Ok(index)
}

/// The timestamp as the document holds it: RFC 3339 in UTC with as many fraction digits as it has.
pub(crate) fn timestamp_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The document for a prepared event that has its id.
pub(crate) fn to_document(event: &Event, namespace: &str, sequence: u64) -> Result<Value> {
    if event.timestamp < earliest() || event.timestamp > latest() {
        return Err(Error::invalid(format!(
            "The event timestamp {} is outside what Elasticsearch stores with nanosecond precision \
             (1970-01-01 to 2262-04-11).",
            timestamp_text(event.timestamp)
        )));
    }
    let value_text = serde_json::to_string(&event.value)
        .map_err(|e| Error::invalid(format!("The event value cannot be written as JSON: {e}.")))?;
    let mut numbers = Map::new();
    collect_numbers(&event.value, "v".to_string(), 0, &mut numbers);
    let mut document = json!({
        "id": event.id,
        "namespace": namespace,
        "tags": event.tags,
        "type": event.kind,
        "timestamp": timestamp_text(event.timestamp),
        "sequence": sequence,
        "value": value_text,
        "numbers": numbers,
    });
    let type_field = event.kind.as_str();
    if !RESERVED_FIELDS.contains(&type_field) && !type_field.starts_with('_') {
        if let Some(fields) = document.as_object_mut() {
            fields.insert(type_field.to_string(), event.value.clone());
        }
    }
    Ok(document)
}

fn collect_numbers(value: &Value, path: String, depth: usize, out: &mut Map<String, Value>) {
    if out.len() >= MAX_INDEXED_NUMBERS {
        return;
    }
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.insert(path, json!(f));
            }
        }
        Value::Object(fields) if depth < MAX_INDEXED_DEPTH => {
            for (key, inner) in fields {
                if !key.contains('.') {
                    collect_numbers(inner, format!("{path}/{}", encode_segment(key)), depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

fn encode_segment(segment: &str) -> String {
    segment.replace('%', "%25").replace('/', "%2F")
}

/// The document field an aggregation over `field` (a dotted path into the value, or the value itself) reads.
pub(crate) fn number_field(field: Option<&str>) -> String {
    let mut out = "numbers.v".to_string();
    if let Some(path) = field.filter(|f| !f.is_empty()) {
        for segment in path.split('.') {
            out.push('/');
            out.push_str(&encode_segment(segment));
        }
    }
    out
}

/// The event a document's `_source` holds; fails with `Backend` naming `index` and `id` when it is not one this
/// store wrote.
pub(crate) fn from_source(source: &Value, index: &str, id: &str) -> Result<Event> {
    let foreign = |why: String| {
        Error::backend(format!(
            "The Elasticsearch document '{id}' in index '{index}' is not an event this store wrote ({why}); \
             remove it, or give the store an index name of its own."
        ))
    };
    let text = |field: &str| {
        source
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| foreign(format!("'{field}' is not a string")))
    };
    let tags = source
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| foreign("'tags' is not a list".to_string()))?
        .iter()
        .map(|t| {
            t.as_str()
                .map(str::to_string)
                .ok_or_else(|| foreign("a tag is not a string".to_string()))
        })
        .collect::<Result<_>>()?;
    let timestamp = DateTime::parse_from_rfc3339(text("timestamp")?)
        .map_err(|e| foreign(format!("'timestamp' is not RFC 3339: {e}")))?
        .with_timezone(&Utc);
    let value = serde_json::from_str(text("value")?)
        .map_err(|e| foreign(format!("'value' is not JSON text: {e}")))?;
    Ok(Event {
        id: Some(text("id")?.to_string()),
        tags,
        value,
        timestamp,
        kind: text("type")?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use vamp_core::ErrorKind;

    use super::*;

    fn event(kind: &str, value: Value) -> Event {
        let mut e = Event::new(["deployments:shop"], value).with_type(kind);
        e.timestamp = Utc.with_ymd_and_hms(2017, 6, 28, 10, 0, 0).unwrap();
        e.id = Some("e1".to_string());
        e
    }

    #[test]
    fn events_go_to_the_originals_daily_index_per_type() {
        assert_eq!(
            index_for("vamp-pulse-default", &event("Metrics", json!(1))).unwrap(),
            "vamp-pulse-default-metrics-2017-06-28"
        );
        let long = event(&"x".repeat(250), json!(1));
        assert_eq!(
            index_for("vamp-pulse-default", &long).unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }

    #[test]
    fn the_document_carries_the_value_as_text_and_under_the_type() {
        let d = to_document(&event("health", json!({"ms": 10})), "default", 7).unwrap();
        assert_eq!(d["value"], json!("{\"ms\":10}"));
        assert_eq!(d["health"], json!({"ms": 10}));
        assert_eq!(d["numbers"], json!({"v/ms": 10.0}));
        assert_eq!(d["timestamp"], json!("2017-06-28T10:00:00Z"));
        let reserved = to_document(&event("tags", json!(1)), "default", 7).unwrap();
        assert_eq!(reserved["tags"], json!(["deployments", "deployments:shop"]));
    }

    #[test]
    fn numbers_are_indexed_by_an_unambiguous_path() {
        let d = to_document(
            &event(
                "e",
                json!({"a/b": 1, "a": {"b": 2}, "x.y": 3, "s": "4", "n": [5]}),
            ),
            "default",
            1,
        )
        .unwrap();
        assert_eq!(d["numbers"], json!({"v/a%2Fb": 1.0, "v/a/b": 2.0}));
        assert_eq!(number_field(Some("a.b")), "numbers.v/a/b");
        assert_eq!(number_field(Some("a/b")), "numbers.v/a%2Fb");
        assert_eq!(number_field(None), "numbers.v");
    }

    #[test]
    fn a_document_reads_back_as_the_event() {
        let e = event("health", json!({"ms": [1, null, "x"]}));
        let d = to_document(&e, "default", 1).unwrap();
        assert_eq!(from_source(&d, "i", "e1").unwrap(), e);
    }

    #[test]
    fn timestamps_before_1970_are_invalid() {
        let mut e = event("e", json!(1));
        e.timestamp = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(
            to_document(&e, "default", 1).unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }

    #[test]
    fn foreign_documents_are_backend_errors() {
        let e = from_source(&json!({"tags": "x"}), "i", "d").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Backend);
        assert!(e.message().contains("'d' in index 'i'"));
    }
}
