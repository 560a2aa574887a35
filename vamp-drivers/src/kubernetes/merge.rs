//! The deep merge that puts a `kubernetes` dialect under the pod spec Vamp generates.
//!
//! Vamp's values win: a dialect adds to the pod spec and cannot change what Vamp decided (image, ports, resources,
//! environment, labels). Rules, applied recursively:
//! - objects merge key by key;
//! - a scalar or an array of plain values Vamp set stays; one Vamp did not set comes from the dialect;
//! - arrays of named objects (`containers`, `env`, `ports`, `volumes`, `volumeMounts`) merge element by element:
//!   a dialect element with a `name` merges into Vamp's element of that name, one without a `name` into Vamp's
//!   element at the same position; elements that match none are appended. So `containers: [{volumeMounts: […]}]`
//!   adds mounts to the Vamp container and `containers: [{}, {name: sidecar, …}]` adds a sidecar.

use serde_json::{Map, Value};

/// `generated` with `dialect` merged under it.
pub fn merge_under(generated: Value, dialect: &Value) -> Value {
    match (generated, dialect) {
        (Value::Object(generated), Value::Object(dialect)) => {
            Value::Object(merge_objects(generated, dialect))
        }
        (Value::Array(generated), Value::Array(dialect)) if is_named_list(&generated) => {
            Value::Array(merge_named(generated, dialect))
        }
        (Value::Null, dialect) => dialect.clone(),
        (generated, _) => generated,
    }
}

fn merge_objects(mut generated: Map<String, Value>, dialect: &Map<String, Value>) -> Map<String, Value> {
    for (key, value) in dialect {
        let merged = match generated.remove(key) {
            Some(mine) => merge_under(mine, value),
            None => value.clone(),
        };
        generated.insert(key.clone(), merged);
    }
    generated
}

fn name_of(value: &Value) -> Option<&str> {
    value.get("name").and_then(Value::as_str)
}

fn is_named_list(values: &[Value]) -> bool {
    !values.is_empty() && values.iter().all(|v| name_of(v).is_some())
}

fn merge_named(mut generated: Vec<Value>, dialect: &[Value]) -> Vec<Value> {
    for (position, element) in dialect.iter().enumerate() {
        let target = match name_of(element) {
            Some(name) => generated.iter().position(|g| name_of(g) == Some(name)),
            None if position < generated.len() => Some(position),
            None => None,
        };
        match target.and_then(|i| generated.get_mut(i)) {
            Some(slot) => *slot = merge_under(slot.take(), element),
            None => generated.push(element.clone()),
        }
    }
    generated
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_dialect_adds_keys_vamp_did_not_set() {
        let merged = merge_under(
            json!({"containers": [{"name": "sava"}]}),
            &json!({"nodeSelector": {"disk": "ssd"}}),
        );
        assert_eq!(merged["nodeSelector"], json!({"disk": "ssd"}));
    }

    #[test]
    fn vamp_scalars_win() {
        let merged = merge_under(
            json!({"hostNetwork": false, "containers": [{"name": "sava", "image": "sava:1.0"}]}),
            &json!({"hostNetwork": true, "containers": [{"image": "evil"}]}),
        );
        assert_eq!(merged["hostNetwork"], json!(false));
        assert_eq!(merged["containers"][0]["image"], json!("sava:1.0"));
    }

    #[test]
    fn an_unnamed_dialect_container_merges_into_the_vamp_container() {
        let merged = merge_under(
            json!({"containers": [{"name": "sava", "env": [{"name": "A", "value": "1"}]}]}),
            &json!({"containers": [{"volumeMounts": [{"name": "data", "mountPath": "/data"}],
                                    "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "x"}]}]}),
        );
        assert_eq!(merged["containers"].as_array().map(Vec::len), Some(1));
        let container = &merged["containers"][0];
        assert_eq!(container["volumeMounts"][0]["mountPath"], json!("/data"));
        assert_eq!(
            container["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
        );
    }

    #[test]
    fn a_named_dialect_container_is_added_as_a_sidecar() {
        let merged = merge_under(
            json!({"containers": [{"name": "sava", "image": "sava:1.0"}]}),
            &json!({"containers": [{}, {"name": "proxy", "image": "envoy"}]}),
        );
        assert_eq!(
            merged["containers"][1],
            json!({"name": "proxy", "image": "envoy"})
        );
        assert_eq!(merged["containers"][0]["image"], json!("sava:1.0"));
    }

    #[test]
    fn plain_arrays_set_by_vamp_stay() {
        let merged = merge_under(json!({"args": ["a"]}), &json!({"args": ["b"], "command": ["c"]}));
        assert_eq!(merged, json!({"args": ["a"], "command": ["c"]}));
    }
}
