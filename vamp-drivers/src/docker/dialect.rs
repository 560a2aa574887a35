//! The `docker` dialect: a JSON object in the Docker API's container-create spelling (`Cmd`, `WorkingDir`,
//! `HostConfig.Binds`, …), deep-merged under what Vamp generates.
//!
//! Rules, as the original applied them to Marathon apps: objects are merged key by key, recursively; for any
//! other value (string, number, boolean, array) the value Vamp generated wins when Vamp generated that key, and
//! the dialect's value is used when it did not. So a dialect adds `Cmd`, `Entrypoint`, `WorkingDir`, volumes,
//! restart policies and its own `Labels`, but cannot change the image, the `io.vamp.*` labels, the published
//! ports, the resource limits or the health check of a spec that sets them. Keys the Docker API does not know
//! (they are case-sensitive: `Labels`, not `labels`) are refused as `Invalid` rather than dropped.

use serde_json::{Map, Value};

/// `under` with `over` merged on top: objects key by key, recursively; otherwise `over` wins.
pub fn merge_under(under: &Value, over: &Value) -> Value {
    match (under, over) {
        (Value::Object(u), Value::Object(o)) => {
            let mut merged: Map<String, Value> = u.clone();
            for (key, value) in o {
                let next = match u.get(key) {
                    Some(existing) => merge_under(existing, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), next);
            }
            Value::Object(merged)
        }
        (_, over) => over.clone(),
    }
}

/// Dotted paths of the keys of `given` (not null) that `kept` lacks: what a typed round trip dropped.
pub fn dropped_keys(given: &Value, kept: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_dropped("", given, kept, &mut out);
    out
}

fn collect_dropped(path: &str, given: &Value, kept: &Value, out: &mut Vec<String>) {
    let Value::Object(given) = given else {
        return;
    };
    for (key, value) in given {
        if value.is_null() {
            continue;
        }
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match kept.get(key) {
            None => out.push(here),
            Some(k) if value.is_object() => collect_dropped(&here, value, k, out),
            Some(_) => {}
        }
    }
}

/// `value` written with the keys of every object sorted, so equal values always give equal text (the input
/// of the spec hash).
pub fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    let inner = map.get(k).map(canonical).unwrap_or_default();
                    format!("{}:{inner}", Value::String(k.clone()))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_merge_and_generated_scalars_and_arrays_win() {
        let dialect = json!({
            "Image": "other",
            "Cmd": ["httpd"],
            "Env": ["X=dialect"],
            "Labels": {"team": "a", "io.vamp.service": "forged"},
            "HostConfig": {"Memory": 1, "Binds": ["/a:/b"]}
        });
        let generated = json!({
            "Image": "vamp-test/busybox:1",
            "Env": ["X=vamp"],
            "Labels": {"io.vamp.service": "sava"},
            "HostConfig": {"Memory": 67108864}
        });
        let merged = merge_under(&dialect, &generated);
        assert_eq!(
            merged,
            json!({
                "Image": "vamp-test/busybox:1",
                "Cmd": ["httpd"],
                "Env": ["X=vamp"],
                "Labels": {"team": "a", "io.vamp.service": "sava"},
                "HostConfig": {"Memory": 67108864, "Binds": ["/a:/b"]}
            })
        );
    }

    #[test]
    fn dropped_keys_name_the_full_path() {
        let given = json!({"Cmd": ["x"], "labels": {"a": "b"}, "HostConfig": {"Binds": [], "Bogus": 1, "Null": null}});
        let kept = json!({"Cmd": ["x"], "HostConfig": {"Binds": []}});
        assert_eq!(dropped_keys(&given, &kept), ["labels", "HostConfig.Bogus"]);
    }

    #[test]
    fn canonical_text_ignores_key_order() {
        assert_eq!(
            canonical(&json!({"b": 1, "a": {"d": [1, {"y": 2, "x": 1}], "c": "s"}})),
            canonical(&json!({"a": {"c": "s", "d": [1, {"x": 1, "y": 2}]}, "b": 1}))
        );
    }
}
