//! The composable index template the store installs on connect (`PUT _index_template/<index.name>`), the
//! successor of the original's `lifter/.../pulse/template.json`: pattern `<index.name>-*`, alias `<index.name>`,
//! and a mapping where what the queries filter on is not analyzed.
//!
//! The mapping is strict about what it indexes and lenient about the rest: `dynamic: false` at the root keeps the
//! field named after the event type in `_source` without indexing it, so values of different JSON types under
//! one type never collide in the mapping; `numbers` maps every number of the value as `double`. Timestamps are
//! `date_nanos` so events keep their full precision in ranges and sorting.
//!
//! The template's priority is the length of the index name: templates of two namespaces whose patterns overlap
//! (`vamp-pulse-a-*` and `vamp-pulse-a-b-*`) then differ in priority, as Elasticsearch requires, and the more
//! specific one wins.

use serde_json::{json, Value};

/// The template body for the indices of `index_name`.
pub(crate) fn index_template(index_name: &str) -> Value {
    json!({
        "index_patterns": [format!("{index_name}-*")],
        "priority": index_name.len(),
        "template": {
            "aliases": {index_name: {}},
            "mappings": {
                "dynamic": false,
                "properties": {
                    "id": {"type": "keyword"},
                    "namespace": {"type": "keyword"},
                    "tags": {"type": "keyword"},
                    "type": {"type": "keyword"},
                    "timestamp": {"type": "date_nanos"},
                    "sequence": {"type": "long"},
                    "value": {"type": "keyword", "index": false, "doc_values": false},
                    "numbers": {"type": "object", "dynamic": true}
                },
                "dynamic_templates": [
                    {"numbers_as_double": {"path_match": "numbers.*", "mapping": {"type": "double"}}}
                ]
            }
        },
        "_meta": {"description": "Vamp events (vamp-persistence)"}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_covers_the_event_indices_and_filters_on_keywords() {
        let t = index_template("vamp-pulse-default");
        assert_eq!(t["index_patterns"], json!(["vamp-pulse-default-*"]));
        assert_eq!(t["priority"], json!(18));
        let properties = &t["template"]["mappings"]["properties"];
        for field in ["tags", "type", "namespace", "id"] {
            assert_eq!(properties[field]["type"], json!("keyword"), "{field}");
        }
        assert_eq!(properties["timestamp"]["type"], json!("date_nanos"));
    }
}
